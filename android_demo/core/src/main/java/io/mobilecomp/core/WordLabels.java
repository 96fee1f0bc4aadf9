package io.mobilecomp.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Word-level labels of a token classifier: each word is tokenized on its own (as Python's
 * {@code is_split_into_words=True} does) and labelled by the argmax of its first subword's logits, the
 * position the tagger was trained and scored on (mobilecomp/verify/decode.py word_labels).
 */
public final class WordLabels {
    private WordLabels() {
    }

    /** The packed input of a sentence given as words, and where each kept word's first subword is. */
    public static final class Encoded {
        public final Encoding encoding;
        /** Token position of each labelled word's first subword. */
        public final int[] starts;
        /**
         * Which word each start belongs to: fewer than the words where truncation cut some or a word
         * has no token the tokenizer keeps.
         */
        public final int[] words;

        Encoded(Encoding encoding, int[] starts, int[] words) {
            this.encoding = encoding;
            this.starts = starts;
            this.words = words;
        }
    }

    /**
     * {@code words} packed to {@code maxLength} with the tokenizer's template, and the first subword
     * of each word that survives truncation. The words' subwords, tokenized one word at a time,
     * must be the sentence's own: a tokenizer whose subwords depend on the word before (byte-level
     * BPE's leading space) is refused rather than labelled at the wrong positions.
     */
    public static Encoded encodeWords(Tokenizer tokenizer, List<String> words, int maxLength) {
        List<int[]> pieces = new ArrayList<int[]>();
        int total = 0;
        for (String word : words) {
            int[] ids = tokenizer.tokenIds(word);
            pieces.add(ids);
            total += ids.length;
        }
        StringBuilder text = new StringBuilder();
        for (String word : words) {
            text.append(text.length() == 0 ? "" : " ").append(word);
        }
        Encoding encoding = tokenizer.encode(text.toString(), maxLength);
        int prefix = templatePrefix(tokenizer, words, pieces);
        int suffix = tokenizer.encode("", maxLength).realLength() - prefix;
        int room = Math.max(0, encoding.realLength() - prefix - suffix);
        int[] starts = new int[words.size()];
        int[] which = new int[words.size()];
        int kept = 0;
        int position = 0;
        int[] joined = new int[total];
        for (int w = 0; w < pieces.size(); w++) {
            int[] ids = pieces.get(w);
            if (ids.length > 0 && position < room) {
                which[kept] = w;
                starts[kept++] = prefix + position;
            }
            System.arraycopy(ids, 0, joined, position, ids.length);
            position += ids.length;
        }
        for (int i = 0; i < Math.min(room, total); i++) {
            if (encoding.inputIds[prefix + i] != joined[i]) {
                throw new IllegalArgumentException("the " + tokenizer.kind() + " tokenizer splits words differently "
                        + "in a sentence than alone (position " + (prefix + i) + "); the core labels words only "
                        + "where they tokenize alone as in the sentence");
            }
        }
        return new Encoded(encoding, Arrays.copyOf(starts, kept), Arrays.copyOf(which, kept));
    }

    /** Tokens the template puts before the text ([CLS], <s>): where the first word's subwords start. */
    private static int templatePrefix(Tokenizer tokenizer, List<String> words, List<int[]> pieces) {
        for (int w = 0; w < words.size(); w++) {
            int[] ids = pieces.get(w);
            if (ids.length == 0) {
                continue;
            }
            int[] packed = tokenizer.encode(words.get(w), ids.length + 8).inputIds;
            for (int p = 0; p + ids.length <= packed.length; p++) {
                if (Arrays.equals(Arrays.copyOfRange(packed, p, p + ids.length), ids)) {
                    return p;
                }
            }
            break;
        }
        return tokenizer.encode("", 8).realLength() > 0 ? 1 : 0;
    }

    /**
     * Per word, the label id with the highest logit at its first subword ({@code logits}: tokens x
     * numLabels, row-major); ties go to the smaller id.
     */
    public static int[] labels(double[] logits, int numLabels, int[] starts) {
        if (numLabels < 1 || logits.length % numLabels != 0) {
            throw new IllegalArgumentException("logits of length " + logits.length + " are not tokens x "
                    + numLabels + " labels");
        }
        int tokens = logits.length / numLabels;
        int[] out = new int[starts.length];
        for (int w = 0; w < starts.length; w++) {
            if (starts[w] < 0 || starts[w] >= tokens) {
                throw new IllegalArgumentException("word start " + starts[w] + " is outside the " + tokens + " tokens");
            }
            int row = starts[w] * numLabels;
            int best = 0;
            for (int j = 1; j < numLabels; j++) {
                if (logits[row + j] > logits[row + best]) {
                    best = j;
                }
            }
            out[w] = best;
        }
        return out;
    }
}
