"""A lab of loopback test devices behind one adb server: start N phones, `adb connect` each, stop them.

    python -m mobilecomp.testdevice.lab --devices 4 --root /tmp/lab --adb-port 5137 [--qemu-sysroot DIR]
    # prints one `serial 127.0.0.1:PORT` line per phone, then `ready`; Ctrl-C stops them

Each phone is its own `python -m mobilecomp.testdevice` process with its own sandbox, props and
cpufreq overlay; the adb server is the real one, on the given port.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PROPS = """\
ro.product.model={model}
ro.product.manufacturer=mobilecomp
ro.product.name=testphone
ro.product.device=testphone
ro.soc.model={soc}
ro.board.platform=loopback
ro.hardware=loopback
ro.product.cpu.abi={abi}
ro.build.version.release=14
ro.build.version.sdk=34
ro.build.fingerprint=mobilecomp/testphone/testphone:14/TEST/1:user/test-keys
ro.mobilecomp.testdevice={note}
"""


def reserved_port() -> int:
    """A free loopback port for a server started later (an adb server, a port left closed).

    It comes from below the kernel's ephemeral range, so nothing bound to port 0 in the meantime (a
    test device) and no outgoing connection can take it first: a bind(0) port, closed and handed on,
    once went to a test device before the adb server listened, and `adb start-server` hung on it."""
    import random
    import socket

    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    ports = range(10000, low)
    for port in random.sample(ports, min(200, len(ports))):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port in 10000-{low}")


def note_for(arm: bool) -> str:
    return ("loopback test device; runner is linux-aarch64 under qemu-aarch64 -cpu cortex-a76" if arm
            else "loopback test device; runner is the host's linux-x86_64 build")


@dataclass
class Phone:
    """One test device process; ``kill`` takes it away the way a pulled cable does."""

    root: Path
    model: str
    soc: str
    qemu_sysroot: Path | None = None
    port: int = 0
    cpufreq: str = "1800000,2400000"
    args: tuple[str, ...] = ()
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def serial(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.root.parent / f"{self.root.name}.log"

    def start(self) -> Phone:
        arm = self.qemu_sysroot is not None
        props = self.root.parent / f"{self.root.name}.props"
        props.parent.mkdir(parents=True, exist_ok=True)
        props.write_text(PROPS.format(model=self.model, soc=self.soc, abi="arm64-v8a" if arm else "x86_64",
                                      note=note_for(arm)))
        cmd = [sys.executable, "-m", "mobilecomp.testdevice", "--port", str(self.port), "--props", str(props),
               "--root", str(self.root), "--cpufreq", self.cpufreq, "--log", str(self.log), *self.args]
        if arm:
            cmd += ["--qemu-sysroot", str(self.qemu_sysroot)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening 127.0.0.1:"):
            raise RuntimeError(f"test device did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)


def lab_phones(count: int, root: Path, qemu_sysroot: Path | None) -> list[Phone]:
    """``count`` phones with distinct models; their big core alternates between host cpu1 and cpu0,
    so that pinned runs of neighbouring phones do not queue on one host core."""
    return [Phone(root / f"phone{i}", model=f"Labphone {i}", soc=f"loopback-{'ARM' if qemu_sysroot else 'x86'}",
                  qemu_sysroot=qemu_sysroot, cpufreq="1800000,2400000" if i % 2 == 0 else "2400000,1800000")
            for i in range(count)]


def connect(adb: str, adb_port: int, phones: list[Phone]) -> None:
    """`adb -P PORT connect` each phone (the server starts on first use) and wait until all are 'device'."""
    for phone in phones:
        out = subprocess.run([adb, "-P", str(adb_port), "connect", phone.serial], capture_output=True, text=True,
                             timeout=30)
        if "connected to" not in out.stdout + out.stderr:
            raise RuntimeError(f"adb connect {phone.serial}: {out.stdout.strip()} {out.stderr.strip()}")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        listed = subprocess.run([adb, "-P", str(adb_port), "devices"], capture_output=True, text=True, timeout=30)
        states = dict(line.split()[:2] for line in listed.stdout.splitlines()[1:] if len(line.split()) >= 2)
        if all(states.get(p.serial) == "device" for p in phones):
            return
        time.sleep(0.25)
    raise RuntimeError(f"not every phone came up on adb server port {adb_port}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mobilecomp.testdevice.lab", description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=4)
    ap.add_argument("--root", type=Path, required=True, help="one sandbox per phone is made under this")
    ap.add_argument("--adb-port", type=int, default=int(os.environ.get("MOBILECOMP_ADB_PORT") or 5037))
    ap.add_argument("--qemu-sysroot", type=Path, help="ARM phones: run pushed aarch64 binaries under qemu")
    args = ap.parse_args(argv)
    from ..profile.adb.transport import adb_binary

    phones = [p.start() for p in lab_phones(args.devices, args.root, args.qemu_sysroot)]
    try:
        connect(adb_binary(), args.adb_port, phones)
        for p in phones:
            print(f"serial {p.serial}", flush=True)
        print("ready", flush=True)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for p in phones:
            p.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
