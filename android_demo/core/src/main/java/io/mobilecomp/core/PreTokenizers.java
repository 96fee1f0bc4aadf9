package io.mobilecomp.core;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The tokenizers crate's pre-tokenizers that this core implements, built from tokenizer.json's
 * "pre_tokenizer" object: each splits a normalized piece into the words the model sees.
 * Empty pieces are dropped, as the crate drops them.
 */
final class PreTokenizers {
    private PreTokenizers() {
    }

    /** Splits one piece, appending the non-empty results to {@code out}. */
    interface PreTokenizer {
        void split(NormalizedText piece, List<NormalizedText> out);
    }

    static final String[] IMPLEMENTED = {"ByteLevel", "Digits", "Metaspace", "Punctuation", "Sequence",
        "WhitespaceSplit"};

    static final PreTokenizer NONE = new PreTokenizer() {
        @Override
        public void split(NormalizedText piece, List<NormalizedText> out) {
            add(piece, out);
        }
    };

    static void add(NormalizedText piece, List<NormalizedText> out) {
        if (!piece.isEmpty()) {
            out.add(piece);
        }
    }

    /** The pre-tokenizer {@code spec} describes (null: none); unsupported ones throw, naming the type. */
    static PreTokenizer parse(Map<String, Object> spec) {
        if (spec == null) {
            return NONE;
        }
        String type = TokenizerJson.type(spec, "pre_tokenizer");
        if (type.equals("Sequence")) {
            final List<PreTokenizer> steps = new ArrayList<PreTokenizer>();
            for (Object step : TokenizerJson.list(spec.get("pretokenizers"), "pretokenizers")) {
                steps.add(parse(TokenizerJson.map(step, "a pre_tokenizer")));
            }
            return new PreTokenizer() {
                @Override
                public void split(NormalizedText piece, List<NormalizedText> out) {
                    List<NormalizedText> pieces = new ArrayList<NormalizedText>();
                    add(piece, pieces);
                    for (PreTokenizer step : steps) {
                        List<NormalizedText> next = new ArrayList<NormalizedText>();
                        for (NormalizedText p : pieces) {
                            step.split(p, next);
                        }
                        pieces = next;
                    }
                    out.addAll(pieces);
                }
            };
        }
        if (type.equals("ByteLevel")) {
            return new ByteLevel(TokenizerJson.bool(spec, "add_prefix_space", true), TokenizerJson.bool(spec, "use_regex", true));
        }
        if (type.equals("Metaspace")) {
            String replacement = TokenizerJson.str(spec, "replacement", "\u2581");
            if (replacement.codePointCount(0, replacement.length()) != 1) {
                throw new IllegalArgumentException("Metaspace's replacement is not one character");
            }
            String scheme = TokenizerJson.str(spec, "prepend_scheme", null);
            if (scheme == null) { // files written before prepend_scheme existed
                scheme = TokenizerJson.bool(spec, "add_prefix_space", true) ? "always" : "never";
            }
            if (!scheme.equals("always") && !scheme.equals("first") && !scheme.equals("never")) {
                throw UnsupportedTokenizerException.setting("pre_tokenizer", "Metaspace", "prepend_scheme '" + scheme + "'");
            }
            return new Metaspace(replacement.codePointAt(0), scheme, TokenizerJson.bool(spec, "split", true));
        }
        if (type.equals("WhitespaceSplit")) {
            return new PreTokenizer() {
                @Override
                public void split(NormalizedText piece, List<NormalizedText> out) {
                    int start = -1;
                    for (int i = 0; i <= piece.length(); i++) {
                        boolean ws = i == piece.length() || BertTokenizer.isWhitespace(piece.cps[i]);
                        if (ws && start >= 0) {
                            out.add(piece.slice(start, i));
                            start = -1;
                        } else if (!ws && start < 0) {
                            start = i;
                        }
                    }
                }
            };
        }
        if (type.equals("Punctuation")) {
            String behavior = TokenizerJson.str(spec, "behavior", "Isolated");
            if (!behavior.equals("Isolated")) {
                throw UnsupportedTokenizerException.setting("pre_tokenizer", "Punctuation", "behavior '" + behavior + "'");
            }
            return new PreTokenizer() {
                @Override
                public void split(NormalizedText piece, List<NormalizedText> out) {
                    isolate(piece, out, false);
                }
            };
        }
        if (type.equals("Digits")) {
            final boolean individual = TokenizerJson.bool(spec, "individual_digits", false);
            return new PreTokenizer() {
                @Override
                public void split(NormalizedText piece, List<NormalizedText> out) {
                    if (individual) {
                        isolate(piece, out, true);
                    } else {
                        int start = 0;
                        for (int i = 1; i <= piece.length(); i++) {
                            if (i == piece.length() || isNumeric(piece.cps[i]) != isNumeric(piece.cps[i - 1])) {
                                add(piece.slice(start, i), out);
                                start = i;
                            }
                        }
                    }
                }
            };
        }
        throw UnsupportedTokenizerException.component("pre_tokenizer", type, IMPLEMENTED);
    }

    /** Each punctuation (or, with {@code digits}, numeric) code point alone; the runs between kept whole. */
    private static void isolate(NormalizedText piece, List<NormalizedText> out, boolean digits) {
        int start = 0;
        for (int i = 0; i < piece.length(); i++) {
            int cp = piece.cps[i];
            if (digits ? isNumeric(cp) : BertTokenizer.isPunctuation(cp)) {
                add(piece.slice(start, i), out);
                out.add(piece.slice(i, i + 1));
                start = i + 1;
            }
        }
        add(piece.slice(start, piece.length()), out);
    }

    /** Rust's char::is_numeric: the N* general categories. */
    static boolean isNumeric(int cp) {
        int type = Character.getType(cp);
        return type == Character.DECIMAL_DIGIT_NUMBER || type == Character.LETTER_NUMBER || type == Character.OTHER_NUMBER;
    }

    // ---- Metaspace ------------------------------------------------------------------------------

    /** Spaces become the replacement (U+2581), which is prepended per the scheme and starts each word. */
    static final class Metaspace implements PreTokenizer {
        private final int replacement;
        private final String scheme;
        private final boolean split;

        Metaspace(int replacement, String scheme, boolean split) {
            this.replacement = replacement;
            this.scheme = scheme;
            this.split = split;
        }

        @Override
        public void split(NormalizedText piece, List<NormalizedText> out) {
            NormalizedText.Builder b = new NormalizedText.Builder(piece.length() + 1);
            boolean startsWithReplacement = piece.length() > 0 && (piece.cps[0] == ' ' || piece.cps[0] == replacement);
            boolean prepend = scheme.equals("always") || (scheme.equals("first") && piece.origStart() == 0);
            if (prepend && !startsWithReplacement) {
                b.add(replacement, piece.origStart());
            }
            for (int i = 0; i < piece.length(); i++) {
                b.add(piece.cps[i] == ' ' ? replacement : piece.cps[i], piece.orig[i]);
            }
            NormalizedText text = b.build(piece.base);
            if (!split) {
                add(text, out);
                return;
            }
            int start = 0;
            for (int i = 1; i <= text.length(); i++) {
                if (i == text.length() || text.cps[i] == replacement) {
                    add(text.slice(start, i), out);
                    start = i;
                }
            }
        }
    }

    // ---- ByteLevel ------------------------------------------------------------------------------

    /** GPT-2's byte-to-unicode table: printable bytes map to themselves, the rest to U+0100 on. */
    static final int[] BYTE_CHARS = byteChars();

    private static int[] byteChars() {
        int[] table = new int[256];
        boolean[] direct = new boolean[256];
        for (int b = '!'; b <= '~'; b++) {
            direct[b] = true;
        }
        for (int b = 0xA1; b <= 0xAC; b++) {
            direct[b] = true;
        }
        for (int b = 0xAE; b <= 0xFF; b++) {
            direct[b] = true;
        }
        int next = 0;
        for (int b = 0; b < 256; b++) {
            table[b] = direct[b] ? b : 256 + next++;
        }
        return table;
    }

    /**
     * GPT-2's split, {@code 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+}
     * (Oniguruma: \s is Unicode White_Space), scanned by hand; then every UTF-8 byte of each
     * word becomes its {@link #BYTE_CHARS} character.
     */
    static final class ByteLevel implements PreTokenizer {
        private final boolean addPrefixSpace;
        private final boolean useRegex;

        ByteLevel(boolean addPrefixSpace, boolean useRegex) {
            this.addPrefixSpace = addPrefixSpace;
            this.useRegex = useRegex;
        }

        @Override
        public void split(NormalizedText piece, List<NormalizedText> out) {
            if (addPrefixSpace && piece.cps[0] != ' ') {
                piece = Normalizers.prepend(piece, " ");
            }
            if (!useRegex) {
                add(toBytes(piece), out);
                return;
            }
            int i = 0;
            while (i < piece.length()) {
                int end = wordEnd(piece.cps, i);
                out.add(toBytes(piece.slice(i, end)));
                i = end;
            }
        }

        static int wordEnd(int[] c, int i) {
            int n = c.length;
            if (c[i] == '\'' && i + 1 < n) {
                int d = c[i + 1];
                if (d == 's' || d == 't' || d == 'm' || d == 'd') {
                    return i + 2;
                }
                if (i + 2 < n && ((d == 'r' && c[i + 2] == 'e') || (d == 'v' && c[i + 2] == 'e')
                        || (d == 'l' && c[i + 2] == 'l'))) {
                    return i + 3;
                }
            }
            int from = c[i] == ' ' && i + 1 < n ? i + 1 : i; // " ?" prefers taking the space
            for (int kind = 0; kind < 3; kind++) {
                for (int s : from == i ? new int[] {i} : new int[] {from, i}) {
                    if (classOf(c[s]) == kind) {
                        int j = s + 1;
                        while (j < n && classOf(c[j]) == kind) {
                            j++;
                        }
                        return j;
                    }
                }
            }
            int j = i; // c[i] is whitespace
            while (j < n && BertTokenizer.isWhitespace(c[j])) {
                j++;
            }
            if (j == n || j - 1 > i) { // \s+(?!\S): the run, less its last char when a word follows
                return j == n ? n : j - 1;
            }
            return j; // \s+
        }

        /** 0 letter, 1 number, 2 other non-space, 3 whitespace. */
        private static int classOf(int cp) {
            if (BertTokenizer.isWhitespace(cp)) {
                return 3;
            }
            if (Character.isLetter(cp)) {
                return 0;
            }
            return isNumeric(cp) ? 1 : 2;
        }

        private static NormalizedText toBytes(NormalizedText word) {
            NormalizedText.Builder b = new NormalizedText.Builder(word.length() * 2);
            for (int i = 0; i < word.length(); i++) {
                for (byte x : new String(word.cps, i, 1).getBytes(StandardCharsets.UTF_8)) {
                    b.add(BYTE_CHARS[x & 0xFF], word.orig[i]);
                }
            }
            return b.build(word.base);
        }
    }
}
