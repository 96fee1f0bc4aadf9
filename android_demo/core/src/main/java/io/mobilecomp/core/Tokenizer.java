package io.mobilecomp.core;

/**
 * Text to model inputs, id for id what the bundle's Python tokenizer ({@code AutoTokenizer} on
 * BUNDLE/tokenizer) gives with {@code truncation=True, padding="max_length"}: special tokens
 * from the tokenizer's template, longest_first truncation of a text or a pair, then padding.
 *
 * <p>Implementations: {@link BertTokenizer} (WordPiece), {@link ByteLevelBpeTokenizer}
 * (RoBERTa, GPT-2, ModernBERT) and {@link UnigramTokenizer} (SentencePiece: ALBERT,
 * DeBERTa-v3, XLM-R). {@link Tokenizers#forBundle} picks one from the manifest's kind.
 */
public interface Tokenizer {

    /** The manifest's name for this tokenizer's kind: wordpiece, byte-level-bpe or unigram. */
    String kind();

    /** {@code text} with the single-sequence template, truncated and padded to {@code maxLength}. */
    default Encoding encode(String text, int maxLength) {
        return encode(text, null, maxLength);
    }

    /**
     * {@code text} and {@code pair} with the pair template, truncated longest_first so both
     * fit {@code maxLength}, then padded (mask 0, type 0). A null or empty pair counts as none,
     * as in transformers ({@code if text_pair}).
     */
    Encoding encode(String text, String pair, int maxLength);

    /** The ids of {@code text} before templates, truncation and padding. */
    int[] tokenIds(String text);

    /** The vocabulary entry of {@code id} (for messages), or null when there is none. */
    String token(int id);
}
