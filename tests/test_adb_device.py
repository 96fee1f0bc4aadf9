"""adb profiling for real: a private adb server, the loopback test device, a real runner behind it.

The test device executes what adb sends (see mobilecomp.testdevice); where qemu-aarch64 and the
aarch64 ort-runner are available the "phone" is ARM (the runner runs under qemu), otherwise
the runner is the host build. Real-phone tests run only when MOBILECOMP_ADB_SERIAL is set.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from adbtest import (adb_binaries, adb_port, bundle, device, kill_when, mode,  # noqa: F401
                     needs_adb)

from mobilecomp.errors import DeviceError
from mobilecomp.testdevice.lab import reserved_port

pytestmark = needs_adb


@pytest.mark.parametrize("adb_bin", adb_binaries())
def test_profile_cli_against_test_device(bundle, device, adb_bin, monkeypatch, adb_port, mode):
    from click.testing import CliRunner

    from mobilecomp.bundle import read_results
    from mobilecomp.cli import main
    from mobilecomp.profile.adb.runners import sha256

    monkeypatch.setenv("MOBILECOMP_ADB", adb_bin)
    phone = device()
    args = ["profile", str(bundle), "--device", "adb", "--connect", f"127.0.0.1:{phone.port}",
            "--runs", "20", "--warmup", "1", "--artefact", "onnx-int8-dynamic", "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = read_results(bundle)
    assert len(rows) == 1
    row = rows[0]
    info = row["device_info"]
    assert row["provenance"] == "measured-adb" and row["device"] == f"adb:127.0.0.1:{phone.port}"
    assert (info["manufacturer"], info["model"], info["soc"]) == ("mobilecomp", f"Testphone {mode[0].upper()}",
                                                                  f"loopback-{mode[0].upper()}")
    assert info["os"] == "Android 14 (SDK 34)"
    assert info["extra"]["fingerprint"].startswith("mobilecomp/testphone")
    assert info["extra"]["serial"] == f"127.0.0.1:{phone.port}"
    assert info["extra"]["adb"].startswith("Version ")
    assert [c["max_khz"] for c in info["extra"]["cores"]] == [1800000, 2400000]
    assert row["runner"]["name"] == "ort-runner" and row["extra"]["measured_by"] == "ort-runner"
    assert row["runner"]["platform"] == ("linux-aarch64" if mode[0] == "arm" else "linux-x86_64")
    assert row["runner"]["version"] and row["runner"]["samples"] == "every run"
    assert row["latency_ms"]["n"] == 20 and row["latency_ms"]["p50"] > 0
    assert row["extra"]["taskset_mask"] == "2"  # cpu1 has the higher cpufreq max
    assert row["extra"]["thermal_c_before"] == {"thermal_zone0:cpu-big": 35.0}
    parity = row["parity"]  # the device's own outputs on the parity subset, against reference.npz
    assert parity["passed"] and parity["sentences"] == 32 and "32 of" in parity["corpus"]
    assert "run by ort-runner on the device" in parity["corpus"] and parity["cos_min"] > 0.99
    assert row["extra"]["device_parity"].startswith("parity checked on device: ort-runner outputs on 32")
    if mode[0] == "arm":
        assert info["cpu"] == "2x Cortex-A76"

    art = next(a for a in json.loads((bundle / "manifest.json").read_text())["artefacts"]
               if a["name"] == "onnx-int8-dynamic")
    pushed = phone.root / "data/local/tmp/mobilecomp" / art["sha256"] / Path(art["file"]).name
    assert sha256(pushed) == art["sha256"]
    mtime = pushed.stat().st_mtime_ns
    result = CliRunner().invoke(main, args)  # a second run finds the hash there and pushes nothing
    assert result.exit_code == 0, result.output
    assert pushed.stat().st_mtime_ns == mtime and len(read_results(bundle)) == 2


def test_device_lost_mid_run_keeps_rows_and_resumes(bundle, device, adb_port, mode):
    from mobilecomp.bundle import read_results
    from mobilecomp.pipeline import profile_bundle
    from mobilecomp.profile import ProfileOptions

    runs = 300 if mode[0] == "arm" else 20000  # about 2 s per configuration either way
    phone = device()
    options = ProfileOptions(threads=(1,), runs=runs, warmup=1,
                             extra={"connect": f"127.0.0.1:{phone.port}"})
    watcher = kill_when(phone, "ort-runner -r", 2, 0.5)  # during the second artefact's run
    with pytest.raises(DeviceError) as err:
        profile_bundle(bundle, "adb", options)
    watcher.join(5)
    message = str(err.value)
    assert "lost adb device" in message and "1 row(s)" in message and "rerun" in message
    assert "\n" not in message
    kept = read_results(bundle)
    assert [r["artefact"] for r in kept] == ["onnx-fp32"]
    assert (bundle / ".adb-resume.json").exists()

    device(root=phone.root, port=phone.port)  # the phone comes back: same address, same storage
    rows = profile_bundle(bundle, "adb", options)
    assert [r.artefact for r in rows] == ["onnx-int8-dynamic"]  # only what was missing
    assert sorted(r["artefact"] for r in read_results(bundle)) == ["onnx-fp32", "onnx-int8-dynamic"]
    assert not (bundle / ".adb-resume.json").exists()


def _profile(bundle: Path, **extra):
    from mobilecomp.pipeline import profile_bundle
    from mobilecomp.profile import ProfileOptions

    return profile_bundle(bundle, "adb", ProfileOptions(threads=(1,), runs=20, warmup=1,
                                                        artefacts=("onnx-int8-dynamic",), extra=extra))


def _perturbed(bundle: Path, name: str, scale: float) -> None:
    """Rewrite artefact ``name``'s largest weight times ``scale`` and record the new file in the
    manifest (hash and size), so the bundle is consistent but its outputs no longer match reference.npz."""
    import hashlib

    import numpy as np
    import onnx
    from onnx import numpy_helper

    manifest = json.loads((bundle / "manifest.json").read_text())
    art = next(a for a in manifest["artefacts"] if a["name"] == name)
    model = onnx.load(bundle / art["file"])
    big = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    big.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(big) * np.float32(scale), big.name))
    onnx.save(model, bundle / art["file"])
    data = (bundle / art["file"]).read_bytes()
    art["sha256"], art["size_bytes"] = hashlib.sha256(data).hexdigest(), len(data)
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=1))


def test_device_parity_catches_outputs_that_differ_from_the_reference(bundle, device, adb_port):
    """A real artefact file whose weights were changed after export: ort-runner runs it on the device,
    its outputs differ from reference.npz, and the row says parity failed on the device."""
    _perturbed(bundle, "onnx-fp32", -1.0)
    phone = device()
    rows = profile_bundle_rows(bundle, phone, "onnx-fp32")
    parity = rows[0].parity
    assert parity is not None and not parity["passed"] and parity["failures"]
    assert parity["cos_min"] < 0.99 and parity["sentences"] == 32
    assert "OUTSIDE the artefact's budget" in rows[0].extra["device_parity"]


def profile_bundle_rows(bundle: Path, phone, artefact: str):
    from mobilecomp.pipeline import profile_bundle
    from mobilecomp.profile import ProfileOptions

    return profile_bundle(bundle, "adb", ProfileOptions(threads=(1,), runs=3, warmup=0, artefacts=(artefact,),
                                                        extra={"connect": f"127.0.0.1:{phone.port}"}))


def test_no_device(bundle, adb_port):
    with pytest.raises(DeviceError, match="no adb device attached; plug in a phone"):
        _profile(bundle)
    with pytest.raises(DeviceError, match="no adb device 'ZX1234'"):
        _profile(bundle, serial="ZX1234")


def test_connect_failure_is_detected_although_adb_exits_0(bundle, adb_port):
    with pytest.raises(DeviceError, match=r"adb connect 127\.0\.0\.1:\d+ failed"):
        _profile(bundle, connect=f"127.0.0.1:{reserved_port()}")


def test_unauthorised_device(bundle, device, adb_port):
    phone = device(extra=("--unauthorized",))
    with pytest.raises(DeviceError, match="unauthorized; unlock the phone and accept"):
        _profile(bundle, connect=f"127.0.0.1:{phone.port}")


def test_full_data_partition(bundle, device, adb_port):
    phone = device(extra=("--quota", "200000"))
    with pytest.raises(DeviceError, match="/data is full") as err:
        _profile(bundle, connect=f"127.0.0.1:{phone.port}")
    assert "\n" not in str(err.value)


def test_app_runner_needs_android(bundle, device, adb_port):
    phone = device()
    with pytest.raises(DeviceError, match="is not Android: --runner app needs the demo app") as err:
        _profile(bundle, connect=f"127.0.0.1:{phone.port}", runner="app")
    assert "\n" not in str(err.value)
    assert not (bundle / "results.jsonl").exists()


def test_crashing_runner(bundle, device, adb_port, tmp_path):
    crash = tmp_path / "crash" / "ort-runner"
    crash.parent.mkdir()
    crash.write_text("#!/bin/sh\necho 'loading model' ; kill -SEGV $$\n")
    crash.chmod(0o755)
    phone = device()
    with pytest.raises(DeviceError, match=r"ort-runner crashed \(SIGSEGV\) on onnx-int8-dynamic") as err:
        _profile(bundle, connect=f"127.0.0.1:{phone.port}", runner=f"ort-runner={crash}")
    assert "\n" not in str(err.value)


@pytest.mark.skipif(not os.environ.get("MOBILECOMP_ADB_SERIAL"), reason="set MOBILECOMP_ADB_SERIAL to use a real phone")
def test_real_phone(bundle, monkeypatch):
    """A real phone: the device row is read and, where a runner for it exists, a row is measured."""
    from mobilecomp.profile.adb import read_state
    from mobilecomp.profile.adb.transport import Adb

    monkeypatch.delenv("MOBILECOMP_ADB_PORT", raising=False)
    adb = Adb(serial=os.environ["MOBILECOMP_ADB_SERIAL"])
    adb.ensure_device()
    state = read_state(adb)
    assert state.props.get("ro.product.model") and state.cores
    runner = os.environ.get("MOBILECOMP_ADB_RUNNER")  # e.g. ort-runner=/path/to/ndk/build/ort-runner
    if runner:
        rows = _profile(bundle, serial=adb.serial, runner=runner)
        assert rows[0].provenance == "measured-adb"
