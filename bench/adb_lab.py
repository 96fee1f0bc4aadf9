"""The device lab's wall time: N loopback phones in one `profile --device adb` call against one at a time.

    .venv/bin/python bench/adb_lab.py [--devices 4] [--runs 20] [--bundle BUNDLE] [--out FILE.md]

Exports tests/data/tiny-bert.yaml (2-layer random BERT, seq 32, onnx fp32 + int8-dynamic) unless
--bundle is given, starts a private adb server and two fresh labs of N loopback phones
(mobilecomp.testdevice.lab; ARM under qemu where `mobilecomp setup adb` built the sysroot), and
times the real CLI: once with `--serial S1,...,SN` on lab A, once per phone on lab B (both labs
start empty, so both pay the pushes). Prints a markdown section for docs/adb.md.
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


def profile(bundle: Path, serials: list[str], runs: int, env: dict, *extra: str) -> tuple[float, str]:
    """The real CLI's `profile --device adb` on ``serials`` (``extra``: more options): (wall s, stdout)."""
    cmd = [sys.executable, "-c", "from mobilecomp.cli import main; main()", "profile", str(bundle), "--device", "adb",
           "--serial", ",".join(serials), "--runs", str(runs), "--warmup", "1", "--threads", "1", *extra]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"profile failed ({res.returncode}): {res.stderr.strip()[-400:]}")
    return wall, res.stdout


def main() -> None:
    from mobilecomp.bundle import read_results
    from mobilecomp.profile.adb.runners import adb_cache
    from mobilecomp.profile.adb.transport import adb_binary
    from mobilecomp.report.lab import lab_table
    from mobilecomp.testdevice.lab import connect, lab_phones, reserved_port

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=4)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--bundle", type=Path, help="profile this bundle (default: export the tiny test recipe)")
    ap.add_argument("--out", type=Path, help="also write the section here")
    args = ap.parse_args()
    sysroot = adb_cache() / "aarch64-sysroot"
    sysroot = sysroot if shutil.which("qemu-aarch64") and (sysroot / "proc/cpuinfo").exists() else None
    adb, port = adb_binary(), reserved_port()
    env = {**os.environ, "MOBILECOMP_ADB_PORT": str(port), "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory(prefix="mobilecomp-lab-") as tmp:
        work = Path(tmp)
        if args.bundle is None:
            from mobilecomp.pipeline import export_bundle
            from mobilecomp.recipe import load_recipe

            args.bundle = work / "tiny-bert"
            export_bundle(load_recipe(str(ROOT / "tests" / "data" / "tiny-bert.yaml")), args.bundle)
        labs = {name: lab_phones(args.devices, work / name, sysroot) for name in ("lab", "one-by-one")}
        phones = [p.start() for group in labs.values() for p in group]
        try:
            for group in labs.values():
                connect(adb, port, group)
            together = work / "together"
            shutil.copytree(args.bundle, together)
            wall_lab, out = profile(together, [p.serial for p in labs["lab"]], args.runs, env)
            single = work / "single"
            shutil.copytree(args.bundle, single)
            walls = [profile(single, [p.serial], args.runs, env)[0] for p in labs["one-by-one"]]
        finally:
            for p in phones:
                p.kill()
            subprocess.run([adb, "-P", str(port), "kill-server"], capture_output=True, timeout=30)
        rows = read_results(together)
        manifest = json.loads((together / "manifest.json").read_text())
    per_device = {}
    for r in rows:
        per_device[r["device"]] = per_device.get(r["device"], 0) + 1
    kind = "ARM (linux-aarch64 ort-runner under qemu-aarch64 -cpu cortex-a76)" if sysroot else "x86 (host ort-runner)"
    cmd = (f"mobilecomp profile BUNDLE --device adb --serial {','.join(f'127.0.0.1:P{i}' for i in range(args.devices))} "
           f"--runs {args.runs} --warmup 1 --threads 1")
    section = "\n".join([
        f"Machine: {platform.platform()}, {os.cpu_count()} cores (shared with other jobs), "
        f"{platform.python_implementation()} {platform.python_version()}, adb "
        f"{subprocess.run([adb, 'version'], capture_output=True, text=True).stdout.splitlines()[0]}; "
        f"{time.strftime('%Y-%m-%d')}.",
        "",
        f"Bundle: {manifest['recipe']['name']} ({', '.join(a['name'] for a in manifest['artefacts'])}); "
        f"phones: {args.devices} loopback test devices, {kind}, behind one adb server.",
        "",
        "    " + cmd,
        "",
        "| how | wall s |", "|---|---|",
        f"| {args.devices} phones in one call (`--serial` list, parallel) | {wall_lab:.1f} |",
        *[f"| phone {i} alone | {w:.1f} |" for i, w in enumerate(walls)],
        f"| one at a time, total | {sum(walls):.1f} |",
        f"| speed-up | {sum(walls) / wall_lab:.2f}x |",
        "",
        "Rows per device from the one call: "
        + ", ".join(f"{d}: {n}" for d, n in sorted(per_device.items())) + ".",
        "",
        lab_table(rows),
        "",
        "Parity on each device (every row runs its artefact on the bundle's parity subset with the device's "
        "own runner and compares with reference.npz under the artefact's budget):",
        "",
        "| device | artefact | sentences | cos_min | max_abs | passed | what the row says |",
        "|---|---|---|---|---|---|---|",
        *[f"| {r['device']} | {r['artefact']} | {(r.get('parity') or {}).get('sentences', '-')} | "
          f"{(r.get('parity') or {}).get('cos_min', float('nan')):.6f} | "
          f"{(r.get('parity') or {}).get('max_abs', float('nan')):.2e} | "
          f"{(r.get('parity') or {}).get('passed', '-')} | {r['extra'].get('device_parity', 'not recorded')} |"
          for r in sorted(rows, key=lambda r: (r['device'], r['artefact']))],
        "",
        "TFLite artefacts have no row here: benchmark_model is an Android arm64 binary and these loopback phones "
        "are Linux; on a phone their rows say \"parity not checked on device\" with the reason (no LiteRT C "
        "library for Android arm64 in PyPI, npm or Debian to build a dumping runner on).",
        "",
        f"Reproduce: `{shlex.join(['.venv/bin/python', 'bench/adb_lab.py', '--devices', str(args.devices), '--runs', str(args.runs)])}`.",
    ])
    print(section)
    if args.out:
        args.out.write_text(section + "\n")


if __name__ == "__main__":
    main()
