"""Shared by the adb tests: the loopback test device as a process, a private adb server, fixtures.

Import the fixtures by name into a test module (``from adbtest import adb_port, ...``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from mobilecomp.errors import DeviceError
from mobilecomp.testdevice.lab import Phone, reserved_port

def _adb() -> str | None:
    from mobilecomp.profile.adb.transport import adb_binary

    try:
        return adb_binary()
    except DeviceError:
        return None


ADB = _adb()
needs_adb = pytest.mark.skipif(ADB is None, reason="no adb binary (apt-get install adb, or scripts/setup.d/30-adb.sh)")




def _mode() -> tuple[str, Path | None]:
    """("arm", sysroot) when the aarch64 runner can run under qemu here, else ("x86", None)."""
    from mobilecomp.errors import ToolchainError
    from mobilecomp.profile.adb.runners import adb_cache, build_ort_runner

    sysroot = adb_cache() / "aarch64-sysroot"
    if shutil.which("qemu-aarch64") and (sysroot / "proc/cpuinfo").exists():
        try:
            build_ort_runner("linux-aarch64")
            return "arm", sysroot
        except ToolchainError:
            pass
    try:
        build_ort_runner("linux-x86_64")
    except ToolchainError as exc:
        pytest.skip(f"no ort-runner ({exc})")
    return "x86", None


@pytest.fixture(scope="module")
def mode():
    return _mode()


def start_device(root: Path, mode, port: int = 0, extra: tuple[str, ...] = ()) -> Phone:
    """A started test device, ARM (runner under qemu) or x86 as ``mode`` says."""
    kind, sysroot = mode
    return Phone(root, model=f"Testphone {kind.upper()}", soc=f"loopback-{kind.upper()}", qemu_sysroot=sysroot,
                 port=port, args=extra).start()


def adb_binaries() -> list:
    """Debian's adb (29) and the adbutils wheel's (36, unpacked by setup) where present."""
    from mobilecomp.profile.adb.runners import adb_cache

    found = {"debian": "/usr/bin/adb", "adbutils": str(adb_cache() / "adb-adbutils" / "adb")}
    params = [pytest.param(path, id=name) for name, path in found.items() if os.access(path, os.X_OK)]
    return params or [pytest.param(ADB, id="adb")]


@pytest.fixture
def adb_port(monkeypatch):
    port = reserved_port()
    monkeypatch.setenv("MOBILECOMP_ADB_PORT", str(port))
    yield port
    binary = os.environ.get("MOBILECOMP_ADB") or ADB
    subprocess.run([binary, "-P", str(port), "kill-server"], capture_output=True, timeout=30)


@pytest.fixture
def bundle(tiny_bundle, tmp_path) -> Path:
    out = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, out)
    return out


@pytest.fixture
def device(tmp_path, mode):
    devices = []

    def make(root: Path | None = None, **kw) -> Phone:
        devices.append(start_device(root or tmp_path / f"phone{len(devices)}", mode, **kw))
        return devices[-1]

    yield make
    for d in devices:
        d.kill()


def kill_when(phone: Phone, needle: str, count: int, delay: float) -> threading.Thread:
    def watch():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            text = phone.log.read_text() if phone.log.exists() else ""
            if text.count(needle) >= count:
                time.sleep(delay)
                phone.kill()
                return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread
