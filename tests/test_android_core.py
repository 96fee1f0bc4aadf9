"""The Android demo's JVM core: tokenizer parity with Python on >= 500 real-text vectors, and the
app-result JSON that the Java side writes and mobilecomp/profile/app_result.py parses."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from mobilecomp.android import hard_cases, write_vectors
from mobilecomp.cli import main
from mobilecomp.errors import DeviceError
from mobilecomp.profile.app_result import SCHEMA, device_info, latency, parse_app_result

ROOT = Path(__file__).resolve().parents[1]
RUN_TESTS = ROOT / "android_demo" / "core" / "run-tests.sh"
JARS = ("/usr/share/java/junit4.jar", "/usr/share/java/hamcrest-core.jar")


def _jvm_missing() -> str | None:
    if shutil.which("javac") is None or shutil.which("java") is None:
        return "no JDK (javac); scripts/setup.d/40-jvm.sh installs default-jdk-headless, junit4, libhamcrest-java"
    missing = [jar for jar in JARS if not os.path.exists(jar)]
    if missing:
        return f"{missing[0]} missing; scripts/setup.d/40-jvm.sh installs junit4 and libhamcrest-java"
    return None


needs_jvm = pytest.mark.skipif(_jvm_missing() is not None, reason=_jvm_missing() or "")


@pytest.fixture(scope="module")
def vectors(tiny_bundle, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vectors") / "vectors.jsonl"
    write_vectors(tiny_bundle, out, count=500)
    return out


def _read(path: Path) -> tuple[dict, list[dict]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def _run_jvm(vectors: Path, bundle: Path, build: Path, app_result: Path | None = None):
    env = {**os.environ, "BUILD_DIR": str(build)}
    if app_result is not None:
        env["APP_RESULT_OUT"] = str(app_result)
    return subprocess.run(["bash", str(RUN_TESTS), str(vectors), str(bundle)], capture_output=True,
                          text=True, env=env, timeout=300)


def test_vector_file_has_real_text_and_every_hard_case(vectors):
    header, records = _read(vectors)
    assert header["format"] == "mobilecomp-tokenizer-vectors/1"
    assert header["counts"] == {"real": 500, "hard": len(hard_cases()), "total": len(records)}
    real = [r for r in records if not r["source"].startswith("hard:")]
    assert len(real) >= 500 and {r["source"] for r in real} >= {"oanc", "pang-lee", "oanc-pair", "pang-lee-pair"}
    groups = {r["source"] for r in records if r["source"].startswith("hard:")}
    assert groups == {f"hard:{g}" for g in ("accents", "cjk", "punctuation", "emoji", "unknown", "control",
                                            "special", "long-words", "truncation", "pairs")}
    for r in records:
        assert len(r["input_ids"]) == len(r["attention_mask"]) == len(r["token_type_ids"]) == r["max_length"]
    assert any(1 in r["token_type_ids"] for r in records if r["text_pair"])
    assert any(r["attention_mask"][-1] == 1 and r["max_length"] < header["seq_len"] for r in records)  # truncated
    unk = 100
    assert any(r["input_ids"].count(unk) > 0 for r in records if r["source"] == "hard:emoji")


@needs_jvm
def test_jvm_core_reproduces_every_python_vector(vectors, tiny_bundle, tmp_path):
    app_result = tmp_path / "app-result.json"
    proc = _run_jvm(vectors, tiny_bundle, tmp_path / "build", app_result)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    match = re.search(r"tokenizer vectors: (\d+)/(\d+) match \((\d+) real-text", out)
    assert match, out[-2000:]
    matched, total, real = map(int, match.groups())
    assert matched == total == len(_read(vectors)[1]) and real >= 500
    assert re.search(r"OK \(\d+ tests\)", out)
    # what Java wrote, Python parses into an ordinary device row's pieces
    result = parse_app_result(app_result.read_text())
    assert result["seq_len"] == 32 and result["runs"] == len(result["latency_ms"]) == 20
    assert latency(result).percentile(50) == pytest.approx(result["summary"]["p50"])
    assert device_info(result, "adb:test").kind == "adb"


@needs_jvm
def test_one_corrupted_vector_fails_the_junit_run(vectors, tiny_bundle, tmp_path):
    lines = vectors.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[7])
    record["input_ids"][2] += 1  # one id of one real-text vector
    lines[7] = json.dumps(record)
    corrupt = tmp_path / "corrupt.jsonl"
    corrupt.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = _run_jvm(corrupt, tiny_bundle, tmp_path / "build")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    assert f"1 of {len(lines) - 1} vectors differ from Python" in out
    assert f"{record['id']}: input_ids differs at position 2" in out


def test_cli_writes_vectors(tiny_bundle, tmp_path):
    out = tmp_path / "v.jsonl"
    result = CliRunner().invoke(main, ["tokenizer-vectors", str(tiny_bundle), "--out", str(out), "--count", "20"])
    assert result.exit_code == 0, result.output
    assert f"{20 + len(hard_cases())} vectors (20 real-text" in result.output
    missing = CliRunner().invoke(main, ["tokenizer-vectors", str(tmp_path / "nope"), "--out", str(out)])
    assert missing.exit_code == 5 and "manifest.json: missing" in missing.output


def test_vectors_refuse_an_edited_vocabulary(tiny_bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle / "tokenizer", copy / "tokenizer")
    shutil.copyfile(tiny_bundle / "manifest.json", copy / "manifest.json")
    with open(copy / "tokenizer" / "vocab.txt", "a", encoding="utf-8") as fh:
        fh.write("extra-token\n")
    result = CliRunner().invoke(main, ["tokenizer-vectors", str(copy), "--out", str(tmp_path / "v.jsonl")])
    assert result.exit_code == 5 and "differs from the manifest" in result.output


def _result(**changes) -> dict:
    values = [10.0, 12.0, 11.0, 30.0]
    doc = {"schema": SCHEMA, "status": "ok", "error": None, "timestamp": "2025-01-01T00:00:00Z",
           "device": {"manufacturer": "Google", "model": "Pixel 7", "soc": "Tensor G2", "abi": "arm64-v8a",
                      "android": "14", "sdk": 34, "cores": 8},
           "app": {"package": "io.mobilecomp.demo", "version": "0.1.0"},
           "bundle": {"name": "minilm-l6-int8", "vocab_sha256": "ab" * 32, "vocab_check": "ok"},
           "artefact": {"name": "onnx-int8-dynamic", "format": "onnx", "variant": "int8-dynamic",
                        "file": "model-int8-dynamic.onnx", "sha256": "cd" * 32},
           "runner": {"name": "onnxruntime-android", "version": "1.20.0", "provider": "CPU", "threads": 4},
           "threads": 4, "seq_len": 128, "batch": 1, "tokens": 20, "warmup": 5, "runs": 4,
           "latency_ms": {"unit": "ms", "n": 4, "mean": 15.75, "p50": 11.5, "p90": 24.6, "values": values},
           "output": {"head": "encoder"}}
    doc.update(changes)
    return doc


def test_app_result_parses_a_phone_result():
    result = parse_app_result(json.dumps(_result()))
    assert result["latency_ms"] == [10.0, 12.0, 11.0, 30.0] and result["threads"] == 4
    info = device_info(result, "adb:emulator-5554")
    assert (info.manufacturer, info.model, info.soc, info.cores) == ("Google", "Pixel 7", "Tensor G2", 8)
    assert info.os == "Android 14 (API 34)"


@pytest.mark.parametrize("text, message", [
    ("{not json", "not JSON"),
    ("[1, 2]", "not a JSON object"),
    (json.dumps(_result(schema="other/1")), "schema"),
    (json.dumps(_result(status="error", error="vocabulary sha256 differs")), "vocabulary sha256 differs"),
    (json.dumps(_result(device={"model": "x"})), "device.manufacturer"),
    (json.dumps(_result(runs=5)), "runs is 5"),
    (json.dumps(_result(threads="4")), "threads must be int"),
    (json.dumps(_result(latency_ms={"values": [1.0, -2.0, 3.0, 4.0]})), "non-negative"),
    (json.dumps(_result(latency_ms={"mean": 15.75, "p50": 99.0, "p90": 24.6,
                                    "values": [10.0, 12.0, 11.0, 30.0]})), "latency_ms.p50"),
])
def test_app_result_rejects_malformed_input(text, message):
    with pytest.raises(DeviceError, match=re.escape(message)):
        parse_app_result(text)
