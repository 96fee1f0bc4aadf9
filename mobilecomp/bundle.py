"""Reads and writes bundle directories: written whole into a temporary directory, then renamed."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .errors import BundleError, first_line
from .files import read_json, read_jsonl
from .load.checkpoints import sha256_file
from .types import Artefact, Manifest, ProfileRow

MANIFEST = "manifest.json"
RESULTS_JSONL = "results.jsonl"
RESULTS_CSV = "results.csv"
PARTIAL_PREFIX = ".partial-"


class BundleWriter:
    """``with BundleWriter(out, force) as tmp:`` build in ``tmp``; ``commit`` makes it ``out``.

    Until ``commit`` nothing exists at ``out``; an exception removes the temporary directory,
    and a killed process leaves only a hidden ``.partial-*`` directory with no manifest.
    """

    def __init__(self, out: Path, force: bool = False) -> None:
        self.out = Path(out)
        if self.out.exists() and not force:
            raise BundleError(f"{self.out}: already exists; pass --force to replace it or --out another directory")
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BundleError(f"{self.out.parent}: cannot be made a directory ({exc.strerror}); "
                              "pass --out under a writable directory") from None
        self.tmp: Path | None = None
        self.committed = False

    def __enter__(self) -> Path:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"{PARTIAL_PREFIX}{self.out.name}-", dir=self.out.parent))
        return self.tmp

    def commit(self, manifest: Manifest | None) -> None:
        """Rename the finished directory into place (with the bundle's manifest, if one is given)."""
        assert self.tmp is not None
        if manifest is not None:
            (self.tmp / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
        old = None
        if self.out.exists():  # --force: keep the old bundle until the new one is in place
            old = self.out.with_name(f"{PARTIAL_PREFIX}old-{self.out.name}-{os.getpid()}")
            os.rename(self.out, old)
        os.rename(self.tmp, self.out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self.committed = True

    def __exit__(self, kind, exc, tb) -> None:
        if not self.committed and self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise BundleError(f"{exc.filename or self.out.parent}: no space left on the device while writing the "
                              f"bundle (nothing was kept); free space or pass --out on another disk") from None


def describe_artefact(bundle: Path, file: str, fmt: str, variant: str, details: dict) -> Artefact:
    path = bundle / file
    opset, op_types = None, {}
    if fmt == "onnx":
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
        for node in model.graph.node:
            key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
            op_types[key] = op_types.get(key, 0) + 1
    elif fmt == "tflite":
        from .verify.lint import lint_tflite

        lint = lint_tflite(path)
        op_types = lint["op_types"]
        details = {**details, "lint": lint}
    return Artefact(name=f"{fmt}-{variant}", format=fmt, variant=variant, file=file,
                    sha256=sha256_file(path), size_bytes=path.stat().st_size, opset=opset,
                    op_types=dict(sorted(op_types.items())), details=details)


REEXPORT = "re-run mobilecomp export --force"
ARTEFACT_FIELDS = ("name", "format", "variant", "file", "sha256", "size_bytes")
INPUTS = ("profile.npz", "parity.npz", "reference.npz")


def read_inputs(bundle: Path, name: str) -> dict[str, Any]:
    """Every array of the bundle's inputs/NAME (one of INPUTS), loaded into memory."""
    import numpy as np

    with np.load(Path(bundle) / "inputs" / name) as data:
        return {k: data[k] for k in data.files}


def read_manifest(bundle: Path) -> dict[str, Any]:
    """manifest.json, with the fields every command relies on checked."""
    path = Path(bundle) / MANIFEST
    if not path.exists():
        raise BundleError(f"{path}: missing; is {bundle} a bundle? make one with mobilecomp export")
    manifest = read_json(path, BundleError, REEXPORT)
    for key, kind in (("recipe", dict), ("artefacts", list), ("model", dict), ("checkpoint", dict)):
        if not isinstance(manifest.get(key), kind):
            raise BundleError(f"{path}: field '{key}' is missing or not a JSON {'list' if kind is list else 'object'}; "
                              f"{REEXPORT}")
    for i, art in enumerate(manifest["artefacts"]):
        missing = [k for k in ARTEFACT_FIELDS if not isinstance(art, dict) or k not in art]
        if missing:
            raise BundleError(f"{path}: artefacts[{i}] has no '{missing[0]}' field; {REEXPORT}")
        file = Path(str(art["file"]))
        if file.is_absolute() or ".." in file.parts:
            raise BundleError(f"{path}: artefacts[{i}].file '{art['file']}' is outside the bundle; {REEXPORT}")
    return manifest


def check_runnable(bundle: Path, artefacts: list[dict[str, Any]]) -> None:
    """Refuse, before anything runs, artefacts whose file is missing, truncated or changed since the
    manifest was written (size and sha256), and input files that do not load."""
    import zipfile

    for art in artefacts:
        path = Path(bundle) / art["file"]
        if not path.is_file():
            raise BundleError(f"{path}: missing (manifest.json lists it as {art['name']}); {REEXPORT}")
        if path.stat().st_size != art["size_bytes"] or sha256_file(path) != art["sha256"]:
            raise BundleError(f"{path}: changed since export (its sha256 differs from manifest.json's); "
                              f"refusing to run it: {REEXPORT}")
    for name in INPUTS:
        path = Path(bundle) / "inputs" / name
        try:
            arrays = read_inputs(bundle, name)
        except FileNotFoundError:
            raise BundleError(f"{path}: missing; {REEXPORT}") from None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise BundleError(f"{path}: not a readable .npz ({first_line(exc)}); {REEXPORT}") from None
        if not arrays:
            raise BundleError(f"{path}: holds no arrays; {REEXPORT}")


CSV_COLUMNS = ["timestamp", "model", "artefact", "variant", "device", "provenance", "threads",
               "seq_len", "batch", "p50_ms", "p90_ms", "mean_ms", "cpu_p50_ms", "runner",
               "device_cpu", "label", "artefact_sha256"]
ROW_FIELDS = ("model", "artefact", "variant", "device", "provenance", "threads", "seq_len", "batch",
              "latency_ms", "runner", "device_info")


def append_results(bundle: Path, rows: list[ProfileRow]) -> None:
    """Each row becomes one whole line of results.jsonl and of results.csv: built first, then one
    write, synced, so an interrupted profile never leaves half a row."""
    csv_path = Path(bundle) / RESULTS_CSV
    csv_lines = [] if csv_path.exists() else [_csv_line(CSV_COLUMNS)]
    for row in rows:
        lat = row.latency_ms
        csv_lines.append(_csv_line([
            row.timestamp, row.model, row.artefact, row.variant, row.device, row.provenance, row.threads,
            row.seq_len, row.batch, f"{lat.percentile(50):.3f}", f"{lat.percentile(90):.3f}", f"{lat.mean:.3f}",
            f"{row.cpu_ms.percentile(50):.3f}" if row.cpu_ms else "",
            f"{row.runner.get('name')} {row.runner.get('version')}", row.device_info.cpu, row.label or "",
            row.artefact_sha256]))
    append_lines(Path(bundle) / RESULTS_JSONL, [json.dumps(row.to_json()) + "\n" for row in rows])
    append_lines(csv_path, csv_lines)


def _csv_line(values: list) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


def append_lines(path: Path, lines: list[str]) -> None:
    """Each line in one write, synced before the next."""
    with open(path, "ab", buffering=0) as fh:
        for line in lines:
            fh.write(line.encode())
            os.fsync(fh.fileno())


def read_results(bundle: Path) -> list[dict[str, Any]]:
    path = Path(bundle) / RESULTS_JSONL
    return read_results_file(path) if path.exists() else []


def read_results_file(path: Path) -> list[dict[str, Any]]:
    """Profile rows from a results .jsonl, each with the fields reports read."""
    return [row for _, row in read_jsonl(path, BundleError, "delete that line (or the file) and profile again",
                                         ROW_FIELDS)]
