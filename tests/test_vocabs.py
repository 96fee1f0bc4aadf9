"""The shipped 4,928-word WordPiece vocabulary: its size, its pinned hash, and that it rebuilds byte-identically."""

from __future__ import annotations

from mobilecomp.load import tokenizer_dir
from mobilecomp.load.checkpoints import sha256_file
from mobilecomp.load.vocabs import VOCABS, build_vocab, vocab_dir


def test_shipped_vocab_matches_its_pin():
    for name, spec in VOCABS.items():
        vocab = vocab_dir(name) / "vocab.txt"
        assert len(vocab.read_text().splitlines()) == spec.size
        assert sha256_file(vocab) == spec.sha256


def test_vocab_rebuilds_identically(tmp_path):
    out = build_vocab("wordpiece-4928", tmp_path / "v")
    assert sha256_file(out / "vocab.txt") == VOCABS["wordpiece-4928"].sha256


def test_architecture_recipe_names_the_vocab():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir("wordpiece-4928"), local_files_only=True)
    assert len(tok) == 4928
    ids = tok("The committee said the rules would change.")["input_ids"]
    assert ids[0] == tok.cls_token_id and tok.unk_token_id not in ids
