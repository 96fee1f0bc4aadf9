"""The Android demo's JVM core: tokenizer parity with Python on >= 500 real-text vectors for each
tokenizer kind (WordPiece, byte-level BPE, SentencePiece Unigram, a sentencepiece model converted
at export), one-line refusals of tokenizers it does not implement (the same line from Java and
Python), and the app-result JSON that the Java side writes and mobilecomp/profile/app_result.py
parses."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from mobilecomp.android.tokenizer_vectors import hard_cases, write_vectors
from mobilecomp.cli import main
from mobilecomp.errors import DeviceError
from mobilecomp.load.checkpoints import sha256_file
from mobilecomp.profile.app_result import SCHEMA, device_info, latency, parse_app_result

ROOT = Path(__file__).resolve().parents[1]
RUN_TESTS = ROOT / "android_demo" / "core" / "run-tests.sh"
JARS = ("/usr/share/java/junit4.jar", "/usr/share/java/hamcrest-core.jar")
# one bundle per tokenizer the core implements: the tiny BERT with each tokenizer built here (load/vocabs.py)
BUILT = {"byte-level-bpe": "bpe-8000", "unigram": "unigram-8000", "unigram-from-spiece": "spiece-8000",
         "unigram-deberta": "deberta-8000"}
LABELS = ("wordpiece", *BUILT)


def _jvm_missing() -> str | None:
    if shutil.which("javac") is None or shutil.which("java") is None:
        return "no JDK (javac); scripts/setup.d/40-jvm.sh installs default-jdk-headless, junit4, libhamcrest-java"
    missing = [jar for jar in JARS if not os.path.exists(jar)]
    if missing:
        return f"{missing[0]} missing; scripts/setup.d/40-jvm.sh installs junit4 and libhamcrest-java"
    return None


needs_jvm = pytest.mark.skipif(_jvm_missing() is not None, reason=_jvm_missing() or "")


@pytest.fixture(scope="module")
def bundles(tiny_bundle, tiny_recipe, tmp_path_factory) -> dict[str, Path]:
    """label -> bundle: the tiny BERT exported by the real pipeline with each tokenizer."""
    from mobilecomp.pipeline import export_bundle

    out = {"wordpiece": tiny_bundle}
    for label, name in BUILT.items():
        recipe = replace(tiny_recipe, name=f"tiny-{name}", variants=("fp32",),
                         checkpoint=replace(tiny_recipe.checkpoint, tokenizer=name))
        out[label] = export_bundle(recipe, tmp_path_factory.mktemp("bundles") / f"tiny-{name}").bundle
    return out


@pytest.fixture(scope="module")
def all_vectors(bundles, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("vectors")
    for label, bundle in bundles.items():
        write_vectors(bundle, folder / f"{label}.jsonl", count=500)
    return {label: folder / f"{label}.jsonl" for label in bundles}


@pytest.fixture(scope="module")
def vectors(all_vectors) -> Path:
    return all_vectors["wordpiece"]


def _read(path: Path) -> tuple[dict, list[dict]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def _run_jvm(vectors: Path, bundle: Path, build: Path, app_result: Path | None = None):
    env = {**os.environ, "BUILD_DIR": str(build)}
    if app_result is not None:
        env["APP_RESULT_OUT"] = str(app_result)
    return subprocess.run(["bash", str(RUN_TESTS), str(vectors), str(bundle)], capture_output=True,
                          text=True, env=env, timeout=300)


def _run_check(*bundles: Path, build: Path):
    return subprocess.run(["bash", str(RUN_TESTS), "--check", *map(str, bundles)], capture_output=True, text=True,
                          env={**os.environ, "BUILD_DIR": str(build)}, timeout=300)


def _kind(label: str) -> str:
    return "unigram" if label.startswith("unigram") else label


GROUPS = ("accents", "cjk", "punctuation", "emoji", "unknown", "control", "special", "whitespace", "contractions",
          "numbers", "long-words", "truncation", "pairs")


@pytest.mark.parametrize("label", LABELS)
def test_vector_file_has_real_text_and_every_hard_case(label, all_vectors, bundles):
    header, records = _read(all_vectors[label])
    manifest = json.loads((bundles[label] / "manifest.json").read_text())
    kind = manifest["tokenizer"]["kind"]
    assert header["format"] == "mobilecomp-tokenizer-vectors/1" and header["kind"] == kind == _kind(label)
    assert header["counts"] == {"real": 500, "hard": len(hard_cases()), "total": len(records)}
    real = [r for r in records if not r["source"].startswith("hard:")]
    assert len(real) >= 500 and {r["source"] for r in real} >= {"oanc", "pang-lee", "oanc-pair", "pang-lee-pair"}
    assert {r["source"] for r in records if r["source"].startswith("hard:")} == {f"hard:{g}" for g in GROUPS}
    for r in records:
        assert len(r["input_ids"]) == len(r["attention_mask"]) == len(r["token_type_ids"]) == r["max_length"]
    assert any(r["attention_mask"][-1] == 1 and r["max_length"] < header["seq_len"] for r in records)  # truncated
    types_in_pairs = {t for r in records if r["text_pair"] for t in r["token_type_ids"]}
    assert types_in_pairs == ({0} if kind == "byte-level-bpe" else {0, 1})  # RoBERTa's template: all type 0
    emoji = [t for r in records if r["source"] == "hard:emoji" for t in r["tokens"]]
    unk = {"wordpiece": "[UNK]", "unigram": "<unk>"}.get(kind)
    assert (unk in emoji) if unk else not {"<unk>"} & set(emoji)  # byte-level BPE has a token for every byte


def test_manifest_records_the_tokenizer_kind_and_what_the_core_reads(bundles):
    entries = {label: json.loads((b / "manifest.json").read_text())["tokenizer"] for label, b in bundles.items()}
    assert entries["wordpiece"]["vocab_file"] == "tokenizer/vocab.txt" and "source" not in entries["wordpiece"]
    for label in BUILT:
        entry = entries[label]
        assert entry["vocab_file"] == "tokenizer/tokenizer.json"
        assert entry["vocab_sha256"] == sha256_file(bundles[label] / entry["vocab_file"])
    # a checkpoint with only spiece.model: tokenizer.json converted at export, and the manifest says so
    assert entries["unigram-from-spiece"]["source"].startswith("spiece.model, as transformers ")
    assert "AlbertTokenizer" in entries["unigram-from-spiece"]["source"]
    spec = json.loads((bundles["unigram-from-spiece"] / "tokenizer" / "tokenizer.json").read_text())
    assert "Precompiled" in json.dumps(spec["normalizer"])  # sentencepiece's charsmap, which the core implements
    # DebertaV2Tokenizer rebuilds the pipeline: what the bundle carries is what it runs, not the file it was given
    deberta = json.loads((bundles["unigram-deberta"] / "tokenizer" / "tokenizer.json").read_text())
    assert [n["type"] for n in deberta["normalizer"]["normalizers"]] == ["Lowercase", "Precompiled", "Strip", "Replace"]
    assert deberta["pre_tokenizer"]["pretokenizers"][1]["prepend_scheme"] == "first"
    assert "DebertaV2Tokenizer" in entries["unigram-deberta"]["source"]


@needs_jvm
def test_jvm_core_reproduces_every_python_vector(all_vectors, bundles, tmp_path):
    app_result = tmp_path / "app-result.json"
    pairs = [str(p) for label in LABELS for p in (all_vectors[label], bundles[label])]
    proc = subprocess.run(["bash", str(RUN_TESTS), *pairs], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "BUILD_DIR": str(tmp_path / "build"), "APP_RESULT_OUT": str(app_result)})
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    found = re.findall(r"tokenizer vectors \(([a-z-]+)\): (\d+)/(\d+) match \((\d+) real-text", out)
    assert [kind for kind, *_ in found] == [_kind(label) for label in LABELS], out[-2000:]
    for (kind, matched, total, real), label in zip(found, LABELS):
        assert int(matched) == int(total) == len(_read(all_vectors[label])[1]) and int(real) >= 500
    assert re.search(r"OK \(\d+ tests\)", out)
    # what Java wrote, Python parses into an ordinary device row's pieces
    result = parse_app_result(app_result.read_text())
    assert result["seq_len"] == 32 and result["runs"] == len(result["latency_ms"]) == 20
    assert latency(result).percentile(50) == pytest.approx(result["summary"]["p50"])
    assert device_info(result, "adb:test").kind == "adb"


def _variant(src: Path, dst: Path, spec=None, kind=None, config=None) -> Path:
    """A copy of ``src``'s manifest and tokenizer with tokenizer.json, the kind or tokenizer_config
    edited (and the manifest's hash kept true, so only the edit can be refused)."""
    shutil.copytree(src / "tokenizer", dst / "tokenizer")
    manifest = json.loads((src / "manifest.json").read_text())
    if spec is not None:
        path = dst / "tokenizer" / "tokenizer.json"
        path.write_text(json.dumps(spec(json.loads(path.read_text())), ensure_ascii=False))
    if config is not None:
        path = dst / "tokenizer" / "tokenizer_config.json"
        path.write_text(json.dumps(config(json.loads(path.read_text()))))
    entry = manifest["tokenizer"]
    entry["vocab_sha256"] = sha256_file(dst / entry["vocab_file"])
    if kind is not None:
        entry["kind"] = kind
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst


def _edit(path: str, value):
    """A tokenizer.json edit: set the dotted ``path`` (list indexes as numbers) to ``value``."""
    def apply(spec):
        *parents, last = path.split(".")
        node = spec
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(last) if isinstance(node, list) else last] = value
        return spec
    return apply


TEMPLATE = {"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {}}
UNSUPPORTED = {  # label: (bundle, edit, the refusal both sides must print)
    "normalizer": ("unigram", {"spec": _edit("normalizer", {"type": "Nmt"})},
                   "normalizer 'Nmt' is not implemented by the Android core (it implements: Lowercase, NFC, NFD, "
                   "NFKC, NFKD, Precompiled, Prepend, Replace, Sequence, Strip, StripAccents)"),
    "pre-tokenizer": ("byte-level-bpe", {"spec": _edit("pre_tokenizer", {"type": "Sequence", "pretokenizers": [
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        {"type": "UnicodeScripts"}]})}, "pre_tokenizer 'UnicodeScripts' is not implemented by the Android core"),
    "regex": ("unigram", {"spec": _edit("normalizer.normalizers.0", {"type": "Replace", "pattern": {"Regex": r"\p{L}+"},
                                                                     "content": "x"})},
              r"normalizer 'Replace' with regex '\p{L}+' is not implemented by the Android core"),
    "dropout": ("byte-level-bpe", {"spec": _edit("model.dropout", 0.1)},
                "model 'BPE' with dropout 0.1 is not implemented by the Android core"),
    "templates": ("unigram", {"spec": _edit("post_processor", {"type": "Sequence",
                                                               "processors": [TEMPLATE, TEMPLATE]})},
                  "post_processor 'Sequence' with more than one template is not implemented by the Android core"),
    "kind": ("unigram", {"kind": "wordlevel"},
             "tokenizer kind 'wordlevel' is not implemented by the Android core (it implements: wordpiece, "
             "byte-level-bpe, unigram)"),
    "kind-mismatch": ("byte-level-bpe", {"kind": "unigram"},
                      "the manifest says tokenizer kind 'unigram' but tokenizer.json describes 'byte-level-bpe'"),
    "wordpiece-normalizer": ("wordpiece", {"spec": _edit("normalizer", {"type": "NFKC"})},
                             "wordpiece normalizer 'NFKC' is not implemented by the Android core (it implements: "
                             "BertNormalizer)"),
    "padding-side": ("unigram", {"config": lambda c: {**c, "padding_side": "left"}},
                     "tokenizer_config.json: padding_side 'left' is not implemented by the Android core"),
}


@pytest.fixture(scope="module")
def unsupported(bundles, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("unsupported")
    return {label: _variant(bundles[src], folder / label, **edit) for label, (src, edit, _) in UNSUPPORTED.items()}


@pytest.mark.parametrize("label", UNSUPPORTED)
def test_python_refuses_a_tokenizer_the_core_does_not_implement_in_one_line(label, unsupported, tmp_path):
    out = tmp_path / "v.jsonl"
    result = CliRunner().invoke(main, ["tokenizer-vectors", str(unsupported[label]), "--out", str(out)])
    assert result.exit_code == 5, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mobilecomp: error: tokenizer/tokenizer.json: ")
    assert UNSUPPORTED[label][2] in lines[0]
    assert not out.exists()


@needs_jvm
def test_core_refuses_the_same_tokenizers_with_the_same_line(unsupported, bundles, tmp_path):
    labels = list(UNSUPPORTED)
    proc = _run_check(*(unsupported[label] for label in labels), *bundles.values(), build=tmp_path / "build")
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == len(labels) + len(bundles), proc.stdout + proc.stderr
    for label, line in zip(labels, lines):
        python = CliRunner().invoke(main, ["tokenizer-vectors", str(unsupported[label]), "--out",
                                           str(tmp_path / "v.jsonl")]).output.strip()
        assert line.startswith("refused: tokenizer/tokenizer.json: ") and UNSUPPORTED[label][2] in line
        assert python == f"mobilecomp: error: {line[len('refused: '):]}"  # word for word
    assert lines[len(labels):] == [f"ok: {_kind(label)} tokenizer, {2 if label == 'wordpiece' else 1} artefacts"
                                   for label in bundles]


@needs_jvm
def test_one_corrupted_vector_fails_the_junit_run(vectors, tiny_bundle, tmp_path):
    lines = vectors.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[7])
    record["input_ids"][2] += 1  # one id of one real-text vector
    lines[7] = json.dumps(record)
    corrupt = tmp_path / "corrupt.jsonl"
    corrupt.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = _run_jvm(corrupt, tiny_bundle, tmp_path / "build")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    assert f"1 of {len(lines) - 1} wordpiece vectors differ from Python" in out
    assert f"{record['id']}: input_ids differs at position 2" in out


def test_cli_writes_vectors(tiny_bundle, tmp_path):
    out = tmp_path / "v.jsonl"
    result = CliRunner().invoke(main, ["tokenizer-vectors", str(tiny_bundle), "--out", str(out), "--count", "20"])
    assert result.exit_code == 0, result.output
    assert f"{20 + len(hard_cases())} vectors (20 real-text" in result.output
    missing = CliRunner().invoke(main, ["tokenizer-vectors", str(tmp_path / "nope"), "--out", str(out)])
    assert missing.exit_code == 5 and "manifest.json: missing" in missing.output


def test_vectors_refuse_an_edited_vocabulary(tiny_bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle / "tokenizer", copy / "tokenizer")
    shutil.copyfile(tiny_bundle / "manifest.json", copy / "manifest.json")
    with open(copy / "tokenizer" / "vocab.txt", "a", encoding="utf-8") as fh:
        fh.write("extra-token\n")
    result = CliRunner().invoke(main, ["tokenizer-vectors", str(copy), "--out", str(tmp_path / "v.jsonl")])
    assert result.exit_code == 5 and "differs from the manifest" in result.output


def _result(**changes) -> dict:
    values = [10.0, 12.0, 11.0, 30.0]
    doc = {"schema": SCHEMA, "status": "ok", "error": None, "timestamp": "2025-01-01T00:00:00Z",
           "device": {"manufacturer": "Google", "model": "Pixel 7", "soc": "Tensor G2", "abi": "arm64-v8a",
                      "android": "14", "sdk": 34, "cores": 8},
           "app": {"package": "io.mobilecomp.demo", "version": "0.1.0"},
           "bundle": {"name": "minilm-l6-int8", "vocab_sha256": "ab" * 32, "vocab_check": "ok"},
           "artefact": {"name": "onnx-int8-dynamic", "format": "onnx", "variant": "int8-dynamic",
                        "file": "model-int8-dynamic.onnx", "sha256": "cd" * 32},
           "runner": {"name": "onnxruntime-android", "version": "1.20.0", "provider": "CPU", "threads": 4},
           "threads": 4, "seq_len": 128, "batch": 1, "tokens": 20, "warmup": 5, "runs": 4,
           "latency_ms": {"unit": "ms", "n": 4, "mean": 15.75, "p50": 11.5, "p90": 24.6, "values": values},
           "output": {"head": "encoder"}}
    doc.update(changes)
    return doc


def test_app_result_parses_a_phone_result():
    result = parse_app_result(json.dumps(_result()))
    assert result["latency_ms"] == [10.0, 12.0, 11.0, 30.0] and result["threads"] == 4
    info = device_info(result, "adb:emulator-5554")
    assert (info.manufacturer, info.model, info.soc, info.cores) == ("Google", "Pixel 7", "Tensor G2", 8)
    assert info.os == "Android 14 (API 34)"


@pytest.mark.parametrize("text, message", [
    ("{not json", "not JSON"),
    ("[1, 2]", "not a JSON object"),
    (json.dumps(_result(schema="other/1")), "schema"),
    (json.dumps(_result(status="error", error="vocabulary sha256 differs")), "vocabulary sha256 differs"),
    (json.dumps(_result(device={"model": "x"})), "device.manufacturer"),
    (json.dumps(_result(runs=5)), "runs is 5"),
    (json.dumps(_result(threads="4")), "threads must be int"),
    (json.dumps(_result(latency_ms={"values": [1.0, -2.0, 3.0, 4.0]})), "non-negative"),
    (json.dumps(_result(latency_ms={"mean": 15.75, "p50": 99.0, "p90": 24.6,
                                    "values": [10.0, 12.0, 11.0, 30.0]})), "latency_ms.p50"),
])
def test_app_result_rejects_malformed_input(text, message):
    with pytest.raises(DeviceError, match=re.escape(message)):
        parse_app_result(text)


# ---- decoding: the task's answer from a head's outputs, the same in the core as in Python ----------

DECODED = ("question-answering", "token-classifier", "fill-mask")


@pytest.fixture(scope="module")
def decode_vectors(tmp_path_factory, tiny_recipe) -> dict[str, tuple[Path, Path | None]]:
    """head -> (decode vector file, its bundle or None): the real POS tagger (MiniLM cut to 2 layers, a
    Penn-tag probe trained on 400 OANC sentences) and MiniLM's encoder cut to 2 layers with a masked-LM
    head at random (seed 0: untrained), each exported to ONNX fp32 and run on real text; spans from
    drawn logits (no QA model is read)."""
    import sys

    import torch
    import yaml
    from transformers import BertConfig, BertForMaskedLM

    from mobilecomp.android.decode_vectors import write_decode_vectors
    from mobilecomp.load import quiet_transformers
    from mobilecomp.load.checkpoints import embedded_dir
    from mobilecomp.pipeline import export_bundle
    from mobilecomp.recipe import load_recipe

    work = tmp_path_factory.mktemp("decode")
    subprocess.run([sys.executable, str(ROOT / "examples" / "finetune_pos.py"), "--keep-layers", "2", "--limit", "400",
                    "--probe", "--test-limit", "20", "--out", str(work / "pos"), "--split-dir", str(work / "split")],
                   check=True, capture_output=True)
    quiet_transformers()
    torch.manual_seed(0)
    source = embedded_dir("all-minilm-l6-v2")
    config = BertConfig.from_pretrained(source, num_hidden_layers=2)
    BertForMaskedLM.from_pretrained(source, config=config, local_files_only=True).save_pretrained(work / "mlm")
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (work / "mlm" / name).write_bytes((source / name).read_bytes())
    out = {"question-answering": (work / "qa.jsonl", None)}
    for head, model, seq_len in (("token-classifier", work / "pos", 48), ("fill-mask", work / "mlm", 32)):
        name = f"decode-{head}"
        recipe = {"name": name, "description": f"{head} for decode vectors", "head": head, "seq_len": seq_len,
                  "checkpoint": {"source": "hf-dir", "architecture": "bert", "path": str(model)},
                  "formats": ["onnx"], "variants": ["fp32"]}
        (work / f"{name}.yaml").write_text(yaml.safe_dump(recipe))
        bundle = export_bundle(load_recipe(str(work / f"{name}.yaml")), work / name, checkpoint=str(model)).bundle
        out[head] = (work / f"{head}.jsonl", bundle)
    for head, (file, bundle) in out.items():
        write_decode_vectors(file, bundle, head)
    return out


def _decode_env(pairs, build: Path) -> dict:
    return {**os.environ, "BUILD_DIR": str(build), "DECODE_VECTORS": ":".join(str(v) for v, _ in pairs),
            "DECODE_BUNDLES": ":".join(str(b) if b else "-" for _, b in pairs)}


def test_decode_vectors_hold_real_outputs_and_the_hard_cases(decode_vectors):
    headers = {head: _read(file)[0] for head, (file, _) in decode_vectors.items()}
    records = {head: _read(file)[1] for head, (file, _) in decode_vectors.items()}
    for head in DECODED:
        assert headers[head]["head"] == head and headers[head]["counts"]["total"] == len(records[head]) >= 200
    tags, masks, spans = records["token-classifier"], records["fill-mask"], records["question-answering"]
    assert headers["token-classifier"]["counts"] == {"total": 360, "oanc-pos": 300, "crafted-tie": 60}
    assert "onnx-fp32 run on real text" in headers["token-classifier"]["logits"]
    assert max(r["subwords_max"] for r in tags) >= 5  # words of many subwords
    assert any(len(r["starts"]) < len(r["words"]) for r in tags)  # truncation cut words off
    assert len({tag for r in tags for tag in r["labels"]}) >= 20  # the real tagger says many tags
    vocab = 30522
    assert {r["k"] for r in masks} >= {1, 5, 50, vocab, vocab + 1}  # k up to and past the vocabulary
    assert [len(r["top_ids"]) for r in masks if r["k"] > vocab] == [vocab, vocab]
    assert headers["fill-mask"]["counts"]["crafted-tie"] == 50
    assert any(r["span"] == [-1, -1] for r in spans)  # nothing allowed
    assert sum(r["span"][1] - r["span"][0] + 1 == r["max_answer_len"] for r in spans) >= 20  # at the limit
    assert {r["source"] for r in spans} == {"drawn-normal", "drawn-integer-ties", "constant-ties", "length-edge"}


@needs_jvm
def test_jvm_core_decodes_every_head_as_python_does(decode_vectors, vectors, tiny_bundle, tmp_path):
    pairs = [decode_vectors[head] for head in DECODED]
    proc = subprocess.run(["bash", str(RUN_TESTS), str(vectors), str(tiny_bundle)], capture_output=True, text=True,
                          timeout=600, env=_decode_env(pairs, tmp_path / "build"))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    found = dict((head, (int(a), int(b))) for head, a, b in
                 re.findall(r"decode vectors \(([a-z-]+)\): (\d+)/(\d+) match", out))
    assert list(found) == list(DECODED), out[-2000:]
    for head, (matched, total) in found.items():
        assert matched == total == len(_read(decode_vectors[head][0])[1])
    # the app's path (Heads.prepare, Heads.answer) on the same outputs: every tagged sentence and top-5
    answers = int(re.search(r"heads answers: (\d+) match", out).group(1))
    assert answers >= len(_read(decode_vectors["token-classifier"][0])[1])


@needs_jvm
def test_one_changed_answer_fails_the_decode_run(decode_vectors, vectors, tiny_bundle, tmp_path):
    file, _ = decode_vectors["question-answering"]
    header, records = _read(file)
    records[3]["span"] = [records[3]["span"][0], records[3]["span"][1] + 1]  # one span one token longer
    corrupt = tmp_path / "qa.jsonl"
    corrupt.write_text("\n".join(json.dumps(r) for r in [header, *records]) + "\n")
    shutil.copyfile(file.with_suffix(".npz"), corrupt.with_suffix(".npz"))
    proc = subprocess.run(["bash", str(RUN_TESTS), str(vectors), str(tiny_bundle)], capture_output=True, text=True,
                          timeout=600, env=_decode_env([(corrupt, None)], tmp_path / "build"))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    assert f"1 of {len(records)} question-answering vectors decode differently from Python" in out
    assert f"{records[3]['id']}: span differ at 1" in out
