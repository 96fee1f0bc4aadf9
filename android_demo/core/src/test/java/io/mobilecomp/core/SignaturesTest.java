package io.mobilecomp.core;

import static org.junit.Assert.assertEquals;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.Test;

public class SignaturesTest {
    private static Map<String, Integer> minilm() {
        Map<String, Integer> lengths = new LinkedHashMap<String, Integer>();
        lengths.put("seq32", 32); // subgraph 0: what a signature-blind runner would run
        lengths.put("seq64", 64);
        lengths.put("seq128", 128);
        return lengths;
    }

    @Test
    public void theRowsLengthPicksItsOwnSignatureNotSubgraphZero() {
        assertEquals("seq128", Signatures.forLength(minilm(), 128));
        assertEquals("seq64", Signatures.forLength(minilm(), 33));
        assertEquals("seq32", Signatures.forLength(minilm(), 7));
    }

    @Test(expected = IllegalArgumentException.class)
    public void tooLongForEverySignatureIsRefused() {
        Signatures.forLength(minilm(), 129);
    }

    @Test
    public void theParitySubsetIsPythonsEvenlySpacedOne() {
        // mobilecomp.profile.adb.parity.subset: sorted({round(i * (total - 1) / (n - 1))}) (half-even)
        assertEquals(Arrays.asList(0, 1, 2, 4, 5), DeviceParity.subset(6, 5));
        assertEquals(Arrays.asList(0, 8, 17, 25, 33, 41, 50, 58, 66, 75, 83, 91, 99, 108, 116, 124, 133, 141, 149,
                158, 166, 174, 182, 191, 199, 207, 216, 224, 232, 240, 249, 257), DeviceParity.subset(258, 32));
    }
}
