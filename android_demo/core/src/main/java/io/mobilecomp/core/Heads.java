package io.mobilecomp.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * The task's answer from a bundle's outputs, by the manifest's head: the class for a classifier,
 * a tag per word for a token classifier ({@link WordLabels}), the best words at the mask for
 * fill-mask ({@link TopK}) and the answer span for question answering ({@link SpanDecoder}).
 * A head the core does not decode is refused in one line.
 */
public final class Heads {
    /** The heads this core turns into answers; the encoder's output is an embedding, not an answer. */
    public static final List<String> DECODED = Collections.unmodifiableList(
            Arrays.asList("classifier", "token-classifier", "fill-mask", "question-answering"));
    public static final int TOP_K = 5;
    /** Longest answer span in tokens (the usual SQuAD decoding limit). */
    public static final int MAX_ANSWER_LEN = 30;
    private static final List<String> MASK_TOKENS = Arrays.asList("[MASK]", "<mask>");

    private Heads() {
    }

    /** The packed input of one question and what decoding it needs. */
    public static final class Input {
        public final Encoding encoding;
        final List<String> words;
        final WordLabels.Encoded tagged;
        final boolean[] allowed;
        final int mask;

        Input(Encoding encoding, List<String> words, WordLabels.Encoded tagged, boolean[] allowed, int mask) {
            this.encoding = encoding;
            this.words = words;
            this.tagged = tagged;
            this.allowed = allowed;
            this.mask = mask;
        }
    }

    /** Throws a one-line BundleException unless the core decodes {@code head}. */
    public static void check(String head) throws BundleException {
        if (!DECODED.contains(head)) {
            throw new BundleException("manifest.json: model.head '" + head + "' has no answer decoder in the Android "
                    + "core (it decodes: " + String.join(", ", DECODED) + "); show its output vector instead");
        }
    }

    /**
     * {@code text} encoded for the bundle's head: words for a token classifier, the passage as
     * {@code pair} for question answering (the question is {@code text}), a mask token in
     * {@code text} for fill-mask. Input the head cannot use is one IllegalArgumentException line.
     */
    public static Input prepare(BundleInfo bundle, String text, String pair) throws BundleException {
        check(bundle.head);
        Tokenizer tokenizer = bundle.tokenizer;
        if (bundle.head.equals("token-classifier")) {
            List<String> words = new ArrayList<String>();
            for (String word : text.trim().split("\\s+")) {
                if (!word.isEmpty()) {
                    words.add(word);
                }
            }
            WordLabels.Encoded tagged = WordLabels.encodeWords(tokenizer, words, bundle.seqLen);
            return new Input(tagged.encoding, words, tagged, null, -1);
        }
        if (bundle.head.equals("fill-mask")) {
            Encoding encoding = tokenizer.encode(text, bundle.seqLen);
            for (int i = 0; i < encoding.length(); i++) {
                if (encoding.attentionMask[i] == 1 && MASK_TOKENS.contains(tokenizer.token(encoding.inputIds[i]))) {
                    return new Input(encoding, null, null, null, i);
                }
            }
            throw new IllegalArgumentException("text has no mask token (" + String.join(" or ", MASK_TOKENS)
                    + "); write it where the word to predict goes");
        }
        if (bundle.head.equals("question-answering")) {
            if (pair == null || pair.isEmpty()) {
                throw new IllegalArgumentException("question answering needs a passage as the second text");
            }
            Encoding encoding = tokenizer.encode(text, pair, bundle.seqLen);
            int last = encoding.realLength() - 1;  // the template's closing token
            boolean[] allowed = new boolean[encoding.length()];
            boolean any = false;
            for (int i = 0; i < last; i++) {
                allowed[i] = encoding.tokenTypeIds[i] == 1 && encoding.attentionMask[i] == 1;
                any |= allowed[i];
            }
            if (!any) {
                throw new IllegalArgumentException("the " + tokenizer.kind() + " tokenizer marks no passage token "
                        + "(token type 1); the core finds the passage by its token types");
            }
            return new Input(encoding, null, null, allowed, -1);
        }
        return new Input(tokenizer.encode(text, pair, bundle.seqLen), null, null, null, -1);
    }

    /** The answer from the model's outputs on {@code input} (each output flattened row-major). */
    public static Answer answer(BundleInfo bundle, Input input, Map<String, float[]> outputs) throws BundleException {
        check(bundle.head);
        if (bundle.head.equals("question-answering")) {
            int[] span = SpanDecoder.bestSpan(output(outputs, "start_logits"), output(outputs, "end_logits"),
                    input.allowed, MAX_ANSWER_LEN);
            List<String> tokens = new ArrayList<String>();
            for (int i = span[0]; i >= 0 && i <= span[1]; i++) {
                tokens.add(bundle.tokenizer.token(input.encoding.inputIds[i]));
            }
            return new Answer(bundle.head, detokenize(tokens), tokens, span);
        }
        double[] logits = output(outputs, bundle.primaryOutput);
        List<String> items = new ArrayList<String>();
        if (bundle.head.equals("token-classifier")) {
            if (bundle.labels.isEmpty()) {
                throw new BundleException("manifest.json: model.labels is missing; re-export the bundle");
            }
            int[] ids = WordLabels.labels(logits, bundle.labels.size(), input.tagged.starts);
            for (int w = 0; w < ids.length; w++) {
                items.add(input.words.get(input.tagged.words[w]) + "/" + bundle.label(ids[w]));
            }
            return new Answer(bundle.head, String.join(" ", items), items, input.tagged.starts);
        }
        if (bundle.head.equals("fill-mask")) {
            for (int id : TopK.topK(logits, TOP_K)) {
                items.add(bundle.tokenizer.token(id));
            }
            return new Answer(bundle.head, String.join(", ", items), items, new int[] {input.mask});
        }
        int best = TopK.topK(logits, 1)[0];
        items.add(bundle.label(best));
        return new Answer(bundle.head, bundle.label(best), items, new int[0]);
    }

    private static double[] output(Map<String, float[]> outputs, String name) throws BundleException {
        float[] values = outputs.get(name);
        if (values == null) {
            throw new BundleException("the model has no output '" + name + "' (it has " + outputs.keySet()
                    + "); re-export the bundle");
        }
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i];
        }
        return out;
    }

    /** Subword tokens as text: WordPiece's "##" joins, SentencePiece's and byte-level BPE's word marks are spaces. */
    static String detokenize(List<String> tokens) {
        StringBuilder text = new StringBuilder();
        for (String token : tokens) {
            if (token.startsWith("##")) {
                text.append(token.substring(2));
            } else if (token.startsWith("\u2581") || token.startsWith("\u0120")) {
                text.append(' ').append(token.substring(1));
            } else {
                text.append(text.length() == 0 ? "" : " ").append(token);
            }
        }
        return text.toString().trim();
    }
}
