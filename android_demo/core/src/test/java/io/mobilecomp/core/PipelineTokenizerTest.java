package io.mobilecomp.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.Test;

/**
 * The pieces of the tokenizer.json pipeline on tiny tokenizers built in Python with the
 * tokenizers library (expected ids from its encode()); the vector files cover the whole on real
 * trained tokenizers.
 */
public class PipelineTokenizerTest {
    /** A byte-level BPE: RoBERTa's specials ({@code <mask>} lstrip), eleven merges. */
    static final String TINY_BPE = "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[{\"id\":0,\"content\":\""
            + "<s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}"
            + ",{\"id\":1,\"content\":\"<pad>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalize"
            + "d\":false,\"special\":true},{\"id\":2,\"content\":\"</s>\",\"single_word\":false,\"lstrip\":false,\""
            + "rstrip\":false,\"normalized\":false,\"special\":true},{\"id\":3,\"content\":\"<unk>\",\"single_word\""
            + ":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},{\"id\":4,\"content\""
            + ":\"<mask>\",\"single_word\":false,\"lstrip\":true,\"rstrip\":false,\"normalized\":false,\"special\":"
            + "true}],\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"tr"
            + "im_offsets\":true,\"use_regex\":true},\"post_processor\":{\"type\":\"RobertaProcessing\",\"sep\":[\""
            + "</s>\",2],\"cls\":[\"<s>\",0],\"trim_offsets\":true,\"add_prefix_space\":true},\"decoder\":null,\"mo"
            + "del\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing_subword_prefix\":null,\"end"
            + "_of_word_suffix\":null,\"fuse_unk\":false,\"byte_fallback\":false,\"ignore_merges\":false,\"vocab\":"
            + "{\"<s>\":0,\"<pad>\":1,\"</s>\":2,\"<unk>\":3,\"<mask>\":4,\"!\":5,\"\\\"\":6,\"#\":7,\"$\":8,\"%\":"
            + "9,\"&\":10,\"'\":11,\"(\":12,\")\":13,\"*\":14,\"+\":15,\",\":16,\"-\":17,\".\":18,\"/\":19,\"0\":20"
            + ",\"1\":21,\"2\":22,\"3\":23,\"4\":24,\"5\":25,\"6\":26,\"7\":27,\"8\":28,\"9\":29,\":\":30,\";\":31,"
            + "\"<\":32,\"=\":33,\">\":34,\"?\":35,\"@\":36,\"A\":37,\"B\":38,\"C\":39,\"D\":40,\"E\":41,\"F\":42,\""
            + "G\":43,\"H\":44,\"I\":45,\"J\":46,\"K\":47,\"L\":48,\"M\":49,\"N\":50,\"O\":51,\"P\":52,\"Q\":53,\"R"
            + "\":54,\"S\":55,\"T\":56,\"U\":57,\"V\":58,\"W\":59,\"X\":60,\"Y\":61,\"Z\":62,\"[\":63,\"\\\\\":64,\""
            + "]\":65,\"^\":66,\"_\":67,\"`\":68,\"a\":69,\"b\":70,\"c\":71,\"d\":72,\"e\":73,\"f\":74,\"g\":75,\"h"
            + "\":76,\"i\":77,\"j\":78,\"k\":79,\"l\":80,\"m\":81,\"n\":82,\"o\":83,\"p\":84,\"q\":85,\"r\":86,\"s\""
            + ":87,\"t\":88,\"u\":89,\"v\":90,\"w\":91,\"x\":92,\"y\":93,\"z\":94,\"{\":95,\"|\":96,\"}\":97,\"~\":"
            + "98,\"\\u00a1\":99,\"\\u00a2\":100,\"\\u00a3\":101,\"\\u00a4\":102,\"\\u00a5\":103,\"\\u00a6\":104,\""
            + "\\u00a7\":105,\"\\u00a8\":106,\"\\u00a9\":107,\"\\u00aa\":108,\"\\u00ab\":109,\"\\u00ac\":110,\"\\u0"
            + "0ae\":111,\"\\u00af\":112,\"\\u00b0\":113,\"\\u00b1\":114,\"\\u00b2\":115,\"\\u00b3\":116,\"\\u00b4\""
            + ":117,\"\\u00b5\":118,\"\\u00b6\":119,\"\\u00b7\":120,\"\\u00b8\":121,\"\\u00b9\":122,\"\\u00ba\":123"
            + ",\"\\u00bb\":124,\"\\u00bc\":125,\"\\u00bd\":126,\"\\u00be\":127,\"\\u00bf\":128,\"\\u00c0\":129,\"\\u"
            + "00c1\":130,\"\\u00c2\":131,\"\\u00c3\":132,\"\\u00c4\":133,\"\\u00c5\":134,\"\\u00c6\":135,\"\\u00c7"
            + "\":136,\"\\u00c8\":137,\"\\u00c9\":138,\"\\u00ca\":139,\"\\u00cb\":140,\"\\u00cc\":141,\"\\u00cd\":1"
            + "42,\"\\u00ce\":143,\"\\u00cf\":144,\"\\u00d0\":145,\"\\u00d1\":146,\"\\u00d2\":147,\"\\u00d3\":148,\""
            + "\\u00d4\":149,\"\\u00d5\":150,\"\\u00d6\":151,\"\\u00d7\":152,\"\\u00d8\":153,\"\\u00d9\":154,\"\\u0"
            + "0da\":155,\"\\u00db\":156,\"\\u00dc\":157,\"\\u00dd\":158,\"\\u00de\":159,\"\\u00df\":160,\"\\u00e0\""
            + ":161,\"\\u00e1\":162,\"\\u00e2\":163,\"\\u00e3\":164,\"\\u00e4\":165,\"\\u00e5\":166,\"\\u00e6\":167"
            + ",\"\\u00e7\":168,\"\\u00e8\":169,\"\\u00e9\":170,\"\\u00ea\":171,\"\\u00eb\":172,\"\\u00ec\":173,\"\\u"
            + "00ed\":174,\"\\u00ee\":175,\"\\u00ef\":176,\"\\u00f0\":177,\"\\u00f1\":178,\"\\u00f2\":179,\"\\u00f3"
            + "\":180,\"\\u00f4\":181,\"\\u00f5\":182,\"\\u00f6\":183,\"\\u00f7\":184,\"\\u00f8\":185,\"\\u00f9\":1"
            + "86,\"\\u00fa\":187,\"\\u00fb\":188,\"\\u00fc\":189,\"\\u00fd\":190,\"\\u00fe\":191,\"\\u00ff\":192,\""
            + "\\u0100\":193,\"\\u0101\":194,\"\\u0102\":195,\"\\u0103\":196,\"\\u0104\":197,\"\\u0105\":198,\"\\u0"
            + "106\":199,\"\\u0107\":200,\"\\u0108\":201,\"\\u0109\":202,\"\\u010a\":203,\"\\u010b\":204,\"\\u010c\""
            + ":205,\"\\u010d\":206,\"\\u010e\":207,\"\\u010f\":208,\"\\u0110\":209,\"\\u0111\":210,\"\\u0112\":211"
            + ",\"\\u0113\":212,\"\\u0114\":213,\"\\u0115\":214,\"\\u0116\":215,\"\\u0117\":216,\"\\u0118\":217,\"\\u"
            + "0119\":218,\"\\u011a\":219,\"\\u011b\":220,\"\\u011c\":221,\"\\u011d\":222,\"\\u011e\":223,\"\\u011f"
            + "\":224,\"\\u0120\":225,\"\\u0121\":226,\"\\u0122\":227,\"\\u0123\":228,\"\\u0124\":229,\"\\u0125\":2"
            + "30,\"\\u0126\":231,\"\\u0127\":232,\"\\u0128\":233,\"\\u0129\":234,\"\\u012a\":235,\"\\u012b\":236,\""
            + "\\u012c\":237,\"\\u012d\":238,\"\\u012e\":239,\"\\u012f\":240,\"\\u0130\":241,\"\\u0131\":242,\"\\u0"
            + "132\":243,\"\\u0133\":244,\"\\u0134\":245,\"\\u0135\":246,\"\\u0136\":247,\"\\u0137\":248,\"\\u0138\""
            + ":249,\"\\u0139\":250,\"\\u013a\":251,\"\\u013b\":252,\"\\u013c\":253,\"\\u013d\":254,\"\\u013e\":255"
            + ",\"\\u013f\":256,\"\\u0140\":257,\"\\u0141\":258,\"\\u0142\":259,\"\\u0143\":260,\"lo\":261,\"\\u012"
            + "0l\":262,\"low\":263,\"\\u0120lo\":264,\"er\":265,\"\\u0120low\":266,\"lower\":267,\"\\u0120lower\":"
            + "268,\"\\u0120n\":269,\"\\u0120ne\":270,\"\\u0120new\":271},\"merges\":[[\"l\",\"o\"],[\"\\u0120\",\""
            + "l\"],[\"lo\",\"w\"],[\"\\u0120l\",\"o\"],[\"e\",\"r\"],[\"\\u0120lo\",\"w\"],[\"low\",\"er\"],[\"\\u"
            + "0120low\",\"er\"],[\"\\u0120\",\"n\"],[\"\\u0120n\",\"e\"],[\"\\u0120ne\",\"w\"]]}}";

    /**
     * A Unigram with byte fallback: Replace(" {2,}"), NFKC, Lowercase, Strip(right); Punctuation
     * then Metaspace(prepend_scheme first); [CLS]/[SEP] template.
     */
    static final String TINY_UNIGRAM = "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[{\"id\":0,\"content\":\""
            + "<pad>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":tru"
            + "e},{\"id\":1,\"content\":\"<unk>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normali"
            + "zed\":false,\"special\":true},{\"id\":2,\"content\":\"[CLS]\",\"single_word\":false,\"lstrip\":false"
            + ",\"rstrip\":false,\"normalized\":false,\"special\":true},{\"id\":3,\"content\":\"[SEP]\",\"single_wo"
            + "rd\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}],\"normalizer\":"
            + "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" {2,}\"},\"co"
            + "ntent\":\" \"},{\"type\":\"NFKC\"},{\"type\":\"Lowercase\"},{\"type\":\"Strip\",\"strip_left\":false"
            + ",\"strip_right\":true}]},\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Pun"
            + "ctuation\",\"behavior\":\"Isolated\"},{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_"
            + "scheme\":\"first\",\"split\":true}]},\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":"
            + "[{\"SpecialToken\":{\"id\":\"[CLS]\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\""
            + "SpecialToken\":{\"id\":\"[SEP]\",\"type_id\":0}}],\"pair\":[{\"SpecialToken\":{\"id\":\"[CLS]\",\"ty"
            + "pe_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"[SEP]\",\"type_i"
            + "d\":0}},{\"Sequence\":{\"id\":\"B\",\"type_id\":1}},{\"SpecialToken\":{\"id\":\"[SEP]\",\"type_id\":"
            + "1}}],\"special_tokens\":{\"[CLS]\":{\"id\":\"[CLS]\",\"ids\":[2],\"tokens\":[\"[CLS]\"]},\"[SEP]\":{"
            + "\"id\":\"[SEP]\",\"ids\":[3],\"tokens\":[\"[SEP]\"]}}},\"decoder\":null,\"model\":{\"type\":\"Unigra"
            + "m\",\"unk_id\":1,\"vocab\":[[\"<pad>\",0.0],[\"<unk>\",0.0],[\"[CLS]\",0.0],[\"[SEP]\",0.0],[\"\\u25"
            + "81\",-2.0],[\"\\u2581the\",-3.0],[\"\\u2581th\",-4.0],[\"e\",-4.5],[\"\\u2581a\",-3.5],[\"b\",-5.0],"
            + "[\"c\",-5.0],[\"ab\",-4.0],[\"abc\",-9.5],[\"bc\",-4.0],[\"\\u2581abc\",-6.0],[\"!\",-3.0],[\"<0xC3>"
            + "\",-8.0],[\"<0xA9>\",-8.0],[\"a\",-5.0],[\"t\",-6.0],[\"h\",-6.0]],\"byte_fallback\":true}}";

    static Map<String, Object> config(String pad) {
        Map<String, Object> config = new HashMap<String, Object>();
        config.put("pad_token", pad);
        return config;
    }

    static ByteLevelBpeTokenizer bpe() {
        return new ByteLevelBpeTokenizer(Json.parseObject(TINY_BPE), config("<pad>"));
    }

    static UnigramTokenizer unigram() {
        return new UnigramTokenizer(Json.parseObject(TINY_UNIGRAM), config("<pad>"));
    }

    static int[] withSpecials(Tokenizer t, String text) {
        Encoding e = t.encode(text, 64);
        return Arrays.copyOf(e.inputIds, e.realLength());
    }

    @Test
    public void bpeMergesLowestRankFirstAndStripsLeftOfMask() {
        ByteLevelBpeTokenizer t = bpe();
        assertArrayEquals(new int[] {0, 267, 271, 265, 225, 263, 2}, withSpecials(t, "lower newer low"));
        assertArrayEquals(new int[] {0, 263, 4, 267, 2}, withSpecials(t, "low  <mask>lower"));
        assertArrayEquals(new int[] {0, 132, 107, 263, 11, 87, 225, 21, 22, 225, 132, 107, 2},
                withSpecials(t, "\u00e9low's 12 \u00e9"));
    }

    @Test
    public void robertaPairIsAllTypeZeroWithDoubleSeparator() {
        Encoding e = bpe().encode("lower", "new", 10);
        assertArrayEquals(new int[] {0, 267, 2, 2, 82, 73, 91, 2, 1, 1}, e.inputIds);
        assertArrayEquals(new int[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, e.tokenTypeIds);
        assertArrayEquals(new int[] {1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, e.attentionMask);
    }

    @Test
    public void byteLevelSplitsAsGpt2sRegex() {
        // expected pieces from tokenizers' ByteLevel(add_prefix_space=False).pre_tokenize_str
        assertEquals(Arrays.asList("a", "\u00c2\u0142", "\u00c2\u0142", "b"), words("a\u00a0\u00a0b"));
        assertEquals(Arrays.asList("a", "\u0120\u0120\u0120"), words("a   "));
        assertEquals(Arrays.asList("a", "\u0120", "\u0120b"), words("a  b"));
        assertEquals(Arrays.asList("x", "\u0120'", "S", "\u0120'", "s", "\u0120'", "ll"), words("x 'S 's 'll"));
        assertEquals(Arrays.asList("12", "ab"), words("12ab"));
        assertEquals(Arrays.asList("a", "\u011c", "b"), words("a\u001cb"));
    }

    private static List<String> words(String text) {
        return bpe().words(text);
    }

    @Test
    public void unigramViterbiFusesUnknownsAndFallsBackToBytes() {
        UnigramTokenizer t = unigram();
        assertArrayEquals(new int[] {2, 5, 14, 15, 18, 13, 3}, withSpecials(t, "The  ABC!abc   "));
        assertArrayEquals(new int[] {2, 5, 4, 16, 17, 4, 1, 3}, withSpecials(t, "the \u00e9 xyz"));
        assertArrayEquals(new int[] {2, 5, 14, 3}, withSpecials(t, "\uff34\uff48\uff45 abc"));
        assertArrayEquals(new int[] {2, 4, 1, 19, 20, 7, 3}, withSpecials(t, "\u0301the"));
    }

    @Test
    public void metaspaceFirstPrependsOnlyAtTheStartOfTheInput() {
        assertArrayEquals(new int[] {2, 2, 19, 20, 7, 3}, withSpecials(unigram(), "[CLS]the"));
    }

    @Test
    public void templatePairTypes() {
        Encoding e = unigram().encode("the", "abc", 6);
        assertArrayEquals(new int[] {2, 5, 3, 14, 3, 0}, e.inputIds);
        assertArrayEquals(new int[] {0, 0, 0, 1, 1, 0}, e.tokenTypeIds);
    }

    @Test
    public void truncationIsLongestFirstBeforeTheTemplate() {
        Encoding e = unigram().encode("the the the the the", "abc abc abc", 8);
        assertArrayEquals(new int[] {2, 5, 5, 5, 3, 14, 14, 3}, e.inputIds);
    }

    @Test
    public void regexSubsetKeepsOnlyWhatBothEnginesShare() {
        assertNotNull(Normalizers.RegexSubset.compile(" {2,}"));
        assertNotNull(Normalizers.RegexSubset.compile("\\s{2,}|[\\n\\r\\t]"));
        assertNotNull(Normalizers.RegexSubset.compile("(?:ab)+|[a-c\\-]"));
        for (String refused : new String[] {"\\p{L}+", "\\w+", "a.b", "^a", "a*", "a+?", "(?=a)b", "\\d", "[[a]]"}) {
            assertNull(refused, Normalizers.RegexSubset.compile(refused));
        }
        // \s is White_Space: NBSP and U+3000 yes, U+001C and U+200B no (as Oniguruma)
        assertTrue(Normalizers.RegexSubset.compile("\\s").matcher("\u00a0").matches());
        assertTrue(Normalizers.RegexSubset.compile("\\s").matcher("\u3000").matches());
        assertTrue(!Normalizers.RegexSubset.compile("\\s").matcher("\u001c").matches());
        assertTrue(!Normalizers.RegexSubset.compile("\\s").matcher("\u200b").matches());
    }

    @Test
    public void lowercaseAndStripAccentsFollowRustPerCodePoint() {
        NormalizedText t = Normalizers.lowercase(NormalizedText.of("\u0130\u03a3\u0391\u03a3", 0));
        assertEquals("i\u0307\u03c3\u03b1\u03c3", t.text()); // no final sigma; U+0130 becomes two
        assertEquals("a b", Normalizers.stripAccents(NormalizedText.of("a\u0301\u0903\u20dd b", 0)).text());
    }

    @Test
    public void unsupportedComponentsAreNamedInOneLine() {
        Map<String, Object> json = Json.parseObject(TINY_UNIGRAM);
        Map<String, Object> nmt = new HashMap<String, Object>();
        nmt.put("type", "Nmt");
        json.put("normalizer", nmt);
        try {
            new UnigramTokenizer(json, config("<pad>"));
            fail("an Nmt normalizer was accepted");
        } catch (UnsupportedTokenizerException ex) {
            assertEquals("normalizer 'Nmt' is not implemented by the Android core (it implements: Lowercase, NFC, NFD, "
                    + "NFKC, NFKD, Precompiled, Prepend, Replace, Sequence, Strip, StripAccents)", ex.getMessage());
        }
        try {
            new UnigramTokenizer(Json.parseObject(TINY_UNIGRAM), Collections.<String, Object>emptyMap());
            fail("no pad token was accepted");
        } catch (UnsupportedTokenizerException ex) {
            assertTrue(ex.getMessage(), ex.getMessage().contains("no pad_token"));
        }
    }

    @Test
    public void kindOfFollowsTheModelAndTheByteLevelPreTokenizer() {
        assertEquals("byte-level-bpe", Tokenizers.kindOf(Json.parseObject(TINY_BPE)));
        assertEquals("unigram", Tokenizers.kindOf(Json.parseObject(TINY_UNIGRAM)));
        Map<String, Object> json = Json.parseObject(TINY_BPE);
        json.put("pre_tokenizer", null);
        assertEquals("bpe", Tokenizers.kindOf(json));
    }

    @Test
    public void graphemesKeepMarksWithTheirBaseAndCrLfTogether() {
        int[] cps = BertTokenizer.codePoints("e\u0301x\r\n\u200b\u0301");
        assertEquals(2, Precompiled.graphemeEnd(cps, 0));
        assertEquals(3, Precompiled.graphemeEnd(cps, 2));
        assertEquals(5, Precompiled.graphemeEnd(cps, 3));
        assertEquals(6, Precompiled.graphemeEnd(cps, 5)); // a control never takes a mark
    }

    @Test
    public void base64DecodesAsJavaUtil() {
        assertArrayEquals("hello, charsmap".getBytes(), Precompiled.base64Decode("aGVsbG8sIGNoYXJzbWFw"));
        assertArrayEquals(new byte[] {(byte) 0xff, 0, 1}, Precompiled.base64Decode("/wAB"));
    }
}
