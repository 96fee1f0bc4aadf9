package io.mobilecomp.core;

import java.text.Normalizer.Form;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The tokenizers crate's normalizers that this core implements, built from tokenizer.json's
 * "normalizer" object. Each keeps, for every output code point, the original offset it came
 * from (see {@link NormalizedText}).
 */
final class Normalizers {
    private Normalizers() {
    }

    /** One normalizer: text in, text out. */
    interface Normalizer {
        NormalizedText apply(NormalizedText text);
    }

    static final String[] IMPLEMENTED = {"Lowercase", "NFC", "NFD", "NFKC", "NFKD", "Precompiled", "Prepend",
        "Replace", "Sequence", "Strip", "StripAccents"};

    static final Normalizer IDENTITY = new Normalizer() {
        @Override
        public NormalizedText apply(NormalizedText text) {
            return text;
        }
    };

    /** The normalizer {@code spec} describes (null: none); unsupported ones throw, naming the type. */
    static Normalizer parse(Map<String, Object> spec) {
        if (spec == null) {
            return IDENTITY;
        }
        String type = TokenizerJson.type(spec, "normalizer");
        if (type.equals("Sequence")) {
            final List<Normalizer> steps = new ArrayList<Normalizer>();
            for (Object step : TokenizerJson.list(spec.get("normalizers"), "normalizers")) {
                steps.add(parse(TokenizerJson.map(step, "a normalizer")));
            }
            return new Normalizer() {
                @Override
                public NormalizedText apply(NormalizedText text) {
                    for (Normalizer step : steps) {
                        text = step.apply(text);
                    }
                    return text;
                }
            };
        }
        if (type.equals("NFC")) {
            return unicode(Form.NFC);
        }
        if (type.equals("NFD")) {
            return unicode(Form.NFD);
        }
        if (type.equals("NFKC")) {
            return unicode(Form.NFKC);
        }
        if (type.equals("NFKD")) {
            return unicode(Form.NFKD);
        }
        if (type.equals("Lowercase")) {
            return new Normalizer() {
                @Override
                public NormalizedText apply(NormalizedText text) {
                    return lowercase(text);
                }
            };
        }
        if (type.equals("StripAccents")) {
            return new Normalizer() {
                @Override
                public NormalizedText apply(NormalizedText text) {
                    return stripAccents(text);
                }
            };
        }
        if (type.equals("Strip")) {
            final boolean left = TokenizerJson.bool(spec, "strip_left", true);
            final boolean right = TokenizerJson.bool(spec, "strip_right", true);
            return new Normalizer() {
                @Override
                public NormalizedText apply(NormalizedText text) {
                    return strip(text, left, right);
                }
            };
        }
        if (type.equals("Prepend")) {
            final String prepend = TokenizerJson.str(spec, "prepend", "");
            return new Normalizer() {
                @Override
                public NormalizedText apply(NormalizedText text) {
                    return prepend(text, prepend);
                }
            };
        }
        if (type.equals("Replace")) {
            return replace(spec);
        }
        if (type.equals("Precompiled")) {
            final Precompiled charsmap = Precompiled.fromBase64(TokenizerJson.str(spec, "precompiled_charsmap", ""));
            return new Normalizer() {
                @Override
                public NormalizedText apply(NormalizedText text) {
                    return charsmap.apply(text);
                }
            };
        }
        throw UnsupportedTokenizerException.component("normalizer", type, IMPLEMENTED);
    }

    // ---- Unicode normalization forms ----------------------------------------------------------

    private static Normalizer unicode(final Form form) {
        return new Normalizer() {
            @Override
            public NormalizedText apply(NormalizedText text) {
                return normalizeForm(text, form);
            }
        };
    }

    /**
     * {@code form} applied to the text. Offsets: the text is cut before every code point that
     * starts a new normalization segment (not a mark, not a Hangul vowel or final jamo), each
     * part is normalized alone and its output takes the part's first original offset; when the
     * parts do not add up to the whole (they always should), the whole is normalized instead.
     */
    static NormalizedText normalizeForm(NormalizedText text, Form form) {
        String whole = text.text();
        if (java.text.Normalizer.isNormalized(whole, form)) {
            return text;
        }
        String expected = java.text.Normalizer.normalize(whole, form);
        NormalizedText.Builder out = new NormalizedText.Builder(expected.length());
        int start = 0;
        for (int i = 1; i <= text.length(); i++) {
            if (i == text.length() || startsSegment(text.cps[i])) {
                out.add(java.text.Normalizer.normalize(text.text(start, i), form), text.orig[start]);
                start = i;
            }
        }
        NormalizedText result = out.build(text.base);
        if (!result.text().equals(expected)) {
            return new NormalizedText.Builder(expected.length()).add(expected, text.orig.length == 0 ? text.base : text.orig[0])
                    .build(text.base);
        }
        return result;
    }

    private static boolean startsSegment(int cp) {
        if (isMark(cp)) {
            return false;
        }
        return !((cp >= 0x1160 && cp <= 0x11FF) || (cp >= 0xD7B0 && cp <= 0xD7FF));
    }

    static boolean isMark(int cp) {
        int type = Character.getType(cp);
        return type == Character.NON_SPACING_MARK || type == Character.COMBINING_SPACING_MARK
                || type == Character.ENCLOSING_MARK;
    }

    // ---- per-character normalizers ------------------------------------------------------------

    /** Rust's char::to_lowercase per code point (no final-sigma context; U+0130 becomes two). */
    static NormalizedText lowercase(NormalizedText text) {
        NormalizedText.Builder out = new NormalizedText.Builder(text.length() + 2);
        for (int i = 0; i < text.length(); i++) {
            int cp = text.cps[i];
            if (cp == 0x0130) {
                out.add('i', text.orig[i]).add(0x0307, text.orig[i]);
            } else {
                out.add(Character.toLowerCase(cp), text.orig[i]);
            }
        }
        return out.build(text.base);
    }

    /** Drops every mark (Mn, Mc, Me): the crate's is_combining_mark. */
    static NormalizedText stripAccents(NormalizedText text) {
        NormalizedText.Builder out = new NormalizedText.Builder(text.length());
        for (int i = 0; i < text.length(); i++) {
            if (!isMark(text.cps[i])) {
                out.add(text.cps[i], text.orig[i]);
            }
        }
        return out.build(text.base);
    }

    static NormalizedText strip(NormalizedText text, boolean left, boolean right) {
        int from = 0;
        int to = text.length();
        while (left && from < to && BertTokenizer.isWhitespace(text.cps[from])) {
            from++;
        }
        while (right && to > from && BertTokenizer.isWhitespace(text.cps[to - 1])) {
            to--;
        }
        return from == 0 && to == text.length() ? text : text.slice(from, to);
    }

    static NormalizedText prepend(NormalizedText text, String prefix) {
        if (text.isEmpty()) {
            return text;
        }
        NormalizedText.Builder out = new NormalizedText.Builder(text.length() + prefix.length());
        out.add(prefix, text.orig[0]);
        for (int i = 0; i < text.length(); i++) {
            out.add(text.cps[i], text.orig[i]);
        }
        return out.build(text.base);
    }

    // ---- Replace --------------------------------------------------------------------------------

    private static Normalizer replace(Map<String, Object> spec) {
        Map<String, Object> pattern = TokenizerJson.map(spec.get("pattern"), "Replace's pattern");
        final String content = TokenizerJson.str(spec, "content", "");
        final Pattern regex;
        if (pattern.get("String") instanceof String) {
            if (((String) pattern.get("String")).isEmpty()) {
                throw UnsupportedTokenizerException.setting("normalizer", "Replace", "an empty pattern");
            }
            regex = Pattern.compile(Pattern.quote((String) pattern.get("String")));
        } else if (pattern.get("Regex") instanceof String) {
            String source = (String) pattern.get("Regex");
            regex = RegexSubset.compile(source);
            if (regex == null) {
                throw UnsupportedTokenizerException.setting("normalizer", "Replace", "regex '" + source + "'");
            }
        } else {
            throw new IllegalArgumentException("Replace's pattern is neither a String nor a Regex");
        }
        return new Normalizer() {
            @Override
            public NormalizedText apply(NormalizedText text) {
                return replaceAll(text, regex, content);
            }
        };
    }

    /** Every non-overlapping match, left to right, becomes {@code content}. */
    static NormalizedText replaceAll(NormalizedText text, Pattern regex, String content) {
        String s = text.text();
        Matcher m = regex.matcher(s);
        if (!m.find()) {
            return text;
        }
        NormalizedText.Builder out = new NormalizedText.Builder(text.length() + content.length());
        int cpPos = 0; // code point index of the char at UTF-16 index charPos
        int charPos = 0;
        do {
            int startCp = cpPos + s.codePointCount(charPos, m.start());
            for (int i = cpPos; i < startCp; i++) {
                out.add(text.cps[i], text.orig[i]);
            }
            int endCp = startCp + s.codePointCount(m.start(), m.end());
            out.add(content, text.orig[endCp - 1]); // the crate aligns inserted text with the match's last char
            cpPos = endCp;
            charPos = m.end();
        } while (m.find());
        for (int i = cpPos; i < text.length(); i++) {
            out.add(text.cps[i], text.orig[i]);
        }
        return out.build(text.base);
    }

    /**
     * The part of Oniguruma's syntax whose meaning java.util.regex shares: literals, escapes of
     * metacharacters, \s \S \t \n \r \f \v, classes, groups, alternation and greedy quantifiers.
     * \s is Unicode White_Space in both once spelled out. Anything else (., anchors, \p, \w,
     * \d, \b, lookaround, back-references, lazy or possessive quantifiers, a pattern that
     * matches the empty string) is refused, so a pattern compiles here only when both engines
     * would match the same text.
     */
    static final class RegexSubset {
        static final String WS = "\\t\\n\\x0B\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
                + "\\x{202F}\\x{205F}\\x{3000}";
        private static final String META = "\\.-[](){}|*+?^$/ '\"";

        private RegexSubset() {
        }

        /** The Java pattern, or null when {@code onig} leaves the shared subset. */
        static Pattern compile(String onig) {
            StringBuilder out = new StringBuilder();
            int i = 0;
            int n = onig.length();
            boolean quantifiable = false;
            while (i < n) {
                char c = onig.charAt(i);
                if (c == '\\') {
                    String esc = escape(onig, i + 1, false);
                    if (esc == null) {
                        return null;
                    }
                    out.append(esc);
                    i += 2;
                    quantifiable = true;
                } else if (c == '[') {
                    int end = charClass(onig, i, out);
                    if (end < 0) {
                        return null;
                    }
                    i = end;
                    quantifiable = true;
                } else if (c == '(') {
                    if (onig.startsWith("(?:", i)) {
                        out.append("(?:");
                        i += 3;
                    } else if (i + 1 < n && onig.charAt(i + 1) == '?') {
                        return null;
                    } else {
                        out.append('(');
                        i++;
                    }
                    quantifiable = false;
                } else if (c == ')') {
                    out.append(')');
                    i++;
                    quantifiable = true;
                } else if (c == '|') {
                    out.append('|');
                    i++;
                    quantifiable = false;
                } else if (c == '*' || c == '+' || c == '?' || c == '{') {
                    if (!quantifiable) {
                        return null;
                    }
                    int end = c == '{' ? braces(onig, i) : i + 1;
                    if (end < 0 || (end < n && (onig.charAt(end) == '?' || onig.charAt(end) == '+'))) {
                        return null;
                    }
                    out.append(onig, i, end);
                    i = end;
                    quantifiable = false;
                } else if (c == '.' || c == '^' || c == '$' || c == ']' || c == '}') {
                    return null;
                } else {
                    int cp = onig.codePointAt(i);
                    out.append(Pattern.quote(new String(Character.toChars(cp))));
                    i += Character.charCount(cp);
                    quantifiable = true;
                }
            }
            try {
                Pattern pattern = Pattern.compile(out.toString());
                return pattern.matcher("").matches() ? null : pattern; // an empty match: engines differ
            } catch (RuntimeException ex) {
                return null;
            }
        }

        /** Java for the escape at {@code at} (the char after '\'), or null when outside the subset. */
        private static String escape(String onig, int at, boolean inClass) {
            if (at >= onig.length()) {
                return null;
            }
            char e = onig.charAt(at);
            switch (e) {
                case 's': return inClass ? WS : "[" + WS + "]";
                case 'S': return inClass ? null : "[^" + WS + "]";
                case 't': return "\\t";
                case 'n': return "\\n";
                case 'r': return "\\r";
                case 'f': return "\\f";
                case 'v': return "\\x0B";
                default:
                    return META.indexOf(e) >= 0 ? "\\x{" + Integer.toHexString(e) + "}" : null;
            }
        }

        /** Copies the class starting at {@code start} ('['); returns the index after ']' or -1. */
        private static int charClass(String onig, int start, StringBuilder out) {
            int i = start + 1;
            StringBuilder cls = new StringBuilder("[");
            if (i < onig.length() && onig.charAt(i) == '^') {
                cls.append('^');
                i++;
            }
            int members = 0;
            while (i < onig.length()) {
                char c = onig.charAt(i);
                if (c == ']' && members > 0) {
                    out.append(cls).append(']');
                    return i + 1;
                }
                if (c == '[' || c == '&') {
                    return -1;
                }
                if (c == '\\') {
                    String esc = escape(onig, i + 1, true);
                    if (esc == null) {
                        return -1;
                    }
                    cls.append(esc);
                    i += 2;
                } else if (c == '-' && members > 0 && i + 1 < onig.length() && onig.charAt(i + 1) != ']') {
                    cls.append('-');
                    i++;
                    continue;
                } else {
                    int cp = onig.codePointAt(i);
                    cls.append("\\x{").append(Integer.toHexString(cp)).append('}');
                    i += Character.charCount(cp);
                }
                members++;
            }
            return -1;
        }

        /** The index after a {n}, {n,} or {n,m} quantifier at {@code start}, or -1. */
        private static int braces(String onig, int start) {
            int close = onig.indexOf('}', start);
            if (close < 0) {
                return -1;
            }
            String body = onig.substring(start + 1, close);
            return body.matches("[0-9]+(,[0-9]*)?") ? close + 1 : -1;
        }
    }
}
