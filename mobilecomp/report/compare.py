"""The cross-model report: rows = models x variants, columns = devices, every cell with its provenance.

Reads bundles (manifest.json + results.jsonl), directories of bundles, or results .jsonl files,
and writes report.md, report.csv, report.json and pareto.png (report/plot.py). A DeFormer
bundle adds the BERT-base vs Decomp-BERT-base table with the paper's ratios beside ours.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..bundle import LOCK, Lock
from ..errors import BundleError
from ..formats import FORMATS
from .table import int8_path, markdown

PAPER_DEFORMER = [  # DeFormer Table 3 (seconds, SQuAD): BERT-base, Decomp-BERT-base
    ("Intel i9-7900X CPU, batch 32", 5.90, 1.66),
    ("OnePlus 6 phone, batch 1", 10.20, 3.28),
    ("Tesla V100 GPU, batch 32", 0.22, 0.07),
]


@dataclass
class ReportRow:
    """One model x variant with its facts and one latency cell per device column."""

    model: str
    variant: str
    artefact: str
    params: int | None
    gflops: float | None
    size_mb: float | None
    zipped_mb: float | None
    sparsity: float | None
    cos_min: float | None
    accuracy: float | None
    passed: bool | None
    label: str | None
    method: str | None = None  # the compression method that trained it (its student card), or "teacher"
    nonzero_params: int | None = None  # params less the pruned zeros
    runtime: str | None = None  # what runs the artefact (its format's runtime)
    cells: dict[str, dict[str, Any]] = field(default_factory=dict)  # column -> {p50_ms, provenance, ...}

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


def latest_rows(rows: list[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    """The newest row per (model, artefact, device, threads): artefact names repeat across bundles."""
    latest: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        latest[(row["model"], row["artefact"], row["device"], row["threads"])] = row
    return latest


def column_of(row: dict[str, Any]) -> str:
    """The device column a result row belongs to: device and thread count."""
    return f"{row['device']} {row['threads']}T"


def _bundles(paths: list[str]) -> tuple[list[Path], list[Path]]:
    bundles, jsonls = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_file() and path.suffix == ".jsonl":
            jsonls.append(path)
        elif (path / "manifest.json").exists():
            bundles.append(path)
        elif path.is_dir():
            found = sorted(p.parent for p in path.glob("*/manifest.json"))
            if not found:
                raise BundleError(f"{path}: no manifest.json in it or its subdirectories "
                                  "(give bundles, a directory of bundles, or results .jsonl files)")
            bundles += found
        else:
            raise BundleError(f"{path}: not a bundle, a directory of bundles or a .jsonl file")
    return bundles, jsonls


def _gflops(model: dict[str, Any], variant: str) -> float | None:
    """Per-inference GFLOPs of an artefact; a DeFormer bundle's three graphs each have their own."""
    if model.get("decompose") and variant.startswith("full-"):
        return model.get("undecomposed_gflops")
    if model.get("decompose") and variant.startswith("passage-"):
        return model.get("passage_gflops_once")
    return model.get("gflops")


def _accuracy_rows(bundle: Path) -> dict[str, dict[str, Any]]:
    from ..files import read_jsonl

    path = Path(bundle) / "accuracy.jsonl"
    if not path.exists():
        return {}
    rows = read_jsonl(path, BundleError, "delete that line (or the file) and run mobilecomp eval again",
                      ("artefact",))
    return {row["artefact"]: row for _, row in rows if "accuracy" in row}


def student_card(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The compression stage's card beside a bundle's checkpoint (mobilecomp compress), if any."""
    from ..compress import CARD
    from ..files import read_json

    path = Path(manifest["checkpoint"].get("path") or "") / CARD
    return read_json(path, BundleError, "re-run mobilecomp compress for that student") if path.is_file() else None


def collect(paths: list[str]) -> tuple[list[ReportRow], list[dict[str, Any]], list[str]]:
    """(report rows, DeFormer comparisons, device columns) from bundles and results files."""
    from ..bundle import read_manifest, read_results, read_results_file

    bundles, jsonls = _bundles(paths)
    rows: dict[tuple[str, str], ReportRow] = {}  # (model, artefact)
    results: list[dict[str, Any]] = []
    deformers = []
    teachers: set[str] = set()
    single_sentence: set[str] = set()  # DeFormer classifiers: no passage to cache, both graphs run per input
    checkpoints: dict[str, str] = {}  # model -> checkpoint directory
    for bundle in bundles:
        manifest = read_manifest(bundle)
        model = manifest["model"]
        label = manifest["checkpoint"].get("label")
        card = student_card(manifest)
        if card is not None:
            teachers.add(str(Path(card["teacher"]["path"]).resolve()))
        if manifest["checkpoint"].get("path"):
            checkpoints[manifest["recipe"]["name"]] = str(Path(manifest["checkpoint"]["path"]).resolve())
        evaluated = _accuracy_rows(bundle)  # `mobilecomp eval` rows, newest per artefact
        for art in manifest["artefacts"]:
            weights = art.get("details", {}).get("weight_stats", {})
            acc = evaluated.get(art["name"]) or art.get("accuracy") or {}
            zeros = weights.get("weight_matrix_sparsity", 0.0) * weights.get("weight_matrix_values", 0)
            rows[(manifest["recipe"]["name"], art["name"])] = ReportRow(
                model=manifest["recipe"]["name"], variant=art["variant"], artefact=art["name"],
                params=model.get("params"), gflops=_gflops(model, art["variant"]),
                size_mb=art["size_bytes"] / 1e6,
                zipped_mb=weights["zipped_bytes"] / 1e6 if "zipped_bytes" in weights else None,
                sparsity=weights.get("weight_matrix_sparsity"),
                cos_min=(art.get("parity") or {}).get("cos_min"), accuracy=acc.get("accuracy"),
                passed=art.get("passed"), label=label, method=card["method"] if card else None,
                runtime=FORMATS[art["format"]].runtime if art["format"] in FORMATS else None,
                nonzero_params=model["params"] - int(zeros) if model.get("params") else None)
        if model.get("decompose") and model.get("head") == "classifier":
            single_sentence.add(manifest["recipe"]["name"])
        bundle_rows = read_results(bundle)
        results += bundle_rows
        if model.get("decompose"):
            deformers.append((manifest, bundle_rows))
    for path in jsonls:
        results += read_results_file(path)
    for row in latest_rows(results).values():
        key = (row["model"], row["artefact"])  # a bundle may hold one variant in two formats
        if key not in rows:  # a results file without its bundle: what the row itself says
            rows[key] = ReportRow(model=row["model"], variant=row["variant"], artefact=row["artefact"],
                                  params=None, gflops=None, size_mb=None, zipped_mb=None, sparsity=None,
                                  cos_min=(row.get("parity") or {}).get("cos_min"), accuracy=None,
                                  passed=None, label=row.get("label"), runtime=row["runner"].get("name"))
        rows[key].cells[column_of(row)] = {
            "p50_ms": row["latency_ms"]["p50"], "provenance": row["provenance"],
            "runner": f"{row['runner'].get('name')} {row['runner'].get('version')}",
            "device_cpu": row["device_info"].get("cpu"), "accelerator": row["device_info"].get("accelerator"),
            "int8": int8_path(row), "seq_len": row["seq_len"], "batch": row["batch"]}
    for row in rows.values():
        if checkpoints.get(row.model) in teachers:
            row.method = "teacher"
        if row.model in single_sentence and not row.variant.startswith(("passage-", "full-")):
            passage = rows.get((row.model, row.artefact.replace(f"-{row.variant}", f"-passage-{row.variant}")))
            for column, cell in list(row.cells.items()):
                other = passage.cells.get(column) if passage else None
                if other is None:  # without the passage graph's time there is no per-input latency
                    del row.cells[column]
                else:
                    cell.update(p50_ms=cell["p50_ms"] + other["p50_ms"],
                                note="question + passage graphs (one sentence: nothing to cache)")
    columns = sorted({c for r in rows.values() for c in r.cells})
    comparisons = [deformer_comparison(m, r) for m, r in deformers]
    return sorted(rows.values(), key=lambda r: (r.model, r.artefact)), comparisons, columns


def deformer_comparison(manifest: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per device column: the undecomposed model vs the per-query question graph, passage cached."""
    latest = latest_rows(rows)
    ours = []
    for column in sorted({column_of(r) for r in latest.values()}):
        by_art = {r["artefact"]: r for r in latest.values() if column_of(r) == column}
        for variant, full_name in (("fp32", "onnx-full-fp32"),):  # like for like: both fp32
            full, query = by_art.get(full_name), by_art.get(f"onnx-{variant}")
            passage = by_art.get(f"onnx-passage-{variant}")
            if full and query:
                ours.append({"column": column, "variant": variant, "provenance": query["provenance"],
                             "full_ms": full["latency_ms"]["p50"], "query_ms": query["latency_ms"]["p50"],
                             "passage_once_ms": passage["latency_ms"]["p50"] if passage else None,
                             "speedup": full["latency_ms"]["p50"] / query["latency_ms"]["p50"]})
    model = manifest["model"]
    return {"model": manifest["recipe"]["name"], "seq_len": model["seq_len"], "decompose": model["decompose"],
            "flops_speedup": model.get("flops_speedup"), "label": manifest["checkpoint"].get("label"),
            "ours": ours,
            "paper": [{"device": d, "bert_base_s": a, "decomp_s": b, "speedup": round(a / b, 1)}
                      for d, a, b in PAPER_DEFORMER]}


def teacher_row(rows: list[ReportRow]) -> ReportRow | None:
    """The reference for accuracy drops: the teacher's fp32 artefact (else the most accurate fp32 row)."""
    fp32 = [r for r in rows if r.variant == "fp32" and r.accuracy is not None]
    named = [r for r in fp32 if r.method == "teacher"]
    return (named or sorted(fp32, key=lambda r: -r.accuracy) or [None])[0]


def best_within(rows: list[ReportRow], columns: list[str], max_drop: float) -> list[dict[str, Any]]:
    """Per device column: the fastest artefact that passed its gates and lost at most ``max_drop``
    points of accuracy against the teacher."""
    reference = teacher_row(rows)
    if reference is None:
        return []
    floor = reference.accuracy - max_drop
    best = []
    for column in columns:
        fits = [r for r in rows if column in r.cells and r.accuracy is not None and r.accuracy >= floor
                and r.passed and not r.variant.startswith(("passage-", "full-"))]
        pick = min(fits, key=lambda r: r.cells[column]["p50_ms"], default=None)
        best.append({"column": column, "max_drop": max_drop, "reference": f"{reference.model}:{reference.artefact}",
                     "reference_accuracy": reference.accuracy,
                     "best": None if pick is None else {
                         "model": pick.model, "artefact": pick.artefact, "accuracy": pick.accuracy,
                         "drop": reference.accuracy - pick.accuracy, **pick.cells[column]}})
    return best


def render_best(best: list[dict[str, Any]]) -> list[str]:
    if not best:
        return []
    first = best[0]
    out = ["", f"## Best model per device within {first['max_drop']:g} points of {first['reference']} "
               f"({first['reference_accuracy']:.2f}%)", ""]
    for b in best:
        p = b["best"]
        out.append(f"- {b['column']}: " + ("no artefact within the budget" if p is None else
                   f"{p['model']}:{p['artefact']}, {p['accuracy']:.2f}% ({-p['drop']:+.2f} points), "
                   f"{p['p50_ms']:.2f} ms ({p['provenance']})"))
    return out


def by_runtime(rows: list[ReportRow], columns: list[str]) -> list[dict[str, Any]]:
    """Per model and device column, each runtime's fastest artefact that passed its parity gate (and
    its most faithful one): which runtime is fastest, and at what fidelity, for this model there."""
    out = []
    for model in sorted({r.model for r in rows}):
        mine = [r for r in rows if r.model == model and r.runtime and r.passed
                and not r.variant.startswith(("passage-", "full-"))]
        for column in columns:
            timed = [r for r in mine if column in r.cells]
            for runtime in sorted({r.runtime for r in timed}):
                own = [r for r in timed if r.runtime == runtime]
                fastest = min(own, key=lambda r: r.cells[column]["p50_ms"])
                out.append({"model": model, "column": column, "runtime": runtime, "artefact": fastest.artefact,
                            "p50_ms": fastest.cells[column]["p50_ms"], "cos_min": fastest.cos_min,
                            "provenance": fastest.cells[column]["provenance"],
                            "runner": fastest.cells[column]["runner"]})
    return out


def render_runtimes(rows: list[ReportRow], columns: list[str]) -> list[str]:
    """The runtimes side by side, where a model was timed in more than one."""
    picks = by_runtime(rows, columns)
    shown = {(p["model"], p["column"]) for p in picks
             if sum(q["model"] == p["model"] and q["column"] == p["column"] for q in picks) > 1}
    if not shown:
        return []
    table = [[p["model"], p["column"], p["runtime"], p["artefact"], f"{p['p50_ms']:.2f} ms", _f(p["cos_min"], ".4f"),
              p["provenance"], p["runner"]] for p in picks if (p["model"], p["column"]) in shown]
    return ["", "## Runtimes side by side: each runtime's fastest artefact that passed parity", "",
            markdown(table, ["model", "device", "runtime", "artefact", "p50", "cos_min", "provenance", "runner"])]


def _f(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def render_markdown(rows: list[ReportRow], comparisons: list[dict[str, Any]], columns: list[str],
                    y: str, best: list[dict[str, Any]] = ()) -> str:
    reference = teacher_row(rows)
    header = ["model", "artefact", "runtime", "params M", "compression x", "GFLOPs", "size MB", "zipped MB", "sparsity",
              "cos_min", "accuracy", "drop", "parity", *columns]
    body = []
    for r in rows:
        factor = (reference.params / r.nonzero_params if reference is not None and reference.params
                  and r.nonzero_params and r.accuracy is not None else None)
        drop = reference.accuracy - r.accuracy if reference is not None and r.accuracy is not None else None
        line = [r.model + (" (untrained)" if r.label else f" ({r.method})" if r.method else ""), r.artefact,
                r.runtime or "-", _f(r.params and r.params / 1e6, ".1f"), _f(factor, ".2f"),
                _f(r.gflops, ".2f"), _f(r.size_mb, ".1f"), _f(r.zipped_mb, ".1f"),
                _f(r.sparsity, ".1%"), _f(r.cos_min, ".4f"), _f(r.accuracy, ".1f"), _f(drop, "+.1f"),
                "-" if r.passed is None else ("pass" if r.passed else "FAIL")]
        for column in columns:
            cell = r.cells.get(column)
            line.append(f"{cell['p50_ms']:.1f} ms ({cell['provenance']})" if cell else "-")
        body.append(line)
    out = ["# Which small BERT is best? Models x devices", "",
           "Latency: median of the timed runs, batch 1, at each row's sequence length; each cell names "
           "its provenance (measured-host, measured-gpu, measured-adb, estimated-emulated-arm). "
           "Rows marked (untrained) have random weights: size and latency only. Pruned rows store "
           "their zeros densely: dense kernels gain no speed from unstructured sparsity, only the "
           "zipped size shrinks. DeFormer rows: FORMAT-fp32/int8-dynamic are the per-query question "
           "graph (passage cached; for a single-sentence classifier, nothing is cached and the cell is "
           "question + passage graph), FORMAT-passage-* the once-per-passage encoder, FORMAT-full-fp32 the "
           "undecomposed model. Compression x: the teacher's parameters over the row's non-zero "
           "parameters; drop: points of accuracy below "
           + (f"{reference.model}:{reference.artefact} ({reference.accuracy:.2f}%)." if reference else "the teacher."),
           "", markdown(body, header), *render_runtimes(rows, columns), *render_best(list(best))]
    for comp in comparisons:
        dec = comp["decompose"]
        out += ["", f"## DeFormer: BERT-base vs {comp['model']} (seq {comp['seq_len']}, "
                    f"{dec['lower_layers']} lower layers, question {dec['question_len']} tokens, passage cached)"]
        if comp["label"]:
            out.append(f"({comp['label']}: the speed-up depends on shapes, not weights)")
        out.append("")
        table = [[o["column"], o["variant"], f"{o['full_ms']:.1f} ms", f"{o['query_ms']:.1f} ms",
                  _f(o["passage_once_ms"], ".1f") + (" ms" if o["passage_once_ms"] else ""),
                  f"{o['speedup']:.1f}x", o["provenance"]] for o in comp["ours"]]
        table += [[p["device"] + " (paper)", "fp32", f"{p['bert_base_s']:.2f} s", f"{p['decomp_s']:.2f} s", "-",
                   f"{p['speedup']:.1f}x", "DeFormer Table 3"] for p in comp["paper"]]
        out.append(markdown(table, ["device", "variant", "BERT-base (full)", "Decomp per query",
                                    "passage once", "speed-up", "provenance"]))
        if comp.get("flops_speedup"):
            out.append("")
            out.append(f"Counted FLOPs speed-up per query: {comp['flops_speedup']:.2f}x "
                       "(paper Table 1, SQuAD: 3.2x)")
    machines = sorted({(column, cell["device_cpu"], cell.get("int8") or "") for r in rows
                       for column, cell in r.cells.items()})
    out += ["", "Columns' machines:"] + [f"- {column}: {cpu}" + (f" ({int8})" if int8 else "")
                                          for column, cpu, int8 in machines]
    out += ["", f"Pareto plot: pareto.png (x = latency, y = {y}, marker area = model size)."]
    return "\n".join(out) + "\n"


def write_report(paths: list[str], out: Path, device: str | None = None, y: str = "parity",
                 max_accuracy_drop: float | None = None) -> dict[str, Any]:
    """Write report.md/.csv/.json, pareto.png (``device``'s column) and one pareto-COLUMN.png per
    device column into ``out``; with ``max_accuracy_drop``, name each column's best model within it."""
    rows, comparisons, columns = collect(paths)
    if not rows:
        raise BundleError("no rows: the bundles have no artefacts and the files no results")
    out = Path(out)
    _check_report_dir(out)
    with Lock(out / LOCK, out, "writing a report into"):
        return _write_report(out, rows, comparisons, columns, device, y, max_accuracy_drop)


def _check_report_dir(out: Path) -> None:
    """--out is made, or is empty, or holds an earlier report: nothing of the user's is overwritten."""
    from ..files import read_json

    if os.path.lexists(out) and (out.is_symlink() or not out.is_dir()):
        raise BundleError(f"{out}: not a directory; pass --out a directory for the report")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BundleError(f"{out}: cannot be made a directory ({exc.strerror}); pass --out a writable "
                          "directory") from None
    mine = set(REPORT_FILES) | {LOCK}
    theirs = [p.name for p in out.iterdir() if p.name not in mine and not p.name.startswith("pareto-")
              and not (p.name == "bundles" and _only_bundles(p))]  # compare's bundles sit beside its report
    earlier = read_json(out / "report.json", BundleError, "pass --out another directory") \
        if (out / "report.json").exists() else {"made_by": "mobilecomp"}
    if theirs or not (earlier.get("made_by") == "mobilecomp" or {"columns", "rows", "best"} <= set(earlier)):
        named = ", ".join(sorted(theirs)[:3]) or "report.json"
        raise BundleError(f"{out}: holds files mobilecomp did not write ({named}); pass --out a new or empty "
                          "directory")


def _only_bundles(directory: Path) -> bool:
    from ..bundle import made_by_mobilecomp

    return directory.is_dir() and not directory.is_symlink() and all(
        p.name.startswith(".") or not made_by_mobilecomp(p) for p in directory.iterdir())


REPORT_FILES = ("report.md", "report.csv", "report.json", "pareto.png")


def _write_report(out: Path, rows, comparisons, columns, device, y, max_accuracy_drop) -> dict[str, Any]:
    from .plot import pareto_plot

    best = best_within(rows, columns, max_accuracy_drop) if max_accuracy_drop is not None else []
    (out / "report.md").write_text(render_markdown(rows, comparisons, columns, y, best))
    with open(out / "report.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["model", "variant", "artefact", "label", "params", "gflops", "size_mb", "zipped_mb",
                         "sparsity", "cos_min", "accuracy", "passed", "device", "p50_ms", "provenance", "runner"])
        for r in rows:
            for column, cell in sorted(r.cells.items()) or [("", {})]:
                writer.writerow([r.model, r.variant, r.artefact, r.label or "", r.params, r.gflops, r.size_mb,
                                 r.zipped_mb, r.sparsity, r.cos_min, r.accuracy, r.passed, column,
                                 cell.get("p50_ms"), cell.get("provenance"), cell.get("runner")])
    (out / "report.json").write_text(json.dumps(
        {"made_by": "mobilecomp", "columns": columns, "rows": [r.to_json() for r in rows], "deformer": comparisons,
         "best": best, "runtimes": by_runtime(rows, columns)},
        indent=2) + "\n")
    plot = pareto_plot(rows, columns, out / "pareto.png", device, y)
    per_device = [pareto_plot(rows, columns, out / f"pareto-{_slug(c)}.png", c, y)["file"] for c in columns]
    return {"out": str(out), "rows": len(rows), "columns": columns, "plot": plot, "best": best,
            "files": [*REPORT_FILES,
                      *(Path(f).name for f in per_device)]}


def _slug(column: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in column).strip("-")


def compare_recipes(names: list[str], out: Path, device: str, options, force: bool = False,
                    log=lambda msg: None) -> dict[str, Any]:
    """Export (or reuse) and profile each recipe's bundle under OUT/bundles, then report them together."""
    from ..errors import DeviceError
    from ..pipeline import export_bundle, profile_bundle
    from ..recipe import load_recipe

    recipes = [load_recipe(n) for n in names]  # every name checked before any work
    bundles, skipped = [], []
    for recipe in recipes:
        bundle = Path(out) / "bundles" / recipe.name
        if force or not (bundle / "manifest.json").exists():
            log(f"{recipe.name}: exporting")
            export_bundle(recipe, bundle, force=force, log=lambda m, n=recipe.name: log(f"{n}: {m}"))
        log(f"{recipe.name}: profiling on {device}")
        try:
            profile_bundle(bundle, device, options)
        except DeviceError as exc:
            skipped.append(f"{recipe.name} on {device}: {exc}")
            log(f"{recipe.name}: skipped on {device}: {exc}")
        bundles.append(str(bundle))
    written = write_report(bundles, Path(out), device=None, y="parity")
    if skipped:
        with open(Path(out) / "report.md", "a") as fh:
            fh.write("\nSkipped: " + "; ".join(skipped) + "\n")
    return {**written, "skipped": skipped}
