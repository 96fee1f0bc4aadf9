package io.mobilecomp.core;

/** What the app does with model outputs: mean pooling, L2 norm, cosine similarity, softmax. */
public final class Pooling {
    private Pooling() {
    }

    /** Mean of the token vectors where mask is 1 ({@code hidden} is [seq][dim] row-major). */
    public static float[] meanPool(float[] hidden, int[] mask, int dim) {
        if (hidden.length != mask.length * dim) {
            throw new IllegalArgumentException("hidden has " + hidden.length + " values, expected "
                    + mask.length + " x " + dim);
        }
        double[] sum = new double[dim];
        int count = 0;
        for (int t = 0; t < mask.length; t++) {
            if (mask[t] == 0) {
                continue;
            }
            count++;
            for (int d = 0; d < dim; d++) {
                sum[d] += hidden[t * dim + d];
            }
        }
        float[] out = new float[dim];
        double denom = Math.max(count, 1e-9); // sentence-transformers clamps the count at 1e-9
        for (int d = 0; d < dim; d++) {
            out[d] = (float) (sum[d] / denom);
        }
        return out;
    }

    public static float[] l2Normalize(float[] v) {
        double norm = 0;
        for (float x : v) {
            norm += (double) x * x;
        }
        norm = Math.max(Math.sqrt(norm), 1e-12);
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (float) (v[i] / norm);
        }
        return out;
    }

    public static double cosine(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("vectors differ in length: " + a.length + " vs " + b.length);
        }
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return dot / Math.max(Math.sqrt(na) * Math.sqrt(nb), 1e-12);
    }

    /** Numerically stable softmax (subtracts the max logit). */
    public static double[] softmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float x : logits) {
            max = Math.max(max, x);
        }
        double[] out = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < logits.length; i++) {
            out[i] = Math.exp(logits[i] - max);
            sum += out[i];
        }
        for (int i = 0; i < out.length; i++) {
            out[i] /= sum;
        }
        return out;
    }

    public static int argmax(double[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }
}
