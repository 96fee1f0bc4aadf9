package io.mobilecomp.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * tokenizer.json's "added_tokens" (special tokens such as {@code <s>} or {@code [CLS]}, and any
 * others): found in the text before the model sees it and given their own ids, as the
 * tokenizers crate's AddedVocabulary does. Tokens with {@code normalized: false} are found in
 * the raw text, the others in the normalized text; matches are leftmost-longest and do not
 * overlap; {@code single_word}, {@code lstrip} and {@code rstrip} are honoured.
 */
final class AddedTokens {

    /** One added token; {@code pattern} is what is searched for (its normalized form if normalized). */
    static final class Token {
        final int id;
        final String content;
        final boolean singleWord;
        final boolean lstrip;
        final boolean rstrip;
        final boolean normalized;
        String pattern;

        Token(Map<String, Object> spec) {
            id = (int) TokenizerJson.integer(spec, "id");
            content = TokenizerJson.str(spec, "content", "");
            singleWord = TokenizerJson.bool(spec, "single_word", false);
            lstrip = TokenizerJson.bool(spec, "lstrip", false);
            rstrip = TokenizerJson.bool(spec, "rstrip", false);
            normalized = TokenizerJson.bool(spec, "normalized", true);
            pattern = content;
        }
    }

    /** A run of text, or an added token's id when {@code id >= 0}. */
    static final class Segment {
        final int id;
        final NormalizedText text;

        Segment(int id, NormalizedText text) {
            this.id = id;
            this.text = text;
        }
    }

    final List<Token> tokens = new ArrayList<Token>();
    private final List<Token> raw = new ArrayList<Token>();
    private final List<Token> onNormalized = new ArrayList<Token>();

    AddedTokens(List<?> specs, Normalizers.Normalizer normalizer) {
        for (Object spec : specs) {
            Token token = new Token(TokenizerJson.map(spec, "an added token"));
            if (token.content.isEmpty()) {
                continue;
            }
            tokens.add(token);
            if (token.normalized) {
                token.pattern = normalizer.apply(NormalizedText.of(token.content, 0)).text();
                if (!token.pattern.isEmpty()) {
                    onNormalized.add(token);
                }
            } else {
                raw.add(token);
            }
        }
    }

    /** The id of the added token whose content is {@code content}, or -1. */
    int id(String content) {
        for (Token t : tokens) {
            if (t.content.equals(content)) {
                return t.id;
            }
        }
        return -1;
    }

    /** Splits raw text on the non-normalized tokens (tokens get ids, the rest stays text). */
    List<Segment> splitRaw(NormalizedText text) {
        return split(text, raw);
    }

    /** Splits normalized text on the normalized tokens. */
    List<Segment> splitNormalized(NormalizedText text) {
        return split(text, onNormalized);
    }

    private static List<Segment> split(NormalizedText text, List<Token> candidates) {
        List<Segment> out = new ArrayList<Segment>();
        if (candidates.isEmpty()) {
            if (!text.isEmpty()) {
                out.add(new Segment(-1, text));
            }
            return out;
        }
        String s = text.text();
        int[] cps = text.cps;
        int done = 0; // code points already emitted
        int searchFrom = 0; // UTF-16 index where the next match may start
        while (true) {
            int bestAt = -1;
            Token best = null;
            for (Token t : candidates) {
                int at = s.indexOf(t.pattern, searchFrom);
                if (at >= 0 && (bestAt < 0 || at < bestAt || (at == bestAt && t.pattern.length() > best.pattern.length()))) {
                    bestAt = at;
                    best = t;
                }
            }
            if (best == null) {
                break;
            }
            int matchEnd = bestAt + best.pattern.length();
            searchFrom = matchEnd;
            int start = s.codePointCount(0, bestAt);
            int stop = start + s.codePointCount(bestAt, matchEnd);
            if (best.singleWord && ((start > 0 && isWordChar(cps[start - 1])) || (stop < cps.length && isWordChar(cps[stop])))) {
                continue; // not a word of its own here: the match is skipped, its text stays text
            }
            if (best.lstrip) {
                int left = start;
                while (left > done && BertTokenizer.isWhitespace(cps[left - 1])) {
                    left--;
                }
                start = left;
            }
            if (best.rstrip) {
                while (stop < cps.length && BertTokenizer.isWhitespace(cps[stop])) {
                    stop++;
                }
            }
            start = Math.max(start, done); // only a token that starts with spaces another rstrip took
            if (done < start) {
                out.add(new Segment(-1, text.slice(done, start)));
            }
            out.add(new Segment(best.id, text.slice(start, stop)));
            done = stop;
        }
        if (done < cps.length) {
            out.add(new Segment(-1, text.slice(done, cps.length)));
        }
        return out;
    }

    /** The regex crate's Unicode \w: alphabetic, marks, decimal digits, connector punctuation, joiners. */
    private static boolean isWordChar(int cp) {
        if (Character.isAlphabetic(cp) || cp == 0x200C || cp == 0x200D) {
            return true;
        }
        int type = Character.getType(cp);
        return type == Character.DECIMAL_DIGIT_NUMBER || type == Character.CONNECTOR_PUNCTUATION
                || Normalizers.isMark(cp);
    }
}
