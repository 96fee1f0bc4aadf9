"""Command line of the loopback adb test device (prints `listening 127.0.0.1:PORT` when ready)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from . import write_phone_sysfs
from .device import TestDevice
from .sandbox import Sandbox

ARM_CPUINFO = """processor\t: {i}
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x4
CPU part\t: 0xd0b
CPU revision\t: 1

"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mobilecomp.testdevice", description=__doc__)
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free one)")
    ap.add_argument("--props", required=True, type=Path, help="getprop answers, key=value a line")
    ap.add_argument("--root", required=True, type=Path, help="sandbox directory (holds /data, /sdcard)")
    ap.add_argument("--qemu-sysroot", type=Path, help="run pushed aarch64 binaries under qemu-aarch64 -L this")
    ap.add_argument("--qemu-cpu", default="cortex-a76")
    ap.add_argument("--quota", type=int, help="bytes /data may hold before pushes fail (No space left)")
    ap.add_argument("--cpufreq", help="write a cpufreq+thermal overlay: max kHz per core, comma-separated")
    ap.add_argument("--temp", type=float, default=35.0, help="thermal zone temperature of the overlay (C)")
    ap.add_argument("--unauthorized", action="store_true", help="ask for an RSA key and accept none")
    ap.add_argument("--log", type=Path, help="append each executed command here")
    args = ap.parse_args(argv)

    target = {"filename": args.log} if args.log else {"stream": sys.stderr}
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", **target)
    if args.cpufreq:
        write_phone_sysfs(args.root, [int(x) for x in args.cpufreq.split(",")], args.temp)
    if args.qemu_sysroot:
        cpuinfo = args.root / "proc" / "cpuinfo"
        if not cpuinfo.exists():
            cpuinfo.parent.mkdir(parents=True, exist_ok=True)
            cpuinfo.write_text("".join(ARM_CPUINFO.format(i=i) for i in range(os.cpu_count() or 1)))
    sandbox = Sandbox(args.root, args.props, qemu_sysroot=args.qemu_sysroot, qemu_cpu=args.qemu_cpu,
                      quota_bytes=args.quota)
    device = TestDevice(sandbox, args.port, unauthorized=args.unauthorized)

    def stop(signum, _frame):  # take the commands we started down with us, as a rebooting phone would
        for proc in list(device.procs):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"listening 127.0.0.1:{device.port}", flush=True)
    device.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
