"""The compression stage: every registered method trains a tiny student from a real (2-layer,
probe-trained) MiniLM teacher in seconds; one student goes on through export, parity and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from mobilecomp.cli import main
from mobilecomp.compress import CARD, LOSS_LOG, METHODS, compress
from mobilecomp.recipe import load_recipe

# Each registered method with options small enough for seconds (a guard below fails for a new
# method without an entry here).
TINY_OPTIONS = {
    "pkd": {"layers": 1, "pick": "skip"},
    "magnitude": {"sparsity": 0.5},
    "rpp": {"sparsity": 0.5},
    "deformer": {},
    "wrs": {"layers": 1, "hidden": 32},
    "dualtrain": {"hidden": 32, "layers": 2, "heads": 1, "intermediate": 64},
}


@pytest.fixture(scope="module")
def teacher(classifier) -> Path:
    """conftest's MiniLM cut to 2 layers with a probe-trained polarity head (model/, eval.tsv): a real teacher."""
    return classifier


def student_recipe(directory: Path, teacher: Path, method: str, options: dict, **compress_fields) -> Path:
    name = f"tiny-{method}"
    data = {"name": name, "description": f"tiny {method} student",
            "checkpoint": {"source": "hf-dir", "architecture": "bert", "path": str(directory / "student")},
            "compress": {"method": method, "teacher": str(teacher / "model"), "options": options,
                         "budget_s": 60, "epochs": 2, "batch": 16, "max_len": 32, "lr": 1e-3, **compress_fields},
            "head": "classifier", "seq_len": 32, "formats": ["onnx"], "variants": ["fp32", "int8-dynamic"],
            "max_accuracy_drop": 5.0,
            "parity": {"int8-dynamic": {"cos_min": 0.9, "top1": 0.9}}}
    if method == "deformer":
        data["decompose"] = {"lower_layers": 1, "question_len": 8}
        data["variants"] = ["fp32", "int8-dynamic"]
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def losses(student: Path) -> list[dict]:
    return [json.loads(line) for line in (student / LOSS_LOG).read_text().splitlines()]


def test_every_method_has_a_tiny_run():
    assert set(TINY_OPTIONS) == set(METHODS)


@pytest.mark.parametrize("method", sorted(TINY_OPTIONS))
def test_method_trains_a_student(method, teacher, tmp_path):
    recipe = load_recipe(str(student_recipe(tmp_path, teacher, method, TINY_OPTIONS[method])))
    result = compress(recipe, limit=64)
    student = result.directory
    assert (student / "config.json").exists() and (student / "model.safetensors").exists()
    assert (student / "tokenizer.json").exists() or (student / "vocab.txt").exists()
    card = json.loads((student / CARD).read_text())
    assert card["method"] == method and card["compress"]["seed"] == 0
    assert 0 <= card["test_accuracy"] <= 100 and card["phases"]
    log = losses(student)
    assert log and all(row["loss"] == row["loss"] for row in log)  # finite, one row per step
    assert sum(p["steps"] for p in card["phases"]) == len(log)
    if method in ("magnitude", "rpp"):
        assert card["details"]["sparsity"] == pytest.approx(0.5, abs=0.01)
    if method == "pkd":
        assert card["params"] < card["teacher"]["params"]  # one of the teacher's two layers left


def test_tiny_student_end_to_end(teacher, tmp_path):
    """Trains (its loss falls), is reproducible, exports with parity and accuracy gates, and the
    report ranks it against its teacher."""
    recipe_path = student_recipe(tmp_path, teacher, "wrs", {"layers": 1, "hidden": 32, "pretrain_share": 0.3})
    run = CliRunner().invoke(main, ["compress", "--recipe", str(recipe_path), "--limit", "160"])
    assert run.exit_code == 0, run.output
    student = tmp_path / "student"
    task = [row["loss"] for row in losses(student) if row["phase"] == "task distillation"]
    assert len(task) >= 10 and sum(task[-3:]) / 3 < sum(task[:3]) / 3, task  # the loss falls

    again = compress(load_recipe(str(recipe_path)), out=tmp_path / "again", limit=160)
    assert (again.directory / "model.safetensors").read_bytes() == (student / "model.safetensors").read_bytes()

    refused = CliRunner().invoke(main, ["compress", "--recipe", str(recipe_path)])
    assert refused.exit_code != 0 and "already exists" in refused.output and "Traceback" not in refused.output

    export = CliRunner().invoke(main, ["export", "--recipe", str(recipe_path), "--out", str(tmp_path / "b"),
                                       "--eval-data", str(teacher / "eval.tsv")])
    assert export.exit_code == 0, export.output
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert all(a["parity"]["passed"] for a in manifest["artefacts"])
    assert all(a["accuracy"] is not None for a in manifest["artefacts"])

    teacher_yaml = tmp_path / "teacher.yaml"
    teacher_yaml.write_text(yaml.safe_dump({
        "name": "teacher", "description": "the tiny teacher",
        "checkpoint": {"source": "hf-dir", "architecture": "bert", "path": str(teacher / "model")},
        "head": "classifier", "seq_len": 32, "formats": ["onnx"], "variants": ["fp32"]}))
    assert CliRunner().invoke(main, ["export", "--recipe", str(teacher_yaml), "--out", str(tmp_path / "t"),
                                     "--eval-data", str(teacher / "eval.tsv")]).exit_code == 0
    for bundle in ("b", "t"):
        prof = CliRunner().invoke(main, ["profile", str(tmp_path / bundle), "--threads", "1", "--runs", "20"])
        assert prof.exit_code == 0, prof.output
    out = tmp_path / "rep"
    rep = CliRunner().invoke(main, ["report", str(tmp_path / "b"), str(tmp_path / "t"), "--y", "accuracy",
                                    "--max-accuracy-drop", "100", "--out", str(out)])
    assert rep.exit_code == 0, rep.output
    report = json.loads((out / "report.json").read_text())
    methods = {r["model"]: r["method"] for r in report["rows"]}
    assert methods == {"tiny-wrs": "wrs", "teacher": "teacher"}
    (best,) = report["best"]
    assert best["reference"] == "teacher:onnx-fp32"
    assert best["best"]["model"] == "tiny-wrs"  # 1x32 beats the 2x384 teacher on latency, inside the budget
    assert (out / "pareto-host-1T.png").exists()
    assert "Best model per device within 100 points of teacher:onnx-fp32" in (out / "report.md").read_text()


def test_bad_compress_input_is_one_line(teacher, tmp_path):
    no_section = CliRunner().invoke(main, ["compress", "--recipe", "minilm-l6-int8"])
    assert no_section.exit_code == 2 and "has no compress section" in no_section.output

    unknown = student_recipe(tmp_path, teacher, "no-such-method", {})
    run = CliRunner().invoke(main, ["compress", "--recipe", str(unknown)])
    assert run.exit_code == 2 and "compress.method 'no-such-method' is unknown (known: pkd," in run.output

    bad_option = student_recipe(tmp_path, teacher, "pkd", {"layer": 1})
    run = CliRunner().invoke(main, ["compress", "--recipe", str(bad_option)])
    assert run.exit_code == 2 and "unknown field 'layer'" in run.output

    missing = student_recipe(tmp_path, teacher / "nowhere", "wrs", TINY_OPTIONS["wrs"])
    run = CliRunner().invoke(main, ["compress", "--recipe", str(missing)])
    assert run.exit_code != 0 and "no teacher here" in run.output and "Traceback" not in run.output
    assert not (tmp_path / "student").exists()  # nothing that looks like a student was left


def test_teacher_outputs_do_not_spend_the_training_budget(teacher, tmp_path, monkeypatch):
    """The teacher's outputs on a cold cache are its work, cached on disk for the next student: the deadline
    moves by the time they took, so the first student after a new teacher keeps its whole training budget."""
    import time

    from mobilecomp.compress import CompressContext, _teacher
    from mobilecomp.compress.data import task_data
    from mobilecomp.compress.train import Trainer

    monkeypatch.setenv("MOBILECOMP_CACHE", str(tmp_path / "cache"))  # cold
    recipe = load_recipe(str(student_recipe(tmp_path, teacher, "wrs", TINY_OPTIONS["wrs"])))
    model, tokenizer, sha = _teacher(teacher / "model")
    trainer = Trainer(tmp_path / "loss.jsonl", time.monotonic() + 60)
    ctx = CompressContext(recipe, recipe.compress, model, tokenizer, sha, task_data(48), trainer, print)
    before, started = trainer.deadline, time.monotonic()
    targets = ctx.train_targets
    spent = time.monotonic() - started
    assert 0 < trainer.deadline - before <= spent and len(targets.logits) == 48
    assert list((tmp_path / "cache" / "teacher-outputs").glob("*.npz"))  # the next student reads them


def _random_teacher(directory: Path, config) -> Path:
    """A tiny random sequence classifier of another architecture with the shipped WordPiece vocabulary:
    the structure a truncation acts on (what it learns does not matter here)."""
    import shutil

    import torch
    import transformers

    from mobilecomp.load.architectures import ARCHITECTURES
    from mobilecomp.load.vocabs import vocab_dir

    torch.manual_seed(0)
    getattr(transformers, ARCHITECTURES[config.model_type].classifier_class)(config).save_pretrained(directory)
    for file in vocab_dir("wordpiece-4928").iterdir():
        shutil.copyfile(file, directory / file.name)
    return directory


def test_pkd_truncates_the_layers_of_any_architecture(tmp_path):
    """PKD finds the teacher's layers through its architecture class (DistilBERT's transformer.layer, not
    BERT's encoder.layer), and refuses a teacher whose layers are shared (ALBERT) in one line."""
    import transformers

    teacher = _random_teacher(tmp_path / "distilbert", transformers.DistilBertConfig(
        vocab_size=4928, dim=32, n_layers=3, n_heads=2, hidden_dim=64))
    recipe = student_recipe(tmp_path, teacher.parent, "pkd", {"layers": 1, "pick": "skip"}, budget_s=2)
    data = yaml.safe_load(recipe.read_text())
    data["compress"]["teacher"] = str(teacher)
    recipe.write_text(yaml.safe_dump(data))
    result = compress(load_recipe(str(recipe)), limit=32)
    config = json.loads((result.directory / "config.json").read_text())
    assert config["model_type"] == "distilbert" and config["n_layers"] == 1
    assert json.loads((result.directory / CARD).read_text())["details"]["teacher_layers_kept"] == [2]

    albert = _random_teacher(tmp_path / "albert", transformers.AlbertConfig(
        vocab_size=4928, embedding_size=16, hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
        intermediate_size=64))
    data["compress"]["teacher"] = str(albert)
    data["checkpoint"]["path"] = str(tmp_path / "albert-student")
    recipe.write_text(yaml.safe_dump(data))
    run = CliRunner().invoke(main, ["compress", "--recipe", str(recipe)])
    assert run.exit_code == 2 and "a albert teacher's are shared" in run.output and "Traceback" not in run.output
    assert not (tmp_path / "albert-student").exists()


# ---- students of the other heads: pkd from a real teacher of that head (conftest's 2-layer probes) ----

@pytest.fixture(scope="module")
def embedder(tmp_path_factory) -> Path:
    """all-MiniLM-L6-v2 cut to its lower 2 layers: a real encoder teacher (its sentence embeddings)."""
    import shutil

    from transformers import BertModel

    from mobilecomp.load.checkpoints import embedded_dir

    source, out = embedded_dir("all-minilm-l6-v2"), tmp_path_factory.mktemp("encoder") / "model"
    model = BertModel.from_pretrained(source, local_files_only=True)
    model.encoder.layer = model.encoder.layer[:2]
    model.config.num_hidden_layers = 2
    model.save_pretrained(out)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copyfile(source / name, out / name)
    return out


# head -> (the conftest fixture holding its teacher under model/, seq_len, the card's numbers and their range)
HEAD_STUDENTS = {
    "token-classifier": ("tagger", 48, {"accuracy": (0, 100)}),
    "question-answering": ("reader", 128, {"accuracy": (0, 100), "f1": (0, 100)}),
    "encoder": ("embedder", 48, {"cosine_to_teacher": (-1, 1)}),
}


def test_every_head_compress_trains_has_a_student_test():
    from mobilecomp.compress.objectives import NO_OBJECTIVE, OBJECTIVES
    from mobilecomp.load.heads import HEADS

    assert set(HEAD_STUDENTS) == set(OBJECTIVES) - {"classifier"}  # the classifier's: the tests above
    assert set(OBJECTIVES) | set(NO_OBJECTIVE) == set(HEADS)


def head_recipe(directory: Path, head: str, teacher: Path, seq_len: int, method: str = "pkd") -> Path:
    path = directory / f"tiny-{head}.yaml"
    path.write_text(yaml.safe_dump({
        "name": f"tiny-{head}", "description": f"tiny pkd {head} student",
        "checkpoint": {"source": "hf-dir", "architecture": "bert", "path": str(directory / "student")},
        "compress": {"method": method, "teacher": str(teacher), "options": {"layers": 1}, "budget_s": 5,
                     "epochs": 2, "batch": 16, "max_len": seq_len, "lr": 1e-3},
        "head": head, "seq_len": seq_len, "formats": ["onnx"], "variants": ["fp32"]}))
    return path


@pytest.mark.parametrize("head", sorted(HEAD_STUDENTS))
def test_pkd_trains_a_student_of_each_head(head, request, tmp_path):
    """From the real teacher of that head: a 1-layer student of the head's class whose card carries the
    head's held-out metric, and which exports through its recipe with fp32 parity."""
    import math

    import transformers

    from mobilecomp.load.architectures import ARCHITECTURES
    from mobilecomp.load.heads import HEADS

    fixture, seq_len, numbers = HEAD_STUDENTS[head]
    found = request.getfixturevalue(fixture)
    teacher = found / "model" if (found / "model").is_dir() else found
    recipe = head_recipe(tmp_path, head, teacher, seq_len)
    result = compress(load_recipe(str(recipe)), limit=32)
    card = json.loads((result.directory / CARD).read_text())
    assert card["head"] == head and card["metric"].startswith("held-out") and card["data"]["test"] == 32
    assert set(card["test"]) == set(numbers) == set(card["teacher"]["test"])
    for name, (low, high) in numbers.items():
        assert math.isfinite(card["test"][name]) and low <= card["test"][name] <= high, card["test"]
    cls = getattr(transformers, HEADS[head].model_class(ARCHITECTURES["bert"]))
    student = cls.from_pretrained(result.directory, local_files_only=True)
    assert type(student) is cls and student.config.num_hidden_layers == 1
    assert card["params"] < card["teacher"]["params"]

    run = CliRunner().invoke(main, ["export", "--recipe", str(recipe), "--out", str(tmp_path / "b")])
    assert run.exit_code == 0, run.output
    (artefact,) = json.loads((tmp_path / "b" / "manifest.json").read_text())["artefacts"]
    assert artefact["name"] == "onnx-fp32" and artefact["parity"]["passed"]


def test_compress_refuses_a_head_it_cannot_train(tagger, tmp_path):
    """A method that does not train the head, fill-mask (no trained masked-LM teacher) and a teacher of
    another head are each one line, before anything is written."""
    wrs = head_recipe(tmp_path, "token-classifier", tagger / "model", 48, method="wrs")
    run = CliRunner().invoke(main, ["compress", "--recipe", str(wrs)])
    assert run.exit_code == 2 and "compress.method wrs trains head classifier students, not head: token-classifier" \
        in run.output and "use pkd" in run.output

    fill = head_recipe(tmp_path, "fill-mask", tagger / "model", 48)
    run = CliRunner().invoke(main, ["compress", "--recipe", str(fill)])
    assert run.exit_code == 2 and "no trained masked-LM teacher exists here" in run.output

    wrong = head_recipe(tmp_path, "classifier", tagger / "model", 48)  # the POS tagger under a classifier recipe
    run = CliRunner().invoke(main, ["compress", "--recipe", str(wrong)])
    assert run.exit_code != 0 and "asks for head: classifier but the checkpoint has a token-classification head" \
        in run.output and "Traceback" not in run.output
    assert not (tmp_path / "student").exists()
