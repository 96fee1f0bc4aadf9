package io.mobilecomp.core;

import java.util.Arrays;
import java.util.Comparator;

/**
 * The k best words at a mask (fill-mask): a port of mobilecomp/verify/decode.py top_k. Highest
 * logit first, ties to the smaller index; all indices when k exceeds the vocabulary.
 */
public final class TopK {
    private TopK() {
    }

    public static int[] topK(final double[] logits, int k) {
        if (k < 1) {
            throw new IllegalArgumentException("k must be at least 1, not " + k);
        }
        Integer[] order = new Integer[logits.length];
        for (int i = 0; i < logits.length; i++) {
            if (Double.isNaN(logits[i])) {
                throw new IllegalArgumentException("logits hold NaN at " + i + "; no order of the words is defined");
            }
            order[i] = i;
        }
        // < and > rather than Double.compare: numpy ranks -0.0 and 0.0 as equal
        Arrays.sort(order, new Comparator<Integer>() {
            @Override
            public int compare(Integer a, Integer b) {
                double x = logits[a];
                double y = logits[b];
                return x > y ? -1 : x < y ? 1 : Integer.compare(a, b);
            }
        });
        int n = Math.min(k, logits.length);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = order[i];
        }
        return out;
    }
}
