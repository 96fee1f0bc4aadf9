package io.mobilecomp.core;

import java.util.Map;

/**
 * Which .tflite signature runs an input: mobilecomp's files hold one fixed-length signature per
 * sequence length (seq32, seq64, seq128), and subgraph 0 is the shortest, so a runner that ignores
 * signatures times the wrong bucket. The rule is mobilecomp.litert.TFLiteModel.signature_for's.
 */
public final class Signatures {
    private Signatures() {
    }

    /** The shortest signature whose length holds ``length`` tokens; ``lengths``: signature to its length. */
    public static String forLength(Map<String, Integer> lengths, int length) {
        String best = null;
        for (Map.Entry<String, Integer> e : lengths.entrySet()) {
            if (e.getValue() >= length && (best == null || e.getValue() < lengths.get(best))) {
                best = e.getKey();
            }
        }
        if (best == null) {
            throw new IllegalArgumentException(length + " tokens exceed the longest signature (have: " + lengths + ")");
        }
        return best;
    }
}
