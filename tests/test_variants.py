"""Every registered ONNX variant builds a loadable artefact that passes parity on a tiny model."""

from __future__ import annotations

import numpy as np
import pytest

from mobilecomp.quantise import VARIANTS
from mobilecomp.types import Recipe

TESTED_ONNX_VARIANTS = ["fp32", "fp16", "int8-dynamic", "int8-accurate", "int8-static",
                        "int8-rowwise", "int8-rowwise-ffn", "int8-smooth", "int8-nbits", "int8-mixed"]


def test_every_onnx_variant_has_a_test():
    assert sorted(VARIANTS["onnx"]) == sorted(TESTED_ONNX_VARIANTS)


@pytest.fixture(scope="module")
def all_variants_bundle(tmp_path_factory, tiny_recipe):
    from dataclasses import replace

    from mobilecomp.pipeline import export_bundle

    recipe: Recipe = replace(tiny_recipe, variants=tuple(TESTED_ONNX_VARIANTS))
    return export_bundle(recipe, tmp_path_factory.mktemp("v") / "all").manifest


@pytest.mark.parametrize("variant", TESTED_ONNX_VARIANTS)
def test_variant_builds_and_passes(all_variants_bundle, variant):
    art = next(a for a in all_variants_bundle.artefacts if a.variant == variant)
    assert art.passed, art.parity.failures
    ops = art.op_types
    expected = {"fp32": "MatMul", "fp16": "MatMul", "int8-dynamic": "MatMulInteger",
                "int8-accurate": "MatMulInteger", "int8-static": "QuantizeLinear",
                "int8-rowwise": "MatMulInteger", "int8-rowwise-ffn": "MatMulInteger",
                "int8-smooth": "MatMulInteger", "int8-nbits": "com.microsoft.MatMulNBits",
                "int8-mixed": "MatMulInteger"}[variant]
    assert ops.get(expected, 0) > 0, ops
    if variant == "int8-accurate":
        sweep = art.details["sweep"]
        assert set(sweep["gain_by_node"]) and sweep["reached_cos_min"] >= sweep["all_int8_cos_min"]
    if variant == "int8-mixed":
        search = art.details["search"]
        assert search["trials"] > 0 and search["reached_cos_min"] >= search["all_int8_cos_min"]
    if variant == "int8-smooth":
        assert art.details["smoothquant"]["groups"] == 2 and ops["LayerNormalization"] > 0
    if variant == "int8-static":
        assert art.details["calibration_shape"][1] == 32  # every batch padded to one shape


def test_embedding_rows_quantise_exactly(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from mobilecomp.quantise.onnxruntime import quantise_embedding_rows
    from mobilecomp.runtime.ort import onnx_session

    rng = np.random.default_rng(0)
    table = rng.normal(size=(5000, 16)).astype(np.float32) * rng.uniform(0.01, 3, size=(5000, 1)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["out"], name="g")], "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [None])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [None, 16])],
        [numpy_helper.from_array(table, "table")])
    path = tmp_path / "g.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    assert quantise_embedding_rows(path) == ["table"]
    ids = np.array([0, 7, 4999], dtype=np.int64)
    out = onnx_session(path).run(None, {"ids": ids})[0]
    scale = np.abs(table[ids]).max(axis=1, keepdims=True) / 127
    np.testing.assert_allclose(out, np.round(table[ids] / scale) * scale, rtol=1e-6)
    assert np.abs(out - table[ids]).max(axis=1).max() <= (scale.max() / 2) * 1.0001
