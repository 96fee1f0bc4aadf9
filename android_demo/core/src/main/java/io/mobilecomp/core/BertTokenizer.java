package io.mobilecomp.core;

import java.io.File;
import java.io.IOException;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The bundle's WordPiece tokenizer, id for id what Python's {@code AutoTokenizer} (the
 * Hugging Face tokenizers BertNormalizer, BertPreTokenizer, WordPiece and [CLS]/[SEP] template)
 * produces, with padding to max_length and longest_first truncation of single texts and pairs.
 *
 * <p>Steps, in the order the Rust tokenizer runs them: special-token literals are split off the
 * raw text; each other segment is cleaned (control characters dropped, whitespace to ' '),
 * CJK ideographs are spaced, accents stripped (NFD, drop Mn), lower-cased per code point; split
 * on whitespace and around each punctuation character; WordPiece greedy longest match with "##"
 * continuations, a word over maxInputCharsPerWord code points (or with an unmatched piece) is [UNK].
 */
public final class BertTokenizer implements Tokenizer {

    /** Settings read from tokenizer_config.json; defaults are bert-base-uncased's. */
    public static final class Options {
        public boolean lowercase = true;
        /** null: follows lowercase (as in transformers). */
        public Boolean stripAccents = null;
        public boolean handleChineseChars = true;
        public boolean cleanText = true;
        public int maxInputCharsPerWord = 100;
        public String unkToken = "[UNK]";
        public String clsToken = "[CLS]";
        public String sepToken = "[SEP]";
        public String padToken = "[PAD]";
        public String maskToken = "[MASK]";

        public static Options fromTokenizerConfig(Map<String, Object> config) {
            Options o = new Options();
            if (config.get("do_lower_case") instanceof Boolean) {
                o.lowercase = (Boolean) config.get("do_lower_case");
            }
            if (config.get("strip_accents") instanceof Boolean) {
                o.stripAccents = (Boolean) config.get("strip_accents");
            }
            if (config.get("tokenize_chinese_chars") instanceof Boolean) {
                o.handleChineseChars = (Boolean) config.get("tokenize_chinese_chars");
            }
            o.unkToken = token(config, "unk_token", o.unkToken);
            o.clsToken = token(config, "cls_token", o.clsToken);
            o.sepToken = token(config, "sep_token", o.sepToken);
            o.padToken = token(config, "pad_token", o.padToken);
            o.maskToken = token(config, "mask_token", o.maskToken);
            return o;
        }

        private static String token(Map<String, Object> config, String key, String fallback) {
            Object value = config.get(key);
            if (value instanceof String) {
                return (String) value;
            }
            if (value instanceof Map && ((Map<?, ?>) value).get("content") instanceof String) {
                return (String) ((Map<?, ?>) value).get("content");
            }
            return fallback;
        }

        boolean stripsAccents() {
            return stripAccents == null ? lowercase : stripAccents;
        }
    }

    private final Vocabulary vocab;
    private final Options options;
    private final String[] specialTokens;
    private final int unkId;
    private final int clsId;
    private final int sepId;
    private final int padId;

    public BertTokenizer(Vocabulary vocab, Options options) {
        this.vocab = vocab;
        this.options = options;
        this.unkId = require(vocab, options.unkToken);
        this.clsId = require(vocab, options.clsToken);
        this.sepId = require(vocab, options.sepToken);
        this.padId = require(vocab, options.padToken);
        List<String> specials = new ArrayList<String>();
        for (String t : new String[] {options.padToken, options.unkToken, options.clsToken,
                options.sepToken, options.maskToken}) {
            if (vocab.contains(t) && !specials.contains(t)) {
                specials.add(t);
            }
        }
        this.specialTokens = specials.toArray(new String[0]);
    }

    /** The tokenizer of a bundle's tokenizer/ directory: vocab.txt plus tokenizer_config.json if any. */
    public static BertTokenizer fromDirectory(File dir) throws IOException {
        Vocabulary vocab = Vocabulary.fromFile(new File(dir, "vocab.txt"));
        File config = new File(dir, "tokenizer_config.json");
        Options options = config.isFile()
                ? Options.fromTokenizerConfig(Json.parseObject(BundleInfo.readText(config)))
                : new Options();
        return new BertTokenizer(vocab, options);
    }

    private static int require(Vocabulary vocab, String token) {
        int id = vocab.id(token);
        if (id < 0) {
            throw new IllegalArgumentException("vocabulary has no " + token + " token");
        }
        return id;
    }

    public Vocabulary vocabulary() {
        return vocab;
    }

    @Override
    public String kind() {
        return "wordpiece";
    }

    @Override
    public String token(int id) {
        return id >= 0 && id < vocab.size() ? vocab.token(id) : null;
    }

    // ---- text -> word pieces ------------------------------------------------------------------

    /** The ids of {@code text} without [CLS]/[SEP], padding or truncation. */
    @Override
    public int[] tokenIds(String text) {
        List<Integer> ids = new ArrayList<Integer>();
        for (String piece : tokenize(text)) {
            int id = vocab.id(piece);
            ids.add(id < 0 ? unkId : id);
        }
        int[] out = new int[ids.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ids.get(i);
        }
        return out;
    }

    /** The word pieces of {@code text} (special-token literals kept whole). */
    public List<String> tokenize(String text) {
        List<String> out = new ArrayList<String>();
        int start = 0;
        while (start <= text.length()) {
            int[] match = nextSpecial(text, start);
            int end = match == null ? text.length() : match[0];
            for (String word : preTokenize(normalize(text.substring(start, end)))) {
                wordPiece(word, out);
            }
            if (match == null) {
                break;
            }
            out.add(specialTokens[match[1]]);
            start = end + specialTokens[match[1]].length();
        }
        return out;
    }

    /** Leftmost special-token literal at or after {@code from}, longest on ties: {index, token}. */
    private int[] nextSpecial(String text, int from) {
        int best = -1;
        int which = -1;
        for (int t = 0; t < specialTokens.length; t++) {
            int at = text.indexOf(specialTokens[t], from);
            if (at >= 0 && (best < 0 || at < best
                    || (at == best && specialTokens[t].length() > specialTokens[which].length()))) {
                best = at;
                which = t;
            }
        }
        return best < 0 ? null : new int[] {best, which};
    }

    /** BertNormalizer: clean, space CJK, strip accents, lower-case (in that order). */
    public String normalize(String text) {
        StringBuilder out = new StringBuilder(text.length() + 8);
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            if (options.cleanText) {
                if (cp == 0 || cp == 0xFFFD || isControl(cp)) {
                    continue;
                }
                if (isWhitespace(cp)) {
                    cp = ' ';
                }
            }
            if (options.handleChineseChars && isChineseChar(cp)) {
                out.append(' ').appendCodePoint(cp).append(' ');
            } else {
                out.appendCodePoint(cp);
            }
        }
        String s = out.toString();
        if (options.stripsAccents()) {
            String nfd = Normalizer.normalize(s, Normalizer.Form.NFD);
            StringBuilder stripped = new StringBuilder(nfd.length());
            for (int i = 0; i < nfd.length(); ) {
                int cp = nfd.codePointAt(i);
                i += Character.charCount(cp);
                if (Character.getType(cp) != Character.NON_SPACING_MARK) {
                    stripped.appendCodePoint(cp);
                }
            }
            s = stripped.toString();
        }
        if (options.lowercase) {
            StringBuilder lower = new StringBuilder(s.length());
            for (int i = 0; i < s.length(); ) {
                int cp = s.codePointAt(i);
                i += Character.charCount(cp);
                if (cp == 0x0130) { // the one code point whose full lower-case mapping is two
                    lower.append("i\u0307");
                } else {
                    lower.appendCodePoint(Character.toLowerCase(cp));
                }
            }
            s = lower.toString();
        }
        return s;
    }

    /** BertPreTokenizer: split on whitespace, and each punctuation character is a word of its own. */
    public static List<String> preTokenize(String text) {
        List<String> words = new ArrayList<String>();
        StringBuilder word = new StringBuilder();
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            if (isWhitespace(cp)) {
                flush(word, words);
            } else if (isPunctuation(cp)) {
                flush(word, words);
                words.add(new String(Character.toChars(cp)));
            } else {
                word.appendCodePoint(cp);
            }
        }
        flush(word, words);
        return words;
    }

    private static void flush(StringBuilder word, List<String> words) {
        if (word.length() > 0) {
            words.add(word.toString());
            word.setLength(0);
        }
    }

    /** Greedy longest-match-first WordPiece of one word, appended to {@code out}. */
    void wordPiece(String word, List<String> out) {
        int[] cps = codePoints(word);
        if (cps.length > options.maxInputCharsPerWord) {
            out.add(options.unkToken);
            return;
        }
        List<String> pieces = new ArrayList<String>();
        int start = 0;
        while (start < cps.length) {
            int end = cps.length;
            String found = null;
            while (start < end) {
                String sub = new String(cps, start, end - start);
                if (start > 0) {
                    sub = "##" + sub;
                }
                if (vocab.contains(sub)) {
                    found = sub;
                    break;
                }
                end--;
            }
            if (found == null) {
                out.add(options.unkToken);
                return;
            }
            pieces.add(found);
            start = end;
        }
        out.addAll(pieces);
    }

    static int[] codePoints(String s) {
        int[] cps = new int[s.codePointCount(0, s.length())];
        for (int i = 0, k = 0; i < s.length(); k++) {
            cps[k] = s.codePointAt(i);
            i += Character.charCount(cps[k]);
        }
        return cps;
    }

    // ---- packing ------------------------------------------------------------------------------

    /**
     * [CLS] a [SEP] b [SEP] with token type ids 0 for a (and its separators) and 1 for b, both
     * truncated longest_first to fit {@code maxLength}, then padded with [PAD] (mask 0, type 0).
     * An empty {@code pair} counts as none, as in transformers ({@code if text_pair}).
     */
    @Override
    public Encoding encode(String text, String pair, int maxLength) {
        int[] a = tokenIds(text);
        int[] b = pair == null || pair.isEmpty() ? null : tokenIds(pair);
        int special = b == null ? 2 : 3;
        int[][] cut = truncated(a, b, special, maxLength);
        a = cut[0];
        b = cut[1];
        int[] ids = new int[maxLength];
        int[] mask = new int[maxLength];
        int[] types = new int[maxLength];
        Arrays.fill(ids, padId);
        int n = 0;
        ids[n++] = clsId;
        for (int id : a) {
            ids[n++] = id;
        }
        ids[n++] = sepId;
        int firstB = n;
        if (b != null) {
            for (int id : b) {
                ids[n++] = id;
            }
            ids[n++] = sepId;
        }
        for (int i = 0; i < n; i++) {
            mask[i] = 1;
            types[i] = i >= firstB && b != null ? 1 : 0;
        }
        return new Encoding(ids, mask, types);
    }

    /**
     * {@code a} and {@code b} (null: no pair) cut to fit {@code maxLength} ids with {@code special}
     * tokens added, as Python's {@code truncation=True} (longest_first) cuts them: {a, b}.
     */
    static int[][] truncated(int[] a, int[] b, int special, int maxLength) {
        int budget = maxLength - special;
        if (budget < 0) {
            throw new IllegalArgumentException("maxLength " + maxLength + " leaves no room for " + special
                    + " special tokens");
        }
        if (b == null) {
            return new int[][] {Arrays.copyOf(a, Math.min(a.length, budget)), null};
        }
        if (a.length + b.length > budget) {
            int[] lengths = longestFirst(a.length, b.length, budget);
            return new int[][] {Arrays.copyOf(a, Math.min(a.length, lengths[0])),
                                Arrays.copyOf(b, Math.min(b.length, lengths[1]))};
        }
        return new int[][] {a, b};
    }

    /**
     * Lengths to keep of a pair whose total exceeds {@code budget} (the tokenizers crate's
     * LongestFirst): the shorter is kept whole when the longer can take the rest and still be
     * at least as long; otherwise each gets half and the longer (the second on a tie) gets the
     * odd one.
     */
    static int[] longestFirst(int n1, int n2, int budget) {
        boolean swap = n1 > n2;
        int shortLen = swap ? n2 : n1;
        int longLen;
        if (shortLen > budget) {
            longLen = shortLen;
        } else {
            longLen = Math.max(shortLen, budget - shortLen);
        }
        if (shortLen + longLen > budget) {
            shortLen = budget / 2;
            longLen = shortLen + budget % 2;
        }
        return swap ? new int[] {longLen, shortLen} : new int[] {shortLen, longLen};
    }

    // ---- character classes (Rust std / unicode_categories semantics) ---------------------------

    /** Rust's char::is_whitespace (the Unicode White_Space property), plus \t \n \r. */
    static boolean isWhitespace(int cp) {
        switch (cp) {
            case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
            case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
                return true;
            default:
                return cp >= 0x2000 && cp <= 0x200A;
        }
    }

    /**
     * Control, format, surrogate or private-use (Cc Cf Cs Co), except \t \n \r. Unassigned (Cn)
     * code points are kept, as the tokenizers crate keeps them (they become [UNK]).
     */
    static boolean isControl(int cp) {
        if (cp == '\t' || cp == '\n' || cp == '\r') {
            return false;
        }
        switch (Character.getType(cp)) {
            case Character.CONTROL:
            case Character.FORMAT:
            case Character.SURROGATE:
            case Character.PRIVATE_USE:
                return true;
            default:
                return false;
        }
    }

    /** ASCII punctuation (which includes $ + < = > ^ ` | ~) or a Unicode P* category. */
    static boolean isPunctuation(int cp) {
        if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
            return true;
        }
        switch (Character.getType(cp)) {
            case Character.CONNECTOR_PUNCTUATION:
            case Character.DASH_PUNCTUATION:
            case Character.START_PUNCTUATION:
            case Character.END_PUNCTUATION:
            case Character.INITIAL_QUOTE_PUNCTUATION:
            case Character.FINAL_QUOTE_PUNCTUATION:
            case Character.OTHER_PUNCTUATION:
                return true;
            default:
                return false;
        }
    }

    /** The CJK Unified Ideographs blocks BERT spaces out (not Hangul, Hiragana or Katakana). */
    static boolean isChineseChar(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF)
                || (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F)
                || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF)
                || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }
}
