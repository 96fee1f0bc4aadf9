"""The quantisation fidelity frontier of one recipe: every variant of both formats, measured in one run: docs/frontier.md.

    .venv/bin/python bench/frontier.py [--recipe minilm-l6-int8] [--work /tmp/mobilecomp-frontier]
        [--runs 30] [--arm pixel-4] [--stage all|export|host|arm|doc] [--out docs/frontier.md]

Stages (each saves bench/results/frontier.json, so a later stage can run alone):
  export  the recipe with formats [onnx, tflite] and every registered variant of each;
  host    every artefact on the host, interleaved in one process, 1 thread, seq = recipe seq_len;
  arm     the artefacts that pass their gate, under qemu on --arm's CPU (instruction counts, parity re-checked);
  doc     points (cos_min, speed-up vs the same format's fp32, size), Pareto front, verdicts.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "frontier.json"
ARM_PARITY_SENTENCES = 16


def export_stage(recipe_name: str, work: Path, log) -> dict:
    from mobilecomp.pipeline import export_bundle
    from mobilecomp.quantise import VARIANTS
    from mobilecomp.recipe import load_recipe

    recipe = load_recipe(recipe_name)
    variants = tuple(dict.fromkeys((*VARIANTS["onnx"], *VARIANTS["tflite"])))
    recipe = dataclasses.replace(recipe, formats=("onnx", "tflite"), variants=variants,
                                 parity={k: v for k, v in recipe.parity.items() if k in variants})
    t0 = time.perf_counter()
    result = export_bundle(recipe, work / recipe.name, force=True, log=log)
    manifest = result.manifest.to_json()
    return {"recipe": recipe.name, "bundle": str(result.bundle), "export_s": round(time.perf_counter() - t0),
            "seq_len": recipe.seq_len, "parity_corpus": manifest["parity_corpus"],
            "unbuilt": manifest["unbuilt"], "versions": manifest["versions"],
            "artefacts": [{"name": a["name"], "format": a["format"], "variant": a["variant"],
                           "size_mb": a["size_bytes"] / 1e6, "cos_min": a["parity"]["cos_min"],
                           "cos_mean": a["parity"]["cos_mean"], "passed": a["passed"],
                           "budget_cos_min": a["parity"]["budget"].get("cos_min"),
                           "summary": _summary(a), "kept_fp32": a["details"].get("kept_fp32"),
                           "search": _search(a["details"])} for a in manifest["artefacts"]]}


def _summary(art: dict) -> str:
    from mobilecomp.quantise import VARIANTS

    variant = VARIANTS.get(art["format"], {}).get(art["variant"])
    return variant.summary if variant else ""


def _search(details: dict) -> dict | None:
    found = details.get("search") or details.get("sweep")
    if not found:
        return None
    return {k: found.get(k) for k in ("target_cos_min", "all_int8_cos_min", "reached_cos_min", "met", "trials")
            if k in found}


def host_stage(res: dict, runs: int, log) -> None:
    from mobilecomp.pipeline import profile_bundle
    from mobilecomp.profile import ProfileOptions
    from mobilecomp.profile.host import host_device

    log(f"host: {len(res['artefacts'])} artefacts interleaved, 1 thread, {runs} runs")
    rows = profile_bundle(Path(res["bundle"]), "host", ProfileOptions(threads=(1,), runs=runs, warmup=5))
    res["host"] = {"device": dataclasses.asdict(host_device()), "runs": runs, "threads": 1,
                   "p50_ms": {r.artefact: r.latency_ms.summary()["p50"] for r in rows},
                   "runner": {r.artefact: r.runner for r in rows}}


def arm_stage(res: dict, device: str, log) -> None:
    from mobilecomp.pipeline import profile_bundle
    from mobilecomp.profile import ProfileOptions

    # failed artefacts are no candidates, and the static TFLite ones take hours under qemu
    passed = tuple(a["name"] for a in res["artefacts"] if a["passed"])
    log(f"emulated ARM {device}: {len(passed)} artefacts that pass their gate (fp16 included), "
        f"{ARM_PARITY_SENTENCES} parity sentences each")
    t0 = time.perf_counter()
    rows = profile_bundle(Path(res["bundle"]), f"emulated-arm:{device}", ProfileOptions(
        threads=(1,), runs=3, warmup=1, artefacts=passed, extra={"arm_parity_sentences": ARM_PARITY_SENTENCES}))
    res["arm"] = {"device": f"emulated-arm:{device}", "qemu_cpu": rows[0].extra["qemu_cpu"],
                  "seconds": round(time.perf_counter() - t0),
                  "instructions": {r.artefact: r.extra["instructions"] for r in rows},
                  "estimated_ms_1_thread": {r.artefact: r.latency_ms.summary()["p50"] for r in rows},
                  "cos_min": {r.artefact: (r.parity or {}).get("cos_min") for r in rows},
                  "parity_sentences": ARM_PARITY_SENTENCES}


def pareto(points: list[tuple[str, float, float]]) -> set[str]:
    """Names not dominated in (cos_min higher, speed-up higher)."""
    front = set()
    for name, cos, speed in points:
        if not any((c >= cos and s >= speed) and (c > cos or s > speed) for n, c, s in points if n != name):
            front.add(name)
    return front


def points(res: dict) -> list[dict]:
    out = []
    host = res.get("host", {}).get("p50_ms", {})
    arm = res.get("arm", {})
    for art in res["artefacts"]:
        fp32 = f"{art['format']}-fp32"
        ms = host.get(art["name"])
        p = {**art, "host_ms": ms, "speedup": host[fp32] / ms if ms and host.get(fp32) else None}
        instr = arm.get("instructions", {})
        if art["name"] in instr and fp32 in instr:
            p["arm_ratio"] = instr[fp32] / instr[art["name"]]
            p["arm_cos_min"] = arm["cos_min"].get(art["name"])
            p["arm_instructions"] = instr[art["name"]]
        out.append(p)
    timed = [(p["name"], p["cos_min"], p["speedup"]) for p in out if p["speedup"]]
    host_front = pareto(timed)
    arm_front = pareto([(p["name"], p.get("arm_cos_min") or p["cos_min"], p["arm_ratio"])
                        for p in out if p.get("arm_ratio")])
    for p in out:
        p["pareto_host"] = p["name"] in host_front
        p["pareto_arm"] = p["name"] in arm_front
    return out


def _f(value, fmt: str, empty: str = "-") -> str:
    return empty if value is None else format(value, fmt)


def verdicts(pts: list[dict]) -> list[str]:
    lines = []
    for label, cos, speed, fmt in (("cos_min >= 0.997 at >= 3x (either format)", 0.997, 3.0, None),
                                   ("ONNX cos_min >= 0.995 at >= 2.5x", 0.995, 2.5, "onnx")):
        pool = [p for p in pts if p["speedup"] and (fmt is None or p["format"] == fmt) and p["variant"] != "fp32"]
        met = [p for p in pool if p["cos_min"] >= cos and p["speedup"] >= speed]
        if met:
            best = max(met, key=lambda p: p["speedup"])
            lines.append(f"- **{label}: met** by {best['name']} (cos_min {best['cos_min']:.4f}, "
                         f"{best['speedup']:.2f}x).")
            continue
        faithful = [p for p in pool if p["cos_min"] >= cos]
        fast = [p for p in pool if p["speedup"] >= speed]
        parts = []
        if faithful:
            b = max(faithful, key=lambda p: p["speedup"])
            parts.append(f"fastest at cos_min >= {cos}: {b['name']} {b['speedup']:.2f}x (cos_min {b['cos_min']:.4f})")
        if fast:
            b = max(fast, key=lambda p: p["cos_min"])
            parts.append(f"most faithful at >= {speed}x: {b['name']} cos_min {b['cos_min']:.4f} ({b['speedup']:.2f}x)")
        lines.append(f"- **{label}: not met.** " + ("; ".join(parts) or "no variant near either bound") + ".")
    return lines


def choices(res: dict) -> list[str]:
    """What `export --target` would pick from these measurements (mobilecomp.choice.pick, each
    artefact judged by its own parity budget), per measured device."""
    from mobilecomp.choice import pick

    arm = res.get("arm", {})
    measured = [("host", "ms p50", res.get("host", {}).get("p50_ms", {})),
                (arm.get("device", ""), "instructions", arm.get("instructions", {}))]
    lines = []
    for device, metric, cost in measured:
        if cost:
            chosen = pick(res["artefacts"], {k: float(v) for k, v in cost.items()}, metric)
            lines.append(f"- `--target {device.removeprefix('emulated-arm:')}`: {chosen['why']}")
    return lines


def doc(res: dict, command: str) -> str:
    pts = points(res)
    host = res.get("host", {})
    dev = host.get("device", {})
    arm = res.get("arm")
    lines = [
        f"# Quantisation fidelity frontier: {res['recipe']}",
        "",
        "Every variant of both formats as one point: parity on the parity corpus "
        f"({res['parity_corpus']['name']}, {res['parity_corpus']['sentences']} sentences, disjoint from the "
        "calibration/tuning text), host latency (1 thread, seq "
        f"{res['seq_len']}, batch 1, p50 of {host.get('runs')} runs, all artefacts interleaved in one process) "
        "as a speed-up over **the same format's fp32**, and size. "
        "Pareto: not beaten on both cos_min and speed-up by another point (marked *).",
        "",
        f"- command: `{command}`",
        f"- machine: {dev.get('cpu')} ({dev.get('cores')} cores, {', '.join(dev.get('extra', {}).get('isa', []))}), "
        f"{platform.platform()}, shared with other jobs",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in res["versions"].items()),
        f"- measured: {res.get('created')}; export {res['export_s']} s",
        "",
        "## Verdicts",
        "",
        *verdicts(pts),
        "",
        "## Per-device choice",
        "",
        "What `mobilecomp export --target` picks (`mobilecomp.choice.pick`: the fastest artefact that passes "
        "its own parity budget) from this run's measurements:",
        "",
        *choices(res),
        "",
        "## Points (host)",
        "",
        "| artefact | cos_min | cos_mean | budget | host ms | speed-up vs fp32 | MB | Pareto |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in sorted(pts, key=lambda p: (p["format"], -(p["speedup"] or 0))):
        lines.append(f"| {p['name']} | {p['cos_min']:.4f} | {p['cos_mean']:.5f} | "
                     f"{_f(p['budget_cos_min'], '.4g')} {'pass' if p['passed'] else 'FAIL'} | "
                     f"{_f(p['host_ms'], '.1f')} | {_f(p['speedup'], '.2f')}x | {p['size_mb']:.1f} | "
                     f"{'*' if p['pareto_host'] else ''} |")
    if res.get("unbuilt"):
        lines += ["", "Not built: " + "; ".join(f"{u['name']}: {u['error'][:160]}" for u in res["unbuilt"])]
    if arm:
        lines += ["", f"## Emulated ARM ({arm['device']}, qemu -cpu {arm['qemu_cpu']}, 1 thread)", "",
                  f"Instruction count per inference (seq {res['seq_len']}, median of 3 counted runs) as a ratio "
                  f"fp32 / variant (higher is faster); cos_min re-checked on ARM on {arm['parity_sentences']} "
                  f"evenly spaced parity sentences; artefacts that fail their gate on the host are not run. "
                  f"Emulation took {arm['seconds']} s.", "",
                  "| artefact | ARM cos_min | instructions (M) | ratio vs fp32 | estimated ms | Pareto |",
                  "|---|---|---|---|---|---|"]
        for p in sorted([p for p in pts if p.get("arm_ratio")], key=lambda p: -p["arm_ratio"]):
            lines.append(f"| {p['name']} | {_f(p.get('arm_cos_min'), '.4f')} | {p['arm_instructions'] / 1e6:.0f} | "
                         f"{p['arm_ratio']:.2f}x | {_f(arm['estimated_ms_1_thread'].get(p['name']), '.1f')} | "
                         f"{'*' if p['pareto_arm'] else ''} |")
    searched = [p for p in pts if p.get("search")]
    if searched:
        lines += ["", "## Searches (tuning text, not the parity corpus)", ""]
        for p in searched:
            s = p["search"]
            lines.append(f"- {p['name']}: all-int8 {_f(s.get('all_int8_cos_min'), '.4f')} -> "
                         f"{_f(s.get('reached_cos_min'), '.4f')} (target {_f(s.get('target_cos_min'), '.4f')}), "
                         f"kept fp32: {len(p.get('kept_fp32') or [])} "
                         + ("MatMuls" if p["format"] == "onnx" else "layers")
                         + (f", {s['trials']} trials" if s.get("trials") else ""))
    lines += ["", "## Variants", ""]
    for p in pts:
        if p["summary"]:
            lines.append(f"- {p['name']}: {p['summary']}")
    notes = ROOT / "bench" / "frontier_notes.md"
    if notes.exists():
        lines += ["", notes.read_text().rstrip()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="minilm-l6-int8")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mobilecomp-frontier"))
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--arm", default="pixel-4", help="devices/ profile for emulated ARM ('' to skip)")
    parser.add_argument("--stage", default="all", choices=("all", "export", "host", "arm", "doc"))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "frontier.md")
    args = parser.parse_args()
    command = shlex.join(["python", "bench/frontier.py", *sys.argv[1:]])
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:6.0f}s] {msg}", file=sys.stderr, flush=True)

    res = json.loads(RESULTS.read_text()) if args.stage != "all" and RESULTS.exists() else {}
    if args.stage in ("all", "export"):
        res = {**export_stage(args.recipe, args.work, log),
               "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if args.stage != "doc":  # the commands that measured, not the ones that only re-render
        res.setdefault("commands", []).append(command)
    if args.stage in ("all", "export", "host"):
        host_stage(res, args.runs, log)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=2, default=str) + "\n")
    if args.stage in ("all", "arm") and args.arm:
        try:
            arm_stage(res, args.arm, log)
        except Exception as exc:  # emulation is optional: the doc says why it is missing
            res["arm_error"] = f"{type(exc).__name__}: {exc}"
            log(f"emulated ARM failed: {res['arm_error']}")
        RESULTS.write_text(json.dumps(res, indent=2, default=str) + "\n")
    RESULTS.write_text(json.dumps(res, indent=2, default=str) + "\n")
    args.out.write_text(doc(res, " ; ".join(dict.fromkeys(res.get("commands", [])))))
    log(f"wrote {args.out} and {RESULTS}")


if __name__ == "__main__":
    main()
