"""A device lab for real: several loopback test devices behind one real adb server, profiled in one call.

The phones are `python -m mobilecomp.testdevice` processes (ARM under qemu where the sysroot is
built); adb is the real server and client. The STF test is NOT a real STF server: STF needs a
RethinkDB server, which no registry reachable here ships (see docs/adb.md). It serves STF API
responses recorded from STF's documented REST API (/api/v1), while adb and the phones are real.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from adbtest import ADB, adb_port, bundle, device, kill_when, mode, needs_adb  # noqa: F401

from mobilecomp.errors import DeviceError
from mobilecomp.testdevice.lab import connect, lab_phones, reserved_port

pytestmark = needs_adb


@pytest.fixture
def lab(tmp_path, mode, adb_port):
    """Four phones with distinct models, connected to the private adb server on ``adb_port``."""
    phones = [p.start() for p in lab_phones(4, tmp_path / "lab", mode[1])]
    try:
        connect(ADB, adb_port, phones)
        yield phones
    finally:
        for p in phones:
            p.kill()


def _exec_window(phone) -> tuple[datetime, datetime]:
    """When the phone ran its first and its last command (its log has one timestamped line each)."""
    stamps = [datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
              for line in phone.log.read_text().splitlines() if " exec " in line]
    return stamps[0], stamps[-1]


def _options(**extra):
    from mobilecomp.profile import ProfileOptions

    return ProfileOptions(threads=(1,), runs=20, warmup=1, artefacts=("onnx-int8-dynamic",), extra=extra)


def test_reserved_port_cannot_be_taken_by_a_port_0_bind():
    """The adb server's port is reserved outside the ephemeral range: a test device bound to port 0
    once got the port first, and `adb start-server` then hung talking to the device."""
    import socket

    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    port = reserved_port()
    assert 10000 <= port < low
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # free, as handed out


def test_serials_profiled_in_parallel_each_with_its_own_rows(bundle, lab):
    from click.testing import CliRunner

    from mobilecomp.bundle import read_results
    from mobilecomp.cli import main
    from mobilecomp.profile.adb.runners import sha256

    serials = [p.serial for p in lab]
    result = CliRunner().invoke(main, ["profile", str(bundle), "--device", "adb", "--serial", ",".join(serials),
                                       "--runs", "20", "--warmup", "1", "--threads", "1",
                                       "--artefact", "onnx-int8-dynamic"])
    assert result.exit_code == 0, result.output
    rows = read_results(bundle)
    assert sorted(r["device"] for r in rows) == sorted(f"adb:{s}" for s in serials)
    art = next(a for a in json.loads((bundle / "manifest.json").read_text())["artefacts"]
               if a["name"] == "onnx-int8-dynamic")
    for phone in lab:
        row = next(r for r in rows if r["device"] == f"adb:{phone.serial}")
        assert row["device_info"]["model"] == phone.model and row["device_info"]["extra"]["serial"] == phone.serial
        assert row["latency_ms"]["n"] == 20 and row["provenance"] == "measured-adb"
        pushed = phone.root / "data/local/tmp/mobilecomp" / art["sha256"] / Path(art["file"]).name
        assert sha256(pushed) == art["sha256"]  # each phone got its own copy
    # the pins follow each phone's own cpufreq overlay (phones 0, 2: cpu1 is big; phones 1, 3: cpu0)
    assert [next(r for r in rows if r["device"] == f"adb:{p.serial}")["extra"]["taskset_mask"] for p in lab] \
        == ["2", "1", "2", "1"]
    windows = [_exec_window(p) for p in lab]
    assert max(w[0] for w in windows) < min(w[1] for w in windows), "the phones were not profiled at once"
    # one column per phone, each cell naming provenance and the phone
    for phone in lab:
        assert f"adb:{phone.serial} p50" in result.output
        assert re.search(rf"\d+\.\d\d ms \(measured-adb; {phone.model}, loopback-", result.output)


def test_every_ready_device_of_a_remote_adb_server(bundle, lab, device, adb_port):
    from mobilecomp.pipeline import profile_bundle

    refused = device(extra=("--unauthorized",))  # on the server too, but not ready: left out, not fatal
    subprocess.run([ADB, "-P", str(adb_port), "connect", refused.serial], capture_output=True, timeout=30)
    rows = profile_bundle(bundle, "adb", _options(adb_server=f"127.0.0.1:{adb_port}"))
    assert sorted(r.device for r in rows) == sorted(f"adb:{p.serial}" for p in lab)
    assert {r.device_info.extra["adb_server"] for r in rows} == {f"127.0.0.1:{adb_port}"}


def test_unreachable_adb_server_is_one_line(bundle, adb_port):
    from mobilecomp.pipeline import profile_bundle

    with pytest.raises(DeviceError, match=r"adb server 127\.0\.0\.1:\d+ did not answer") as err:
        profile_bundle(bundle, "adb", _options(adb_server=f"127.0.0.1:{reserved_port()}"))
    assert "\n" not in str(err.value)


def test_a_lost_device_costs_only_its_own_rows(bundle, lab, mode, adb_port):
    from mobilecomp.bundle import read_results
    from mobilecomp.pipeline import profile_bundle
    from mobilecomp.profile import ProfileOptions

    runs = 300 if mode[0] == "arm" else 20000  # a few seconds per configuration either way
    serials = ",".join(p.serial for p in lab)
    options = ProfileOptions(threads=(1,), runs=runs, warmup=1, extra={"serial": serials})
    lost = lab[1]
    watcher = kill_when(lost, "ort-runner -r", 2, 0.5)  # during its second artefact
    with pytest.raises(DeviceError) as err:
        profile_bundle(bundle, "adb", options)
    watcher.join(5)
    message = str(err.value)
    assert message.startswith(f"1 of 4 adb devices failed ({lost.serial}: lost adb device") and "\n" not in message
    kept = read_results(bundle)
    by_device = {p.serial: sorted(r["artefact"] for r in kept if r["device"] == f"adb:{p.serial}") for p in lab}
    assert by_device.pop(lost.serial) == ["onnx-fp32"]
    assert all(arts == ["onnx-fp32", "onnx-int8-dynamic"] for arts in by_device.values())

    lost.start()  # back on the same address with the same storage; the server reconnects to it
    connect(ADB, adb_port, [lost])
    rows = profile_bundle(bundle, "adb", options)
    assert [(r.device, r.artefact) for r in rows] == [(f"adb:{lost.serial}", "onnx-int8-dynamic")]
    assert not (bundle / ".adb-resume.json").exists()


# ---- STF: recorded API responses (not a real STF server), real adb and phones ----------------------


class RecordedStf(ThreadingHTTPServer):
    """Answers as STF 3.x's /api/v1 does (response shapes from STF's API docs and its api controllers)."""

    def __init__(self, phones, token: str) -> None:
        super().__init__(("127.0.0.1", 0), StfHandler)
        self.token, self.calls = token, []
        self.devices = {f"STF{i}": p for i, p in enumerate(phones)}
        self.owned: set[str] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class StfHandler(BaseHTTPRequestHandler):
    server: RecordedStf

    def log_message(self, *args) -> None:
        pass

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method: str) -> None:
        stf = self.server
        stf.calls.append(f"{method} {self.path}")
        if self.headers.get("Authorization") != f"Bearer {stf.token}":
            return self._answer(401, {"success": False, "description": "Requires Authentication"})
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else {}
        path = self.path.split("?")[0]
        if method == "GET" and path == "/api/v1/devices":
            devices = [{"serial": s, "present": True, "ready": True, "using": s in stf.owned,
                        "owner": {"email": "me@lab"} if s in stf.owned else None, "model": p.model}
                       for s, p in stf.devices.items()]
            devices.append({"serial": "BUSY", "present": True, "ready": True, "using": False,
                            "owner": {"email": "someone@else"}})
            return self._answer(200, {"success": True, "devices": devices})
        if method == "POST" and path == "/api/v1/user/devices":
            if body.get("serial") not in stf.devices or body["serial"] in stf.owned:
                return self._answer(403, {"success": False, "description": "Device is being used or not available"})
            stf.owned.add(body["serial"])
            return self._answer(200, {"success": True, "description": "Device successfully added"})
        m = re.fullmatch(r"/api/v1/user/devices/([^/]+)(/remoteConnect)?", path)
        if m and m.group(1) in stf.owned:
            serial = m.group(1)
            if method == "POST" and m.group(2):
                return self._answer(200, {"success": True, "remoteConnectUrl": stf.devices[serial].serial})
            if method == "DELETE" and m.group(2):
                return self._answer(200, {"success": True, "description": "Device remote disconnected successfully"})
            if method == "DELETE":
                stf.owned.discard(serial)
                return self._answer(200, {"success": True, "description": "Device successfully removed"})
        return self._answer(404, {"success": False, "description": "Device not found"})

    def do_GET(self) -> None:  # noqa: N802
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._route("DELETE")


@pytest.fixture
def stf(tmp_path, mode, adb_port, monkeypatch):
    phones = [p.start() for p in lab_phones(2, tmp_path / "stf-lab", mode[1])]
    server = RecordedStf(phones, token="t0ken")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("MOBILECOMP_STF_TOKEN", "t0ken")
    yield server
    server.shutdown()
    for p in phones:
        p.kill()


def test_stf_claims_connects_profiles_and_releases(bundle, stf):
    from mobilecomp.pipeline import profile_bundle

    rows = profile_bundle(bundle, "adb", _options(stf=stf.url))
    assert sorted(r.device for r in rows) == sorted(f"adb:{p.serial}" for p in stf.devices.values())
    assert not stf.owned  # every claimed device was released
    for serial in stf.devices:
        assert stf.calls.index(f"POST /api/v1/user/devices/{serial}/remoteConnect") \
            < stf.calls.index(f"DELETE /api/v1/user/devices/{serial}/remoteConnect") \
            < stf.calls.index(f"DELETE /api/v1/user/devices/{serial}")
    assert "BUSY" not in " ".join(stf.calls)  # someone else's device is never claimed


def test_stf_releases_even_when_profiling_fails(bundle, stf):
    from mobilecomp.pipeline import profile_bundle

    first = next(iter(stf.devices.values()))
    first.kill()  # STF still lists it, but adb cannot reach it
    with pytest.raises(DeviceError, match=rf"adb connect {re.escape(first.serial)} failed"):
        profile_bundle(bundle, "adb", _options(stf=stf.url))
    assert not stf.owned


def test_stf_token_faults(bundle, stf, monkeypatch):
    from mobilecomp.pipeline import profile_bundle

    monkeypatch.setenv("MOBILECOMP_STF_TOKEN", "wrong")
    with pytest.raises(DeviceError, match=r"refused the token \(Requires Authentication\); put a valid access token"):
        profile_bundle(bundle, "adb", _options(stf=stf.url))
    monkeypatch.delenv("MOBILECOMP_STF_TOKEN")
    with pytest.raises(DeviceError, match=r"--stf needs an access token in \$MOBILECOMP_STF_TOKEN"):
        profile_bundle(bundle, "adb", _options(stf=stf.url))
