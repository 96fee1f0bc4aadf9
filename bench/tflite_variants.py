"""Every TFLite variant of each recipe beside its ONNX Runtime counterpart, measured in one run: docs/tflite.md.

    .venv/bin/python bench/tflite_variants.py [--recipe minilm-l6-int8 --recipe mobilebert-int8]
        [--work /tmp/mobilecomp-tflite-bench] [--runs 20] [--out docs/tflite.md] [--render-only]

Each recipe is exported with formats [onnx, tflite] and every registered tflite variant (the
ONNX side: fp32, fp16, int8-dynamic), then all artefacts are profiled on the host in one
interleaved run (threads 1 and all cores, seq = the recipe's seq_len, batch 1).
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ONNX_VARIANTS = ("fp32", "fp16", "int8-dynamic", "int8-smooth")
DYNAMIC_INT8 = ("int8-dynamic", "int8-smooth", "int8-mixed")  # litert-torch / ai-edge-quantizer dynamic range


def run(recipe_name: str, work: Path, runs: int, log) -> dict:
    from mobilecomp.pipeline import export_bundle, profile_bundle
    from mobilecomp.profile import ProfileOptions
    from mobilecomp.quantise import VARIANTS
    from mobilecomp.recipe import load_recipe
    from mobilecomp.runtime.cpu import cpu_count

    recipe = load_recipe(recipe_name)
    variants = tuple(dict.fromkeys((*ONNX_VARIANTS, *VARIANTS["tflite"])))
    recipe = dataclasses.replace(recipe, formats=("onnx", "tflite"), variants=variants,
                                 parity={k: v for k, v in recipe.parity.items() if k in variants})
    t0 = time.perf_counter()
    result = export_bundle(recipe, work / recipe.name, force=True, log=log)
    export_s = time.perf_counter() - t0
    wanted = [a.name for a in result.manifest.artefacts if a.format == "tflite" or a.variant in ONNX_VARIANTS]
    rows = profile_bundle(work / recipe.name, "host", ProfileOptions(
        threads=tuple(dict.fromkeys((1, cpu_count()))), runs=runs, warmup=3, artefacts=tuple(wanted)))
    return {"manifest": result.manifest.to_json(), "rows": [r.to_json() for r in rows], "export_s": export_s}


def from_bundle(recipe_name: str, work: Path) -> dict:
    """A finished run's results read back from its bundle (to re-render the doc without re-running)."""
    from mobilecomp.bundle import read_manifest, read_results

    bundle = work / recipe_name
    rows = [r for r in read_results(bundle) if r["device"] == "host"]
    return {"manifest": read_manifest(bundle), "rows": rows, "export_s": None}


def _p50(rows: list[dict], artefact: str | None, threads: int) -> float | None:
    """The last measured p50 of ``artefact`` at ``threads`` (rows as results.jsonl holds them)."""
    found = [r["latency_ms"]["p50"] for r in rows if r["artefact"] == artefact and r["threads"] == threads]
    return found[-1] if found else None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _lint(art: dict) -> str:
    lint = art["details"].get("lint", {})
    if not lint.get("passed", True):
        return "FAIL: " + "; ".join(lint["failures"])
    left = lint.get("xnnpack_not_taken")
    return "ok, no Flex" + (f"; XNNPACK leaves {', '.join(left)}" if left else "")


def table(res: dict) -> list[str]:
    """Manifest and rows as JSON dicts: the same whether just measured or read back from the bundle."""
    manifest, rows = res["manifest"], res["rows"]
    names = {a["name"] for a in manifest["artefacts"]}
    many = max(r["threads"] for r in rows)
    model = manifest["model"]
    lines = [f"### {manifest['recipe']['name']}: {model['architecture']}, "
             f"{model['params'] / 1e6:.1f}M params, seq {model['seq_len']}"
             + ("" if manifest["checkpoint"].get("trained") else " (**random weights: size and latency only**)"),
             "",
             f"| variant | .tflite MB | LiteRT 1t ms | LiteRT {many}t ms | ORT 1t ms | ORT {many}t ms "
             "| cos_min | cos_mean | parity | lint |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    fp32 = _p50(rows, "tflite-fp32", 1)
    tflite = [a for a in manifest["artefacts"] if a["format"] == "tflite"]
    for art in tflite:
        onnx = f"onnx-{art['variant']}" if f"onnx-{art['variant']}" in names else None
        p = art["parity"]
        lat1 = _p50(rows, art["name"], 1)
        speed = f" ({fp32 / lat1:.2f}x)" if fp32 and lat1 and art["variant"] != "fp32" else ""
        lines.append(
            f"| {art['variant']} | {art['size_bytes'] / 1e6:.1f} | {_ms(lat1)}{speed} "
            f"| {_ms(_p50(rows, art['name'], many))} | {_ms(_p50(rows, onnx, 1))} | {_ms(_p50(rows, onnx, many))} "
            f"| {p['cos_min']:.4f} | {p['cos_mean']:.4f} | {'pass' if p['passed'] else 'FAIL: ' + '; '.join(p['failures'])} "
            f"| {_lint(art)} |")
    for missing in (u for u in manifest["unbuilt"] if u["format"] == "tflite"):
        lines.append(f"| {missing['variant']} | not built: {missing['error']} | | | | | | | | |")
    if manifest["checkpoint"].get("trained"):
        lines += ["", "Issue targets for dynamic-range int8 (.tflite): cos_min >= 0.995 and >= 2.5x the fp32 "
                      ".tflite (1 thread, same run):", ""]
        for art in (a for a in tflite if a["variant"] in DYNAMIC_INT8):
            lat1 = _p50(rows, art["name"], 1)
            speed = fp32 / lat1 if fp32 and lat1 else 0.0
            met = art["parity"]["cos_min"] >= 0.995 and speed >= 2.5
            lines.append(f"- {art['variant']}: cos_min {art['parity']['cos_min']:.4f}, {speed:.2f}x: "
                         f"{'met' if met else 'not met'}")
    lines += ["", "ONNX Runtime artefacts of the same bundle: "
              + ", ".join(f"{a['name']} {a['size_bytes'] / 1e6:.1f} MB cos_min {a['parity']['cos_min']:.4f}"
                          for a in manifest["artefacts"] if a["format"] == "onnx"),
              *([f"Export and verification of the whole bundle took {res['export_s']:.0f} s."]
                if res["export_s"] is not None else []), ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", action="append", dest="recipes")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mobilecomp-tflite-bench"))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "tflite.md")
    parser.add_argument("--render-only", action="store_true",
                        help="rewrite the doc from the bundles a finished run left in --work")
    args = parser.parse_args()
    recipes = args.recipes or ["minilm-l6-int8", "mobilebert-int8"]
    log = lambda msg: print(f"  {msg}", file=sys.stderr, flush=True)  # noqa: E731
    if args.render_only:
        results = [from_bundle(name, args.work) for name in recipes]
    else:
        results = [run(name, args.work, args.runs, log) for name in recipes]

    from mobilecomp.runtime.litert import runtime_version
    from mobilecomp.profile.host import host_device

    device = host_device()
    versions = results[0]["manifest"]["versions"]
    command = shlex.join([".venv/bin/python", "bench/tflite_variants.py",
                          *(a for a in sys.argv[1:] if a != "--render-only")])
    lines = [
        "# TFLite / LiteRT variants beside ONNX Runtime",
        "",
        "Written by `bench/tflite_variants.py`; every number below comes from one run of:",
        "",
        f"    {command}",
        "",
        f"- Machine: {device.cpu}, {device.cores} cores ({', '.join(device.extra.get('isa', []))}), "
        f"{platform.platform()}; shared with other jobs, so compare rows of one table, not tables.",
        f"- Runtimes: ai-edge-litert {runtime_version()} (default XNNPACK CPU delegate), "
        f"onnxruntime {versions.get('onnxruntime')} (CPUExecutionProvider); torch {versions.get('torch')}.",
        f"- Latency: host, batch 1, one real sentence padded to the recipe's seq_len, p50 of {args.runs} "
        "runs after 3 warm-ups, artefacts interleaved round-robin so machine drift hits all alike; "
        "the speed-up in brackets is against the fp32 .tflite at 1 thread.",
        "- Parity: the PyTorch model vs the artefact on the 258 OANC parity sentences (cosine of the "
        "sentence embedding); budgets as in `mobilecomp/quantise/__init__.py`.",
        "- Lint: Flex ops fail; ops the XNNPACK delegate did not take are measured by loading the file.",
        f"- Measured: {results[0]['manifest']['created']} (the first bundle's export)",
        "",
    ]
    for res in results:
        lines += table(res)
    notes = ROOT / "bench" / "tflite_notes.md"  # findings written by hand, kept across re-renders
    if notes.exists():
        lines += [notes.read_text().rstrip(), ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(args.out)


if __name__ == "__main__":
    main()
