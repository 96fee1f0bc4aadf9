"""The three runtimes side by side on one model, measured in one run: docs/runtimes.md.

    .venv/bin/python bench/runtimes.py [--recipe minilm-l6-runtimes-int8] [--work /tmp/mobilecomp-runtimes]
        [--runs 30] [--out docs/runtimes.md] [--classifier minilm-l6-polarity-runtimes-int8]
        [--student albert-6-256-shared-runtimes-int8] [--eval-data models/polarity/test.tsv]
        [--arm-device emulated-arm:pixel-4] [--render-only | --student-only | --arm-only]

Exports the recipe (ONNX Runtime, LiteRT, ExecuTorch; fp32 and int8 each, parity-gated on real
weights), profiles every artefact on the host in one interleaved run (1 thread and all cores,
batch 1, the recipe's seq_len) and writes parity, size, ExecuTorch's delegate coverage and latency.
Then the polarity teacher (--classifier) and the smallest student of docs/students.md (--student) in
the same three runtimes, gated on held-out accuracy (--eval-data); the student is profiled too.
The recipe's and the student's artefacts are then run once more on emulated ARM (--arm-device: each
runtime's own aarch64 build under qemu, instructions counted, parity checked on the emulated CPU,
latency estimated by the one per-core model); --arm-only does just that on the work bundles.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARM_PARITY_SENTENCES = 32  # spread over the parity set; the whole set takes many minutes per model under qemu
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipe", default="minilm-l6-runtimes-int8")
    parser.add_argument("--work", default="/tmp/mobilecomp-runtimes", type=Path)
    parser.add_argument("--runs", default=30, type=int)
    parser.add_argument("--out", default=ROOT / "docs" / "runtimes.md", type=Path)
    parser.add_argument("--classifier", default="minilm-l6-polarity-runtimes-int8",
                        help="a classifier recipe exported with --eval-data for the accuracy table ('' skips it)")
    parser.add_argument("--student", default="albert-6-256-shared-runtimes-int8",
                        help="the smallest student of docs/students.md, in the three runtimes ('' skips it)")
    parser.add_argument("--eval-data", default=ROOT / "models" / "polarity" / "test.tsv", type=Path)
    parser.add_argument("--render-only", action="store_true", help="re-render from the work bundle")
    parser.add_argument("--student-only", action="store_true",
                        help="re-export and re-time only --student, re-rendering the rest from the work bundles")
    parser.add_argument("--arm-device", default="emulated-arm:pixel-4",
                        help="the emulated phone for the ARM rows of the recipe and the student ('' skips them)")
    parser.add_argument("--arm-only", action="store_true",
                        help="profile only the work bundles on --arm-device, re-rendering the rest from them")
    args = parser.parse_args()

    from mobilecomp.bundle import read_manifest, read_results
    from mobilecomp.runtime.numerics import host_int8
    from mobilecomp.pipeline import export_bundle, profile_bundle
    from mobilecomp.profile import ProfileOptions
    from mobilecomp.recipe import load_recipe
    from mobilecomp.report.table import markdown
    from mobilecomp.runtime.cpu import cpu_count

    recipe = load_recipe(args.recipe)
    bundle = args.work / recipe.name
    threads = tuple(dict.fromkeys((1, cpu_count())))
    only = args.render_only or args.student_only or args.arm_only
    if not only:
        t0 = time.perf_counter()
        export_bundle(recipe, bundle, force=True, log=lambda m: print(f"  {m}", file=sys.stderr))
        (bundle / "bench-export-seconds").write_text(f"{time.perf_counter() - t0:.0f}\n")
        profile_bundle(bundle, "host", ProfileOptions(threads=threads, runs=args.runs, warmup=3))
    if not args.render_only and not args.arm_only:
        again = [args.student] if args.student_only else [args.classifier, args.student]
        for name in (n for n in again if n):  # gated on held-out accuracy too
            export_bundle(load_recipe(name), args.work / name, force=True, eval_data=str(args.eval_data),
                          command="python bench/runtimes.py --student-only" if args.student_only else "",
                          log=lambda m: print(f"  {m}", file=sys.stderr))
        if args.student:
            profile_bundle(args.work / args.student, "host",
                           ProfileOptions(threads=threads, runs=args.runs, warmup=3))
    if args.arm_device and not args.render_only:
        students = [args.work / args.student] if args.student else []
        for arm_bundle in students if args.student_only else [bundle, *students]:
            t0 = time.perf_counter()  # fp32 and int8 of each runtime, 1 thread counted, ARM_PARITY_SENTENCES on the CPU
            profile_bundle(arm_bundle, args.arm_device, ProfileOptions(
                threads=(1,), extra={"arm_parity_sentences": ARM_PARITY_SENTENCES}))
            (arm_bundle / "bench-arm-seconds").write_text(f"{time.perf_counter() - t0:.0f}\n")
    manifest = read_manifest(bundle)
    export_s = float((bundle / "bench-export-seconds").read_text())
    table, header = _runtime_table(manifest, read_results(bundle), threads)
    coverage = []
    for art in (a for a in manifest["artefacts"] if a["format"] == "executorch"):
        lint, inside = art["details"]["lint"], art["details"]["delegate_coverage"]["xnnpack_ops"]
        coverage.append([art["name"], str(lint["delegate_calls"].get("XnnpackBackend", 0)),
                         ", ".join(f"{k.split('.')[-2] if k.count('.') > 1 else k} x{v}" for k, v in inside.items()),
                         ", ".join(f"{k.split('::')[-1]} x{v}" for k, v in lint["portable_ops"].items())])
    accuracy = _accuracy_section(args.work / args.classifier, args.eval_data) if args.classifier else []
    student = _student_section(args.work / args.student, threads) if args.student else []
    arm = _arm_section([bundle, *([args.work / args.student] if args.student else [])], args.arm_device) \
        if args.arm_device else []
    int8 = host_int8()
    # the command that measured (a --render-only run only re-renders its files)
    command = "python bench/runtimes.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]
                                                     if a not in ("--render-only", "--student-only", "--arm-only"))
    text = "\n".join([
        "# Three runtimes, one model: ONNX Runtime, LiteRT and ExecuTorch (XNNPACK)", "",
        f"Rendered by `{command.strip()}` (export {export_s:.0f} s, then one interleaved host run of "
        f"{args.runs} rounds per configuration).", "",
        f"Machine: {int8.cpu}, {cpu_count()} cores, flags {', '.join(int8.flags)}; {platform.platform()}. "
        "Other jobs shared this machine during the run, so compare ratios within the table, not with "
        "other documents.", "",
        f"Model: `{recipe.name}`: {recipe.description}, seq {recipe.seq_len}, batch 1. "
        f"Parity: cos_min of the sentence embedding against PyTorch on {manifest['parity_corpus']['name']} "
        "(real weights, so int8 error is visible). Latency: measured on host, median of the runs.", "",
        markdown(table, header), "",
        "## ExecuTorch delegate coverage (from the .pte's instruction chains, the seq32 method)", "",
        "What the XNNPACK partitioner took (from the lowered graphs at export) and what stays on "
        "ExecuTorch's portable kernels (from the file). Of the known traps for BERT encoders, LayerNorm "
        "(rewritten as mean/rsqrt) and attention's matmuls (bmm without expand_copy) run inside XNNPACK; "
        "the embedding gathers stay on portable kernels.", "",
        markdown(coverage, ["artefact", "XNNPACK delegate calls", "ops inside XNNPACK (count, at export)",
                            "ops on portable kernels (count, in the file)"]), "",
        "ExecuTorch's int8 is torchao's Int8DynamicActivationIntxWeightConfig (int8 weights per channel, "
        "int8 activations per row at run time) on every Linear, exported and lowered again; the "
        "embedding tables are int8 per row, gathered by quantized_decomposed::embedding_byte.", "",
        *accuracy, *student, *arm])
    args.out.write_text(text)
    print(f"wrote {args.out}", file=sys.stderr)


def _runtime_table(manifest: dict, rows: list[dict], threads: tuple[int, ...]) -> tuple[list[list[str]], list[str]]:
    """(rows, header): each artefact's runtime, size, parity and host p50 at each thread count, with its
    speed-up over its own runtime's fp32."""
    from mobilecomp.formats import FORMATS

    p50 = {(r["artefact"], r["threads"]): r["latency_ms"]["p50"] for r in rows if r["device"] == "host"}
    arts = manifest["artefacts"]
    fp32 = {a["format"]: a["name"] for a in arts if a["variant"] == "fp32"}
    table = []
    for art in arts:
        line = [FORMATS[art["format"]].runtime, art["name"], f"{art['size_bytes'] / 1e6:.1f}",
                f"{art['parity']['cos_min']:.4f}", "pass" if art["passed"] else "FAIL"]
        for t in threads:
            base = p50.get((fp32[art["format"]], t))
            ms = p50.get((art["name"], t))
            line += [f"{ms:.2f}" if ms else "-", f"{base / ms:.2f}x" if ms and base else "-"]
        table.append(line)
    header = ["runtime", "artefact", "size MB", "cos_min", "parity"]
    for t in threads:
        header += [f"host {t}t p50 ms", f"{t}t vs own fp32"]
    return table, header


def _student_section(bundle: Path, threads: tuple[int, ...]) -> list[str]:
    """The smallest student's runtime table, with its held-out accuracy beside each artefact."""
    from mobilecomp.bundle import read_manifest, read_results
    from mobilecomp.report.table import markdown

    manifest = read_manifest(bundle)
    table, header = _runtime_table(manifest, read_results(bundle), threads)
    for line, art in zip(table, manifest["artefacts"]):
        line.insert(4, f"{art['accuracy']['accuracy']:.2f}")
    header.insert(4, "accuracy %")
    return ["## The smallest student of docs/students.md in each runtime", "",
            f"`{manifest['recipe']['name']}`: {manifest['recipe']['description']}, seq "
            f"{manifest['recipe']['seq_len']}, batch 1; accuracy on the "
            f"{manifest['eval_data']['examples']} held-out snippets (PyTorch: "
            f"{manifest['artefacts'][0]['accuracy']['source_accuracy']:.2f}%), parity cos_min of the "
            f"probabilities; exported by `{manifest['command'] or 'bench/runtimes.py'}`; latency measured on host "
            "in the same way as above, in its own interleaved run.", "",
            markdown(table, header), "",
            "ALBERT's gelu_new computes x ** 3. XNNPACK has no pow, so until 2026-12-06 each of the 6 "
            "applications ran on a portable kernel and split this student's graph into 9 delegate calls, and "
            "ExecuTorch's int8 ran 5x slower than its own fp32 (61 against 11 ms, 1 thread). The export now "
            "rewrites the cube as products before lowering (export/executorch.py): 3 delegate calls, and the "
            "rows above. tests/test_executorch.py pins the lint on a distilled ALBERT.", ""]


def _arm_section(bundles: list[Path], device: str) -> list[str]:
    """Each bundle's latest rows on the emulated phone: every runtime's aarch64 build, the same latency model."""
    from mobilecomp.bundle import read_manifest, read_results
    from mobilecomp.report.table import markdown

    out = []
    for bundle in bundles:
        manifest = read_manifest(bundle)
        files = {a["name"]: a["sha256"] for a in manifest["artefacts"]}
        rows = {r["artefact"]: r for r in read_results(bundle)  # the latest row of each file as it is now
                if r["device"] == device and r["threads"] == 1 and files.get(r["artefact"]) == r["artefact_sha256"]}
        if not rows:
            continue
        fp32 = {a["format"]: a["name"] for a in manifest["artefacts"] if a["variant"] == "fp32"}
        table = []
        for art in (a for a in manifest["artefacts"] if a["name"] in rows):
            row, base = rows[art["name"]], rows.get(fp32[art["format"]])
            ms, classes = row["latency_ms"]["p50"], row["extra"]["instruction_classes"]
            table.append([f"{row['runner']['name']} {row['runner']['version']}", art["name"],
                          f"{row['extra']['instructions'] / 1e6:.0f}", f"{classes['dot'] / 1e6:.1f}", f"{ms:.2f}",
                          f"{base['latency_ms']['p50'] / ms:.2f}x" if base else "-",
                          f"{row['parity']['cos_min']:.4f}" if row["parity"] else "-",
                          ("pass" if row["parity"]["passed"] else "FAIL") if row["parity"] else "not checked"])
        first = next(iter(rows.values()))
        sentences = first["parity"]["sentences"] if first["parity"] else 0
        seconds = bundle / "bench-arm-seconds"
        out += [f"## Emulated ARM: `{manifest['recipe']['name']}` on {device}", "",
                f"Command: `python bench/runtimes.py --arm-only` (on the host run's bundles). Each runtime's own "
                f"aarch64 build run under {first['runner']['emulator']}: instructions "
                "counted single-threaded by the TCG plugin (median of 3 runs), latency estimated from them and "
                f"the matrix weights for the phone's {first['device_info']['cpu'].split(' (')[0]} by the "
                "per-core model of docs/emulated-arm.md, with one runtime factor for all three runtimes "
                f"({first['device_info']['extra']['latency_model']['runtime']}), so their milliseconds differ "
                "by instructions and weights alone (provenance estimated-emulated-arm: no phone measured "
                "these), ARM parity "
                f"on {sentences} evenly spaced parity sentences against the stored PyTorch reference, run on "
                "the emulated CPU. ONNX Runtime and LiteRT run in the Debian bookworm sysroot (Python 3.11); "
                "ExecuTorch runs in the trixie one (Python 3.13) through executorch-numpy-runtime, whose "
                "ExecuTorch is 1.3.1 (the .pte files come from 1.4.1) and whose one thread pool is pinned to a "
                "thread by showing the guest one CPU."
                + (f" Emulation took {float(seconds.read_text()):.0f} s on this machine." if seconds.exists() else ""),
                "",
                markdown(table, ["runtime (aarch64)", "artefact", "instructions M", "of them SDOT M",
                                 "est. 1t ms", "vs own fp32", "ARM cos_min", "ARM parity"]), ""]
    return out


def _accuracy_section(bundle: Path, eval_data: Path) -> list[str]:
    """The classifier bundle's artefacts with their held-out accuracy, as the export's gate measured it."""
    from mobilecomp.bundle import read_manifest
    from mobilecomp.formats import FORMATS
    from mobilecomp.report.table import markdown

    manifest = read_manifest(bundle)
    rows = [[FORMATS[a["format"]].runtime, a["name"], f"{a['size_bytes'] / 1e6:.1f}",
             f"{a['accuracy']['accuracy']:.2f}", f"{a['accuracy']['drop_points']:+.2f}",
             f"{a['parity']['cos_min']:.4f} / {a['parity']['top1']:.3f}", "pass" if a["passed"] else "FAIL"]
            for a in manifest["artefacts"]]
    source = manifest["artefacts"][0]["accuracy"]["source_accuracy"]
    return ["## The polarity classifier in each runtime, with held-out accuracy", "",
            f"`{manifest['recipe']['name']}`: {manifest['recipe']['description']}; exported with `--eval-data "
            f"{eval_data.relative_to(ROOT) if eval_data.is_relative_to(ROOT) else eval_data}` "
            f"({manifest['eval_data']['examples']} held-out snippets), seq {manifest['recipe']['seq_len']}, by "
            f"`{manifest['command'] or 'bench/runtimes.py'}`. "
            f"PyTorch scores {source:.2f}%; drop is in points against it; parity is cos_min / top-1 of the "
            "probabilities on the parity sentences.", "",
            markdown(rows, ["runtime", "artefact", "size MB", "accuracy %", "drop", "parity cos_min / top-1",
                            "gates"]), ""]


if __name__ == "__main__":
    main()
