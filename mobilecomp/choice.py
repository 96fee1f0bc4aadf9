"""Per-device choice: the fastest artefact of a bundle that passed its parity budget, and why.

``export --target DEVICE`` profiles the freshly written bundle on the target (``host``: measured
latency, 1 thread, interleaved; a devices/ profile name: emulated-ARM instruction counts for its
CPU, where the ARM toolchain is set up) and records the choice in ``manifest["choice"]``. The
measurements are appended to the bundle's results like any ``mobilecomp profile`` run.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from .errors import ConfigError, DeviceError


def pick(artefacts: list[dict], cost: dict[str, float], metric: str) -> dict:
    """The passing artefact with the lowest ``cost``; the decision spelled out."""
    fp32 = {a["format"]: cost[a["name"]] for a in artefacts if a["variant"] == "fp32" and a["name"] in cost}
    failed = [a["name"] for a in artefacts if not a.get("passed")]
    faithful = [a for a in artefacts if a.get("passed") and a["name"] in cost]
    unmeasured = [a["name"] for a in artefacts if a["name"] not in cost]
    if not faithful:
        return {"artefact": None, "metric": metric, "why": "no artefact passed its parity budget and was measured",
                "rejected_failed_parity": failed, "not_measured": unmeasured, "costs": cost}
    best = min(faithful, key=lambda a: cost[a["name"]])
    base = fp32.get(best["format"])
    speedup = base / cost[best["name"]] if base else None
    ranked = sorted(faithful, key=lambda a: cost[a["name"]])
    runner_up = ranked[1]["name"] if len(ranked) > 1 else None
    why = (f"{best['name']} is the fastest artefact that passed its parity budget "
           f"({metric} {cost[best['name']]:.4g}"
           + (f", {speedup:.2f}x its fp32" if speedup else "")
           + (f"; next {runner_up} at {cost[runner_up]:.4g}" if runner_up else "") + ")"
           + (f"; faster but failed parity: {', '.join(n for n in failed if cost.get(n, 1e30) < cost[best['name']])}"
              if any(cost.get(n, 1e30) < cost[best["name"]] for n in failed) else ""))
    return {"artefact": best["name"], "format": best["format"], "variant": best["variant"], "metric": metric,
            "cost": cost[best["name"]], "speedup_vs_fp32": speedup, "why": why,
            "ranking": [a["name"] for a in ranked], "rejected_failed_parity": failed,
            "not_measured": unmeasured, "costs": cost}


def _host_session(picked: dict, rows: list) -> dict:
    """The session options the picked artefact was measured (and is exact) with on this host: on a CPU
    whose default int8 kernel saturates, exact mode, with what the default session would give."""
    row = next((r for r in rows if r.artefact == picked["artefact"]), None)
    if row is None or not row.runner.get("session_config"):
        return {"session_config": {}}
    why = (f"; deploy it with onnxruntime session config {row.runner['session_config']}: "
           f"this CPU's default int8 kernel, {row.runner['int8_kernel']}, is not exact integer math")
    default = row.extra.get("default_session")
    if default and default["parity"]:
        parity = default["parity"]
        why += (f" (default session: cos_min {parity['cos_min']:.4f}, "
                f"{'within' if parity['passed'] else 'over'} budget, p50 {default['latency_ms']['p50']:.4g} ms)")
    return {"session_config": row.runner["session_config"], "why": picked["why"] + why}


def profile_device(target: str) -> str:
    """The profile device string for an --target name; an unknown name lists the known ones."""
    if target == "host":
        return "host"
    from .devices import device_paths

    name = target.split(":", 1)[1] if target.startswith("emulated-arm:") else target
    if name not in device_paths():
        raise ConfigError(f"unknown --target '{target}' (known: host, {', '.join(device_paths())})")
    return f"emulated-arm:{name}"


def choose_for_target(bundle: Path, target: str, runs: int = 20, log=lambda msg: None) -> dict:
    """Profile ``bundle`` on ``target``, pick, and write the choice into its manifest.json."""
    from .bundle import bundle_lock

    with bundle_lock(bundle, "choosing an artefact for"):
        return _choose(bundle, target, runs, log)


def _choose(bundle: Path, target: str, runs: int, log) -> dict:
    from .bundle import MANIFEST, append_results, read_manifest, write_atomic
    from .profile import ProfileOptions, profile

    device = profile_device(target)
    manifest = read_manifest(bundle)
    artefacts = manifest["artefacts"]
    note = None
    if device == "host":
        rows = profile(bundle, manifest, "host", ProfileOptions(threads=(1,), runs=runs, warmup=3))
        cost = {r.artefact: r.latency_ms.summary()["p50"] for r in rows}
        metric = "host latency_ms p50, 1 thread (measured, interleaved)"
    else:
        try:  # candidates only: a failed static int16x8 file alone can take an hour under qemu
            rows = profile(bundle, manifest, device, ProfileOptions(threads=(1,), runs=3, warmup=1, passed_only=True))
        except DeviceError as exc:
            note = f"emulated ARM unavailable ({exc}); chose by host latency instead"
            log(note)
            rows = profile(bundle, manifest, "host", ProfileOptions(threads=(1,), runs=runs, warmup=3))
            cost = {r.artefact: r.latency_ms.summary()["p50"] for r in rows}
            metric = "host latency_ms p50, 1 thread (fallback)"
        else:
            cost = {r.artefact: float(r.extra["instructions"]) for r in rows}
            metric = f"instructions per inference on {device} (qemu, 1 thread)"
            for r in rows:  # ARM outputs differ from x86 ones: a failure there counts too
                if r.parity is not None and not r.parity.get("passed", True):
                    next(a for a in artefacts if a["name"] == r.artefact)["passed"] = False
    append_results(bundle, rows)
    picked = pick(artefacts, cost, metric)
    if device == "host":
        picked.update(_host_session(picked, rows))
    choice = {**picked, "target": target, "device": device,
              "provenance": rows[0].provenance if rows else None,
              "seq_len": rows[0].seq_len if rows else None,
              "decided": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if note:
        choice["note"] = note
    manifest["choice"] = choice
    write_atomic(Path(bundle) / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    log(f"target {target}: {choice['why']}")
    return choice
