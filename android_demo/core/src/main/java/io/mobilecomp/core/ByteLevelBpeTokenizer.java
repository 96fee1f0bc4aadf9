package io.mobilecomp.core;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Byte-level BPE (RoBERTa, GPT-2, ModernBERT): the ByteLevel pre-tokenizer turns each word into
 * one character per UTF-8 byte, then merges apply lowest rank first (leftmost on ties) until
 * none applies, as the tokenizers crate's BPE model does. Continuing-subword prefix,
 * end-of-word suffix, unk fusing, byte fallback and ignore_merges are read from the model too.
 */
public final class ByteLevelBpeTokenizer extends PipelineTokenizer {
    private final Map<String, Integer> vocab;
    private final String[] byId;
    /** (left id << 32 | right id) -> (rank << 32 | merged id). */
    private final Map<Long, Long> merges;
    private final String prefix;
    private final String suffix;
    private final int unkId;
    private final boolean fuseUnk;
    private final boolean byteFallback;
    private final boolean ignoreMerges;

    public ByteLevelBpeTokenizer(Map<String, Object> json, Map<String, Object> config) {
        super("byte-level-bpe", json, config);
        Map<String, Object> model = TokenizerJson.map(json.get("model"), "model");
        if (!"BPE".equals(model.get("type"))) {
            throw new IllegalArgumentException("model is " + model.get("type") + ", not BPE");
        }
        Object dropout = model.get("dropout");
        if (dropout != null && TokenizerJson.number(dropout, "dropout") != 0.0) {
            throw UnsupportedTokenizerException.setting("model", "BPE", "dropout " + dropout);
        }
        Map<String, Object> rawVocab = TokenizerJson.map(model.get("vocab"), "model's vocab");
        vocab = new HashMap<String, Integer>(rawVocab.size() * 2);
        int maxId = -1;
        for (Map.Entry<String, Object> e : rawVocab.entrySet()) {
            int id = (int) TokenizerJson.number(e.getValue(), "vocab id of " + e.getKey());
            vocab.put(e.getKey(), id);
            maxId = Math.max(maxId, id);
        }
        byId = new String[maxId + 1];
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            byId[e.getValue()] = e.getKey();
        }
        prefix = TokenizerJson.str(model, "continuing_subword_prefix", null);
        suffix = TokenizerJson.str(model, "end_of_word_suffix", null);
        String unk = TokenizerJson.str(model, "unk_token", null);
        unkId = unk == null || !vocab.containsKey(unk) ? -1 : vocab.get(unk);
        fuseUnk = TokenizerJson.bool(model, "fuse_unk", false);
        byteFallback = TokenizerJson.bool(model, "byte_fallback", false);
        ignoreMerges = TokenizerJson.bool(model, "ignore_merges", false);
        List<?> rawMerges = TokenizerJson.list(model.get("merges"), "model's merges");
        merges = new HashMap<Long, Long>(rawMerges.size() * 2);
        int prefixLen = prefix == null ? 0 : prefix.length();
        for (int rank = 0; rank < rawMerges.size(); rank++) {
            String[] pair = mergePair(rawMerges.get(rank));
            Integer a = vocab.get(pair[0]);
            Integer b = vocab.get(pair[1]);
            String joined = pair[0] + pair[1].substring(Math.min(prefixLen, pair[1].length()));
            Integer merged = vocab.get(joined);
            if (a == null || b == null || merged == null) {
                throw new IllegalArgumentException("merge '" + pair[0] + " " + pair[1] + "' uses a token outside the vocab");
            }
            merges.put(((long) a << 32) | (b & 0xFFFFFFFFL), ((long) rank << 32) | merged);
        }
        resolvePad(config);
    }

    private static String[] mergePair(Object merge) {
        if (merge instanceof String) {
            String s = (String) merge;
            int space = s.indexOf(' ');
            if (space < 0) {
                throw new IllegalArgumentException("merge '" + s + "' is not two tokens");
            }
            return new String[] {s.substring(0, space), s.substring(space + 1)};
        }
        List<?> pair = TokenizerJson.list(merge, "a merge");
        if (pair.size() != 2 || !(pair.get(0) instanceof String) || !(pair.get(1) instanceof String)) {
            throw new IllegalArgumentException("a merge is not two tokens");
        }
        return new String[] {(String) pair.get(0), (String) pair.get(1)};
    }

    @Override
    int vocabId(String token) {
        Integer id = vocab.get(token);
        return id == null ? -1 : id;
    }

    @Override
    String vocabToken(int id) {
        return id >= 0 && id < byId.length ? byId[id] : null;
    }

    @Override
    void model(NormalizedText word, IntList out) {
        if (ignoreMerges) {
            Integer whole = vocab.get(word.text());
            if (whole != null) {
                out.add(whole);
                return;
            }
        }
        IntList symbols = new IntList();
        int pendingUnk = -1;
        int n = word.length();
        for (int i = 0; i < n; i++) {
            String s = new String(word.cps, i, 1);
            if (i > 0 && prefix != null) {
                s = prefix + s;
            }
            if (i == n - 1 && suffix != null) {
                s = s + suffix;
            }
            Integer id = vocab.get(s);
            if (id != null) {
                if (pendingUnk >= 0) {
                    symbols.add(pendingUnk);
                    pendingUnk = -1;
                }
                symbols.add(id);
                continue;
            }
            if (byteFallback && addBytes(new String(word.cps, i, 1), symbols)) {
                continue;
            }
            if (unkId >= 0) {
                if (pendingUnk >= 0 && !fuseUnk) {
                    symbols.add(pendingUnk);
                }
                pendingUnk = unkId;
            }
        }
        if (pendingUnk >= 0) {
            symbols.add(pendingUnk);
        }
        int[] ids = symbols.toArray();
        int len = ids.length;
        while (len > 1) {
            int bestAt = -1;
            long best = Long.MAX_VALUE;
            for (int k = 0; k + 1 < len; k++) {
                Long m = merges.get(((long) ids[k] << 32) | (ids[k + 1] & 0xFFFFFFFFL));
                if (m != null && (m >>> 32) < (best >>> 32)) {
                    best = m;
                    bestAt = k;
                }
            }
            if (bestAt < 0) {
                break;
            }
            ids[bestAt] = (int) (best & 0xFFFFFFFFL);
            System.arraycopy(ids, bestAt + 2, ids, bestAt + 1, len - bestAt - 2);
            len--;
        }
        for (int k = 0; k < len; k++) {
            out.add(ids[k]);
        }
    }

    /** Byte fallback: every UTF-8 byte of {@code s} as its {@code <0xXX>} token, if all exist. */
    private boolean addBytes(String s, IntList symbols) {
        byte[] bytes = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        int[] ids = new int[bytes.length];
        for (int k = 0; k < bytes.length; k++) {
            Integer id = vocab.get(String.format(java.util.Locale.ROOT, "<0x%02X>", bytes[k] & 0xFF));
            if (id == null) {
                return false;
            }
            ids[k] = id;
        }
        for (int id : ids) {
            symbols.add(id);
        }
        return true;
    }
}
