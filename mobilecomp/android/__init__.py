"""What the Android core (android_demo/core) is checked against: the test vectors Python writes from a
bundle, for its tokenizers (tokenizer_vectors) and its per-head decoders (decode_vectors)."""
