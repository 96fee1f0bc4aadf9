"""One guest process per artefact under qemu-aarch64 with the counting plugin; crashes become DeviceErrors."""

from __future__ import annotations

import json
import signal
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ...devices import INSTRUCTION_CLASSES
from ...errors import DeviceError
from .setup import Toolchain, guest_env

GUEST = Path(__file__).with_name("guest.py")
# plugin class -> the four reported classes
CLASS_GROUPS = {"fmla": "simd_mac", "fmadd": "simd_mac", "int_mac": "simd_mac", "mul": "simd_mac",
                "dot": "dot", "mmla": "dot", "load": "load_store", "store": "load_store",
                "simd_other": "other", "branch": "other", "other": "other"}
GUEST_TIMEOUT_S = 3600


@dataclass
class GuestResult:
    regions: list[dict[str, int]]  # per counted inference: plugin class -> instructions
    info: dict  # what guest.py reported (versions, outputs, emulated wall time)
    outputs: dict  # npz arrays the guest saved (parity outputs)
    command: list[str]

    @property
    def median(self) -> dict[str, int]:
        """The median inference (by total instructions), by plugin class."""
        ordered = sorted(self.regions, key=lambda r: sum(r.values()))
        return ordered[len(ordered) // 2]

    def classes(self) -> dict[str, int]:
        grouped = dict.fromkeys(INSTRUCTION_CLASSES, 0)
        for name, count in self.median.items():
            grouped[CLASS_GROUPS[name]] += count
        return grouped

    def spread(self) -> float:
        """(max - min) / median of the per-run totals: how well counts repeat."""
        totals = [sum(r.values()) for r in self.regions]
        return (max(totals) - min(totals)) / statistics.median(totals) if totals else 0.0


def qemu_command(tc: Toolchain, cpu: str, args: list[str], counts: Path | None) -> list[str]:
    cmd = [tc.qemu, "-cpu", cpu, "-L", str(tc.sysroot)]
    if counts is not None:
        cmd += ["-plugin", f"{tc.plugin},out={counts}"]
    return cmd + [str(tc.python), *args]


def run_guest(tc: Toolchain, cpu: str, script: Path, job: dict, what: str,
              feeds: dict[str, dict] | None = None) -> GuestResult:
    """Run ``script job.json`` in the guest with the plugin; ``what`` names the work in errors.
    Each of ``feeds`` (job key -> arrays) is saved as an npz whose path the job gets under that key."""
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="mobilecomp-arm-") as tmp:
        tmpdir = Path(tmp)
        job = dict(job, out=str(tmpdir / "out.npz"), result=str(tmpdir / "result.json"))
        for key, arrays in (feeds or {}).items():
            np.savez(tmpdir / f"{key}.npz", **arrays)
            job[key] = str(tmpdir / f"{key}.npz")
        (tmpdir / "job.json").write_text(json.dumps(job))
        counts = tmpdir / "counts.txt"
        cmd = qemu_command(tc, cpu, [str(script), str(tmpdir / "job.json")], counts)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=guest_env(tc),
                                  timeout=GUEST_TIMEOUT_S)
        except FileNotFoundError:
            raise DeviceError(f"{tc.qemu} not found; install qemu-user, then `mobilecomp setup arm`") from None
        except subprocess.TimeoutExpired:
            raise DeviceError(f"{what} ran over {GUEST_TIMEOUT_S} s under qemu-aarch64 -cpu {cpu}; "
                              "profile fewer artefacts (--artefact) or a shorter seq_len") from None
        if proc.returncode != 0:
            raise DeviceError(_crash_message(proc, cpu, what))
        info = json.loads((tmpdir / "result.json").read_text())
        with np.load(tmpdir / "out.npz") as data:
            outputs = {k: data[k] for k in data.files}
        regions = _read_counts(counts)
    if len(regions) != job.get("runs", len(regions)):
        raise DeviceError(f"{what}: the plugin saw {len(regions)} marked runs, expected {job['runs']}; "
                          "rebuild it with `mobilecomp setup arm --force`")
    return GuestResult(regions, info, outputs, cmd)


def _read_counts(path: Path) -> list[dict[str, int]]:
    names, regions = [], []
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == "classes":
            names = parts[1:]
        elif parts and parts[0] == "region":
            regions.append(dict(zip(names, map(int, parts[2:]))))
    return regions


def _crash_message(proc: subprocess.CompletedProcess, cpu: str, what: str) -> str:
    code = proc.returncode
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    tail = lines[-1] if lines else ""
    if code < 0 or code >= 128 or "core dumped" in proc.stderr or "uncaught target signal" in proc.stderr:
        number = -code if code < 0 else code - 128
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else f"signal {number}"
        if "uncaught target signal" in proc.stderr:
            name = tail.split("uncaught target signal", 1)[1].split("-")[0].strip() or name
        return (f"{what} crashed under qemu-aarch64 -cpu {cpu} ({name}); if every model crashes the "
                "ARM sysroot is broken (`mobilecomp setup arm --force`), otherwise this model cannot run "
                "on this CPU model: leave it out with --artefact")
    if "No module named" in proc.stderr or "cannot open shared object" in proc.stderr or \
            "Could not open" in proc.stderr or "error while loading shared libraries" in proc.stderr or \
            "Could not load plugin" in proc.stderr:
        return (f"the ARM toolchain (sysroot or counting plugin) is broken ({tail}); rebuild it with "
                "`mobilecomp setup arm --force`")
    return f"{what} failed under qemu-aarch64 -cpu {cpu} ({tail or f'exit {code}'}); check the model runs on the host first"
