package io.mobilecomp.core;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * SentencePiece Unigram (ALBERT, DeBERTa-v3, XLM-R, T5): the best-scoring segmentation of each
 * word into vocabulary pieces (Viterbi), as the tokenizers crate computes it. A character no
 * piece covers is unknown, scored as the lowest piece score less 10; adjacent unknowns fuse
 * into one; an unknown becomes its {@code <0xXX>} byte pieces when byte_fallback is set and
 * they exist, else the unk id.
 */
public final class UnigramTokenizer extends PipelineTokenizer {
    private static final double UNK_PENALTY = 10.0;

    private final String[] pieces;
    private final double[] scores;
    /** piece -> id (the last id when a piece repeats, as in the crate's map). */
    private final Map<String, Integer> ids;
    private final int maxPieceLength;
    private final double unkScore;
    private final int unkId;
    private final boolean byteFallback;

    public UnigramTokenizer(Map<String, Object> json, Map<String, Object> config) {
        super("unigram", json, config);
        Map<String, Object> model = TokenizerJson.map(json.get("model"), "model");
        if (!"Unigram".equals(model.get("type"))) {
            throw new IllegalArgumentException("model is " + model.get("type") + ", not Unigram");
        }
        List<?> vocab = TokenizerJson.list(model.get("vocab"), "model's vocab");
        pieces = new String[vocab.size()];
        scores = new double[vocab.size()];
        ids = new HashMap<String, Integer>(vocab.size() * 2);
        double min = Double.POSITIVE_INFINITY;
        int longest = 0;
        for (int i = 0; i < pieces.length; i++) {
            List<?> entry = TokenizerJson.list(vocab.get(i), "vocab entry " + i);
            if (entry.size() != 2 || !(entry.get(0) instanceof String)) {
                throw new IllegalArgumentException("vocab entry " + i + " is not [piece, score]");
            }
            pieces[i] = (String) entry.get(0);
            scores[i] = TokenizerJson.number(entry.get(1), "the score of vocab entry " + i);
            ids.put(pieces[i], i);
            min = Math.min(min, scores[i]);
            longest = Math.max(longest, pieces[i].codePointCount(0, pieces[i].length()));
        }
        maxPieceLength = longest;
        unkScore = min - UNK_PENALTY;
        Object unk = model.get("unk_id");
        unkId = unk == null ? -1 : (int) TokenizerJson.number(unk, "unk_id");
        if (unkId >= pieces.length) {
            throw new IllegalArgumentException("unk_id " + unkId + " is outside the vocab");
        }
        byteFallback = TokenizerJson.bool(model, "byte_fallback", false);
        resolvePad(config);
    }

    @Override
    int vocabId(String token) {
        Integer id = ids.get(token);
        return id == null ? -1 : id;
    }

    @Override
    String vocabToken(int id) {
        return id >= 0 && id < pieces.length ? pieces[id] : null;
    }

    @Override
    void model(NormalizedText word, IntList out) {
        for (String piece : segment(word.cps)) {
            Integer id = ids.get(piece);
            if (id != null) {
                out.add(id);
            } else if (!(byteFallback && addBytes(piece, out))) {
                if (unkId < 0) {
                    throw new IllegalStateException("'" + piece + "' is unknown and the model has no unk_id");
                }
                out.add(unkId);
            }
        }
    }

    /** Viterbi: best[end] is the best path over cps[0, end); ties keep the earlier start. */
    List<String> segment(int[] cps) {
        int n = cps.length;
        if (n == 0) {
            return Collections.emptyList();
        }
        double[] best = new double[n + 1];
        int[] from = new int[n + 1];
        int[] node = new int[n + 1]; // piece id, or -1 for unknown
        boolean[] reached = new boolean[n + 1];
        reached[0] = true;
        for (int start = 0; start < n; start++) {
            double here = best[start];
            boolean single = false;
            int limit = Math.min(n, start + maxPieceLength);
            for (int end = start + 1; end <= limit; end++) {
                Integer id = ids.get(new String(cps, start, end - start));
                if (id == null) {
                    continue;
                }
                double candidate = scores[id] + here;
                if (!reached[end] || candidate > best[end]) {
                    best[end] = candidate;
                    from[end] = start;
                    node[end] = id;
                    reached[end] = true;
                }
                single |= end == start + 1;
            }
            if (!single) {
                if (unkId < 0) {
                    throw new IllegalStateException("'" + new String(cps, start, 1) + "' is unknown and the model has no unk_id");
                }
                double candidate = unkScore + here;
                if (!reached[start + 1] || candidate > best[start + 1]) {
                    best[start + 1] = candidate;
                    from[start + 1] = start;
                    node[start + 1] = -1;
                    reached[start + 1] = true;
                }
            }
        }
        List<String> reversed = new ArrayList<String>();
        StringBuilder unknown = null;
        for (int end = n; end > 0; end = from[end]) {
            String text = new String(cps, from[end], end - from[end]);
            if (node[end] < 0 || node[end] == unkId) {
                unknown = unknown == null ? new StringBuilder(text) : unknown.insert(0, text);
            } else {
                if (unknown != null) {
                    reversed.add(unknown.toString());
                    unknown = null;
                }
                reversed.add(text);
            }
        }
        if (unknown != null) {
            reversed.add(unknown.toString());
        }
        Collections.reverse(reversed);
        return reversed;
    }

    private boolean addBytes(String piece, IntList out) {
        byte[] bytes = piece.getBytes(StandardCharsets.UTF_8);
        int[] found = new int[bytes.length];
        for (int k = 0; k < bytes.length; k++) {
            Integer id = ids.get(String.format(java.util.Locale.ROOT, "<0x%02X>", bytes[k] & 0xFF));
            if (id == null) {
                return false;
            }
            found[k] = id;
        }
        for (int id : found) {
            out.add(id);
        }
        return true;
    }
}
