package io.mobilecomp.core;

import java.util.Arrays;

/**
 * A piece of text on its way through normalizers and pre-tokenizers: its code points, and for
 * each the offset (in code points) of the original character it came from. The offsets answer
 * the one question the tokenizers crate asks of them when choosing ids: whether a piece starts
 * at the very beginning of the input (Metaspace's prepend_scheme "first").
 */
final class NormalizedText {
    final int[] cps;
    final int[] orig;
    /** Where this piece starts in the original, whatever its characters became (the crate's original_shift). */
    final int base;

    NormalizedText(int[] cps, int[] orig, int base) {
        this.cps = cps;
        this.orig = orig;
        this.base = base;
    }

    /** {@code s} unchanged, its first code point at original offset {@code origStart}. */
    static NormalizedText of(String s, int origStart) {
        int[] cps = BertTokenizer.codePoints(s);
        int[] orig = new int[cps.length];
        for (int i = 0; i < orig.length; i++) {
            orig[i] = origStart + i;
        }
        return new NormalizedText(cps, orig, origStart);
    }

    int length() {
        return cps.length;
    }

    boolean isEmpty() {
        return cps.length == 0;
    }

    /** The original offset of the first code point (callers check {@link #isEmpty} first). */
    int origStart() {
        return orig[0];
    }

    NormalizedText slice(int from, int to) {
        return new NormalizedText(Arrays.copyOfRange(cps, from, to), Arrays.copyOfRange(orig, from, to),
                from < cps.length ? orig[from] : base);
    }

    String text() {
        return new String(cps, 0, cps.length);
    }

    String text(int from, int to) {
        return new String(cps, from, to - from);
    }

    @Override
    public String toString() {
        return text();
    }

    /** Appends code points with their original offsets. */
    static final class Builder {
        private int[] cps;
        private int[] orig;
        private int n;

        Builder(int capacity) {
            cps = new int[Math.max(4, capacity)];
            orig = new int[cps.length];
        }

        Builder add(int cp, int origin) {
            if (n == cps.length) {
                cps = Arrays.copyOf(cps, n * 2);
                orig = Arrays.copyOf(orig, n * 2);
            }
            cps[n] = cp;
            orig[n] = origin;
            n++;
            return this;
        }

        Builder add(String s, int origin) {
            for (int i = 0; i < s.length(); ) {
                int cp = s.codePointAt(i);
                i += Character.charCount(cp);
                add(cp, origin);
            }
            return this;
        }

        int length() {
            return n;
        }

        NormalizedText build(int base) {
            return new NormalizedText(Arrays.copyOf(cps, n), Arrays.copyOf(orig, n), base);
        }
    }
}
