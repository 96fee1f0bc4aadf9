package io.mobilecomp.core;

import java.util.Collections;
import java.util.List;

/** A task's answer as the app shows it: one line of summary and the items it is made of. */
public final class Answer {
    public final String head;
    /** The answer in one line: the span's text, the words with their tags, the best words at the mask. */
    public final String text;
    /** Its parts: "word/TAG" per word, the top-k tokens in order, or the span's tokens. */
    public final List<String> items;
    /** Token positions behind it: the span's {start, end}, each word's first subword, or the mask's position. */
    public final int[] positions;

    Answer(String head, String text, List<String> items, int[] positions) {
        this.head = head;
        this.text = text;
        this.items = Collections.unmodifiableList(items);
        this.positions = positions;
    }

    @Override
    public String toString() {
        return head + ": " + text;
    }
}
