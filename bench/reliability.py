"""Runs every case of the fault suite's table (tests/test_faults.py) through the real CLI and writes
docs/reliability.md: what each case feeds, the exit code and the one error line it got, and the
counts (cases, clean, tracebacks).

    python bench/reliability.py [--out docs/reliability.md]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_faults import CASES, ERROR, Materials, Scene, Unavailable, run_case  # noqa: E402

from mobilecomp import __version__  # noqa: E402
from mobilecomp.report.table import markdown  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "reliability.md")
    args = ap.parse_args()
    rows, counts = [], {"cases": len(CASES), "clean": 0, "tracebacks": 0, "skipped": 0}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mobilecomp-reliability-") as tmp:
        materials = Materials(Path(tmp) / "materials")
        materials.root.mkdir()
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
                     and not outcome.leftovers)
            counts["clean"] += clean
            counts["tracebacks"] += outcome.traceback
            line = outcome.error_lines[0][len(ERROR):].strip() if outcome.error_lines else "(no error line)"
            if outcome.leftovers:
                line += f" [LEFT: {', '.join(outcome.leftovers)}]"
            rows.append([case.id, case.boundary, case.feeds, str(case.code), str(outcome.code),
                         line.replace(tmp, "$TMP").replace("|", "\\|")])
            print(f"{case.id}: exit {outcome.code} {'clean' if clean else 'NOT CLEAN'}", file=sys.stderr)
    seconds = time.perf_counter() - started
    per_boundary: dict[str, int] = {}
    for case in CASES:
        per_boundary[case.boundary] = per_boundary.get(case.boundary, 0) + 1
    text = "\n".join([
        "# Reliability: hostile input never ends in a traceback",
        "",
        "Written by `python bench/reliability.py`: every case of the table in `tests/test_faults.py`, "
        "run through the real CLI (click's runner in process; the two signal cases as a subprocess "
        "signalled once the export's `.partial-` directory holds files). A case is clean when it "
        "exits with its error class's code, prints exactly one `mobilecomp: error:` line and no "
        "traceback, and leaves no manifest.json at `--out` and no `.partial-*` directory.",
        "",
        f"**{counts['cases']} cases, {counts['clean']} clean, {counts['tracebacks']} tracebacks**"
        + (f", {counts['skipped']} skipped (see their rows)" if counts["skipped"] else "")
        + f" - mobilecomp {__version__}, Python {platform.python_version()}, {platform.machine()}, "
        f"{seconds:.0f} s.",
        "",
        "Exit codes: 2 ConfigError (recipe, device profile, option), 3 CheckpointError, 4 DataError, "
        "5 BundleError, 7 DeviceError, 130/143 interrupted by SIGINT/SIGTERM. `$TMP` is the run's "
        "temporary directory.",
        "",
        "Cases per boundary: " + ", ".join(f"{b} {n}" for b, n in per_boundary.items()) + ".",
        "",
        markdown(rows, ["case", "boundary", "feeds", "expected exit", "exit", "error line"]),
        "",
        "## What happens on an interrupt",
        "",
        "- `export` builds the bundle in a hidden `.partial-NAME-*` directory beside `--out` and renames "
        "it into place only after manifest.json is written. SIGINT and SIGTERM both unwind through "
        "the writer, which removes that directory; a full disk (ENOSPC) is one BundleError naming "
        "the directory, with nothing kept. A SIGKILL can leave the hidden directory, never a "
        "manifest.",
        "- `profile` writes each result row as one whole line (built first, one write, fsync), so "
        "results.jsonl never holds half a row. `profile --resume` skips artefacts that already have "
        "rows for the same device, `--threads`, `--runs` and `--warmup`, and measures the rest one "
        "artefact at a time, appending each one's rows as it finishes: an interrupted run loses at "
        "most the artefact it was measuring, and the same command with `--resume` continues from "
        "there. (Without `--resume` the host backend interleaves all artefacts and writes their rows "
        "at the end; adb keeps its own resume file for a lost device.)",
        "- `profile` and `eval` refuse an artefact whose size or sha256 differs from manifest.json "
        "before running anything.",
        "- `mobilecomp --debug ...` prints the traceback of these errors too; any other exception is a "
        "bug in mobilecomp and always shows its traceback.",
        "",
    ])
    args.out.write_text(text)
    print(f"{args.out}: {counts}", file=sys.stderr)
    return 0 if counts["tracebacks"] == 0 and counts["clean"] + counts["skipped"] == counts["cases"] else 1


if __name__ == "__main__":
    sys.exit(main())
