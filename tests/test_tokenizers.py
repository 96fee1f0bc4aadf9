"""mobilecomp.load.tokenizer: the tokenizer kind a manifest records, the pipeline a bundle carries
(transformers' own, byte for byte when it is the checkpoint's file), the conversion of a bare
sentencepiece model, and the refusals that mirror what the Android core implements."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mobilecomp.bundle import check_manifest
from mobilecomp.errors import BundleError
from mobilecomp.load import _tokenizer, tokenizer_dir
from mobilecomp.load.checkpoints import embedded_dir, sha256_file
from mobilecomp.load.tokenizer import (CORE_KINDS, KINDS, bundle_tokenizer, core_refusal, differs, kind_of, pipeline,
                                       regex_in_subset)

BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}


@pytest.mark.parametrize("spec, kind", [
    ({"model": {"type": "WordPiece"}}, "wordpiece"),
    ({"model": {"type": "BPE"}, "pre_tokenizer": BYTE_LEVEL}, "byte-level-bpe"),
    ({"model": {"type": "BPE"}, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Digits"}, BYTE_LEVEL]}}, "byte-level-bpe"),
    ({"model": {"type": "BPE"}, "pre_tokenizer": {"type": "Metaspace"}}, "bpe"),  # sentencepiece BPE (Llama)
    ({"model": {"vocab": {"a": 0}, "merges": []}, "pre_tokenizer": BYTE_LEVEL}, "byte-level-bpe"),  # no type: old file
    ({"model": {"type": "Unigram"}}, "unigram"),
    ({"model": {"type": "WordLevel"}}, "wordlevel"),
    (None, "other"),
])
def test_kind_of(spec, kind):
    assert kind_of(spec) == kind and kind in KINDS


def _load(directory: Path):
    return _tokenizer(directory)


def test_a_tokenizer_json_transformers_runs_as_written_is_copied_byte_for_byte(tmp_path):
    src = embedded_dir("all-minilm-l6-v2")
    entry = bundle_tokenizer(_load(src), src, tmp_path / "tokenizer")
    assert entry["kind"] == "wordpiece" and entry["vocab_file"] == "tokenizer/vocab.txt" and "source" not in entry
    assert sha256_file(tmp_path / "tokenizer" / "tokenizer.json") == sha256_file(src / "tokenizer.json")
    assert entry["vocab_sha256"] == sha256_file(src / "vocab.txt")


@pytest.mark.parametrize("name, kind, cls", [("bpe-8000", "byte-level-bpe", "RobertaTokenizer"),
                                             ("unigram-8000", "unigram", "TokenizersBackend")])
def test_a_bundle_carries_the_pipeline_transformers_runs(name, kind, cls, tmp_path):
    src = tokenizer_dir(name)
    tokenizer = _load(src)
    entry = bundle_tokenizer(tokenizer, src, tmp_path / "tokenizer")
    assert entry["kind"] == kind and entry["vocab_file"] == "tokenizer/tokenizer.json"
    # RobertaTokenizer rebuilds the model and template; serde_json reads Unigram scores a last bit off
    # their text, so even a file transformers runs as written is re-serialised from what it holds
    assert entry["source"].startswith(f"tokenizer.json, as transformers ") and cls in entry["source"]
    on_disk = json.loads((tmp_path / "tokenizer" / "tokenizer.json").read_text())
    assert differs(on_disk, pipeline(tokenizer)) == []
    again = _load(tmp_path / "tokenizer")  # a fixed point: the bundle's file is what transformers runs from it
    assert differs(on_disk, pipeline(again)) == []
    text = "Crème brûlée, 😀 and 12 'quoted' words  <mask> [MASK]"
    assert again(text, "a pair")["input_ids"] == tokenizer(text, "a pair")["input_ids"]
    assert core_refusal(kind, on_disk, json.loads((src / "tokenizer_config.json").read_text())) is None


def test_a_bare_sentencepiece_model_is_converted_and_recorded(tmp_path):
    src = tokenizer_dir("spiece-8000")
    entry = bundle_tokenizer(_load(src), src, tmp_path / "tokenizer")
    assert entry["kind"] == "unigram" and entry["source"].startswith("spiece.model, as transformers ")
    assert entry["files"] == ["tokenizer/tokenizer.json", "tokenizer/tokenizer_config.json"]
    spec = json.loads((tmp_path / "tokenizer" / "tokenizer.json").read_text())
    types = [n["type"] for n in spec["normalizer"]["normalizers"]]
    assert types == ["Replace", "Replace", "NFKD", "StripAccents", "Lowercase", "Precompiled"]  # ALBERT's, in v5
    assert core_refusal("unigram", spec, {"pad_token": "<pad>"}) is None


def test_a_wordpiece_tokenizer_json_alone_gets_the_vocab_txt_the_core_reads(tmp_path):
    minilm = embedded_dir("all-minilm-l6-v2")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(minilm / name, src / name)
    entry = bundle_tokenizer(_load(src), src, tmp_path / "tokenizer")
    assert entry["vocab_file"] == "tokenizer/vocab.txt" and "tokenizer/vocab.txt" in entry["files"]
    assert entry["vocab_sha256"] == sha256_file(minilm / "vocab.txt")  # the same lines, byte for byte


def _spec(name: str) -> dict:
    return json.loads((tokenizer_dir(name) / "tokenizer.json").read_text())


def test_core_refusals_name_the_component():
    unigram = _spec("unigram-8000")
    config = {"pad_token": "<pad>"}
    assert core_refusal("unigram", unigram, config) is None
    assert core_refusal("bpe", unigram, config) == ("tokenizer kind 'bpe' is not implemented by the Android core "
                                                    "(it implements: wordpiece, byte-level-bpe, unigram)")
    nested = {**unigram, "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Nmt"}]}}
    assert core_refusal("unigram", nested, config).startswith("normalizer 'Nmt' is not implemented by the Android core")
    split = {**unigram, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": " "}, "behavior": "Removed"}}
    assert core_refusal("unigram", split, config).startswith("pre_tokenizer 'Split' is not implemented")
    first = {**unigram, "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first"}}
    assert core_refusal("unigram", first, config) is None
    assert core_refusal("unigram", unigram, {}) == ("tokenizer_config.json: no pad_token; the Android core pads to "
                                                    "max_length, which needs one")
    assert "truncation_side 'left'" in core_refusal("unigram", unigram, {**config, "truncation_side": "left"})
    wordpiece = json.loads((embedded_dir("all-minilm-l6-v2") / "tokenizer.json").read_text())
    assert core_refusal("wordpiece", wordpiece, {}) is None and core_refusal("wordpiece", None, {}) is None
    swapped = {**wordpiece, "post_processor": _spec("bpe-8000")["post_processor"]}
    assert core_refusal("wordpiece", swapped, {}).startswith("wordpiece post_processor: a template other than")
    assert set(CORE_KINDS) < set(KINDS)


@pytest.mark.parametrize("pattern, ok", [
    (" {2,}", True), (r"\s{2,}|[\n\r\t]", True), (r"(?:ab)+|[a-c\-]", True), ("``", True),
    (r"\p{L}+", False), (r"\w+", False), ("a.b", False), ("^a", False), ("a*", False), ("a+?", False),
    ("(?=a)b", False), (r"\d", False), ("[[a]]", False),
])
def test_replace_regexes_the_core_shares_with_oniguruma(pattern, ok):
    assert regex_in_subset(pattern) is ok  # the same list as PipelineTokenizerTest.regexSubsetKeeps...


def test_manifest_kind_is_checked_and_old_manifests_mean_wordpiece(tiny_bundle):
    manifest = json.loads((tiny_bundle / "manifest.json").read_text())
    assert manifest["tokenizer"]["kind"] == "wordpiece"
    check_manifest(manifest, tiny_bundle, "manifest.json")
    del manifest["tokenizer"]["kind"]  # written before tokenizer.kind existed
    check_manifest(manifest, tiny_bundle, "manifest.json")
    manifest["tokenizer"]["kind"] = "sentencepiece"
    with pytest.raises(BundleError, match="tokenizer.kind 'sentencepiece' is not one of wordpiece, byte-level-bpe"):
        check_manifest(manifest, tiny_bundle, "manifest.json")
