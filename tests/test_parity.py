"""The parity gate: metrics are right, a damaged artefact fails, a failing budget fails the command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import numpy_helper

from mobilecomp.cli import main
from mobilecomp.inputs import encode
from mobilecomp.load import load_model
from mobilecomp.metrics import pairwise_similarity_spearman, row_cosines, spearman
from mobilecomp.text import parity_corpus
from mobilecomp.types import Budget
from mobilecomp.verify import artefact_outputs, check_parity, reference_outputs

DATA = Path(__file__).parent / "data"


def test_metrics_on_known_values():
    a = np.array([[1.0, 0.0], [0.0, 2.0]])
    b = np.array([[1.0, 1.0], [0.0, -3.0]])
    np.testing.assert_allclose(row_cosines(a, b), [1 / np.sqrt(2), -1.0])
    assert spearman(np.array([1.0, 2, 3, 4]), np.array([10.0, 20, 30, 40])) == pytest.approx(1.0)
    assert spearman(np.array([1.0, 2, 3, 4]), np.array([4.0, 3, 2, 1])) == pytest.approx(-1.0)
    x = np.random.default_rng(0).normal(size=(20, 8))
    assert pairwise_similarity_spearman(x, x * 3) == pytest.approx(1.0)


def test_parity_corpus_is_real_mixed_length_text():
    corpus = parity_corpus()
    assert len(corpus.sentences) >= 200
    lengths = [len(s.split()) for s in corpus.sentences]
    assert min(lengths) < 12 and max(lengths) >= 25
    assert len(set(corpus.sentences)) == len(corpus.sentences)
    assert all("/" not in s.split()[0] or "/" in s for s in corpus.sentences[:20])  # tags removed


def test_user_parity_text_must_be_real_size(tmp_path):
    short = tmp_path / "few.txt"
    short.write_text("one sentence\n" * 3)
    result = CliRunner().invoke(main, ["export", "--recipe", str(DATA / "tiny-bert.yaml"),
                                       "--parity-text", str(short), "--out", str(tmp_path / "o")])
    assert result.exit_code == 4 and "few.txt: 3 sentences" in result.stderr


def damage(src: Path, dst: Path, which: str) -> None:
    """Corrupt one weight the way a broken conversion would: ``which`` is "embeddings"
    (rows of the word table shuffled) or "ffn" (noise on a middle feed-forward output weight)."""
    model = onnx.load(str(src))
    inits = {init.name: init for init in model.graph.initializer}
    if which == "embeddings":
        node = next(n for n in model.graph.node if n.op_type == "Gather" and n.input[0] in inits)
        init = inits[node.input[0]]
        weights = numpy_helper.to_array(init)
        changed = weights[np.random.default_rng(0).permutation(len(weights))]
    else:
        nodes = [n for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in inits]
        init = inits[nodes[len(nodes) // 2].input[1]]
        weights = numpy_helper.to_array(init)
        changed = weights + np.random.default_rng(0).normal(0, 3 * weights.std(), weights.shape)
    init.CopyFrom(numpy_helper.from_array(changed.astype(weights.dtype), init.name))
    onnx.save(model, str(dst))


def test_damaged_artefact_fails_the_gate(tiny_bundle, tiny_recipe, tmp_path):
    model = load_model(tiny_recipe)
    feeds = encode(model.tokenizer, parity_corpus().sentences, model.input_names, tiny_recipe.seq_len)
    reference = reference_outputs(model, feeds)
    budget = Budget(cos_min=0.98, cos_mean=0.99, spearman=0.98)
    good = check_parity(reference, artefact_outputs("onnx", tiny_bundle / "model-fp32.onnx", feeds, model.output_names),
                        feeds, "sentence_embedding", "encoder", budget, "oanc")
    assert good.passed, good.failures
    damage(tiny_bundle / "model-fp32.onnx", tmp_path / "damaged.onnx", "embeddings")
    bad = check_parity(reference, artefact_outputs("onnx", tmp_path / "damaged.onnx", feeds, model.output_names),
                       feeds, "sentence_embedding", "encoder", budget, "oanc")
    assert not bad.passed
    assert any(f.startswith("cos_min") for f in bad.failures)


def test_over_budget_artefact_fails_the_command_but_is_recorded(tmp_path):
    recipe = (DATA / "tiny-bert.yaml").read_text().replace("name: tiny-bert", "name: strict")
    recipe += "parity:\n  int8-dynamic: {max_abs: 0.0}\n"
    path = tmp_path / "strict.yaml"
    path.write_text(recipe)
    out = tmp_path / "b"
    result = CliRunner().invoke(main, ["export", "--recipe", str(path), "--out", str(out)])
    assert result.exit_code == 6 and "onnx-int8-dynamic failed the parity, accuracy or lint gate" in result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    verdict = {a["name"]: a["passed"] for a in manifest["artefacts"]}
    assert verdict == {"onnx-fp32": True, "onnx-int8-dynamic": False}
    failed = next(a for a in manifest["artefacts"] if not a["passed"])
    assert failed["parity"]["failures"][0].startswith("max_abs")
    again = CliRunner().invoke(main, ["export", "--recipe", str(path), "--out", str(out), "--force", "--allow-fail"])
    assert again.exit_code == 0
