"""TFLite path: a tiny random BERT to .tflite in every registered variant, run in LiteRT, linted, gated."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("litert_torch", reason="litert-torch not installed (scripts/setup.d/15-litert.sh)")
pytest.importorskip("ai_edge_litert", reason="ai-edge-litert not installed (scripts/setup.d/15-litert.sh)")

from mobilecomp.quantise import VARIANTS  # noqa: E402

TFLITE_VARIANTS = tuple(VARIANTS["tflite"])
# Variants the tiny random model must pass; the static ones are measured, not promised.
MUST_PASS = ("fp32", "fp16", "int8-dynamic", "int8-smooth", "int8-mixed", "int8-weight-only")


@pytest.fixture(scope="session")
def tflite_bundle(tmp_path_factory, tiny_recipe) -> Path:
    """Every registered tflite variant of the tiny BERT, with a 16-token bucket beside seq 32."""
    from mobilecomp.pipeline import export_bundle

    recipe = dataclasses.replace(tiny_recipe, formats=("tflite",), variants=TFLITE_VARIANTS,
                                 tflite_seq_lens=(16,))
    out = tmp_path_factory.mktemp("bundles") / "tiny-tflite"
    export_bundle(recipe, out)
    return out


def _manifest(bundle: Path) -> dict:
    return json.loads((bundle / "manifest.json").read_text())


def test_every_registered_variant_is_built(tflite_bundle):
    built = {a["variant"] for a in _manifest(tflite_bundle)["artefacts"] if a["format"] == "tflite"}
    assert built == set(TFLITE_VARIANTS), "a registered tflite variant has no artefact in the test bundle"


@pytest.mark.parametrize("variant", MUST_PASS)
def test_variant_passes_parity_and_lint(tflite_bundle, variant):
    art = {a["variant"]: a for a in _manifest(tflite_bundle)["artefacts"]}[variant]
    assert art["parity"]["passed"], art["parity"]["failures"]
    lint = art["details"]["lint"]
    assert lint["passed"] and not lint["flex_ops"] and not lint["dynamic_tensors"]
    assert set(lint["signatures"]) == {"seq16", "seq32"}
    assert "FULLY_CONNECTED" in art["op_types"]


def test_every_artefact_has_parity_numbers(tflite_bundle):
    for art in _manifest(tflite_bundle)["artefacts"]:
        assert -1.0 <= art["parity"]["cos_min"] <= 1.0 + 1e-6
        assert art["passed"] == (art["parity"]["passed"] and art["details"]["lint"]["passed"])


def _gate(bundle: Path, file: Path):
    """The parity gate on the bundle's stored inputs and references (no PyTorch needed)."""
    from mobilecomp.verify import artefact_outputs, check_parity

    with np.load(bundle / "inputs" / "parity.npz") as data:
        feeds = [{k: data[k] for k in data.files}]
    with np.load(bundle / "inputs" / "reference.npz") as data:
        reference = {"sentence_embedding": [data["sentence_embedding"]]}
    outputs = artefact_outputs("tflite", file, feeds, ("sentence_embedding",))
    return check_parity(reference, outputs, feeds, "sentence_embedding", "encoder",
                        VARIANTS["tflite"]["fp32"].budget, "oanc-parity-258")


def test_gate_fails_a_damaged_file(tflite_bundle, tiny_recipe, tmp_path):
    """Rows of the word-embedding table shuffled inside the .tflite: it loads and runs, the gate fails."""
    from mobilecomp.load import load_model

    good = tflite_bundle / "model-fp32.tflite"
    assert _gate(tflite_bundle, good).passed

    table = load_model(tiny_recipe).module.model.embeddings.word_embeddings.weight.detach().numpy()
    raw = bytearray(good.read_bytes())
    start = bytes(raw).find(table[:4].tobytes())
    assert start >= 0, "word-embedding table not found in the .tflite"
    size = table.nbytes
    raw[start:start + size] = np.ascontiguousarray(table[::-1]).tobytes()
    damaged = tmp_path / "model-damaged.tflite"
    damaged.write_bytes(bytes(raw))

    report = _gate(tflite_bundle, damaged)
    assert not report.passed
    assert any(f.startswith("cos_min") for f in report.failures)


def test_lint_fails_flex_ops(monkeypatch, tflite_bundle):
    """A model needing the Flex delegate (FlexErf from exact GELU via onnx2tf) fails the lint
    and with it the artefact."""
    from mobilecomp.types import Artefact, Budget, ParityReport
    from mobilecomp.verify import lint

    real = lint.read_ops(tflite_bundle / "model-fp32.tflite")
    monkeypatch.setattr(lint, "read_ops", lambda path: {**real, "custom_ops": ["FlexErf"]})
    result = lint.lint_tflite(tflite_bundle / "model-fp32.tflite")
    assert not result["passed"] and result["flex_ops"] == ["FlexErf"]
    parity = ParityReport("c", 1, "o", 1.0, 1.0, 0.0, None, None, Budget(), [])
    art = Artefact("tflite-fp32", "tflite", "fp32", "f", "", 0, None, {}, {"lint": result}, parity)
    assert not art.passed


def test_lint_keeps_litert_logging_off_the_terminal(tflite_bundle):
    """Applying the XNNPACK delegate prints an INFO line from C++ once per process, so a fresh
    process is the only place this can be seen (make demo showed it during export)."""
    import subprocess
    import sys

    code = ("import sys; from pathlib import Path; from mobilecomp.verify.lint import xnnpack_leftovers; "
            "xnnpack_leftovers(Path(sys.argv[1]))")
    done = subprocess.run([sys.executable, "-c", code, str(tflite_bundle / "model-fp32.tflite")],
                          capture_output=True, text=True, check=True)
    assert done.stdout + done.stderr == ""


def test_host_profile_names_litert(tflite_bundle, tmp_path):
    from mobilecomp.pipeline import profile_bundle
    from mobilecomp.profile import ProfileOptions

    bundle = tmp_path / "b"
    shutil.copytree(tflite_bundle, bundle)
    rows = profile_bundle(bundle, "host", ProfileOptions(threads=(1,), runs=20, warmup=1,
                                                         artefacts=("tflite-int8-dynamic",)))
    assert [r.runner["name"] for r in rows] == ["ai-edge-litert"]
    assert rows[0].provenance == "measured-host" and rows[0].seq_len == 32
    assert rows[0].runner["signature"] == "seq32"


def test_bucket_lengths_must_fit_seq_len(tiny_recipe):
    with pytest.raises(ValueError, match="tflite_seq_lens"):
        dataclasses.replace(tiny_recipe, tflite_seq_lens=(64,))


def test_mixed_precision_keeps_the_named_layers_float_in_every_signature(tflite_bundle, tmp_path):
    """The TFLite search's configurations: a kept layer is float in every signature (each names
    its ops differently), every other layer int8."""
    from ai_edge_quantizer.utils import tfl_flatbuffer_utils as utils

    from mobilecomp.quantise.litert import FULLY_CONNECTED, _dynamic_int8, fully_connected_layers

    src = tflite_bundle / "model-fp32.tflite"
    layers = fully_connected_layers(src)
    names = list(layers)
    assert len(set(names)) == len(names) and all(len(layer.scopes) == 2 for layer in layers.values())
    kept = names[1:3]
    out = tmp_path / "mixed.tflite"
    _dynamic_int8(src, out, [layers[n] for n in kept])
    model = utils.read_model(str(out))
    kept_scopes = {scope for n in kept for scope in layers[n].scopes}
    seen = 0
    for graph in model.subgraphs:
        for op in graph.operators:
            if model.operatorCodes[op.opcodeIndex].builtinCode != FULLY_CONNECTED:
                continue
            seen += 1
            weight_type = graph.tensors[op.inputs[1]].type
            float_kept = utils.get_op_scope(op, graph.tensors) in kept_scopes
            assert (weight_type == 0) == float_kept, utils.get_op_scope(op, graph.tensors)  # 0: FLOAT32
    assert seen == 2 * len(names)


def test_report_keeps_each_format_of_a_variant(tiny_recipe, tmp_path):
    """A bundle with onnx-fp32 and tflite-fp32: the report has a row (and a latency cell) for each."""
    from mobilecomp.pipeline import export_bundle, profile_bundle
    from mobilecomp.profile import ProfileOptions
    from mobilecomp.report.compare import collect

    recipe = dataclasses.replace(tiny_recipe, formats=("onnx", "tflite"), variants=("fp32",))
    bundle = tmp_path / "both"
    export_bundle(recipe, bundle)
    profile_bundle(bundle, "host", ProfileOptions(threads=(1,), runs=20, warmup=1))
    rows, _, columns = collect([str(bundle)])
    by_artefact = {r.artefact: r for r in rows}
    assert set(by_artefact) == {"onnx-fp32", "tflite-fp32"}
    assert by_artefact["onnx-fp32"].size_mb != by_artefact["tflite-fp32"].size_mb
    for name, row in by_artefact.items():
        assert row.cells[columns[0]]["runner"].startswith("onnxruntime" if name.startswith("onnx") else "ai-edge-litert")
