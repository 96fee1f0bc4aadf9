"""Export every seed recipe (issue 6), profile it on the host, write docs/seed-recipes.md and the report.

    nice -n 10 .venv/bin/python bench/seed_recipes.py [--out bundles/seed] [--only a,b] [--threads 1]

Each recipe is exported once (an existing bundle is reused), as ONNX fp32 + int8-dynamic only
(the TFLite and static variants of minilm-l6-int8 and mobilebert-int8 have their own benches),
with the parity gate on the default real-text corpus, then profiled on the host. BERT-large
(the two RPP recipes) is the slow part: about 1.3 GB per fp32 file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    from mobilecomp.pipeline import export_bundle, profile_bundle
    from mobilecomp.profile import ProfileOptions
    from mobilecomp.recipe import load_recipe
    from mobilecomp.report.seed import SEED_RECIPES

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "bundles" / "seed"))
    parser.add_argument("--only", help="comma-separated subset of the seed recipes")
    parser.add_argument("--threads", default="1")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--docs-only", action="store_true", help="rewrite the docs from the bundles already made")
    args = parser.parse_args()
    out = Path(args.out)
    names = args.only.split(",") if args.only else sorted(SEED_RECIPES, key=lambda n: n.startswith("rpp-"))  # BERT-large last
    threads = tuple(int(t) for t in args.threads.split(","))
    log = lambda msg: print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)  # noqa: E731
    status = {}
    if args.docs_only:
        status = {n: {"ok": True, "failed_parity": _failed(out / n), "seconds": 0}
                  for n in names if (out / n / "manifest.json").exists()}
        write_docs(out, names, status, log)
        return 0
    for name in names:
        recipe = load_recipe(name)
        recipe = dataclasses.replace(recipe, formats=("onnx",), tflite_seq_lens=(),
                                     variants=tuple(v for v in recipe.variants if v in ("fp32", "int8-dynamic")),
                                     parity={k: v for k, v in recipe.parity.items() if k in ("fp32", "int8-dynamic")})
        bundle = out / name
        t0 = time.time()
        try:
            if not (bundle / "manifest.json").exists():
                log(f"{name}: export")
                result = export_bundle(recipe, bundle, log=lambda m, n=name: log(f"{n}: {m}"))
                failed = result.failed
            else:
                failed = _failed(bundle)
            log(f"{name}: profile on host, threads {threads}")
            profile_bundle(bundle, "host", ProfileOptions(threads=threads, runs=args.runs, warmup=3))
            status[name] = {"ok": True, "failed_parity": failed, "seconds": round(time.time() - t0)}
        except Exception as exc:  # one recipe's fault must not stop the rest
            traceback.print_exc()
            status[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "seconds": round(time.time() - t0)}
        log(f"{name}: {status[name]}")
        write_docs(out, names, status, log)  # after every recipe: a cut-short run still leaves its rows
    return 0 if all(s["ok"] for s in status.values()) else 1


_FIGURES: list[dict] = []


def _failed(bundle: Path) -> list[str]:
    return [a["name"] for a in json.loads((bundle / "manifest.json").read_text())["artefacts"] if not a.get("passed")]


def pruning_lines(out: Path) -> list[str]:
    """Zipped sizes of the pruned bundles next to the dense BERT-base's (computed once, cached)."""
    from mobilecomp.transform.prune import onnx_weight_stats

    lines = []
    dense = out / "bert-base-int8"
    cache = dense / "weight_stats.json"
    if (dense / "manifest.json").exists():
        if not cache.exists():
            cache.write_text(json.dumps({v: onnx_weight_stats(dense / f"model-{v}.onnx")
                                         for v in ("fp32", "int8-dynamic")}))
        for variant, stats in json.loads(cache.read_text()).items():
            lines.append(f"- bert-base-int8 {variant} (dense): {stats['size_bytes'] / 1e6:.1f} MB, zipped "
                         f"{stats['zipped_bytes'] / 1e6:.1f} MB, weight sparsity {stats['weight_matrix_sparsity']:.1%}")
    for bundle in sorted(out.glob("*/manifest.json")):
        manifest = json.loads(bundle.read_text())
        if "pruning" not in manifest["model"]:
            continue
        for art in manifest["artefacts"]:
            stats = art["details"]["weight_stats"]
            lines.append(f"- {manifest['recipe']['name']} {art['variant']}: {stats['size_bytes'] / 1e6:.1f} MB, "
                         f"zipped {stats['zipped_bytes'] / 1e6:.1f} MB, measured weight sparsity "
                         f"{stats['weight_matrix_sparsity']:.1%} (target {manifest['model']['pruning']['sparsity_target']:.1%})")
    lines.append("- Dense kernels gain no speed from unstructured sparsity: the zeros are stored and "
                 "multiplied like any weight. Latency differences between pruned and dense rows here are "
                 "measurement noise (this host's 2 cores are shared; rows were measured minutes apart).")
    return lines


def _machine() -> str:
    import platform

    from mobilecomp.profile.host import host_device

    device = host_device()
    return f"{device.cpu}, {device.cores} cores, {platform.platform()} (shared with other jobs while measured)"


def write_docs(out: Path, names: list[str], status: dict, log) -> None:
    from mobilecomp.report.compare import write_report
    from mobilecomp.report.seed import check_figures, figures_markdown

    bundles = [str(out / n) for n in names if (out / n / "manifest.json").exists()]
    report_dir = ROOT / "docs" / "seed-report"
    written = write_report(bundles, report_dir, device="host 1T", y="parity")
    figures = _FIGURES or _FIGURES.extend(check_figures()) or _FIGURES
    doc = ["# Seed recipes: every system of \"Small BERT: which one is the best?\"", "",
           f"Made by `nice -n 10 .venv/bin/python bench/seed_recipes.py` ({time.strftime('%Y-%m-%d')}); "
           "ONNX fp32 and dynamic int8 of every seed recipe, parity on real OANC text, latency on this host "
           "(onnxruntime CPU, batch 1, 1 thread, median). Architecture-only rows are untrained: size and "
           "latency only.", "",
           f"Machine: {_machine()}.", "",
           "## Params and FLOPs against the papers (`mobilecomp inspect`; FLOPs = 2 x MACs, batch 1)", "",
           figures_markdown(figures), "",
           *[f"- {f['label']}: {f['note']}" for f in figures if f["note"]], "",
           "## DualTrain sizing", "",
           "Zhao et al. give hidden size, vocab (4,928) and the compression factor, not depth or FFN width. "
           "We keep the teacher's 12 layers and 3 heads and pick the intermediate size (a multiple of 16-32) "
           "closest to the factor: 3520 (h192, 5.72x), 2016 (h96, 19.37x), 1200 (h48, 61.64x). Keeping "
           "FFN = 4H would need 40 layers at h192, so depth was not the free variable.", "",
           "## Pruning: measured sparsity and zipped size", "",
           *pruning_lines(out), "",
           "## Run status", "",
           *[f"- {n}: not run yet" for n in names if n not in status],
           *[f"- {n}: " + ("ok" + (f", parity failed: {', '.join(s['failed_parity'])}" if s.get("failed_parity") else "")
                           if s["ok"] else f"FAILED: {s['error']}") + (f" ({s['seconds']} s)" if s["seconds"] else "")
             for n, s in status.items()], "",
           "## Report (docs/seed-report/: report.md, report.csv, report.json, pareto.png)", "",
           (report_dir / "report.md").read_text()]
    (ROOT / "docs" / "seed-recipes.md").write_text("\n".join(doc) + "\n")
    log(f"wrote docs/seed-recipes.md and {written['files']} in {report_dir}")


if __name__ == "__main__":
    sys.exit(main())
