"""Task accuracy: labelled-data reading, scores, and the max_accuracy_drop gate on a real
(quickly fine-tuned) MiniLM classifier."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import numpy_helper

from mobilecomp.cli import main
from mobilecomp.errors import DataError
from mobilecomp.verify.accuracy import read_labelled, scores

ROOT = Path(__file__).resolve().parent.parent


def test_tsv_with_header_and_pairs(tmp_path):
    f = tmp_path / "d.tsv"
    f.write_text("sentence\tsentence2\tlabel\na cat\ta dog\t1\nrain\tsun\t0\n")
    data = read_labelled(f, 2)
    assert data.sentences == ("a cat", "rain") and data.pairs == ("a dog", "sun") and data.labels == (1, 0)


def test_jsonl(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_text('{"sentence": "good", "label": 1}\n{"sentence": "bad", "label": 0}\n')
    assert read_labelled(f, 2).labels == (1, 0)


@pytest.mark.parametrize("name, text, message", [
    ("a.tsv", "x\t2\n", "labels must be integers 0..1"),
    ("b.tsv", "x\t1\ny\tz\t0\n", "some examples have a second sentence"),
    ("c.tsv", "x\t1\ny\tmaybe\n", "label .maybe. is not an integer"),
    ("d.jsonl", '{"text": "x", "label": 1}\n', "expected keys sentence"),
    ("e.jsonl", "{oops\n", "not valid JSON"),
])
def test_bad_labelled_data_is_one_line(tmp_path, name, text, message):
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(DataError, match=message) as err:
        read_labelled(f, 2)
    assert name in str(err.value) and "\n" not in str(err.value)


def test_scores():
    logits = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    result = scores(logits, (1, 0, 0, 1))
    assert result["accuracy"] == 50.0
    assert result["f1"] == pytest.approx(50.0)  # tp 1, fp 1, fn 1


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """MiniLM cut to 2 layers with a head trained on 800 Pang & Lee snippets (a linear probe:
    seconds; full fine-tuning takes minutes)."""
    work = tmp_path_factory.mktemp("clf")
    subprocess.run([sys.executable, str(ROOT / "examples" / "finetune_polarity.py"), "--keep-layers", "2",
                    "--limit", "800", "--probe", "--epochs", "4", "--out", str(work / "model"), "--split-dir", str(work / "split")],
                   check=True, capture_output=True)
    test = (work / "split" / "test.tsv").read_text().splitlines()
    (work / "eval.tsv").write_text("\n".join(test[:201]) + "\n")  # header + 200 held-out examples
    return work


def _flip_classifier(src: Path, dst: Path, ctx) -> dict:
    """A destroyed artefact: the classifier's weights negated, so every prediction flips."""
    model = onnx.load(str(src))
    inits = {i.name: i for i in model.graph.initializer}
    last = [n for n in model.graph.node if n.op_type in ("MatMul", "Gemm") and n.input[1] in inits][-1]
    weight = inits[last.input[1]]
    weight.CopyFrom(numpy_helper.from_array(-numpy_helper.to_array(weight), weight.name))
    onnx.save(model, str(dst))
    return {"destroyed": "classifier negated"}


def test_accuracy_gate_fails_a_destroyed_artefact(classifier, tmp_path, monkeypatch):
    from mobilecomp import quantise
    from mobilecomp.pipeline import export_bundle
    from mobilecomp.recipe import load_recipe

    card = json.loads((classifier / "model" / "mobilecomp_finetune.json").read_text())
    assert card["test_accuracy"] > 58, card  # it learned something real (chance is 50)
    base = quantise.VARIANTS["onnx"]["int8-dynamic"]
    monkeypatch.setitem(quantise.VARIANTS["onnx"], "int8-dynamic", replace(base, build=_flip_classifier))
    shipped = load_recipe("minilm-l6-polarity-int8")
    recipe = replace(shipped, variants=("fp32", "int8-dynamic"), seq_len=48,
                     parity={"int8-dynamic": shipped.parity["int8-dynamic"]})
    result = export_bundle(recipe, tmp_path / "b", checkpoint=str(classifier / "model"),
                           eval_data=str(classifier / "eval.tsv"))
    arts = {a.variant: a for a in result.manifest.artefacts}
    assert arts["fp32"].accuracy.passed and abs(arts["fp32"].accuracy.drop_points) < 0.01
    destroyed = arts["int8-dynamic"].accuracy
    assert not destroyed.passed and destroyed.drop_points > 10
    assert destroyed.failures[0].startswith("accuracy drop")
    assert result.failed == ["onnx-int8-dynamic"]
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["eval_data"]["examples"] == 200
    assert manifest["artefacts"][1]["accuracy"]["passed"] is False

    # The same verdict from `mobilecomp eval` on the written bundle, rows appended.
    run = CliRunner().invoke(main, ["eval", str(tmp_path / "b"), "--data", str(classifier / "eval.tsv")])
    assert run.exit_code == 6 and "onnx-int8-dynamic lost more accuracy" in run.stderr
    rows = [json.loads(x) for x in (tmp_path / "b" / "accuracy.jsonl").read_text().splitlines()]
    assert [r["artefact"] for r in rows] == ["pytorch-source", "onnx-fp32", "onnx-int8-dynamic"]
    assert rows[1]["accuracy"] == pytest.approx(rows[0]["accuracy"])
    assert rows[2]["passed"] is False and rows[0]["provenance"] == "measured-host"
    assert rows[0]["runner"]["name"] == "torch" and rows[1]["runner"]["name"] == "onnxruntime"


def test_eval_data_needs_a_classifier(tmp_path):
    f = tmp_path / "d.tsv"
    f.write_text("good\t1\n")
    result = CliRunner().invoke(main, ["export", "--recipe", "minilm-l6-int8", "--eval-data", str(f),
                                       "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "needs a classifier recipe" in result.stderr
