"""The real thing: all-MiniLM-L6-v2's trained weights through export, int8 and the parity gate."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mobilecomp.recipe import load_recipe
from mobilecomp.verify import artefact_outputs, check_parity, reference_outputs


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    from mobilecomp.pipeline import export_bundle

    recipe = replace(load_recipe("minilm-l6-int8"), variants=("fp32", "int8-dynamic"),
                     formats=("onnx",))
    return export_bundle(recipe, tmp_path_factory.mktemp("m") / "minilm")


def test_minilm_fp32_is_exact_and_int8_within_budget(minilm):
    arts = {a.variant: a for a in minilm.manifest.artefacts}
    assert minilm.manifest.checkpoint["trained"] is True
    assert minilm.manifest.checkpoint["sha256"].startswith("53aa5117")
    assert arts["fp32"].parity.max_abs < 1e-4 and arts["fp32"].parity.cos_min > 0.99999
    int8 = arts["int8-dynamic"].parity
    # Within its budget on every host (parity runs exact integer math), and visibly lossy on real
    # weights (random weights would show 0.9999).
    assert arts["int8-dynamic"].parity.passed and int8.cos_min >= int8.budget.cos_min, int8
    assert int8.cos_min < 0.999, int8
    assert int8.spearman > 0.98
    assert arts["int8-dynamic"].size_bytes < 0.3 * arts["fp32"].size_bytes


def test_damaged_minilm_fails_the_gate(minilm, tmp_path):
    from test_parity import damage

    from mobilecomp.inputs import encode
    from mobilecomp.load import load_model
    from mobilecomp.text import parity_corpus

    recipe = load_recipe("minilm-l6-int8")
    model = load_model(recipe)
    feeds = encode(model.tokenizer, parity_corpus().sentences, model.input_names, recipe.seq_len)
    damage(minilm.bundle / "model-fp32.onnx", tmp_path / "bad.onnx", "ffn")
    report = check_parity(reference_outputs(model, feeds),
                          artefact_outputs("onnx", tmp_path / "bad.onnx", feeds, model.output_names),
                          feeds, "sentence_embedding", "encoder",
                          minilm.manifest.artefacts[1].parity.budget, "oanc")
    assert not report.passed and report.cos_min < report.budget.cos_min
