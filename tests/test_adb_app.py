"""`--runner app`: the app's own parity check (android_demo/core DeviceParity) becomes the row's
parity, in the same words as ort-runner's; a malformed parity block is refused by name."""

from __future__ import annotations

import pytest

from mobilecomp.errors import DeviceError
from mobilecomp.profile.adb.app import app_parity
from mobilecomp.profile.app_result import parse_app_result

MANIFEST = {"parity_corpus": {"name": "oanc-parity-258", "sentences": 258}}
ART = {"name": "tflite-fp32"}


def _parity(**changes) -> dict:
    parity = {"checked": True, "sentences": 32, "subset": "evenly spaced", "output": "sentence_embedding",
              "cos_min": 0.9991, "cos_mean": 0.9998, "max_abs": 0.004, "budget_cos_min": 0.99, "passed": True,
              "failures": [], "reference": "inputs/reference.npz"}
    return {**parity, **changes}


def test_app_parity_is_the_rows_parity():
    report, words = app_parity(MANIFEST, ART, _parity())
    assert report["passed"] and report["sentences"] == 32 and "run by the app on the device" in report["corpus"]
    assert words.startswith("parity checked on device: the app's outputs on 32") and "within" in words
    report, words = app_parity(MANIFEST, ART, _parity(cos_min=0.41, passed=False, failures=["cos_min 0.4100 < 0.99"]))
    assert not report["passed"] and report["failures"] and "OUTSIDE the artefact's budget" in words
    report, words = app_parity(MANIFEST, ART, None)
    assert report is None and words.startswith("parity not checked on device: the app result has no parity")


def test_a_malformed_parity_block_is_named():
    import json

    result = {"schema": "mobilecomp-app-result/1", "status": "ok", "device": {"manufacturer": "m", "model": "p"},
              "runner": {"name": "litert", "signature": "seq128"},
              "artefact": {"name": "tflite-fp32", "format": "tflite", "variant": "fp32"},
              "latency_ms": {"values": [2.0, 4.0], "mean": 3.0, "p50": 3.0, "p90": 3.8},
              "threads": 1, "seq_len": 128, "batch": 1, "warmup": 0, "runs": 2, "timestamp": "t",
              "parity": _parity()}
    assert parse_app_result(json.dumps(result))["parity"]["cos_min"] == 0.9991
    with pytest.raises(DeviceError, match="parity.cos_min must be"):
        parse_app_result(json.dumps({**result, "parity": _parity(cos_min="high")}))
