package io.mobilecomp.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * A tokenizer.json pipeline, in the order the tokenizers crate runs it: added tokens found in
 * the raw text; the rest normalized; added tokens found in the normalized text; pre-tokenized
 * into words; each word through the model (a subclass); then longest_first truncation, the
 * post-processor's template and padding with the pad token of tokenizer_config.json.
 */
public abstract class PipelineTokenizer implements Tokenizer {
    private final String kind;
    private final Normalizers.Normalizer normalizer;
    private final PreTokenizers.PreTokenizer preTokenizer;
    private final PostProcessor postProcessor;
    private final AddedTokens added;
    private int padId = -1;

    /**
     * @param json   tokenizer.json, parsed
     * @param config tokenizer_config.json, parsed (empty when the bundle has none)
     */
    protected PipelineTokenizer(String kind, Map<String, Object> json, Map<String, Object> config) {
        this.kind = kind;
        this.normalizer = Normalizers.parse(TokenizerJson.optMap(json, "normalizer"));
        this.preTokenizer = PreTokenizers.parse(TokenizerJson.optMap(json, "pre_tokenizer"));
        this.postProcessor = PostProcessor.parse(TokenizerJson.optMap(json, "post_processor"));
        this.added = new AddedTokens(TokenizerJson.list(json.get("added_tokens"), "added_tokens"), normalizer);
        for (String side : new String[] {"padding_side", "truncation_side"}) {
            String value = TokenizerJson.str(config, side, "right");
            if (!value.equals("right")) {
                throw new UnsupportedTokenizerException("tokenizer_config.json: " + side + " '" + value
                        + "' is not implemented by the Android core (it pads and truncates on the right)");
            }
        }
    }

    /** Appends the ids of one pre-tokenized word. */
    abstract void model(NormalizedText word, IntList out);

    /** The model vocabulary's id for {@code token}, or -1. */
    abstract int vocabId(String token);

    /** The model vocabulary's token for {@code id}, or null. */
    abstract String vocabToken(int id);

    /** Sets the pad id from tokenizer_config.json's pad_token; subclasses call it once their vocabulary exists. */
    protected final void resolvePad(Map<String, Object> config) {
        String token = TokenizerJson.token(config, "pad_token");
        if (token == null) {
            throw new UnsupportedTokenizerException("tokenizer_config.json: no pad_token; the Android core pads to "
                    + "max_length, which needs one");
        }
        int id = id(token);
        if (id < 0) {
            throw new IllegalArgumentException("pad_token " + token + " is not in the vocabulary");
        }
        padId = id;
    }

    /** An added token's id, else the model's, else -1 (the crate's token_to_id). */
    public int id(String token) {
        int id = added.id(token);
        return id >= 0 ? id : vocabId(token);
    }

    @Override
    public String kind() {
        return kind;
    }

    @Override
    public String token(int id) {
        for (AddedTokens.Token t : added.tokens) {
            if (t.id == id) {
                return t.content;
            }
        }
        return vocabToken(id);
    }

    @Override
    public int[] tokenIds(String text) {
        IntList ids = new IntList();
        for (AddedTokens.Segment raw : added.splitRaw(NormalizedText.of(text, 0))) {
            if (raw.id >= 0) {
                ids.add(raw.id);
                continue;
            }
            for (AddedTokens.Segment seg : added.splitNormalized(normalizer.apply(raw.text))) {
                if (seg.id >= 0) {
                    ids.add(seg.id);
                    continue;
                }
                List<NormalizedText> words = new ArrayList<NormalizedText>();
                preTokenizer.split(seg.text, words);
                for (NormalizedText word : words) {
                    model(word, ids);
                }
            }
        }
        return ids.toArray();
    }

    /** The words the model sees for {@code text} (tests and diagnostics). */
    List<String> words(String text) {
        List<String> out = new ArrayList<String>();
        for (AddedTokens.Segment raw : added.splitRaw(NormalizedText.of(text, 0))) {
            if (raw.id >= 0) {
                out.add(raw.text.text());
                continue;
            }
            for (AddedTokens.Segment seg : added.splitNormalized(normalizer.apply(raw.text))) {
                List<NormalizedText> words = new ArrayList<NormalizedText>();
                if (seg.id >= 0) {
                    words.add(seg.text);
                } else {
                    preTokenizer.split(seg.text, words);
                }
                for (NormalizedText w : words) {
                    out.add(w.text());
                }
            }
        }
        return out;
    }

    @Override
    public Encoding encode(String text, String pair, int maxLength) {
        int[] a = tokenIds(text);
        int[] b = pair == null || pair.isEmpty() ? null : tokenIds(pair);
        int special = postProcessor.added(b != null);
        int[][] cut = BertTokenizer.truncated(a, b, special, maxLength);
        a = cut[0];
        b = cut[1];
        int[][] filled = postProcessor.apply(a, b);
        int n = filled[0].length;
        if (n > maxLength) {
            throw new IllegalArgumentException("the template makes " + n + " ids, over maxLength " + maxLength);
        }
        int[] ids = Arrays.copyOf(filled[0], maxLength);
        int[] types = Arrays.copyOf(filled[1], maxLength);
        int[] mask = new int[maxLength];
        Arrays.fill(ids, n, maxLength, padId);
        Arrays.fill(mask, 0, n, 1);
        return new Encoding(ids, mask, types);
    }

    /** A growable int array (no boxing on the hot path). */
    static final class IntList {
        private int[] values = new int[16];
        private int n;

        void add(int v) {
            if (n == values.length) {
                values = Arrays.copyOf(values, n * 2);
            }
            values[n++] = v;
        }

        int size() {
            return n;
        }

        int get(int i) {
            return values[i];
        }

        void set(int i, int v) {
            values[i] = v;
        }

        int[] toArray() {
            return Arrays.copyOf(values, n);
        }
    }
}
