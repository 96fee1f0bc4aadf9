package io.mobilecomp.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import org.junit.Test;

/** Small, self-contained checks of the tokenizer's pieces (the vectors test covers the whole). */
public class BertTokenizerTest {
    static final String VOCAB = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n,\n!\nun\n##aff\n##able\n[\n]\ncafe\n\u4e16\n\u754c\n";

    static BertTokenizer tiny() {
        return new BertTokenizer(Vocabulary.fromBytes(VOCAB.getBytes(StandardCharsets.UTF_8)), new BertTokenizer.Options());
    }

    @Test
    public void wordPieceSplitsGreedilyAndUnknownWordIsOneUnk() {
        assertEquals(Arrays.asList("un", "##aff", "##able", "[UNK]"), tiny().tokenize("unaffable unafx"));
    }

    @Test
    public void normalizesAccentsCaseCjkAndControls() {
        BertTokenizer t = tiny();
        assertEquals("cafe  \u4e16  \u754c  ", t.normalize("CAF\u00c9\u0000\u200b \u4e16\u754c\t"));
        assertEquals(Arrays.asList("hello", ",", "world", "!", "\u4e16", "\u754c"), t.tokenize("Hello,WORLD! \u4e16\u754c"));
    }

    @Test
    public void specialTokenLiteralsStayWhole() {
        assertEquals(Arrays.asList("hello", "[MASK]", "world", "[", "[UNK]", "]"), tiny().tokenize("hello[MASK]world [mask]"));
        assertEquals(Arrays.asList("[CLS]", "[SEP]", "[", "[UNK]"), tiny().tokenize("[CLS][SEP]\ue000 [ZZZ"));
    }

    @Test
    public void unassignedCodePointsAreKeptPrivateUseDropped() {
        assertEquals(Arrays.asList("hello", "[UNK]"), tiny().tokenize("hel\ue000lo \u0378"));
    }

    @Test
    public void emptyPairIsNoPair() {
        assertArrayEquals(tiny().encode("hello", null, 6).inputIds, tiny().encode("hello", "", 6).inputIds);
    }

    @Test
    public void encodePadsAndMarksPairs() {
        Encoding e = tiny().encode("hello", "world", 7);
        assertArrayEquals(new int[] {2, 5, 3, 6, 3, 0, 0}, e.inputIds);
        assertArrayEquals(new int[] {1, 1, 1, 1, 1, 0, 0}, e.attentionMask);
        assertArrayEquals(new int[] {0, 0, 0, 1, 1, 0, 0}, e.tokenTypeIds);
        assertEquals(5, e.realLength());
    }

    @Test
    public void singleTextIsTruncatedToMaxLength() {
        Encoding e = tiny().encode("hello world hello world", 4);
        assertArrayEquals(new int[] {2, 5, 6, 3}, e.inputIds);
    }

    @Test
    public void longestFirstMatchesTheTokenizersCrate() {
        assertArrayEquals(new int[] {2, 8}, BertTokenizer.longestFirst(2, 30, 10)); // short kept whole
        assertArrayEquals(new int[] {8, 2}, BertTokenizer.longestFirst(30, 2, 10));
        assertArrayEquals(new int[] {5, 5}, BertTokenizer.longestFirst(30, 30, 10)); // both halved
        assertArrayEquals(new int[] {5, 6}, BertTokenizer.longestFirst(30, 30, 11)); // tie: second gets the odd one
        assertArrayEquals(new int[] {6, 5}, BertTokenizer.longestFirst(40, 30, 11)); // else the longer does
    }

    @Test
    public void characterClasses() {
        assertTrue(BertTokenizer.isWhitespace(0x00A0));
        assertTrue(BertTokenizer.isWhitespace(0x3000));
        assertFalse(BertTokenizer.isWhitespace(0x200B));
        assertTrue(BertTokenizer.isControl(0x200B));
        assertTrue(BertTokenizer.isControl(0x0007));
        assertFalse(BertTokenizer.isControl('\n'));
        assertTrue(BertTokenizer.isPunctuation('$'));
        assertTrue(BertTokenizer.isPunctuation(0x2014));
        assertFalse(BertTokenizer.isPunctuation(0x00A7 + 1)); // U+00A8 diaeresis is Sk
        assertTrue(BertTokenizer.isChineseChar(0x4E16));
        assertFalse(BertTokenizer.isChineseChar(0xAC00)); // Hangul
    }
}
