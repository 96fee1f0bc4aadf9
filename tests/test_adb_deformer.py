"""A DeFormer bundle profiled over adb on the loopback test device: each graph timed on its own inputs.

A DeFormer bundle holds a passage graph, a question graph fed by the passage states, and the
undecomposed model; its inputs/*.npz hold all of their inputs together. The runner on the
device must be given each graph's own inputs (read from the graph) and say per row whether and
how parity was checked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from adbtest import adb_port, device, mode, needs_adb  # noqa: F401
from click.testing import CliRunner

from mobilecomp.android import DEFORMER_REFUSAL
from mobilecomp.cli import main
from mobilecomp.errors import DeviceError

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def deformer_bundle(tmp_path_factory) -> Path:
    """A single-sentence DeFormer classifier of the tiny BERT, built as tests/test_emulated_arm.py builds it."""
    from mobilecomp.pipeline import export_bundle
    from mobilecomp.recipe import load_recipe
    from mobilecomp.text import oanc_sentences

    tmp = tmp_path_factory.mktemp("deformer")
    recipe_text = (DATA / "tiny-bert.yaml").read_text().replace("name: tiny-bert", "name: tiny-deformer-cls") \
        .replace("head: encoder", "head: classifier\nnum_labels: 2\ndecompose: {lower_layers: 1, question_len: 12}")
    (tmp / "tiny-deformer-cls.yaml").write_text(recipe_text)
    (tmp / "text.txt").write_text("\n".join(oanc_sentences()[:60]) + "\n")
    bundle = tmp / "bundle"
    export_bundle(load_recipe(str(tmp / "tiny-deformer-cls.yaml")), bundle, parity_text=str(tmp / "text.txt"))
    return bundle


@needs_adb
def test_deformer_bundle_profiles_each_graph_on_its_own_inputs(deformer_bundle, device, adb_port, tmp_path):
    from mobilecomp.pipeline import profile_bundle
    from mobilecomp.profile import ProfileOptions

    phone = device()
    names = ("onnx-int8-dynamic", "onnx-passage-int8-dynamic", "onnx-full-fp32")
    rows = {r.artefact: r for r in profile_bundle(deformer_bundle, "adb", ProfileOptions(
        threads=(1,), runs=5, warmup=1, artefacts=names, extra={"connect": f"127.0.0.1:{phone.port}"}))}
    assert set(rows) == set(names)
    for row in rows.values():
        assert row.provenance == "measured-adb" and len(row.latency_ms.values) == 5 and row.latency_ms.mean > 0

    question, passage, full = (rows[n] for n in names)
    # each row's shape is its own graph's: 12 question tokens, 20 passage tokens, 32 in the whole model
    assert (question.seq_len, passage.seq_len, full.seq_len) == (12, 20, 32)
    assert question.extra["input_shapes"] == {"question_input_ids": [1, 12], "question_attention_mask": [1, 12],
                                              "question_token_type_ids": [1, 12], "passage_states": [1, 20, 32],
                                              "passage_attention_mask": [1, 20]}
    assert set(passage.extra["input_shapes"]) == {"passage_input_ids", "passage_attention_mask",
                                                  "passage_token_type_ids"}
    assert set(full.extra["input_shapes"]) == {"input_ids", "attention_mask", "token_type_ids"}

    # the question graph, on the stored passage states, against the stored DeFormer reference
    assert question.parity["passed"] and question.parity["sentences"] == 32 and question.parity["cos_min"] > 0.99
    assert question.parity["top1"] is not None and "passage states from inputs/parity.npz" in question.parity["corpus"]
    assert question.extra["device_parity"].startswith("parity checked on device: ort-runner outputs on 32")
    assert passage.parity is None
    assert passage.extra["device_parity"] == ("parity not checked on device: a DeFormer passage graph has no output "
                                              "of its own (its question graph's row judges the pair)")
    # the stored reference is the decomposed model's: the undecomposed baseline says so instead of failing
    assert full.parity is None
    assert "not the undecomposed model's" in full.extra["device_parity"]
    assert "onnx-full-fp32 was compared with its own PyTorch forward at export" in full.extra["device_parity"]

    # what the runner on the phone read: each graph's directory holds exactly that graph's inputs,
    # the question graph's float32 passage states beside its int64 ids
    import numpy as np

    from mobilecomp.profile.adb.runners import write_inputs

    manifest = json.loads((deformer_bundle / "manifest.json").read_text())
    with np.load(deformer_bundle / "inputs" / "profile.npz") as data:
        stored = {k: data[k] for k in data.files}
    assert stored["passage_states"].dtype == np.float32 and stored["question_input_ids"].dtype == np.int64
    for art in (a for a in manifest["artefacts"] if a["name"] in names):
        expected = tmp_path / f"{art['name']}.bin"
        write_inputs({k: stored[k] for k in rows[art["name"]].extra["input_shapes"]}, expected)
        pushed = phone.root / "data/local/tmp/mobilecomp" / art["sha256"] / "inputs.bin"
        assert pushed.read_bytes() == expected.read_bytes(), art["name"]


@needs_adb
def test_app_runner_refuses_a_deformer_bundle(deformer_bundle, device, adb_port):
    from mobilecomp.pipeline import profile_bundle
    from mobilecomp.profile import ProfileOptions

    phone = device()
    with pytest.raises(DeviceError) as err:
        profile_bundle(deformer_bundle, "adb", ProfileOptions(threads=(1,), runs=3, warmup=0, extra={
            "connect": f"127.0.0.1:{phone.port}", "runner": "app"}))
    assert str(err.value) == f"--runner app: {DEFORMER_REFUSAL}; time its graphs with --runner ort-runner"


@pytest.mark.parametrize("command", ["tokenizer-vectors", "decode-vectors"])
def test_android_vectors_refuse_a_deformer_bundle_in_one_line(deformer_bundle, command, tmp_path):
    """The Android core runs one graph per inference: vectors for a DeFormer bundle would describe a
    bundle the app cannot open."""
    out = tmp_path / "v.jsonl"
    result = CliRunner().invoke(main, [command, str(deformer_bundle), "--out", str(out)])
    assert result.exit_code == 5, result.output
    assert result.output.strip() == f"mobilecomp: error: {DEFORMER_REFUSAL}"
    assert not out.exists()


@pytest.mark.skipif(shutil.which("javac") is None, reason="no JDK (javac); scripts/setup.d/40-jvm.sh installs it")
def test_android_core_refuses_a_deformer_bundle_with_the_same_line(deformer_bundle, tmp_path):
    proc = subprocess.run(["bash", str(ROOT / "android_demo/core/run-tests.sh"), "--check", str(deformer_bundle)],
                          capture_output=True, text=True, env={**os.environ, "BUILD_DIR": str(tmp_path / "build")},
                          timeout=300)
    assert proc.returncode == 1 and proc.stdout.strip() == f"refused: {DEFORMER_REFUSAL}", proc.stdout + proc.stderr
