"""ONNX Runtime and ExecuTorch over adb on one device: each runtime's own runner times its artefacts
and checks their parity on the device.

    .venv/bin/python bench/adb_runtimes.py --bundle BUNDLE --executor-runner PATH [--serial S | --loopback]
                                           [--runs 20] [--out docs/adb-runtimes.md]

BUNDLE holds onnx and executorch artefacts (bench/runtimes.py makes one for all-MiniLM-L6-v2).
PATH is ExecuTorch's executor_runner built for the device (scripts/build_executor_runner.sh; no
registry ships one). ``--loopback`` (the default without ``--serial``) starts one loopback test
device with a private adb server: ARM, its runners under qemu-aarch64 -cpu cortex-a76, where
`mobilecomp setup adb` built the sysroot. Its wall times are emulation, not a phone's; its parity
is the aarch64 kernels' real arithmetic. Runs the real CLI twice (default runners, then
``--runner executor_runner=PATH``) and writes a markdown section.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SAVED = ROOT / "bench" / "results" / "adb-runtimes.json"

from adb_lab import profile  # noqa: E402 - the same CLI call, with --runner


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path)
    ap.add_argument("--executor-runner", type=Path)
    ap.add_argument("--serial", help="a real phone (default: one loopback test device)")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--out", type=Path, help="also write the section here")
    ap.add_argument("--render-only", action="store_true", help=f"rewrite the section from {SAVED.relative_to(ROOT)}")
    args = ap.parse_args()
    if not args.render_only:
        if args.bundle is None or args.executor_runner is None:
            ap.error("--bundle and --executor-runner are needed to measure")
        SAVED.write_text(json.dumps(measure(args), indent=1) + "\n")
    section = render(json.loads(SAVED.read_text()))
    print(section)
    if args.out:
        args.out.write_text(section + "\n")


def measure(args) -> dict:
    """Profiles the bundle on the device with both runtimes' runners; the rows and how they were taken."""
    from mobilecomp.bundle import read_results
    from mobilecomp.profile.adb.runners import adb_cache
    from mobilecomp.profile.adb.transport import adb_binary
    from mobilecomp.testdevice.lab import connect, lab_phones, reserved_port

    adb = adb_binary()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    phone = None
    with tempfile.TemporaryDirectory(prefix="mobilecomp-adb-runtimes-") as tmp:
        work = Path(tmp)
        bundle = work / "bundle"
        shutil.copytree(args.bundle, bundle)
        (bundle / "results.jsonl").unlink(missing_ok=True)
        serial = args.serial
        if serial is None:
            sysroot = adb_cache() / "aarch64-sysroot"
            if not (shutil.which("qemu-aarch64") and (sysroot / "proc/cpuinfo").exists()):
                raise SystemExit("no ARM loopback device here: run `mobilecomp setup adb` (qemu-user, the sysroot)")
            port = reserved_port()
            env["MOBILECOMP_ADB_PORT"] = str(port)
            phone = lab_phones(1, work / "lab", sysroot)[0].start()
        t0 = time.perf_counter()
        try:
            if phone is not None:
                connect(adb, port, [phone])
                serial = phone.serial
            profile(bundle, [serial], args.runs, env)
            profile(bundle, [serial], args.runs, env, "--runner", f"executor_runner={args.executor_runner.resolve()}")
        finally:
            if phone is not None:
                phone.kill()
                subprocess.run([adb, "-P", str(port), "kill-server"], capture_output=True, timeout=30)
        wall = time.perf_counter() - t0
        rows = read_results(bundle)
        manifest = json.loads((bundle / "manifest.json").read_text())
    return {"rows": rows, "recipe": manifest["recipe"]["name"], "label": manifest["checkpoint"].get("label"),
            "loopback": phone is not None, "runs": args.runs, "wall_s": round(wall, 1),
            "machine": f"{platform.platform()}, {cpu_name()}, {os.cpu_count()} cores",
            "date": time.strftime("%Y-%m-%d")}


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def render(saved: dict) -> str:
    rows = saved["rows"]
    device = rows[0]["device_info"] if rows else {}
    where = ("one loopback test device (linux-aarch64 runners under qemu-aarch64 -cpu cortex-a76; wall times are "
             "emulation, not a phone's)" if saved["loopback"] else f"{device.get('manufacturer')} {device.get('model')}")
    runtime = {"ort-runner": "ONNX Runtime", "executor_runner": "ExecuTorch"}
    runs = saved["runs"]
    lines = [
        f"Machine: {saved['machine']}; {saved['date']}; {saved['wall_s']:.0f} s in all.",
        "",
        f"Bundle: {saved['recipe']} ({saved['label'] or 'trained weights'}); device: {where}.",
        "",
        "    " + f"mobilecomp profile BUNDLE --device adb --serial SERIAL --runs {runs} --warmup 1 --threads 1",
        "    " + f"mobilecomp profile BUNDLE --device adb --serial SERIAL --runs {runs} --warmup 1 --threads 1 "
                 "--runner executor_runner=PATH",
        "",
        "| runtime | artefact | runner | timed | measured-adb p50 ms | parity on device | sentences | cos_min | passed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["runner"]["name"], r["artefact"])):
        parity = r.get("parity") or {}
        timed = r["extra"].get("signature") or f"seq {r['seq_len']}"
        who = r["runner"]
        sha = who.get("sha256") or who.get("source_sha256") or "?"  # ort-runner: its source's hash
        lines.append(
            f"| {runtime.get(who['name'], who['name'])} | {r['artefact']} | {who['name']} "
            f"({who.get('version') or who.get('source')}, sha256 {sha[:12]}) | "
            f"{timed}, {r['latency_ms']['n']} runs | {r['latency_ms']['p50']:.1f} | "
            f"{'checked' if parity else 'not checked'} | {parity.get('sentences', '-')} | "
            f"{parity.get('cos_min', float('nan')):.6f} | {parity.get('passed', '-')} |")
    lines += ["", f"Reproduce: `{shlex.join(['.venv/bin/python', 'bench/adb_runtimes.py', '--bundle', 'BUNDLE', '--executor-runner', 'PATH', '--runs', str(runs)])}`."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
