"""Reads and writes bundle directories: written whole into a temporary directory, then renamed."""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .errors import BundleError
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
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp: Path | None = None
        self.committed = False

    def __enter__(self) -> Path:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"{PARTIAL_PREFIX}{self.out.name}-", dir=self.out.parent))
        return self.tmp

    def commit(self, manifest: Manifest) -> None:
        assert self.tmp is not None
        (self.tmp / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
        old = None
        if self.out.exists():  # --force: keep the old bundle until the new one is in place
            old = self.out.with_name(f"{PARTIAL_PREFIX}old-{self.out.name}-{os.getpid()}")
            os.rename(self.out, old)
        os.rename(self.tmp, self.out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self.committed = True

    def __exit__(self, *exc: object) -> None:
        if not self.committed and self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)


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


def read_manifest(bundle: Path) -> dict[str, Any]:
    path = Path(bundle) / MANIFEST
    if not path.exists():
        raise BundleError(f"{path}: missing; is {bundle} a bundle? make one with mobilecomp export")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path}: not valid JSON ({exc.msg}); re-run mobilecomp export --force") from None
    for key in ("recipe", "artefacts", "model"):
        if key not in manifest:
            raise BundleError(f"{path}: no '{key}' field; re-run mobilecomp export --force")
    return manifest


CSV_COLUMNS = ["timestamp", "model", "artefact", "variant", "device", "provenance", "threads",
               "seq_len", "batch", "p50_ms", "p90_ms", "mean_ms", "cpu_p50_ms", "runner",
               "device_cpu", "label", "artefact_sha256"]


def append_results(bundle: Path, rows: list[ProfileRow]) -> None:
    jsonl = Path(bundle) / RESULTS_JSONL
    csv_path = Path(bundle) / RESULTS_CSV
    new_csv = not csv_path.exists()
    with open(jsonl, "a") as fh_json, open(csv_path, "a", newline="") as fh_csv:
        writer = csv.writer(fh_csv)
        if new_csv:
            writer.writerow(CSV_COLUMNS)
        for row in rows:
            fh_json.write(json.dumps(row.to_json()) + "\n")
            lat = row.latency_ms
            writer.writerow([row.timestamp, row.model, row.artefact, row.variant, row.device,
                             row.provenance, row.threads, row.seq_len, row.batch,
                             f"{lat.percentile(50):.3f}", f"{lat.percentile(90):.3f}", f"{lat.mean:.3f}",
                             f"{row.cpu_ms.percentile(50):.3f}" if row.cpu_ms else "",
                             f"{row.runner.get('name')} {row.runner.get('version')}",
                             row.device_info.cpu, row.label or "", row.artefact_sha256])


def read_results(bundle: Path) -> list[dict[str, Any]]:
    path = Path(bundle) / RESULTS_JSONL
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
