"""Generated families of hostile input (hypothesis), not a list of cases.

Each family draws inputs from a strategy (recipes with any field replaced, manifests with any field
replaced or removed, result rows, bundle members swapped for links, FIFOs and devices, texts, labelled
files, checkpoint mutations) and drives the real CLI with each. The invariant is the same for all:
the command ends either in success with a whole result, or in exactly one `mobilecomp: error:` line
with its error class's exit code that names the file or field, with no traceback, nothing of the
user's changed, and nothing left that looks like a valid result. A containment family must never
succeed: a bundle member that leads outside the bundle is always refused.

The runs are bounded (FAMILY.examples draws each, derandomised, so `make test` is reproducible and
stays within its time); bench/reliability.py runs the same families with more draws and counts them.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_faults import (CLASSIFIER, ERROR, TINY, Case, Materials, Outcome, Scene, Unavailable, _adb_server, _fifo, _link,
                         _phone, run_case)

B, C, D, K, T, V = 5, 2, 4, 3, 8, 7

# Values a hostile file puts where a field was: every JSON/YAML type, edge numbers, odd strings.
HOSTILE = st.one_of(
    st.none(), st.booleans(), st.integers(-2**40, 2**40), st.sampled_from([0, -1, 1, 7, 513, 2**31]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["", "../../etc/passwd", "/dev/zero", "fp32", "bert", "classifier", "\x00", "é" * 3]),
    st.lists(st.one_of(st.integers(-3, 600), st.text(max_size=4)), max_size=3),
    st.dictionaries(st.text(max_size=6), st.integers(-3, 3), max_size=2),
)
GONE = object()  # a drawn "value" that removes the field


def paths_of(data: Any, prefix: tuple = (), depth: int = 3) -> list[tuple]:
    """Every key path into a JSON-like value, down to ``depth`` levels."""
    found = []
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    for key, value in items:
        found.append((*prefix, key))
        if depth > 1:
            found += paths_of(value, (*prefix, key), depth - 1)
    return found


def replaced(data: Any, path: tuple, value: Any) -> Any:
    """A deep copy of ``data`` with ``path`` set to ``value`` (GONE: removed)."""
    data = json.loads(json.dumps(data))
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is GONE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@dataclass(frozen=True)
class Family:
    name: str
    boundary: str
    feeds: str
    draw: Callable[[Materials], st.SearchStrategy]  # what to generate, given the materials
    make: Callable[[Scene, Any], list[str]]  # builds the input from a draw, returns the CLI arguments
    codes: tuple[int, ...]  # exit codes an error may end in
    may_succeed: bool = False  # some draws are valid input (exit 0 then, with a whole result)
    examples: int = 20


def run_family_case(family: Family, materials: Materials, root: Path, drawn: Any) -> Outcome:
    scene = Scene(Path(tempfile.mkdtemp(dir=root)), materials)
    try:
        return run_case(Case(family.name, family.boundary, family.feeds, 0, "", lambda s: family.make(s, drawn)),
                        scene)
    finally:
        scene.close()


def verdict(family: Family, outcome: Outcome) -> str:
    """'' when the outcome keeps the invariant, else what broke it (the bench counts these)."""
    if outcome.traceback:
        return "traceback"
    if outcome.code == 0:
        return "" if family.may_succeed else "escape" if family.boundary == "containment" else "accepted bad input"
    if outcome.changed:
        return "data lost"
    if outcome.leftovers:
        return "left a valid-looking result"
    if outcome.code not in family.codes or len(outcome.error_lines) != 1:
        return f"exit {outcome.code} with {len(outcome.error_lines)} error lines"
    return ""


# ---- the families ---------------------------------------------------------------------------------

TINY_RECIPE = yaml.safe_load(TINY.read_text())


def _recipe_fields(materials: Materials) -> st.SearchStrategy:
    paths = [p for p in paths_of(TINY_RECIPE) if p != ("name",)]
    return st.tuples(st.sampled_from(paths), st.one_of(HOSTILE, st.just(GONE)))


def _user_out(scene: Scene) -> None:
    """--out names a directory of the user's: whatever the input, it must stay as it was."""
    scene.out.mkdir(parents=True)
    (scene.out / "notes.txt").write_text("the user's\n")


def _export_recipe(scene: Scene, drawn) -> list[str]:
    path, value = drawn
    recipe = scene.file("bad.yaml", yaml.safe_dump(replaced({**TINY_RECIPE, "name": "bad"}, path, value)))
    _user_out(scene)
    return scene.export("--recipe", str(recipe))


def _recipe_bytes(materials: Materials) -> st.SearchStrategy:
    return st.one_of(st.binary(max_size=200), st.text(max_size=200),
                     st.builds(lambda cut: TINY.read_text()[:cut], st.integers(0, len(TINY.read_text()))))


def _export_recipe_bytes(scene: Scene, blob) -> list[str]:
    recipe = scene.file("bad.yaml", blob)
    _user_out(scene)
    return scene.export("--recipe", str(recipe))


def _manifest_fields(materials: Materials) -> st.SearchStrategy:
    manifest = json.loads((materials.bundle() / "manifest.json").read_text())
    paths = paths_of(manifest, depth=4)
    return st.tuples(st.sampled_from(paths), st.one_of(HOSTILE, st.just(GONE)),
                     st.sampled_from(["profile", "report", "tokenizer-vectors"]))


def _tampered_manifest(scene: Scene, drawn) -> list[str]:
    path, value, command = drawn
    bundle = scene.bundle()
    data = replaced(json.loads((bundle / "manifest.json").read_text()), path, value)
    (bundle / "manifest.json").write_text(json.dumps(data))
    if command == "report":
        return ["report", str(bundle), "--out", str(scene.root / "report")]
    if command == "tokenizer-vectors":
        return ["tokenizer-vectors", str(bundle), "--out", str(scene.root / "vectors.jsonl"), "--count", "5"]
    return scene.profile(bundle, "--artefact", "onnx-fp32")


ROW = {"model": "tiny-bert", "artefact": "onnx-fp32", "variant": "fp32", "device": "host",
       "provenance": "measured-host", "threads": 1, "seq_len": 32, "batch": 1,
       "latency_ms": {"unit": "ms", "n": 2, "mean": 1.0, "p50": 1.0, "p90": 1.1, "values": [1.0, 1.1]},
       "cpu_ms": None, "runner": {"name": "onnxruntime", "version": "1"}, "device_info": {"cpu": "x86"},
       "label": None, "timestamp": "2026-12-05T00:00:00+00:00", "artefact_sha256": "0" * 64, "extra": {}}


def _result_rows(materials: Materials) -> st.SearchStrategy:
    return st.lists(st.tuples(st.sampled_from(paths_of(ROW)), st.one_of(HOSTILE, st.just(GONE))),
                    min_size=1, max_size=3)


def _report_rows(scene: Scene, changes) -> list[str]:
    bundle = scene.bundle()
    lines = [json.dumps(replaced(ROW, path, value)) for path, value in changes]
    (bundle / "results.jsonl").write_text("\n".join(lines) + "\n")
    return ["report", str(bundle), "--out", str(scene.root / "report")]


def _bundle_links(materials: Materials) -> st.SearchStrategy:
    bundle = materials.bundle()
    members = sorted(str(p.relative_to(bundle)) for p in bundle.rglob("*")
                     if p.is_file() and not p.name.startswith("."))
    return st.tuples(st.sampled_from(members), st.sampled_from(["outside", "dev-zero", "fifo", "absolute"]),
                     st.sampled_from(["profile", "report", "eval", "tokenizer-vectors"]))


def _linked_member(scene: Scene, drawn) -> list[str]:
    """One member of a bundle swapped for something outside it: the command must refuse the bundle."""
    name, kind, command = drawn
    bundle = scene.bundle()
    member = bundle / name
    if kind == "outside":
        _link(member, scene.file("outside", member.read_bytes()))
        if name.endswith((".onnx", ".tflite")):  # the hash gate alone would pass it
            from test_faults import _rehash

            _rehash(bundle, name)
    elif kind == "dev-zero":
        _link(member, "/dev/zero")
    elif kind == "fifo":
        _fifo(member)
    else:
        _link(member, scene.file("outside", member.read_bytes()).resolve())
    if command == "report":
        return ["report", str(bundle), "--out", str(scene.root / "report")]
    if command == "eval":
        return ["eval", str(bundle), "--data", str(scene.file("ok.tsv", "good film\t1\n"))]
    if command == "tokenizer-vectors":
        return ["tokenizer-vectors", str(bundle), "--out", str(scene.root / "vectors.jsonl"), "--count", "5"]
    return scene.profile(bundle, "--artefact", "onnx-fp32")


LINE = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


def _texts(materials: Materials) -> st.SearchStrategy:
    return st.tuples(st.lists(LINE, min_size=0, max_size=70), st.sampled_from(["\n", "\r\n", "\f", "\x00", "\u2028"]))


def _export_parity(scene: Scene, drawn) -> list[str]:
    lines, separator = drawn
    path = scene.file("parity.txt", separator.join(lines))
    _user_out(scene)
    return scene.export("--recipe", str(TINY), "--parity-text", str(path))


def _labelled(materials: Materials) -> st.SearchStrategy:
    row = st.tuples(LINE, st.one_of(st.integers(-2, 3), st.text(max_size=3), st.booleans(), st.none()))
    return st.tuples(st.lists(row, max_size=8), st.sampled_from([".tsv", ".jsonl"]), st.booleans())


def _export_labelled(scene: Scene, drawn) -> list[str]:
    rows, suffix, pairs = drawn
    if suffix == ".tsv":
        text = "".join(f"{s}\t{s}\t{label}\n" if pairs else f"{s}\t{label}\n" for s, label in rows)
    else:
        text = "".join(json.dumps({"sentence": s, **({"sentence2": s} if pairs else {}), "label": label}) + "\n"
                       for s, label in rows)
    path = scene.file(f"data{suffix}", text)
    _user_out(scene)
    return scene.export("--recipe", str(CLASSIFIER), "--eval-data", str(path))


CONFIG_FIELDS = ("num_hidden_layers", "hidden_size", "intermediate_size", "vocab_size", "max_position_embeddings",
                 "type_vocab_size")


def _mutations(materials: Materials) -> st.SearchStrategy:
    from safetensors import safe_open

    with safe_open(materials.checkpoint() / "model.safetensors", framework="numpy") as fh:
        keys = sorted(fh.keys())
    needed = [k for k in keys if not k.startswith("pooler.")]  # an encoder never reads the pooler
    return st.one_of(
        st.tuples(st.just("drop"), st.sampled_from(needed)),
        st.tuples(st.just("extra"), st.sampled_from([*keys, "encoder.layer.2.output.dense.weight", "cls.bias",
                                                     "pooler.extra"])),
        st.tuples(st.just("reshape"), st.sampled_from(keys), st.sampled_from([-1, 1, 7])),
        st.tuples(st.just("config"), st.sampled_from(CONFIG_FIELDS), st.sampled_from([-1, 1])),
    )


def _mutated_checkpoint(scene: Scene, mutation) -> list[str]:
    """The tiny checkpoint with one mutation: every one breaks the weights' agreement with config.json."""
    import numpy as np
    from safetensors.numpy import load_file, save_file

    path = scene.checkpoint()
    tensors = load_file(path / "model.safetensors")
    kind, key = mutation[:2]
    if kind == "drop":
        del tensors[key]
    elif kind == "extra":
        tensors[f"{key}.copy" if key in tensors else key] = np.zeros(3, dtype=np.float32)
    elif kind == "reshape":
        shape = list(tensors[key].shape)
        shape[0] = max(shape[0] + mutation[2], 1)
        tensors[key] = np.zeros(shape, dtype=np.float32)
    if kind == "config":
        config = json.loads((path / "config.json").read_text())
        config[key] += mutation[2]
        (path / "config.json").write_text(json.dumps(config))
    else:
        save_file(tensors, path / "model.safetensors", metadata={"format": "pt"})
    return scene.export("--recipe", str(TINY), "--checkpoint", str(path))


# Recipes the families above do not start from: the other formats, heads and architectures. A
# draw replaces one of their fields; valid draws export for real into a fresh --out.
RECIPE_SHAPES = {
    "executorch": {"formats": ["executorch"], "variants": ["fp32"]},  # one lowering: the slowest format to build
    "token-classifier": {"head": "token-classifier", "num_labels": 3},
    "fill-mask": {"head": "fill-mask", "variants": ["fp32"]},
    "question-answering": {"head": "question-answering", "variants": ["fp32"]},
    **{arch: {"checkpoint": {**TINY_RECIPE["checkpoint"], "architecture": arch}}
       for arch in ("albert", "deberta-v2", "modernbert", "xlm-roberta")},
    # DeFormer through a non-BERT class: its own per-layer inputs (rotary tables, sliding windows)
    "deformer-modernbert": {"checkpoint": {**TINY_RECIPE["checkpoint"], "architecture": "modernbert"},
                            "head": "classifier", "num_labels": 2, "variants": ["fp32"],
                            "decompose": {"lower_layers": 1, "question_len": 12}},
}


def _shaped_fields(materials: Materials) -> st.SearchStrategy:
    def fields(shape: str) -> st.SearchStrategy:
        recipe = {**TINY_RECIPE, **RECIPE_SHAPES[shape]}
        paths = [p for p in paths_of(recipe) if p != ("name",)]
        return st.tuples(st.just(shape), st.sampled_from(paths), st.one_of(HOSTILE, st.just(GONE)))

    return st.sampled_from(sorted(RECIPE_SHAPES)).flatmap(fields)


def _export_shaped(scene: Scene, drawn) -> list[str]:
    shape, path, value = drawn
    recipe = replaced({**TINY_RECIPE, **RECIPE_SHAPES[shape], "name": "bad"}, path, value)
    return scene.export("--recipe", str(scene.file("bad.yaml", yaml.safe_dump(recipe))))


def _student_recipe(teacher: Path, student: Path) -> dict:
    """A wrs student of another architecture, distilled for two seconds from the tiny random teacher."""
    return {"name": "bad", "description": "a student",
            "checkpoint": {"source": "hf-dir", "architecture": "albert", "path": str(student)},
            "compress": {"method": "wrs", "teacher": str(teacher), "budget_s": 2, "epochs": 1, "batch": 8,
                         "max_len": 16, "lr": 1e-3,
                         "options": {"architecture": "albert", "layers": 1, "hidden": 32, "embedding_size": 16}},
            "head": "classifier", "seq_len": 32, "formats": ["onnx"], "variants": ["fp32"]}


ARCHITECTURE_NAMES = st.sampled_from(["bert", "distilbert", "roberta", "electra", "albert", "deberta-v2",
                                      "modernbert", "mobilebert", "xlm-roberta", "gpt2", "Albert", ""])


# teacher class -> the head its checkpoint has (BertModel: none, so any head's recipe may read it)
TEACHER_HEADS = {"BertForSequenceClassification": "classifier", "BertForTokenClassification": "token-classifier",
                 "BertForQuestionAnswering": "question-answering", "BertForMaskedLM": "fill-mask", "BertModel": None}


STUDENT_OPTIONS = {"pkd": {"layers": 1}, "magnitude": {"sparsity": 0.5}, "rpp": {"sparsity": 0.5}}


def _refused_student(drawn) -> bool:
    """A (head, teacher class, method) compress must refuse: fill-mask, a method without that head, or a
    teacher of another head (a valid one would train a student on a whole task: not a fault, and minutes)."""
    from mobilecomp.compress import METHODS

    _, head, teacher, method = drawn
    return head == "fill-mask" or head not in METHODS[method].heads or TEACHER_HEADS[teacher] not in (None, head)


def _compress_fields(materials: Materials) -> st.SearchStrategy:
    from mobilecomp.compress import METHODS
    from mobilecomp.load.heads import HEADS

    sample = _student_recipe(Path("teacher"), Path("student"))
    paths = [p for p in paths_of(sample, depth=3) if p[0] in ("compress", "checkpoint")]
    named = [("compress", "options", "architecture"), ("checkpoint", "architecture")]
    heads = st.tuples(st.just("head"), st.sampled_from(sorted(HEADS)), st.sampled_from(sorted(TEACHER_HEADS)),
                      st.sampled_from(sorted(METHODS))).filter(_refused_student)
    return st.one_of(st.tuples(st.sampled_from(named), ARCHITECTURE_NAMES),
                     st.tuples(st.sampled_from(paths), st.one_of(HOSTILE, st.just(GONE))), heads)


def _compress_student(scene: Scene, drawn) -> list[str]:
    if drawn[0] == "head":  # a student of another head: the recipe's head, the teacher's class, the method
        _, head, teacher_class, method = drawn
        recipe = {**_student_recipe(scene.checkpoint(teacher_class), scene.root / "student"), "head": head}
        recipe["compress"] = {**recipe["compress"], "method": method}
        if method != "wrs":  # valid options of the method, so the head or the teacher is what is refused
            recipe["compress"]["options"] = STUDENT_OPTIONS.get(method, {})
            recipe["checkpoint"]["architecture"] = "bert"
        return ["compress", "--recipe", str(scene.file("bad.yaml", yaml.safe_dump(recipe)))]
    path, value = drawn
    teacher = scene.checkpoint("BertForSequenceClassification")
    recipe = replaced(_student_recipe(teacher, scene.root / "student"), path, value)
    return ["compress", "--recipe", str(scene.file("bad.yaml", yaml.safe_dump(recipe)))]


# fp32 only: a random head's int8 may fail its gate, which is a result (a bundle that says so), not a fault
HEAD_RECIPES = {"BertForTokenClassification": {"head": "token-classifier", "variants": ["fp32"]},
                "BertForMaskedLM": {"head": "fill-mask", "variants": ["fp32"]},
                "BertForSequenceClassification": {"head": "classifier", "variants": ["fp32"]},
                "BertForQuestionAnswering": {"head": "question-answering", "variants": ["fp32"]}}
HEAD_CONFIG = st.sampled_from(["num_labels", "id2label", "label2id", "architectures", "vocab_size",
                               "tie_word_embeddings", "problem_type"])


def _head_checkpoints(materials: Materials) -> st.SearchStrategy:
    from safetensors import safe_open

    def mutations(cls_name: str) -> st.SearchStrategy:
        with safe_open(materials.checkpoint_with_head(cls_name) / "model.safetensors", framework="numpy") as fh:
            head_keys = sorted(k for k in fh.keys() if not k.startswith(("bert.embeddings", "bert.encoder")))
        tensors = st.tuples(st.sampled_from(["drop", "reshape"]), st.sampled_from(head_keys))
        config = st.tuples(st.just("config"), HEAD_CONFIG, st.one_of(HOSTILE, st.just(GONE)))
        return st.tuples(st.just(cls_name), st.one_of(tensors, config))

    return st.sampled_from(sorted(HEAD_RECIPES)).flatmap(mutations)


def _mutated_head(scene: Scene, drawn) -> list[str]:
    """A task-head checkpoint with one head tensor dropped or reshaped, or one config.json field replaced."""
    import numpy as np
    from safetensors.numpy import load_file, save_file

    cls_name, (kind, key, *value) = drawn
    path = scene.checkpoint(cls_name)
    if kind == "config":
        config = json.loads((path / "config.json").read_text())
        if value[0] is GONE:
            config.pop(key, None)
        else:
            config[key] = value[0]
        (path / "config.json").write_text(json.dumps(config))
    else:
        tensors = load_file(path / "model.safetensors")
        if kind == "drop":
            del tensors[key]
        else:
            tensors[key] = np.zeros([tensors[key].shape[0] + 1, *tensors[key].shape[1:]], dtype=np.float32)
        save_file(tensors, path / "model.safetensors", metadata={"format": "pt"})
    recipe = scene.recipe(**HEAD_RECIPES[cls_name])
    return scene.export("--recipe", str(recipe), "--checkpoint", str(path))


def _tokenizer_json(materials: Materials) -> dict:
    path = materials.root / "tokenizer.json"
    if not path.exists():
        from transformers import AutoTokenizer

        AutoTokenizer.from_pretrained(materials.checkpoint()).save_pretrained(materials.root / "tok")
        path.write_bytes((materials.root / "tok" / "tokenizer.json").read_bytes())
    return json.loads(path.read_text())


def _tokenizer_fields(materials: Materials) -> st.SearchStrategy:
    data = _tokenizer_json(materials)
    assert len(data["model"]["vocab"]) == 4928  # the checkpoint's own vocabulary, not a stub
    paths = [p for p in paths_of(data, depth=3) if p[:2] != ("model", "vocab") or len(p) == 2]
    kinds = st.sampled_from(["BPE", "Unigram", "WordLevel", "WordPiece", "ByteLevel", "Sequence", "Precompiled"])
    return st.tuples(st.sampled_from(paths), st.one_of(HOSTILE, kinds, st.just(GONE)))


def _export_tokenizer(scene: Scene, drawn) -> list[str]:
    """The checkpoint's tokenizer.json with one field (3 levels deep, not the vocabulary's entries)
    replaced by any value or another component's type, or removed."""
    path, value = drawn
    checkpoint = scene.checkpoint()
    data = replaced(_tokenizer_json(scene.materials), path, value)
    (checkpoint / "tokenizer.json").write_text(json.dumps(data))
    return scene.export("--recipe", str(TINY), "--checkpoint", str(checkpoint))


RUNNER_FILES = ("none", "missing", "script", "bytes", "directory", "fifo", "elf-aarch64", "elf-x86_64")


def _runner_choices(materials: Materials) -> st.SearchStrategy:
    from mobilecomp.profile.adb.runners import RUNNERS

    names = st.one_of(st.sampled_from(sorted(RUNNERS)), st.sampled_from(["app", ""]), st.text(max_size=12))
    return st.tuples(names, st.sampled_from(RUNNER_FILES), st.binary(max_size=200))


def _elf(machine: int, tail: bytes) -> bytes:
    """A 64-bit little-endian ELF header naming ``machine`` (0xB7 aarch64, 0x3E x86_64), then ``tail``."""
    return b"\x7fELF\x02\x01\x01" + bytes(11) + machine.to_bytes(2, "little") + bytes(44) + tail


def _profile_runner(scene: Scene, drawn) -> list[str]:
    """`profile --device adb --runner NAME[=PATH]` on a loopback phone, PATH any kind of file or none."""
    name, kind, blob = drawn
    bundle = scene.root / "bundle-copy"
    shutil.copytree(scene.materials.pte_bundle(), bundle)
    try:
        _adb_server(scene)
    except Unavailable as exc:
        pytest.skip(str(exc))
    _, port, _ = _phone(scene)
    path = scene.root / "runner" / "prog"
    if kind == "script":
        scene.file("runner/prog", b"#!/bin/sh\necho Iteration 1 of 1: 1.0 ms\nexit 3\n" + blob).chmod(0o755)
    elif kind == "bytes":
        scene.file("runner/prog", blob).chmod(0o755)
    elif kind == "directory":
        path.mkdir(parents=True)
    elif kind == "fifo":
        _fifo(path)
    elif kind.startswith("elf-"):
        scene.file("runner/prog", _elf(0xB7 if kind == "elf-aarch64" else 0x3E, blob)).chmod(0o755)
    value = name if kind == "none" else f"{name}={path}"
    return scene.profile(bundle, "--device", "adb", "--connect", f"127.0.0.1:{port}", "--runner", value)


FAMILIES = [
    Family("recipe-fields", "recipe", "the tiny recipe with any field replaced by any value, or removed",
           _recipe_fields, _export_recipe, (C, K, B), examples=40),
    Family("recipe-bytes", "recipe", "random bytes, random text, or the recipe cut anywhere",
           _recipe_bytes, _export_recipe_bytes, (C, B), examples=25),
    Family("manifest-fields", "bundle", "a bundle's manifest with any field (4 levels deep) replaced or removed, "
           "then profile, report or tokenizer-vectors", _manifest_fields, _tampered_manifest, (B, T, D, V, C),
           may_succeed=True, examples=40),
    Family("result-rows", "bundle", "results.jsonl rows with any field replaced or removed, then report",
           _result_rows, _report_rows, (B,), may_succeed=True, examples=25),
    Family("bundle-links", "containment", "one bundle member swapped for a link outside, to /dev/zero, an absolute "
           "link or a FIFO, then profile, report, eval or tokenizer-vectors", _bundle_links, _linked_member, (B, C),
           examples=30),
    Family("parity-text", "parity text", "up to 70 lines of any Unicode, joined by newlines, CRLF, form feeds, NUL "
           "or U+2028", _texts, _export_parity, (D, B), examples=25),
    Family("eval-files", "eval data", "labelled .tsv/.jsonl rows of any text and any label, single or pairs",
           _labelled, _export_labelled, (D, B, C), examples=25),
    Family("checkpoint-mutations", "checkpoint", "the tiny checkpoint with a tensor dropped, added or reshaped, or a "
           "config.json size off by one", _mutations, _mutated_checkpoint, (K, C), examples=25),
    Family("recipe-shapes", "recipe", "an ExecuTorch, token-classifier, fill-mask, question-answering, ALBERT, "
           "DeBERTa-v2, ModernBERT, XLM-R or ModernBERT DeFormer recipe with any field replaced by any value, or removed", _shaped_fields, _export_shaped, (C, K, B, T),
           may_succeed=True, examples=30),
    Family("compress-options", "recipe", "a wrs student recipe with any compress or checkpoint field replaced by any "
           "value or architecture name, or removed; or a student of a head its method, its teacher or no teacher "
           "here can train", _compress_fields, _compress_student, (C, K, B, D),
           may_succeed=True, examples=20),
    Family("head-checkpoints", "checkpoint", "a token-classification, masked-LM, sequence-classification or question-"
           "answering checkpoint with a head tensor dropped or reshaped, or a config.json field replaced or removed",
           _head_checkpoints, _mutated_head, (K, C), may_succeed=True, examples=20),
    Family("tokenizer-files", "checkpoint", "the checkpoint's tokenizer.json with any field replaced by any value or "
           "another component type, or removed", _tokenizer_fields, _export_tokenizer, (K, C, D),
           may_succeed=True, examples=20),
    Family("adb-runners", "device", "profile --device adb --runner NAME[=PATH] on a bundle with ONNX and ExecuTorch "
           "artefacts: any runner name or text, PATH missing, a directory, a FIFO, a script, random bytes, or an ELF "
           "header of either CPU", _runner_choices, _profile_runner, (V, C, B, T), may_succeed=True, examples=20),
]


@pytest.fixture(scope="module")
def materials(tmp_path_factory, tiny_bundle) -> Materials:
    return Materials(tmp_path_factory.mktemp("families"), bundle=tiny_bundle)


@pytest.mark.parametrize("family", FAMILIES, ids=[f.name for f in FAMILIES])
def test_family(family: Family, materials: Materials, tmp_path):
    @settings(max_examples=family.examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(family.draw(materials))
    def holds(drawn):
        outcome = run_family_case(family, materials, tmp_path, drawn)
        broken = verdict(family, outcome)
        assert not broken, f"{broken}: {drawn!r}\n{outcome.stderr[-2000:]}"

    holds()


def test_error_lines_name_the_file_or_field(materials, tmp_path):
    """The one line names where the fault is: the recipe file, or the field of a recipe it came from."""
    family = FAMILIES[0]

    @settings(max_examples=15, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(family.draw(materials))
    def names(drawn):
        outcome = run_family_case(family, materials, tmp_path, drawn)
        line = outcome.error_lines[0]
        field = str(drawn[0][-1])
        assert "bad.yaml" in line or "recipe bad" in line or field in line or "/out/bundle" in line, line

    names()


def test_a_family_fails_when_the_invariant_breaks(materials, tmp_path, monkeypatch):
    """The families can fail: with strict loading switched off, a checkpoint with an extra layer's
    tensors exports silently, and the checkpoint family must say so."""
    from mobilecomp import load

    monkeypatch.setattr(load, "_check_layers", lambda *a: None)
    monkeypatch.setattr(load, "_derivable", lambda *a: True)
    family = next(f for f in FAMILIES if f.name == "checkpoint-mutations")
    outcome = run_family_case(family, materials, tmp_path, ("extra", "encoder.layer.2.output.dense.weight"))
    assert verdict(family, outcome) == "accepted bad input"


# ---- in-process properties of the boundary readers -----------------------------------------------


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(st.lists(LINE, max_size=80), st.sampled_from(["\n", "\r\n", "\f", "\x00", "\u2028", "\x1c"]))
def test_parity_lines_are_newline_lines(tmp_path_factory, lines, separator):
    """A parity file is split on newlines only; what it keeps are its non-blank lines, none holding a
    control character, and at least 50 of them; otherwise one DataError naming the file."""
    from mobilecomp.errors import DataError
    from mobilecomp.text import CONTROL, MIN_USER_SENTENCES, parity_corpus

    path = tmp_path_factory.mktemp("parity") / "p.txt"
    path.write_text(separator.join(lines), encoding="utf-8", newline="")
    try:
        corpus = parity_corpus(str(path))
    except DataError as exc:
        assert str(path) in str(exc)
        return
    expected = [ln.strip() for ln in path.read_text(encoding="utf-8").replace("\r\n", "\n").split("\n") if ln.strip()]
    assert list(corpus.sentences) == expected and len(expected) >= MIN_USER_SENTENCES
    assert not any(ch in CONTROL for s in corpus.sentences for ch in s)


@settings(max_examples=150, deadline=None, database=None, derandomize=True)
@given(st.lists(LINE, min_size=1, max_size=10))
def test_kept_sentences_hold_a_real_token(lines):
    """check_tokens lets a sentence through only when a token that is not special survives."""
    from mobilecomp.errors import DataError
    from mobilecomp.inputs import check_tokens
    from mobilecomp.load import _tokenizer, tokenizer_dir

    tokenizer = _tokenizer(tokenizer_dir("wordpiece-4928"))
    try:
        check_tokens(tokenizer, lines, "p.txt")
    except DataError as exc:
        assert "p.txt: sentence" in str(exc)
        return
    special = set(tokenizer.all_special_ids)
    for line in lines:
        assert set(tokenizer(line, add_special_tokens=False)["input_ids"]) - special


DEVICE = yaml.safe_load((Path(__file__).parent.parent / "devices" / "pixel-4.yaml").read_text())


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(st.sampled_from(paths_of({**DEVICE, "name": "phone"})), st.one_of(HOSTILE, st.just(GONE)))
def test_device_profiles_are_refused_or_physical(tmp_path_factory, path, value):
    """A device profile loads only with positive clocks, core counts, threads and bandwidth; anything
    else is one ConfigError naming the file."""
    from mobilecomp.devices import load_device
    from mobilecomp.errors import ConfigError

    file = tmp_path_factory.mktemp("device") / "phone.yaml"
    file.write_text(yaml.safe_dump(replaced({**DEVICE, "name": "phone"}, path, value)))
    try:
        profile = load_device(str(file))
    except ConfigError as exc:
        assert str(file) in str(exc)
        return
    assert all(c.count >= 1 and c.max_ghz > 0 for c in profile.clusters)
    assert 1 <= profile.threads <= sum(c.count for c in profile.clusters)
    assert profile.dram_gbps is None or profile.dram_gbps > 0


@settings(max_examples=150, deadline=None, database=None, derandomize=True)
@given(st.lists(st.tuples(LINE, st.one_of(st.integers(-3, 4), st.text(max_size=3), st.none(), st.booleans())),
                max_size=6), st.sampled_from([".tsv", ".jsonl"]), st.sampled_from(["\n", "\f", "\r\n"]))
def test_labelled_files_are_refused_or_in_range(tmp_path_factory, rows, suffix, newline):
    from mobilecomp.errors import DataError
    from mobilecomp.verify.accuracy import read_labelled

    path = tmp_path_factory.mktemp("eval") / f"d{suffix}"
    if suffix == ".tsv":
        text = newline.join(f"{s}\t{label}" for s, label in rows)
    else:
        text = newline.join(json.dumps({"sentence": s, "label": label}) for s, label in rows)
    path.write_text(text, encoding="utf-8", newline="")
    try:
        data = read_labelled(path, 3)
    except DataError as exc:
        assert str(path) in str(exc) or path.name in str(exc)
        return
    assert data.labels and all(isinstance(v, int) and 0 <= v < 3 for v in data.labels)
    assert len(data.sentences) == len(data.labels) <= len(rows)


def test_error_text_is_one_line(materials, tmp_path):
    """No family's error carries a newline of its own (a multi-line message reads as two errors)."""
    outcome = run_family_case(FAMILIES[1], materials, tmp_path, "name: x\nformats: [onnx\n")
    assert len([ln for ln in outcome.stderr.splitlines() if ln.strip()]) == 1
    assert outcome.stderr.startswith(ERROR)


# ---- real processes: signals at random points, racing writers ------------------------------------


def _cli(*args: str, cwd: Path | None = None):
    import os
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-m", "mobilecomp", *args], cwd=cwd, env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _whole_or_nothing(out: Path, code: int, stderr: str) -> None:
    """After an export ends, --out is a whole bundle (exit 0) or absent (one error line), with no
    temporary directory and no lock left beside it."""
    from mobilecomp.bundle import PARTIAL_PREFIX, check_runnable, read_manifest

    assert "Traceback" not in stderr, stderr
    if code == 0:
        check_runnable(out, read_manifest(out)["artefacts"])
    else:
        assert len([ln for ln in stderr.splitlines() if ln.startswith(ERROR)]) == 1, stderr
        assert not out.exists(), stderr
    assert not list(out.parent.glob(f"{PARTIAL_PREFIX}*")) and not list(out.parent.glob(".*-lock"))


def test_signals_at_random_points(tmp_path):
    """SIGINT or SIGTERM at a random moment of an export (seeded): a whole bundle or nothing."""
    import random
    import signal
    import time

    rng = random.Random(23)
    for i in range(3):
        out = tmp_path / f"run{i}" / "bundle"
        out.parent.mkdir()
        proc = _cli("export", "--recipe", str(TINY), "--out", str(out))
        time.sleep(rng.uniform(2.0, 9.0))  # from import through loading, export, quantising, parity
        signum = rng.choice([signal.SIGINT, signal.SIGTERM])
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=300)
        # -signum: it landed after the command had finished and restored the default handler
        assert proc.returncode in (0, 128 + signum, -signum), stderr
        _whole_or_nothing(out, 0 if proc.returncode == -signum else proc.returncode, stderr)
        chatter = [ln for ln in stderr.splitlines() if not ln.startswith(("  ", ERROR))]
        assert not chatter, stderr  # mobilecomp's own log lines and its error line only: no toolchain noise


def test_racing_exports_leave_one_whole_bundle(tmp_path):
    """Two exports into one --out, neither with --force: one bundle, the other one line, nothing replaced."""
    out = tmp_path / "bundle"
    procs = [_cli("export", "--recipe", str(TINY), "--out", str(out)) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 5], results
    loser = next(err for code, err in results if code == 5)
    assert len([ln for ln in loser.splitlines() if ln.startswith(ERROR)]) == 1
    assert "another mobilecomp is exporting" in loser or "already exists" in loser or "appeared" in loser, loser
    _whole_or_nothing(out, 0, "")


def test_a_bundle_in_use_is_neither_profiled_twice_nor_replaced(tiny_bundle, tmp_path):
    """While one profile writes into a bundle, a second profile and an export --force of it each get one
    line naming the holder; the first profile's rows all land."""
    import shutil
    import time

    from click.testing import CliRunner

    from mobilecomp.bundle import LOCK, read_results
    from mobilecomp.cli import main

    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle, ignore=shutil.ignore_patterns("results.*", "accuracy.jsonl"))
    first = _cli("profile", str(bundle), "--threads", "1", "--runs", "3000", "--warmup", "1")
    deadline = time.monotonic() + 120
    while not (bundle / LOCK).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (bundle / LOCK).exists(), first.stderr.read() if first.poll() is not None else "no lock"
    second = CliRunner().invoke(main, ["profile", str(bundle), "--threads", "1", "--runs", "20"])
    assert second.exit_code == 5 and "another mobilecomp is profiling" in second.stderr, second.stderr
    assert "pid" in second.stderr
    replace = CliRunner().invoke(main, ["export", "--recipe", str(TINY), "--out", str(bundle), "--force"])
    assert replace.exit_code == 5 and "another mobilecomp is" in replace.stderr, replace.stderr
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert {r["artefact"] for r in read_results(bundle)} == {"onnx-fp32", "onnx-int8-dynamic"}
    assert not (bundle / LOCK).exists()


def test_rows_that_cannot_be_saved_are_printed(tiny_bundle, tmp_path, monkeypatch):
    """A results file that cannot be replaced (here: the disk refuses the write) loses no measurement:
    the error line says so and the rows come out on stdout as JSON lines."""
    import errno
    import shutil

    from click.testing import CliRunner

    from mobilecomp import bundle as bundle_module
    from mobilecomp.cli import main

    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle, ignore=shutil.ignore_patterns("results.*", "accuracy.jsonl"))

    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(bundle_module, "write_atomic", full)
    result = CliRunner().invoke(main, ["profile", str(bundle), "--threads", "1", "--runs", "20", "--warmup", "1"])
    assert result.exit_code == 5 and "printed on stdout" in result.stderr, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["artefact"] for r in rows} == {"onnx-fp32", "onnx-int8-dynamic"}
    assert not (bundle / "results.jsonl").exists()
