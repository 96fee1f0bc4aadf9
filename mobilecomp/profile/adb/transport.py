"""Talks to a phone through the real adb server: connect, pick the device, shell v2, push, pull.

Every call has a timeout. Exit codes come from shell v2 (the device must advertise
``shell_v2``; older devices get the exit code through an echoed marker instead). Each fault
the user can fix becomes a one-line :class:`DeviceError` naming the fix.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ...errors import DeviceError

LOST = ("device offline", "not found", "no devices/emulators", "closed", "connection reset",
        "protocol fault", "broken pipe", "device still connecting", "disconnected")
_RC = "__mobilecomp_rc="


class DeviceLost(DeviceError):
    """The device went away while it was being used."""


@dataclass
class Result:
    rc: int
    out: str
    err: str


def adb_binary() -> str:
    """$MOBILECOMP_ADB, else `adb` on PATH (Debian's), else the one inside the adbutils wheel."""
    env = os.environ.get("MOBILECOMP_ADB")
    if env:
        if not Path(env).is_file() or not os.access(env, os.X_OK):
            raise DeviceError(f"MOBILECOMP_ADB={env}: {'not executable' if Path(env).is_file() else 'no such file'}; "
                              "point it at an adb binary or unset it")
        return env
    found = shutil.which("adb")
    if found:
        return found
    try:
        import adbutils

        candidate = Path(adbutils.__file__).parent / "binaries" / "adb"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    raise DeviceError("no adb binary: `apt-get install adb` (or `pip install adbutils`), or set MOBILECOMP_ADB")


def env_port() -> int:
    """$MOBILECOMP_ADB_PORT (the adb server's port), else 5037."""
    named = os.environ.get("MOBILECOMP_ADB_PORT")
    if not named:
        return 5037
    if not named.isdigit() or not 0 < int(named) < 65536:
        raise DeviceError(f"MOBILECOMP_ADB_PORT={named}: not a TCP port (1..65535); fix or unset it")
    return int(named)


class Adb:
    """One device behind one adb server (``port``: the server's; 5037 unless told; ``host``: a remote
    server's address, as `adb -H HOST -P PORT` takes it, else the local server)."""

    def __init__(self, serial: str | None = None, port: int | None = None, binary: str | None = None,
                 host: str | None = None) -> None:
        self.binary = binary or adb_binary()
        self.port = port or env_port()
        self.host = host
        self.serial = serial
        self.shell_v2 = True

    @property
    def server(self) -> str:
        """The adb server's address, as the messages name it."""
        return f"{self.host or 'localhost'}:{self.port}"

    @property
    def cli(self) -> str:
        """The adb command line that reaches this server, for the messages: `adb -H HOST -P PORT`."""
        return " ".join(["adb"] + self._server_args()[1:])

    def _server_args(self) -> list[str]:
        return [self.binary] + (["-H", self.host] if self.host else []) + ["-P", str(self.port)]

    def run(self, *args: str, timeout: float = 60, device: bool = True) -> Result:
        serial = ["-s", self.serial] if device and self.serial else []
        cmd = self._server_args() + serial + list(args)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  errors="replace", stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise DeviceLost(f"adb {' '.join(args[:2])} gave no answer in {timeout:.0f} s; is the device "
                             f"still attached (`{self.cli} devices`)?") from None
        return Result(proc.returncode, proc.stdout, proc.stderr)

    # ---- finding the device ---------------------------------------------------------------

    def start_server(self) -> None:
        """Starts the local server; a remote one (``host``) must already run: it is only asked."""
        if self.host:
            res = self.run("devices", device=False, timeout=30)
            if res.rc != 0:
                raise DeviceError(f"adb server {self.server} did not answer ({_last(res.err or res.out)}); start "
                                  f"it there with `adb -a -P {self.port} nodaemon server` or fix --adb-server")
            return
        res = self.run("start-server", device=False, timeout=30)
        if res.rc != 0:
            raise DeviceError(f"adb server on port {self.port} did not start: {_last(res.err or res.out)}")

    def connect(self, hostport: str) -> None:
        """`adb connect` exits 0 even when it fails: success is the words "connected to"."""
        self.start_server()
        res = self.run("connect", hostport, device=False, timeout=30)
        text = (res.out + res.err).strip()
        if "authenticate" in text or "unauthorized" in text:
            raise DeviceError(f"adb device {hostport} is unauthorized; unlock the phone and accept the 'Allow "
                              "debugging' prompt (wireless debugging: pair first with `adb pair HOST:PORT`)")
        if "connected to" not in text:  # also matches "already connected to"
            raise DeviceError(f"adb connect {hostport} failed ({_last(text) or 'no answer'}); check the "
                              "address, that the phone has wireless debugging on, and the port")
        if not self.serial:
            self.serial = hostport
        deadline = time.monotonic() + 10  # a reconnected device may show "offline" for a moment
        while time.monotonic() < deadline and dict(self.devices()).get(hostport) in ("offline", "connecting", None):
            time.sleep(0.25)

    def devices(self) -> list[tuple[str, str]]:
        res = self.run("devices", device=False, timeout=30)
        rows = []
        for line in res.out.splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 2:
                rows.append((parts[0], parts[1]))
        return rows

    def ensure_device(self) -> str:
        """The serial of the one device to use, or a DeviceError saying how to get one."""
        self.start_server()
        devices = self.devices()
        if self.serial:
            state = dict(devices).get(self.serial)
            if state is None:
                raise DeviceError(f"no adb device '{self.serial}' (attached: {_names(devices)}); plug it in "
                                  "with USB debugging on, or pass --connect HOST:PORT")
        else:
            ready = [d for d in devices if d[1] == "device"]
            if not devices:
                raise DeviceError("no adb device attached; plug in a phone with USB debugging on "
                                  "(Settings > Developer options), or pass --connect HOST:PORT")
            if len(devices) > 1:
                raise DeviceError(f"{len(devices)} adb devices attached ({_names(devices)}); pick one with --serial")
            self.serial, state = (ready or devices)[0]
        if state == "unauthorized":
            raise DeviceError(f"adb device {self.serial} is unauthorized; unlock the phone and accept the "
                              "'Allow USB debugging' prompt (revoke and replug if none shows)")
        if state in ("offline", "connecting", "authorizing"):
            raise DeviceError(f"adb device {self.serial} is {state}; replug it or run "
                              f"`{self.cli} reconnect`, then retry")
        if state != "device":
            raise DeviceError(f"adb device {self.serial} is in state '{state}', not 'device'; boot it to Android")
        features = self.run("features", timeout=30)
        self.shell_v2 = features.rc != 0 or "shell_v2" in features.out
        return self.serial

    # ---- using it -------------------------------------------------------------------------

    def shell(self, command: str, timeout: float = 120, check: bool = False) -> Result:
        cmd = command if self.shell_v2 else f"{command}; echo {_RC}$?"
        res = self.run("shell", cmd, timeout=timeout)
        if not self.shell_v2:
            m = re.search(rf"{_RC}(\d+)\s*$", res.out)
            if m:
                res = Result(int(m.group(1)), res.out[:m.start()], res.err)
        if res.rc == 255 or (res.rc != 0 and _lost(res.err)):
            raise DeviceLost(f"lost adb device {self.serial} ({_last(res.err) or 'adb exited 255'})")
        if check and res.rc != 0:
            raise DeviceError(f"on {self.serial}: `{command[:60]}` exited {res.rc}: {_last(res.err or res.out)}")
        return res

    def push(self, local: Path, remote: str, timeout: float = 600) -> None:
        res = self.run("push", str(local), remote, timeout=timeout)
        if res.rc != 0:
            text = res.err + res.out
            if "No space left" in text:
                raise DeviceError(f"{self.serial}: /data is full (pushing {Path(local).name}); free space "
                                  "with `adb shell rm -r /data/local/tmp/mobilecomp` or uninstall apps")
            if _lost(text):
                raise DeviceLost(f"lost adb device {self.serial} while pushing {Path(local).name} ({_last(text)})")
            raise DeviceError(f"adb push {Path(local).name} to {self.serial} failed: {_last(text)}")

    def pull(self, remote: str, local: Path, timeout: float = 120) -> None:
        res = self.run("pull", remote, str(local), timeout=timeout)
        if res.rc != 0:
            text = res.err + res.out
            if _lost(text):
                raise DeviceLost(f"lost adb device {self.serial} while pulling {remote} ({_last(text)})")
            raise DeviceError(f"adb pull {remote} from {self.serial} failed: {_last(text)}")

    def version(self) -> str:
        """'Version 29.0.6-debian' or 'Version 36.0.0-13206524': which adb client did the talking."""
        res = self.run("version", device=False, timeout=30)
        return next((line.strip() for line in res.out.splitlines() if line.startswith("Version")), "unknown")

    def kill_server(self) -> None:
        self.run("kill-server", device=False, timeout=30)


def _lost(text: str) -> bool:
    """adb's own words for a vanished device (a runner's "not found" does not count)."""
    for line in text.lower().splitlines():
        line = line.strip()
        if line.startswith(("error:", "adb: error:", "adb: failed", "* failed")) and any(w in line for w in LOST):
            return True
    return False


def _last(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _names(devices: list[tuple[str, str]]) -> str:
    return ", ".join(f"{s} ({st})" for s, st in devices) or "none"
