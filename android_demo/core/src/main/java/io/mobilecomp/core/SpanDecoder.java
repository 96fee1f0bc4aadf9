package io.mobilecomp.core;

/**
 * The answer span of a question-answering head: a port of mobilecomp/verify/decode.py best_span
 * with the same tie rules, so the phone picks the span Python picks.
 */
public final class SpanDecoder {
    private SpanDecoder() {
    }

    /**
     * The token span {start, end}, inclusive, maximising start[s] + end[e] with s <= e < s + maxAnswerLen
     * and both on allowed tokens; ties go to the smallest start, then the smallest end; {-1, -1}
     * when no token is allowed.
     */
    public static int[] bestSpan(double[] start, double[] end, boolean[] allowed, int maxAnswerLen) {
        if (maxAnswerLen < 1) {
            throw new IllegalArgumentException("max_answer_len must be at least 1, not " + maxAnswerLen);
        }
        if (start.length != end.length || start.length != allowed.length) {
            throw new IllegalArgumentException("start_logits, end_logits and the allowed mask differ in length ("
                    + start.length + ", " + end.length + ", " + allowed.length + ")");
        }
        double best = Double.NEGATIVE_INFINITY;
        int[] span = {-1, -1};
        for (int s = 0; s < start.length; s++) {
            if (!allowed[s]) {
                continue;
            }
            int bestEnd = -1;
            double score = Double.NEGATIVE_INFINITY;
            // the first maximum of the sums over allowed ends in [s, s + maxAnswerLen): numpy's argmax
            for (int e = s; e < start.length && e < s + maxAnswerLen; e++) {
                if (allowed[e] && (bestEnd < 0 || start[s] + end[e] > score)) {
                    bestEnd = e;
                    score = start[s] + end[e];
                }
            }
            if (score > best) {
                best = score;
                span = new int[] {s, bestEnd};
            }
        }
        return span;
    }
}
