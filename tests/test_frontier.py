"""The fidelity frontier's building blocks: per-row rewrite, SmoothQuant, the mixed-precision search, the choice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def _matmul_graph(weights: np.ndarray, opset: int = 17):
    from onnx import TensorProto, helper, numpy_helper

    k, n = weights.shape
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, None, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None, n])],
        [numpy_helper.from_array(weights, "W")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("opset", [17, 18])
def test_rowwise_rewrite_matches_numpy_exactly(tmp_path, opset):
    import onnx

    from mobilecomp.quantise.rowwise import reference, rewrite
    from mobilecomp.runtime.ort import onnx_session

    rng = np.random.default_rng(1)
    weights = rng.normal(size=(96, 40)).astype(np.float32)
    # rows of very different ranges, mostly positive (like GELU outputs), one all-zero row
    x = (rng.normal(size=(3, 9, 96)) * rng.uniform(0.05, 8, size=(3, 9, 1)) + 0.5).astype(np.float32)
    x[1, 4] = 0.0
    model = _matmul_graph(weights, opset)
    assert rewrite(model) == ["mm"]
    onnx.checker.check_model(model)
    ops = {n.op_type for n in model.graph.node}
    assert "MatMulInteger" in ops and "MatMul" not in ops
    path = tmp_path / "rw.onnx"
    onnx.save(model, str(path))
    out = onnx_session(path).run(None, {"x": x})[0]
    np.testing.assert_array_equal(out, reference(x, weights))
    # and it is a faithful int8 product: per-row error well under one activation step per term
    exact = x @ weights
    assert np.abs(out - exact).max() < 0.02 * np.abs(exact).max()


def test_rowwise_shares_one_quantisation_per_activation(tmp_path):
    from onnx import TensorProto, helper, numpy_helper

    from mobilecomp.quantise.rowwise import rewrite

    rng = np.random.default_rng(2)
    ws = [rng.normal(size=(8, 8)).astype(np.float32) for _ in range(3)]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", f"W{i}"], [f"y{i}"], name=f"mm{i}") for i in range(3)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 8])],
        [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, [None, 8]) for i in range(3)],
        [numpy_helper.from_array(w, f"W{i}") for i, w in enumerate(ws)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    rewrite(model)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("MatMulInteger") == 3 and ops.count("ReduceMax") == 1


def test_smoothing_keeps_fp32_outputs(tiny_bundle, tmp_path):
    import onnx

    from mobilecomp.quantise.smooth import groups, smooth
    from mobilecomp.runtime.ort import onnx_session

    src = tiny_bundle / "model-fp32.onnx"
    with np.load(tiny_bundle / "inputs" / "parity.npz") as data:
        feed = {k: data[k] for k in data.files}
    model = onnx.load(str(src))
    n_groups = len(groups(model))
    assert n_groups == 2  # the LayerNorms feeding Q/K/V of the two layers
    # outlier channels, so that smoothing has something to move (and scales far from 1)
    info = smooth(model, [{k: v[:8] for k, v in feed.items()}], alpha=0.5)
    assert info["groups"] == n_groups and info["matmuls"] == 3 * n_groups
    assert sum(n.op_type == "LayerNormalization" for n in model.graph.node) == \
        sum(n.op_type == "LayerNormalization" for n in onnx.load(str(src)).graph.node) + n_groups
    path = tmp_path / "smoothed.onnx"
    onnx.save(model, str(path))
    before = onnx_session(src).run(None, feed)
    after = onnx_session(path).run(None, feed)
    for b, a in zip(before, after):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)


def test_torch_smoothing_keeps_fp32_outputs_and_the_source(tiny_recipe):
    """The TFLite int8-smooth path: smoothing the PyTorch model must not change its fp32 outputs
    (and must not touch the model the other variants convert)."""
    import dataclasses

    import torch

    from mobilecomp.errors import ToolchainError
    from mobilecomp.inputs import encode
    from mobilecomp.load import load_model
    from mobilecomp.quantise.smooth_torch import smoothed_copy
    from mobilecomp.text import calibration_corpus, parity_corpus

    model = load_model(tiny_recipe)
    base = model.module.model
    with torch.no_grad():  # outlier channels, so that the scales move far from 1
        base.embeddings.LayerNorm.weight[:4] *= 30.0
    original = {k: v.clone() for k, v in model.module.state_dict().items()}
    calibration = encode(model.tokenizer, calibration_corpus().sentences[:16], model.input_names, 32)
    feeds = encode(model.tokenizer, parity_corpus().sentences[:16], model.input_names, 32)
    smoothed, info = smoothed_copy(model, calibration, alpha=0.5)
    assert info["groups"] == base.config.num_hidden_layers and info["matmuls"] == 3 * info["groups"]
    assert info["scale_range"][1] > 2.0
    with torch.no_grad():
        for feed in feeds:
            args = [torch.from_numpy(feed[n]) for n in model.input_names]
            for before, after in zip(model.module(*args), smoothed.module(*args)):
                torch.testing.assert_close(after, before, atol=1e-5, rtol=0)
    for key, value in model.module.state_dict().items():
        assert torch.equal(value, original[key]), f"smoothing changed the source model's {key}"
    with pytest.raises(ToolchainError, match="mobilebert"):
        smoothed_copy(dataclasses.replace(model, architecture="mobilebert"), calibration, alpha=0.5)


def test_search_respects_the_budget():
    from mobilecomp.quantise.search import latency_saved, search

    # a model whose cos_min is 0.98 all-int8; keeping unit i fp32 adds gain[i] (additively)
    gain = {"a": 0.004, "b": 0.010, "c": 0.001, "d": 0.006, "e": 0.0005}
    weights = {"a": 1.0, "b": 4.0, "c": 1.0, "d": 1.0, "e": 1.0}
    saved = latency_saved(weights, float_ms=30.0, quantised_ms=10.0)
    assert abs(sum(saved.values()) - 20.0) < 1e-9
    calls = []

    def score(kept):
        calls.append(kept)
        return 0.98 + sum(gain[u] for u in kept)

    result = search(list(gain), score, target=0.989, saved_ms=saved)
    assert result.met and result.reached >= 0.989
    assert score(frozenset(result.kept)) >= 0.989
    # the cheapest way to +0.009: a + d (2 ms given up), not b (8 ms)
    assert sorted(result.kept) == ["a", "d"]
    assert result.gains["b"] == pytest.approx(0.010)
    # an unreachable target: not met, and the closest configuration is reported
    result = search(list(gain), score, target=1.01, saved_ms=saved)
    assert not result.met and result.reached == pytest.approx(0.98 + sum(gain.values()))
    # a target already met: nothing kept
    result = search(list(gain), score, target=0.97, saved_ms=saved)
    assert result.met and result.kept == []


def test_choice_picks_fastest_faithful():
    from mobilecomp.choice import pick

    arts = [{"name": "onnx-fp32", "format": "onnx", "variant": "fp32", "passed": True},
            {"name": "onnx-int8-dynamic", "format": "onnx", "variant": "int8-dynamic", "passed": False},
            {"name": "onnx-int8-smooth", "format": "onnx", "variant": "int8-smooth", "passed": True},
            {"name": "onnx-int8-rowwise", "format": "onnx", "variant": "int8-rowwise", "passed": True}]
    cost = {"onnx-fp32": 30.0, "onnx-int8-dynamic": 10.0, "onnx-int8-smooth": 14.0, "onnx-int8-rowwise": 16.0}
    chosen = pick(arts, cost, metric="latency_ms")
    assert chosen["artefact"] == "onnx-int8-smooth"
    assert chosen["speedup_vs_fp32"] == pytest.approx(30 / 14)
    assert "onnx-int8-dynamic" in chosen["rejected_failed_parity"]


def test_export_target_host_records_the_choice(tmp_path):
    import json

    from click.testing import CliRunner

    from mobilecomp.cli import main
    DATA = Path(__file__).parent / "data"

    out = tmp_path / "tiny"
    result = CliRunner().invoke(main, ["export", "--recipe", str(DATA / "tiny-bert.yaml"), "--out", str(out),
                                       "--target", "host"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    choice = manifest["choice"]
    assert choice["target"] == "host" and choice["artefact"] in {a["name"] for a in manifest["artefacts"]}
    assert choice["artefact"] not in choice["rejected_failed_parity"] and "fastest" in choice["why"]
    assert (out / "results.jsonl").exists()
    bad = CliRunner().invoke(main, ["export", "--recipe", str(DATA / "tiny-bert.yaml"), "--out", str(tmp_path / "x"),
                                    "--target", "no-such-phone"])
    assert bad.exit_code != 0 and "known: host" in bad.output
