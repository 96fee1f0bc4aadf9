"""Stage 5: measures (or estimates) each artefact's latency on a device, as provenance-carrying rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DeviceError
from ..types import ProfileRow


@dataclass
class ProfileOptions:
    threads: tuple[int, ...] = ()  # empty: 1 and all cores
    runs: int = 30
    warmup: int = 5
    artefacts: tuple[str, ...] = ()  # empty: every artefact in the bundle
    passed_only: bool = False  # leave out artefacts that failed their gate (they cannot be chosen)
    resume: bool = False  # skip artefacts already measured alike; measure the rest one at a time
    extra: dict[str, Any] = field(default_factory=dict)  # backend options (serial, connect, ...)

    def __post_init__(self) -> None:
        from ..errors import ConfigError

        bad = next((t for t in self.threads if isinstance(t, bool) or not isinstance(t, int) or t < 1), None)
        if bad is not None:
            raise ConfigError(f"--threads {bad!r}: a thread count is an integer of at least 1")
        if self.runs < 1 or self.warmup < 0:
            raise ConfigError(f"--runs {self.runs} / --warmup {self.warmup}: at least 1 run and 0 warm-up runs")


def unjudged(manifest: dict, art: dict) -> str | None:
    """Why the bundle's stored reference (inputs/reference.npz) cannot judge ``art``'s outputs on a
    device, in words; None when it can."""
    if art["variant"].startswith("passage-"):
        return "a DeFormer passage graph has no output of its own (its question graph's row judges the pair)"
    decompose = manifest["model"].get("decompose") or {}
    if art["name"] == decompose.get("baseline_artefact"):
        gate = art.get("parity") or {}
        at_export = f" (cos_min {gate['cos_min']:.4f})" if gate.get("cos_min") is not None else ""
        return (f"inputs/reference.npz holds the DeFormer's reference ({decompose.get('reference', 'decomposed')}), "
                f"not the undecomposed model's; {art['name']} was compared with its own PyTorch forward at "
                f"export{at_export}")
    return None


def _host(bundle: Path, manifest: dict, spec: str, options: ProfileOptions) -> list[ProfileRow]:
    from .host import profile_host

    return profile_host(bundle, manifest, options)


def _emulated_arm(bundle: Path, manifest: dict, spec: str, options: ProfileOptions) -> list[ProfileRow]:
    from .emulated_arm import profile_emulated_arm

    return profile_emulated_arm(bundle, manifest, spec, options)


def _adb(bundle: Path, manifest: dict, spec: str, options: ProfileOptions) -> list[ProfileRow]:
    from .adb import profile_adb

    return profile_adb(bundle, manifest, spec, options)


def _cuda(bundle: Path, manifest: dict, spec: str, options: ProfileOptions) -> list[ProfileRow]:
    from .cuda import profile_cuda

    return profile_cuda(bundle, manifest, options)


# device name (the part before ':') -> backend(bundle, manifest, full device string, options)
DEVICES: dict[str, Callable[[Path, dict, str, ProfileOptions], list[ProfileRow]]] = {
    "host": _host,
    "emulated-arm": _emulated_arm,
    "adb": _adb,
    "cuda": _cuda,
}


def profile(bundle: Path, manifest: dict, device: str, options: ProfileOptions) -> list[ProfileRow]:
    kind = device.split(":", 1)[0]
    if kind not in DEVICES:
        raise DeviceError(f"unknown device '{device}' (known: {', '.join(DEVICES)})")
    return DEVICES[kind](bundle, manifest, device, options)


def measured_alike(rows: list[dict], device: str, options: ProfileOptions) -> set[str]:
    """sha256 of the artefacts that ``rows`` already hold for this device, runs, warmup and
    every asked thread count (any count, when the backend picks them)."""
    threads: dict[str, set[int]] = {}
    for row in rows:
        asked = row.get("extra", {}).get("asked", {})
        if row["device"] == device and asked == {"runs": options.runs, "warmup": options.warmup}:
            threads.setdefault(row["artefact_sha256"], set()).add(row["threads"])
    return {sha for sha, counts in threads.items() if counts >= set(options.threads)}


def selected(manifest: dict, options: ProfileOptions) -> list[dict]:
    """The manifest's artefacts that the options name (all by default)."""
    artefacts = [a for a in manifest["artefacts"] if a.get("passed") or not options.passed_only]
    if not options.artefacts:
        return artefacts
    names = [a["name"] for a in artefacts]
    unknown = [n for n in options.artefacts if n not in names]
    if unknown:
        raise DeviceError(f"bundle has no artefact '{unknown[0]}' (it has: {', '.join(names)})")
    return [a for a in artefacts if a["name"] in options.artefacts]
