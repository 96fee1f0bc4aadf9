package io.mobilecomp.demo

import ai.onnxruntime.OnnxTensor
import ai.onnxruntime.OrtEnvironment
import ai.onnxruntime.OrtSession
import io.mobilecomp.core.BundleInfo
import io.mobilecomp.core.Encoding
import io.mobilecomp.core.ModelRunner
import io.mobilecomp.core.Signatures
import org.pytorch.executorch.EValue
import org.pytorch.executorch.Module
import org.pytorch.executorch.Tensor
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter
import java.io.File
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.LongBuffer
import java.nio.channels.FileChannel

/** Formats this app can run, by manifest "format" name (the same strings as mobilecomp's FORMATS). */
val RUNNABLE_FORMATS: Set<String> = setOf("onnx", "tflite", "executorch")

/** The runner for an artefact's format; an unknown format names the known ones. */
fun openRunner(bundle: BundleInfo, artefact: BundleInfo.Artefact, file: File, threads: Int): ModelRunner =
    when (artefact.format) {
        "onnx" -> OrtRunner(bundle, file, threads)
        "tflite" -> LiteRtRunner(bundle, file, threads)
        "executorch" -> ExecuTorchRunner(bundle, artefact, file, threads)
        else -> throw IllegalArgumentException("no runner for format '${artefact.format}' (known: $RUNNABLE_FORMATS)")
    }

/** A fixed-length entry point's output back to the input's length: per-token outputs (rank 3) are cut,
 *  as mobilecomp's Python runners cut them; others are returned as they are. */
private fun cutToInput(values: FloatArray, shape: List<Long>, input: Encoding): FloatArray =
    if (shape.size == 3) values.copyOf(input.length() * shape[2].toInt()) else values

private fun feedFor(name: String, input: Encoding): IntArray = when {
    name.contains("input_ids") -> input.inputIds
    name.contains("attention_mask") -> input.attentionMask
    name.contains("token_type_ids") -> input.tokenTypeIds
    else -> throw IllegalArgumentException("model input '$name' is not input_ids, attention_mask or token_type_ids")
}

/** ONNX Runtime for Android, CPU execution provider, int64 inputs of shape [1, seq_len]. */
class OrtRunner(bundle: BundleInfo, file: File, private val threads: Int) : ModelRunner {
    private val env: OrtEnvironment = OrtEnvironment.getEnvironment()
    private val session: OrtSession
    private val inputNames: List<String>

    init {
        val options = OrtSession.SessionOptions().apply {
            setIntraOpNumThreads(threads)
            setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT)
        }
        session = env.createSession(file.absolutePath, options)
        inputNames = session.inputNames.toList()
        require(bundle.inputs.containsAll(inputNames)) { "model inputs $inputNames differ from the manifest's ${bundle.inputs}" }
    }

    override fun describe(): MutableMap<String, Any?> = linkedMapOf(
        "name" to "onnxruntime-android", "version" to ORT_VERSION, "provider" to "CPUExecutionProvider",
        "threads" to threads, "accelerator" to null)

    override fun run(input: Encoding): MutableMap<String, FloatArray> {
        val shape = longArrayOf(1, input.length().toLong())
        val tensors = inputNames.associateWith {
            OnnxTensor.createTensor(env, LongBuffer.wrap(Encoding.toLongs(feedFor(it, input))), shape)
        }
        try {
            session.run(tensors).use { result ->
                val out = LinkedHashMap<String, FloatArray>()
                for ((name, value) in result) {
                    val tensor = value as OnnxTensor
                    val buf = tensor.floatBuffer ?: continue
                    out[name] = FloatArray(buf.remaining()).also { buf.get(it) }
                }
                return out
            }
        } finally {
            tensors.values.forEach { it.close() }
        }
    }

    override fun close() = session.close()

    companion object {
        // onnxruntime-android does not expose its version at runtime before 1.16; keep in step with app/build.gradle.kts
        const val ORT_VERSION = "1.20.0"
    }
}

/**
 * LiteRT (TensorFlow Lite Interpreter API), CPU with XNNPACK, through its signature runners by name.
 * mobilecomp's .tflite holds one fixed-length signature per sequence length (seq32, seq64, seq128):
 * an input runs on the shortest signature that holds it (Signatures.forLength, the rule of
 * mobilecomp's Python runner), padded to its length; subgraph 0 is never assumed.
 */
class LiteRtRunner(bundle: BundleInfo, file: File, private val threads: Int) : ModelRunner {
    private val interpreter: Interpreter
    /** signature key -> its sequence length (input_ids is [1, length]) */
    private val lengths: Map<String, Int>
    /** the signature the last run() used: the one a benchmark timed */
    private var lastSignature: String? = null

    init {
        val model = FileInputStream(file).channel.use { it.map(FileChannel.MapMode.READ_ONLY, 0, it.size()) }
        interpreter = Interpreter(model, Interpreter.Options().setNumThreads(threads))
        val keys = interpreter.signatureKeys
        require(keys.isNotEmpty()) { "${file.name} has no signatures; export it with mobilecomp (one per sequence length)" }
        lengths = keys.associateWith { key ->
            val names = interpreter.getSignatureInputs(key).toList()
            require(names.all { n -> bundle.inputs.any { n.contains(it) } }) {
                "signature $key inputs $names do not map onto the manifest's ${bundle.inputs}"
            }
            val ids = names.firstOrNull { it.contains("input_ids") }
                ?: throw IllegalArgumentException("signature $key has no input_ids input")
            interpreter.getInputTensorFromSignature(ids, key).shape().last()
        }
    }

    override fun describe(): MutableMap<String, Any?> = linkedMapOf(
        "name" to "litert", "version" to LITERT_VERSION, "provider" to "CPU (XNNPACK)",
        "threads" to threads, "accelerator" to null, "signature" to lastSignature, "signatures" to lengths)

    override fun run(input: Encoding): MutableMap<String, FloatArray> {
        val key = Signatures.forLength(lengths, input.length())
        val size = lengths.getValue(key)
        val inputs = LinkedHashMap<String, Any>()
        for (name in interpreter.getSignatureInputs(key)) {
            val values = feedFor(name, input).copyOf(size) // zero padding: pad token, mask 0, segment 0
            inputs[name] = when (val type = interpreter.getInputTensorFromSignature(name, key).dataType()) {
                DataType.INT64 -> ByteBuffer.allocateDirect(8 * size).order(ByteOrder.nativeOrder()).apply {
                    values.forEach { putLong(it.toLong()) }; rewind()
                }
                DataType.INT32 -> ByteBuffer.allocateDirect(4 * size).order(ByteOrder.nativeOrder()).apply {
                    values.forEach { putInt(it) }; rewind()
                }
                else -> throw IllegalArgumentException("input $name of $key is $type, expected int32/int64")
            }
        }
        val outputs = LinkedHashMap<String, Any>()
        val shapes = HashMap<String, IntArray>()
        for (name in interpreter.getSignatureOutputs(key)) {
            val tensor = interpreter.getOutputTensorFromSignature(name, key)
            shapes[name] = tensor.shape()
            outputs[name] = ByteBuffer.allocateDirect(4 * tensor.numElements()).order(ByteOrder.nativeOrder())
        }
        interpreter.runSignature(inputs, outputs, key)
        lastSignature = key
        val out = LinkedHashMap<String, FloatArray>()
        for ((name, buffer) in outputs) {
            val floats = (buffer as ByteBuffer).apply { rewind() }.asFloatBuffer()
            val all = FloatArray(floats.remaining()).also { floats.get(it) }
            out[name] = cutToInput(all, shapes.getValue(name).map { it.toLong() }, input)
        }
        return out
    }

    override fun close() = interpreter.close()

    companion object {
        const val LITERT_VERSION = "1.0.1" // keep in step with app/build.gradle.kts
    }
}

/**
 * ExecuTorch (Java API of executorch-android), XNNPACK delegate, through the .pte's methods by name.
 * mobilecomp's .pte holds one fixed-length method per sequence length (seq32, seq64, seq128), listed
 * in the manifest (BundleInfo.Artefact.lengths); an input runs on the shortest that holds it
 * (Signatures.forLength), padded to its length, with int64 inputs in the manifest's input order.
 */
class ExecuTorchRunner(private val bundle: BundleInfo, artefact: BundleInfo.Artefact, file: File,
                       private val threads: Int) : ModelRunner {
    private val module: Module = Module.load(file.absolutePath, Module.LOAD_MODE_MMAP, threads)
    private val lengths: Map<String, Int> = artefact.lengths
    private var lastMethod: String? = null

    init {
        require(lengths.isNotEmpty()) { "${artefact.name} lists no methods; re-export it with mobilecomp" }
        val methods = module.methods.toSet()
        require(methods.containsAll(lengths.keys)) { "${file.name} has methods $methods, the manifest lists ${lengths.keys}" }
    }

    override fun describe(): MutableMap<String, Any?> = linkedMapOf(
        "name" to "executorch-android", "version" to EXECUTORCH_VERSION, "provider" to "CPU (XNNPACK delegate)",
        "threads" to threads, "accelerator" to null, "method" to lastMethod, "methods" to lengths)

    override fun run(input: Encoding): MutableMap<String, FloatArray> {
        val key = Signatures.forLength(lengths, input.length())
        val size = lengths.getValue(key)
        val shape = longArrayOf(1, size.toLong())
        val args = bundle.inputs.map { name ->  // zero padding: pad token, mask 0, segment 0
            EValue.from(Tensor.fromBlob(Encoding.toLongs(feedFor(name, input).copyOf(size)), shape))
        }
        val result = module.execute(key, *args.toTypedArray())
        lastMethod = key
        val out = LinkedHashMap<String, FloatArray>()
        for ((i, name) in bundle.outputs.withIndex()) {  // the program returns the outputs in manifest order
            val tensor = result[i].toTensor()
            out[name] = cutToInput(tensor.dataAsFloatArray, tensor.shape().toList(), input)
        }
        return out
    }

    override fun close() = module.destroy()

    companion object {
        const val EXECUTORCH_VERSION = "1.0.0" // keep in step with app/build.gradle.kts
    }
}
