package io.mobilecomp.core;

import java.nio.charset.StandardCharsets;

/**
 * SentencePiece's precompiled normalizer (the "Precompiled" normalizer of ALBERT, DeBERTa-v3,
 * XLM-R and T5 tokenizer.json files): a double-array trie over UTF-8 bytes whose values point
 * into a blob of NUL-terminated replacement strings, applied as the tokenizers crate applies it.
 *
 * <p>Blob layout: little-endian u32 trie size in bytes, the trie's u32 units, then the
 * replacement strings. The text is walked grapheme by grapheme: a grapheme of fewer than six
 * UTF-8 bytes is looked up whole, and the value of its shortest prefix in the trie replaces all
 * of it; otherwise (or without a hit) each code point is looked up alone.
 */
final class Precompiled {
    private final long[] trie;
    private final byte[] normalized;

    Precompiled(byte[] blob) {
        if (blob.length < 4) {
            throw new IllegalArgumentException("precompiled_charsmap is shorter than its header");
        }
        long trieBytes = u32(blob, 0);
        if (trieBytes % 4 != 0 || 4 + trieBytes > blob.length || trieBytes == 0) {
            throw new IllegalArgumentException("precompiled_charsmap's trie size " + trieBytes + " does not fit the blob");
        }
        trie = new long[(int) (trieBytes / 4)];
        for (int i = 0; i < trie.length; i++) {
            trie[i] = u32(blob, 4 + 4 * i);
        }
        int from = 4 + (int) trieBytes;
        normalized = new byte[blob.length - from];
        System.arraycopy(blob, from, normalized, 0, normalized.length);
    }

    static Precompiled fromBase64(String base64) {
        return new Precompiled(base64Decode(base64));
    }

    private static long u32(byte[] b, int at) {
        return (b[at] & 0xFFL) | (b[at + 1] & 0xFFL) << 8 | (b[at + 2] & 0xFFL) << 16 | (b[at + 3] & 0xFFL) << 24;
    }

    /** The replacement for {@code chunk}: the value of its shortest prefix in the trie, or null. */
    String transform(String chunk) {
        byte[] key = chunk.getBytes(StandardCharsets.UTF_8);
        int node = 0;
        long unit = unit(node);
        node ^= offset(unit);
        for (byte b : key) {
            int c = b & 0xFF;
            if (c == 0) {
                break;
            }
            node ^= c;
            unit = unit(node);
            if (unit < 0 || label(unit) != c) {
                return null;
            }
            node ^= offset(unit);
            if (hasLeaf(unit)) {
                long leaf = unit(node);
                return leaf < 0 ? null : stringAt((int) (leaf & 0x7FFFFFFFL));
            }
        }
        return null;
    }

    private long unit(int node) {
        return node >= 0 && node < trie.length ? trie[node] : -1;
    }

    private static boolean hasLeaf(long unit) {
        return ((unit >>> 8) & 1) == 1;
    }

    private static long label(long unit) {
        return unit & ((1L << 31) | 0xFF);
    }

    private static int offset(long unit) {
        return (int) ((unit >>> 10) << ((unit & (1L << 9)) >>> 6));
    }

    private String stringAt(int index) {
        int end = index;
        while (end < normalized.length && normalized[end] != 0) {
            end++;
        }
        return new String(normalized, index, Math.max(0, end - index), StandardCharsets.UTF_8);
    }

    /**
     * The charsmap applied as the crate applies it, offsets included: each replacement is a list of
     * (code point, change) steps (0 replaces one input code point, 1 is inserted, -n also swallows
     * the next n), and a removal is charged to the step before it. A removal at the very start has
     * no step before it and is lost, so what follows shifts onto the removed code point's offset:
     * the crate then counts the text as starting at its first character, and Metaspace's
     * prepend_scheme "first" still prepends.
     */
    NormalizedText apply(NormalizedText text) {
        PipelineTokenizer.IntList cps = new PipelineTokenizer.IntList();
        PipelineTokenizer.IntList changes = new PipelineTokenizer.IntList();
        boolean modified = false;
        int i = 0;
        while (i < text.length()) {
            int end = graphemeEnd(text.cps, i);
            String grapheme = text.text(i, end);
            String norm = grapheme.getBytes(StandardCharsets.UTF_8).length < 6 ? transform(grapheme) : null;
            if (norm != null) {
                replace(cps, changes, end - i, norm);
                modified = true;
            } else {
                for (int k = i; k < end; k++) {
                    String one = transform(new String(text.cps, k, 1));
                    if (one != null) {
                        replace(cps, changes, 1, one);
                        modified = true;
                    } else {
                        cps.add(text.cps[k]);
                        changes.add(0);
                    }
                }
            }
            i = end;
        }
        if (!modified) {
            return text;
        }
        NormalizedText.Builder out = new NormalizedText.Builder(cps.toArray().length);
        int[] c = cps.toArray();
        int[] ch = changes.toArray();
        int offset = 0;
        for (int k = 0; k < c.length; k++) {
            int origin;
            if (ch[k] > 0) {
                origin = offset < 1 ? text.base : text.orig[offset - 1];
            } else {
                origin = text.orig[Math.min(offset, text.length() - 1)];
                offset += 1 - ch[k];
            }
            out.add(c[k], origin);
        }
        return out.build(text.base);
    }

    /** The crate's replace(): {@code norm} stands for {@code oldCount} code points. */
    private static void replace(PipelineTokenizer.IntList cps, PipelineTokenizer.IntList changes, int oldCount, String norm) {
        int[] added = BertTokenizer.codePoints(norm);
        for (int cp : added) {
            cps.add(cp);
            changes.add(0);
        }
        int diff = added.length - oldCount;
        if (diff > 0) {
            for (int k = 0; k < diff; k++) {
                changes.set(changes.size() - 1 - k, 1);
            }
        } else if (diff < 0 && changes.size() > 0) {
            changes.set(changes.size() - 1, changes.get(changes.size() - 1) + diff);
        }
    }

    // ---- extended grapheme clusters (UAX #29), as far as the lookup above can tell -------------

    /**
     * The end of the grapheme cluster starting at {@code start}. Only clusters shorter than six
     * UTF-8 bytes are looked up whole, so the rules that matter are: CR LF; no break after
     * Prepend; breaks around other controls; no break before Extend, ZWJ or SpacingMark.
     * Longer clusters (Hangul syllable sequences, emoji sequences, flags) are looked up one code
     * point at a time either way.
     */
    static int graphemeEnd(int[] cps, int start) {
        int cp = cps[start];
        int i = start + 1;
        if (cp == '\r') {
            return i < cps.length && cps[i] == '\n' ? i + 1 : i;
        }
        if (isControl(cp)) {
            return i;
        }
        while (isPrepend(cp) && i < cps.length && !isControl(cps[i])) {
            cp = cps[i++];
        }
        while (i < cps.length && isExtend(cps[i])) {
            i++;
        }
        return i;
    }

    private static boolean isPrepend(int cp) {
        return (cp >= 0x0600 && cp <= 0x0605) || cp == 0x06DD || cp == 0x070F || cp == 0x0890 || cp == 0x0891
                || cp == 0x08E2 || cp == 0x0D4E || cp == 0x110BD || cp == 0x110CD;
    }

    private static boolean isControl(int cp) {
        if (cp == 0x200C || cp == 0x200D || isPrepend(cp) || (cp >= 0xE0020 && cp <= 0xE007F)) {
            return false;
        }
        int type = Character.getType(cp);
        return type == Character.CONTROL || type == Character.FORMAT || type == Character.LINE_SEPARATOR
                || type == Character.PARAGRAPH_SEPARATOR || type == Character.SURROGATE;
    }

    private static boolean isExtend(int cp) {
        return Normalizers.isMark(cp) || cp == 0x200C || cp == 0x200D || (cp >= 0x1F3FB && cp <= 0x1F3FF)
                || (cp >= 0xE0020 && cp <= 0xE007F);
    }

    // ---- base64 (java.util.Base64 needs Android API 26; the core targets 24) -------------------

    static byte[] base64Decode(String s) {
        byte[] out = new byte[s.length() * 3 / 4 + 3];
        int n = 0;
        int buffer = 0;
        int bits = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            int v;
            if (c >= 'A' && c <= 'Z') {
                v = c - 'A';
            } else if (c >= 'a' && c <= 'z') {
                v = c - 'a' + 26;
            } else if (c >= '0' && c <= '9') {
                v = c - '0' + 52;
            } else if (c == '+') {
                v = 62;
            } else if (c == '/') {
                v = 63;
            } else if (c == '=') {
                break;
            } else {
                throw new IllegalArgumentException("precompiled_charsmap is not base64 (character " + (int) c + ")");
            }
            buffer = (buffer << 6) | v;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                out[n++] = (byte) (buffer >> bits);
            }
        }
        byte[] exact = new byte[n];
        System.arraycopy(out, 0, exact, 0, n);
        return exact;
    }
}
