"""The tokenizers made here from real text: the shipped WordPiece vocabulary and the three built on
first use (byte-level BPE, Unigram, a bare spiece.model), their pinned hashes, and that each
rebuilds byte-identically."""

from __future__ import annotations

import json
import shutil

import pytest

from mobilecomp.load import tokenizer_dir
from mobilecomp.load.checkpoints import sha256_file
from mobilecomp.load.tokenizer import kind_of, pipeline
from mobilecomp.load import vocabs
from mobilecomp.load.vocabs import VOCABS, build_vocab, vocab_dir

BUILT = [name for name, spec in VOCABS.items() if not spec.shipped]


def test_shipped_vocab_matches_its_pin():
    for name, spec in VOCABS.items():
        if spec.shipped:
            vocab = vocab_dir(name) / "vocab.txt"
            assert len(vocab.read_text().splitlines()) == spec.size
            assert sha256_file(vocab) == spec.sha256


def test_vocab_rebuilds_identically(tmp_path):
    out = build_vocab("wordpiece-4928", tmp_path / "v")
    assert sha256_file(out / "vocab.txt") == VOCABS["wordpiece-4928"].sha256


@pytest.mark.parametrize("name", BUILT)
def test_built_tokenizer_rebuilds_to_its_pin(name, tmp_path):
    spec = VOCABS[name]
    out = build_vocab(name, tmp_path / name)
    assert sha256_file(out / spec.pinned) == spec.sha256  # deterministic: the same bytes every build
    cached = vocab_dir(name)
    assert sha256_file(cached / spec.pinned) == spec.sha256 and cached != out


def test_a_stale_cached_build_is_rebuilt(monkeypatch, tmp_path):
    built = vocab_dir("bpe-8000")
    monkeypatch.setenv("MOBILECOMP_CACHE", str(tmp_path))
    stale = tmp_path / "tokenizers" / "bpe-8000"
    shutil.copytree(built, stale)
    (stale / "tokenizer.json").write_text("{}")  # edited or half-written: no longer the pinned bytes
    trained = []  # the training itself is pinned above; here only the cache's handling of a stale entry

    def build(name, out):
        trained.append(name)
        shutil.copytree(built, out, dirs_exist_ok=True)
    monkeypatch.setattr(vocabs, "build_vocab", build)
    again = vocab_dir("bpe-8000")
    assert trained == ["bpe-8000"]
    assert again == stale and sha256_file(again / "tokenizer.json") == VOCABS["bpe-8000"].sha256
    assert not [p for p in tmp_path.joinpath("tokenizers").iterdir() if p.name.startswith(".")]  # no scratch left


@pytest.mark.parametrize("name", list(VOCABS))
def test_architecture_recipe_names_the_tokenizer(name):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir(name), local_files_only=True)
    assert len(tok) == VOCABS[name].size
    assert kind_of(pipeline(tok)) == VOCABS[name].kind
    ids = tok("The committee said the rules would change.")["input_ids"]
    assert ids[0] == tok.cls_token_id and tok.unk_token_id not in ids


def test_built_tokenizers_are_the_styles_they_stand_for():
    bpe = json.loads((vocab_dir("bpe-8000") / "tokenizer.json").read_text())
    assert bpe["pre_tokenizer"] == {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                                    "use_regex": True}
    assert bpe["post_processor"]["type"] == "RobertaProcessing"
    assert [t["content"] for t in bpe["added_tokens"]] == ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    assert [t["lstrip"] for t in bpe["added_tokens"]] == [False, False, False, False, True]  # RoBERTa's <mask>
    unigram = json.loads((vocab_dir("unigram-8000") / "tokenizer.json").read_text())
    assert unigram["normalizer"] == {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}]}
    assert unigram["pre_tokenizer"]["type"] == "Metaspace" and unigram["model"]["type"] == "Unigram"
    assert sorted(p.name for p in vocab_dir("spiece-8000").iterdir()) == ["spiece.model", "tokenizer_config.json"]
