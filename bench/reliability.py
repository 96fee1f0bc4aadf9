"""Runs the fault suite through the real CLI and writes docs/reliability.md: every hand-written case
of tests/test_faults.py, every generated family of tests/test_fault_families.py (hypothesis, more draws
than `make test` takes), and its real-process tests (signals, racing writers). Counts by family:
cases run, tracebacks, data lost, containment escapes.

    python bench/reliability.py [--out docs/reliability.md] [--draws-scale 2] [--seed 23]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_fault_families import FAMILIES, run_family_case, verdict  # noqa: E402
from test_faults import CASES, ERROR, Materials, Scene, Unavailable, run_case  # noqa: E402

from mobilecomp import __version__  # noqa: E402
from mobilecomp.runtime.cpu import proc_cpuinfo  # noqa: E402
from mobilecomp.report.table import markdown  # noqa: E402

PROCESS_TESTS = "signals or racing or in_use or printed"


def hand_written(tmp: str, materials: Materials) -> tuple[list[list[str]], Counter]:
    rows, counts = [], Counter()
    for i, case in enumerate(CASES):
        scene_dir = Path(tmp) / f"{i:03d}"
        scene_dir.mkdir()
        scene = Scene(scene_dir, materials)
        try:
            outcome = run_case(case, scene)
        except Unavailable as exc:
            counts["skipped"] += 1
            rows.append([case.id, case.boundary, case.feeds, str(case.code), "skipped", f"skipped: {exc}"])
            continue
        finally:
            scene.close()
        clean = (outcome.code == case.code and len(outcome.error_lines) == 1 and not outcome.traceback
                 and not outcome.leftovers and not outcome.changed and case.says in outcome.error_lines[0])
        counts["cases"] += 1
        counts["clean"] += clean
        counts["tracebacks"] += outcome.traceback
        counts["data lost"] += bool(outcome.changed)
        counts["escapes"] += case.boundary == "containment" and outcome.code != case.code
        line = outcome.error_lines[0][len(ERROR):].strip() if outcome.error_lines else "(no error line)"
        if outcome.leftovers or outcome.changed:
            line += f" [LEFT: {', '.join(outcome.leftovers)}; CHANGED: {', '.join(outcome.changed)}]"
        rows.append([case.id, case.boundary, case.feeds, str(case.code), str(outcome.code),
                     line.replace(tmp, "$TMP").replace("|", "\\|")])
        print(f"{case.id}: exit {outcome.code} {'clean' if clean else 'NOT CLEAN'}", file=sys.stderr)
    return rows, counts


def generated(tmp: str, materials: Materials, scale: float, seed: int) -> tuple[list[list[str]], Counter]:
    """Each family's draws (``scale`` x its `make test` count), with every verdict counted."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as fixed_seed

    rows, totals = [], Counter()
    for n, family in enumerate(FAMILIES):
        counts, examples = Counter(), []
        root = Path(tmp) / f"family-{n}"
        root.mkdir()

        @fixed_seed(seed)
        @settings(max_examples=max(int(family.examples * scale), 1), deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(family.draw(materials))
        def draw(drawn):
            outcome = run_family_case(family, materials, root, drawn)
            broken = verdict(family, outcome)
            counts["cases"] += 1
            counts["clean"] += not broken
            counts["succeeded"] += outcome.code == 0
            counts["tracebacks"] += broken == "traceback"
            counts["data lost"] += broken == "data lost"
            counts["escapes"] += broken == "escape"
            if outcome.error_lines and len(examples) < 2:
                examples.append(outcome.error_lines[0][len(ERROR):].strip().replace(str(root), "$TMP")[:160])
            if broken:
                print(f"{family.name}: {broken}: {drawn!r}", file=sys.stderr)

        draw()
        totals.update(counts)
        print(f"{family.name}: {dict(counts)}", file=sys.stderr)
        rows.append([family.name, family.boundary, family.feeds, str(counts["cases"]), str(counts["clean"]),
                     str(counts["succeeded"]), str(counts["tracebacks"]), str(counts["data lost"]),
                     str(counts["escapes"]), "<br>".join(e.replace("|", "\\|") for e in examples)])
    return rows, totals


def process_tests() -> tuple[str, bool]:
    """The real-process tests, run by pytest: their summary line."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(ROOT / "tests" / "test_fault_families.py"), "-k", PROCESS_TESTS],
                          capture_output=True, text=True, cwd=ROOT)
    summary = next((ln for ln in reversed(proc.stdout.splitlines()) if " passed" in ln or " failed" in ln),
                   proc.stdout.strip()[-200:])
    return summary.strip("= "), proc.returncode == 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "reliability.md")
    ap.add_argument("--draws-scale", type=float, default=2.0, help="draws per family, x its `make test` count")
    ap.add_argument("--seed", type=int, default=23)
    args = ap.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mobilecomp-reliability-") as tmp:
        materials = Materials(Path(tmp) / "materials")
        materials.root.mkdir()
        case_rows, cases = hand_written(tmp, materials)
        family_rows, families = generated(tmp, materials, args.draws_scale, args.seed)
    processes, processes_ok = process_tests()
    seconds = time.perf_counter() - started
    per_boundary = Counter(case.boundary for case in CASES)
    cpu = proc_cpuinfo()[0]
    command = " ".join(["python bench/reliability.py", *sys.argv[1:]])
    text = "\n".join([
        "# Reliability: nothing of the user's is lost, nothing outside a bundle is touched, every bad input "
        "gets one line",
        "",
        f"Written by `{command}` on {cpu}, {os.cpu_count()} cores (mobilecomp {__version__}, Python "
        f"{platform.python_version()}, {platform.platform()}), {seconds:.0f} s. Every case drives the real CLI "
        "(click's runner in process; signals, racing writers and a disk filled mid-export as subprocesses).",
        "",
        "**The invariant**, for hand-written and generated input alike: the command ends in success with a whole "
        "result, or in exactly one `mobilecomp: error:` line with its error class's exit code, with no traceback, "
        "nothing of the user's changed (every file of the case's directory hashed before and after), and nothing "
        "left that looks like a valid result (no manifest.json at `--out`, no `.partial-*` directory). A bundle "
        "member that leads outside the bundle is always refused (an *escape* is a command that used it).",
        "",
        "| | cases run | clean | tracebacks | data lost | containment escapes |",
        "|---|---|---|---|---|---|",
        f"| generated (hypothesis, {len(FAMILIES)} families, seed {args.seed}) | {families['cases']} | "
        f"{families['clean']} | {families['tracebacks']} | {families['data lost']} | {families['escapes']} |",
        f"| hand-written ({len(CASES)} cases) | {cases['cases']} | {cases['clean']} | {cases['tracebacks']} | "
        f"{cases['data lost']} | {cases['escapes']} |"
        + (f" ({cases['skipped']} skipped, see their rows)" if cases["skipped"] else ""),
        f"| real processes (signals at random points, racing exports, a bundle in use, rows that cannot be "
        f"saved) | {processes} | | | | |",
        "",
        "## Generated families",
        "",
        "Each family draws its inputs from a hypothesis strategy; `make test` runs each with a fixed, "
        "derandomised set of draws (tests/test_fault_families.py), this bench with "
        f"{args.draws_scale:g}x as many from seed {args.seed}. *succeeded*: draws that were valid input and "
        "gave a whole result.",
        "",
        markdown(family_rows, ["family", "boundary", "generates", "cases", "clean", "succeeded", "tracebacks",
                               "data lost", "escapes", "error lines (first two)"]),
        "",
        "## Hand-written cases",
        "",
        "Exit codes: 2 ConfigError (recipe, device profile, option), 3 CheckpointError, 4 DataError, "
        "5 BundleError, 7 DeviceError, 8 ToolchainError, 130/143 interrupted by SIGINT/SIGTERM. `$TMP` is "
        "the run's temporary directory.",
        "",
        "Cases per boundary: " + ", ".join(f"{b} {n}" for b, n in per_boundary.items()) + ".",
        "",
        markdown(case_rows, ["case", "boundary", "feeds", "expected exit", "exit", "error line"]),
        "",
        "## How the guarantees are kept",
        "",
        "- **Nothing of the user's is destroyed.** `export` builds the bundle in a hidden `.partial-NAME-*` "
        "directory beside `--out`. `--force` replaces only an empty directory or a bundle whose manifest.json "
        "mobilecomp wrote, never the checkpoint, text or data being read nor a directory holding them, nor the "
        "current directory. The final move is one atomic `renameat2` (RENAME_NOREPLACE, or RENAME_EXCHANGE "
        "for `--force`), so a bundle that appears meanwhile is never replaced.",
        "- **One writer per bundle.** export, profile, eval, `--target` and report take an exclusive lock "
        "(`flock` on a hidden `.NAME.mobilecomp-lock` beside `--out`, `.mobilecomp-lock` inside a bundle, "
        "never on a file of the user's that has the name); a second writer gets one line naming the "
        "holder's pid and command.",
        "- **Strict loading.** Every tensor of a checkpoint is used and every tensor the outputs read comes "
        "from it (the only exceptions: derived buffers, per architecture, and modules the head never reads, "
        "per head); config.json's layer count is checked against the weights' headers before anything "
        "loads; a head that differs from the recipe's is named; the vocabulary must fit the embedding table "
        "and every sequence length the position table.",
        "- **Containment and bounded reads.** Every file a manifest names (artefacts, tokenizer files, "
        "inputs, results) must resolve inside the bundle and be a regular file before anything reads, "
        "hashes, runs or pushes it; the manifest is checked against its schema first. Recipes, configs, "
        "manifests and device profiles are read through one reader that refuses FIFOs and devices without "
        "blocking and caps their size.",
        "- **Early failure, no lost measurement.** Writability, a lock and free space (estimated from the "
        "checkpoint's weight bytes and the recipe's artefacts) are checked before loading. Result files are "
        "replaced whole (written beside, synced, renamed); when that fails the rows are printed on stdout "
        "with the error. ENOSPC anywhere, or a toolchain error on a disk left full, is one BundleError.",
        "- **Signals.** SIGINT and SIGTERM unwind through the writer, which removes the temporary directory; "
        "during a toolchain's import they are held and raised after it, so no native loader swallows them. "
        "`profile --resume` continues an interrupted profile.",
        "- `mobilecomp --debug ...` prints the traceback of these errors too; any other exception is a bug in "
        "mobilecomp and always shows its traceback.",
        "",
    ])
    args.out.write_text(text)
    print(f"{args.out}: cases {dict(cases)}, generated {dict(families)}, processes: {processes}", file=sys.stderr)
    bad = cases["tracebacks"] + families["tracebacks"] + families["data lost"] + families["escapes"] \
        + cases["data lost"] + cases["escapes"]
    return 0 if bad == 0 and processes_ok and cases["clean"] == cases["cases"] else 1


if __name__ == "__main__":
    sys.exit(main())
