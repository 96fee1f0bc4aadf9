package io.mobilecomp.demo

import io.mobilecomp.core.Answer
import io.mobilecomp.core.BundleInfo
import io.mobilecomp.core.Encoding
import io.mobilecomp.core.Heads
import io.mobilecomp.core.ModelRunner
import io.mobilecomp.core.Pooling

/** One timed inference and what the UI shows of it. */
data class Timed<T>(val value: T, val ms: Double)

/** Turns a bundle's outputs into a sentence embedding, class probabilities or the task's decoded answer. */
class Inference(private val bundle: BundleInfo, private val runner: ModelRunner) {

    fun encode(text: String): Encoding = bundle.tokenizer.encode(text, bundle.seqLen)

    private fun timedRun(input: Encoding): Timed<Map<String, FloatArray>> {
        val t0 = System.nanoTime()
        val out = runner.run(input)
        return Timed(out, (System.nanoTime() - t0) / 1e6)
    }

    private fun output(outputs: Map<String, FloatArray>, wanted: String): FloatArray? =
        outputs[wanted] ?: outputs.entries.firstOrNull { it.key.contains(wanted) }?.value

    /** Sentence embedding: the primary output if it is pooled already, else mean pooling of tokens. */
    fun embed(text: String): Timed<FloatArray> {
        val input = encode(text)
        val (outputs, ms) = timedRun(input)
        val pooled = output(outputs, bundle.primaryOutput)
            ?: throw IllegalStateException("model has no output '${bundle.primaryOutput}' (has ${outputs.keys})")
        val vector = if (bundle.primaryOutput in TOKEN_LEVEL) {
            Pooling.meanPool(pooled, input.attentionMask, pooled.size / input.length())
        } else pooled
        return Timed(Pooling.l2Normalize(vector), ms)
    }

    /** Label and probability of the most likely class. */
    fun classify(text: String): Timed<Pair<String, Double>> {
        val (outputs, ms) = timedRun(encode(text))
        val logits = output(outputs, bundle.primaryOutput)
            ?: throw IllegalStateException("model has no output '${bundle.primaryOutput}' (has ${outputs.keys})")
        val probs = Pooling.softmax(logits)
        val best = Pooling.argmax(probs)
        return Timed(bundle.label(best) to probs[best], ms)
    }

    /**
     * The task's answer, decoded by the core (Heads): tags per word, the best words at [MASK], the
     * answer span in [pair] (the passage), or the class. [pair] is the classifier's second sentence.
     */
    fun answer(text: String, pair: String?): Timed<Answer> {
        val input = Heads.prepare(bundle, text, pair)
        val (outputs, ms) = timedRun(input.encoding)
        return Timed(Heads.answer(bundle, input, outputs), ms)
    }

    /** Heads the core turns into an answer; the encoder's output is an embedding (similarity is shown). */
    val decodes: Boolean get() = bundle.head in Heads.DECODED

    /** Whether the second text box is read: the encoder's second sentence, a pair, or the QA passage. */
    val takesSecondText: Boolean get() = bundle.head in setOf("encoder", "classifier", "question-answering")

    val isClassifier: Boolean get() = bundle.head != "encoder"

    companion object {
        /** Outputs of shape [1, seq_len, hidden] that need mean pooling into one vector. */
        val TOKEN_LEVEL = setOf("last_hidden_state", "token_embeddings")
    }
}
