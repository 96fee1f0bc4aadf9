package io.mobilecomp.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.fail;

import java.util.Arrays;

import org.junit.Test;

/** The decoders on numbers worked out by hand, and the refusal of a head the core does not decode. */
public class HeadsTest {

    @Test
    public void spanTiesGoToTheSmallestStartThenEnd() {
        double[] start = {0, 2, 2, 0, 0};
        double[] end = {0, 0, 1, 1, 0};
        boolean[] all = {true, true, true, true, true};
        // (1,2) (1,3) (2,2) (2,3) all score 3: the smallest start, then the smallest end
        assertArrayEquals(new int[] {1, 2}, SpanDecoder.bestSpan(start, end, all, 30));
        // a length limit of 1 leaves only (2,2) at 3
        assertArrayEquals(new int[] {2, 2}, SpanDecoder.bestSpan(start, end, all, 1));
        boolean[] passage = {false, false, false, true, true};
        assertArrayEquals(new int[] {3, 3}, SpanDecoder.bestSpan(start, end, passage, 30));
        assertArrayEquals(new int[] {-1, -1}, SpanDecoder.bestSpan(start, end, new boolean[5], 30));
    }

    @Test
    public void topKOrdersByLogitThenIndexAndStopsAtTheVocabulary() {
        double[] logits = {0.5, 2.0, -0.0, 2.0, 0.0, 0.5};
        assertArrayEquals(new int[] {1, 3, 0, 5}, TopK.topK(logits, 4));
        // -0.0 and 0.0 are equal, as in numpy: index order decides
        assertArrayEquals(new int[] {1, 3, 0, 5, 2, 4}, TopK.topK(logits, 100));
    }

    @Test
    public void wordLabelsReadOnlyFirstSubwords() {
        // 4 tokens x 3 labels: words start at tokens 1 and 3; token 2 (a later subword) says label 2 loudly
        double[] logits = {9, 0, 0, 0, 1, 1, 0, 0, 9, 0, 0, 3};
        assertArrayEquals(new int[] {1, 2}, WordLabels.labels(logits, 3, new int[] {1, 3}));
    }

    @Test
    public void aHeadWithoutADecoderIsRefusedInOneLine() {
        try {
            Heads.check("encoder");
            fail("encoder has no answer decoder");
        } catch (BundleException ex) {
            assertEquals("manifest.json: model.head 'encoder' has no answer decoder in the Android core (it decodes: "
                    + "classifier, token-classifier, fill-mask, question-answering); show its output vector instead",
                    ex.getMessage());
        }
    }

    @Test
    public void spanTokensReadAsText() {
        assertEquals("unbelievable news", Heads.detokenize(Arrays.asList("un", "##believ", "##able", "news")));
        assertEquals("New York", Heads.detokenize(Arrays.asList("\u2581New", "\u2581York")));
    }
}
