package io.mobilecomp.core;

import java.io.File;
import java.io.IOException;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * Picks the tokenizer implementation for a bundle from its manifest's tokenizer kind, reading
 * the file the manifest names (vocab.txt for WordPiece, tokenizer.json otherwise) and, beside
 * it, tokenizer_config.json. A tokenizer whose components this core does not implement is
 * refused with an {@link UnsupportedTokenizerException} naming the component.
 */
public final class Tokenizers {
    private Tokenizers() {
    }

    /** The kinds this core implements (the manifest's tokenizer.kind values). */
    public static final List<String> KINDS = Collections.unmodifiableList(
            Arrays.asList("wordpiece", "byte-level-bpe", "unigram"));

    /**
     * The kind a tokenizer.json describes: its model type, and for BPE whether the ByteLevel
     * pre-tokenizer makes it byte-level (mobilecomp.load.tokenizer.kind_of is the same rule).
     */
    public static String kindOf(Map<String, Object> json) {
        Map<String, Object> model = TokenizerJson.map(json.get("model"), "model");
        Object type = model.get("type");
        if (type == null && model.get("vocab") instanceof Map && model.get("merges") != null) {
            type = "BPE"; // files written before the model carried its type
        }
        if ("WordPiece".equals(type)) {
            return "wordpiece";
        }
        if ("Unigram".equals(type)) {
            return "unigram";
        }
        if ("BPE".equals(type)) {
            return hasByteLevel(TokenizerJson.optMap(json, "pre_tokenizer")) ? "byte-level-bpe" : "bpe";
        }
        return String.valueOf(type).toLowerCase(java.util.Locale.ROOT);
    }

    private static boolean hasByteLevel(Map<String, Object> pre) {
        if (pre == null) {
            return false;
        }
        if ("ByteLevel".equals(pre.get("type"))) {
            return true;
        }
        for (Object step : TokenizerJson.list(pre.get("pretokenizers"), "pretokenizers")) {
            if (step instanceof Map && hasByteLevel(TokenizerJson.map(step, "a pre_tokenizer"))) {
                return true;
            }
        }
        return false;
    }

    /**
     * The tokenizer of kind {@code kind} whose file is {@code file} (BUNDLE/tokenizer/vocab.txt
     * for wordpiece, BUNDLE/tokenizer/tokenizer.json otherwise).
     */
    public static Tokenizer forBundle(String kind, File file) throws IOException {
        if (!KINDS.contains(kind)) {
            throw new UnsupportedTokenizerException("tokenizer kind '" + kind + "' is not implemented by the Android core "
                    + "(it implements: wordpiece, byte-level-bpe, unigram)");
        }
        File dir = file.getAbsoluteFile().getParentFile();
        File configFile = new File(dir, "tokenizer_config.json");
        Map<String, Object> config = configFile.isFile()
                ? Json.parseObject(BundleInfo.readText(configFile)) : Collections.<String, Object>emptyMap();
        if (kind.equals("wordpiece")) {
            File json = new File(dir, "tokenizer.json");
            return wordPiece(Vocabulary.fromFile(file), config,
                    json.isFile() ? Json.parseObject(BundleInfo.readText(json)) : null);
        }
        Map<String, Object> json = Json.parseObject(BundleInfo.readText(file));
        String actual = kindOf(json);
        if (!actual.equals(kind)) {
            throw new IllegalArgumentException("the manifest says tokenizer kind '" + kind + "' but " + file.getName()
                    + " describes '" + actual + "'");
        }
        return kind.equals("unigram") ? new UnigramTokenizer(json, config) : new ByteLevelBpeTokenizer(json, config);
    }

    /**
     * BERT's WordPiece from vocab.txt, its options from tokenizer_config.json and, when the
     * bundle has a tokenizer.json, from that: its normalizer must be BertNormalizer, its
     * pre-tokenizer BertPreTokenizer, its model WordPiece with "##" continuations, and its
     * template [CLS] A [SEP] (B [SEP]) with types 0 then 1.
     */
    static BertTokenizer wordPiece(Vocabulary vocab, Map<String, Object> config, Map<String, Object> json) {
        BertTokenizer.Options options = BertTokenizer.Options.fromTokenizerConfig(config);
        if (json == null) {
            return new BertTokenizer(vocab, options);
        }
        Map<String, Object> normalizer = TokenizerJson.optMap(json, "normalizer");
        String type = normalizer == null ? "none" : TokenizerJson.type(normalizer, "normalizer");
        if (!type.equals("BertNormalizer")) {
            throw UnsupportedTokenizerException.component("wordpiece normalizer", type, new String[] {"BertNormalizer"});
        }
        options.lowercase = TokenizerJson.bool(normalizer, "lowercase", true);
        options.stripAccents = normalizer.get("strip_accents") instanceof Boolean ? (Boolean) normalizer.get("strip_accents") : null;
        options.handleChineseChars = TokenizerJson.bool(normalizer, "handle_chinese_chars", true);
        options.cleanText = TokenizerJson.bool(normalizer, "clean_text", true);
        Map<String, Object> pre = TokenizerJson.optMap(json, "pre_tokenizer");
        type = pre == null ? "none" : TokenizerJson.type(pre, "pre_tokenizer");
        if (!type.equals("BertPreTokenizer")) {
            throw UnsupportedTokenizerException.component("wordpiece pre_tokenizer", type, new String[] {"BertPreTokenizer"});
        }
        Map<String, Object> model = TokenizerJson.map(json.get("model"), "model");
        String prefix = TokenizerJson.str(model, "continuing_subword_prefix", "##");
        if (!prefix.equals("##")) {
            throw UnsupportedTokenizerException.setting("model", "WordPiece", "continuing_subword_prefix '" + prefix + "'");
        }
        options.unkToken = TokenizerJson.str(model, "unk_token", options.unkToken);
        if (model.get("max_input_chars_per_word") instanceof Long) {
            options.maxInputCharsPerWord = ((Long) model.get("max_input_chars_per_word")).intValue();
        }
        BertTokenizer tokenizer = new BertTokenizer(vocab, options);
        PostProcessor post = PostProcessor.parse(TokenizerJson.optMap(json, "post_processor"));
        int[][] got = post.apply(new int[] {-7}, new int[] {-8});
        int cls = vocab.id(options.clsToken);
        int sep = vocab.id(options.sepToken);
        if (!Arrays.equals(got[0], new int[] {cls, -7, sep, -8, sep}) || !Arrays.equals(got[1], new int[] {0, 0, 0, 1, 1})
                || !Arrays.equals(post.apply(new int[] {-7}, null)[0], new int[] {cls, -7, sep})) {
            throw new UnsupportedTokenizerException("wordpiece post_processor: a template other than [CLS] A [SEP] B [SEP] "
                    + "is not implemented by the Android core");
        }
        return tokenizer;
    }
}
