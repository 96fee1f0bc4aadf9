package io.mobilecomp.core;

import java.util.Arrays;

/** One packed model input: ids, attention mask and token type ids, all of length maxLength. */
public final class Encoding {
    public final int[] inputIds;
    public final int[] attentionMask;
    public final int[] tokenTypeIds;

    public Encoding(int[] inputIds, int[] attentionMask, int[] tokenTypeIds) {
        if (inputIds.length != attentionMask.length || inputIds.length != tokenTypeIds.length) {
            throw new IllegalArgumentException("ids, mask and type ids differ in length");
        }
        this.inputIds = inputIds;
        this.attentionMask = attentionMask;
        this.tokenTypeIds = tokenTypeIds;
    }

    public int length() {
        return inputIds.length;
    }

    /** Number of real (unpadded) tokens. */
    public int realLength() {
        int n = 0;
        for (int m : attentionMask) {
            n += m;
        }
        return n;
    }

    /** int64 copies for runtimes that take long tensors (ONNX Runtime). */
    public static long[] toLongs(int[] values) {
        long[] out = new long[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i];
        }
        return out;
    }

    @Override
    public String toString() {
        return "Encoding{ids=" + Arrays.toString(inputIds) + ", mask=" + Arrays.toString(attentionMask)
                + ", types=" + Arrays.toString(tokenTypeIds) + "}";
    }
}
