"""benchmark_model over adb runs the .tflite signature of the row's sequence length, and a runner that
timed another signature is caught: its numbers never become a row.

The .tflite is a real multi-signature export (seq16 and seq32, read with the real LiteRT). The
pinned benchmark_model is an Android binary that the loopback test device (Linux) cannot run, so
its side is the text it prints (the "Signature to run: [...]" parameter line that the pinned
binary carries, see `strings benchmark_model`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mobilecomp.errors import DeviceError
from mobilecomp.profile import ProfileOptions
from mobilecomp.profile.adb import check_signature, make_row, timed_command, timed_signature
from mobilecomp.profile.adb.parsers import parse_benchmark_model
from mobilecomp.profile.adb.runners import Runner
from mobilecomp.types import DeviceInfo

TIMED = """\
STARTING!
Log parameter values verbosely: [0]
Graph: [/data/local/tmp/mobilecomp/abc/model-fp32.tflite]
Signature to run: [{signature}]
Loaded model /data/local/tmp/mobilecomp/abc/model-fp32.tflite
count=1 curr=2950
count=20 first=2950 curr=2900 min=2880 max=3010 avg=2950 std=21 p5=2890 median=2940 p95=3000
Inference timings in us: Init: 48123, First inference: 2950, Warmup (avg): 2950, Inference (avg): 2950
"""


@pytest.fixture(scope="module")
def tflite_bundle(tmp_path_factory, tiny_recipe) -> Path:
    """fp32 .tflite of the tiny BERT with signatures seq16 and seq32 (its profile length)."""
    pytest.importorskip("litert_torch", reason="litert-torch not installed (scripts/setup.d/15-litert.sh)")
    import dataclasses

    from mobilecomp.pipeline import export_bundle

    recipe = dataclasses.replace(tiny_recipe, formats=("tflite",), variants=("fp32",), tflite_seq_lens=(16,))
    out = tmp_path_factory.mktemp("bundles") / "tiny-tflite-signatures"
    export_bundle(recipe, out)
    return out


def _art(bundle: Path) -> dict:
    from mobilecomp.bundle import read_manifest

    return next(a for a in read_manifest(bundle)["artefacts"] if a["name"] == "tflite-fp32")


def test_benchmark_model_is_told_the_rows_signature(tflite_bundle):
    from mobilecomp.bundle import read_inputs

    art = _art(tflite_bundle)
    assert timed_signature(tflite_bundle, art, 32) == ("seq32", 32)  # not subgraph 0's seq16
    assert timed_signature(tflite_bundle, art, 12) == ("seq16", 16)
    runner = Runner("benchmark_model", "tflite", Path("benchmark_model"), parse=parse_benchmark_model)
    feed = read_inputs(tflite_bundle, "profile.npz")
    cmd = timed_command(runner, "/x/benchmark_model", "/x/model-fp32.tflite", 1, ProfileOptions(runs=20), feed,
                        None, ("seq32", 32))
    assert "--signature_to_run_for=seq32 " in cmd and "--input_layer_shape=1,32:1,32:1,32 " in cmd
    cmd16 = timed_command(runner, "/x/benchmark_model", "/x/model-fp32.tflite", 1, ProfileOptions(runs=20), feed,
                          None, ("seq16", 16))
    assert "--signature_to_run_for=seq16 " in cmd16 and "--input_layer_shape=1,16:1,16:1,16 " in cmd16
    with pytest.raises(DeviceError, match="exceed its longest signature"):
        timed_signature(tflite_bundle, art, 40)


def test_a_runner_that_timed_another_signature_is_caught(tflite_bundle):
    art = _art(tflite_bundle)
    runner = Runner("benchmark_model", "tflite", Path("benchmark_model"), parse=parse_benchmark_model)
    asked = timed_signature(tflite_bundle, art, 32)[0]
    good = parse_benchmark_model(TIMED.format(signature=asked))
    check_signature(good, asked, runner, art)
    wrong = parse_benchmark_model(TIMED.format(signature="seq16"))
    with pytest.raises(DeviceError, match="timed signature 'seq16' of tflite-fp32, not 'seq32'"):
        check_signature(wrong, asked, runner, art)
    silent = parse_benchmark_model(TIMED.replace("Signature to run: [{signature}]\n", ""))
    with pytest.raises(DeviceError, match="did not say which signature"):
        check_signature(silent, asked, runner, art)


def test_the_row_names_its_signature_and_says_parity_was_not_checked(tflite_bundle):
    from mobilecomp.bundle import read_manifest
    from mobilecomp.profile.adb.parity import NOT_CHECKED, not_checked

    art = _art(tflite_bundle)
    runner = Runner("benchmark_model", "tflite", Path("benchmark_model"), parse=parse_benchmark_model,
                    describe={"name": "benchmark_model", "source": "test"})
    stats = parse_benchmark_model(TIMED.format(signature="seq32"))
    info = DeviceInfo(name="adb:X", kind="adb", cpu="?", cores=8, os="Android 14")
    row = make_row(read_manifest(tflite_bundle), art, runner, stats, {"before": {}, "after": {}}, info, 1, 32, 1,
                   [], 0.0, ("seq32", 32), (None, not_checked(NOT_CHECKED["benchmark_model"])))
    assert row.runner["signature"] == "seq32" and row.extra["signature"] == "seq32" and row.seq_len == 32
    assert row.parity is None
    assert row.extra["device_parity"].startswith("parity not checked on device: benchmark_model")


def test_the_app_runner_is_held_to_the_same_signature(tflite_bundle):
    """`--runner app`: the app's result names the signature its LiteRT runner timed (runner.signature);
    a result from another signature is refused, like benchmark_model's."""
    from mobilecomp.profile.adb.app import _check_app_signature

    art = _art(tflite_bundle)
    _check_app_signature(tflite_bundle, art, {"seq_len": 32, "runner": {"name": "litert", "signature": "seq32"}})
    with pytest.raises(DeviceError, match="timed signature 'seq16' of tflite-fp32, not 'seq32'"):
        _check_app_signature(tflite_bundle, art, {"seq_len": 32, "runner": {"name": "litert", "signature": "seq16"}})
    with pytest.raises(DeviceError, match="did not say which signature"):
        _check_app_signature(tflite_bundle, art, {"seq_len": 32, "runner": {"name": "litert"}})
