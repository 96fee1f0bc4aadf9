"""The artefact formats, one registered class each: file suffix, the runtime that runs it, and how a
file of it is described in the manifest (opset, op types, lint).

The same name is the recipe's ``formats`` entry, the manifest's ``format`` and the key of each
stage's own implementation (export.EXPORTERS, quantise.VARIANTS, verify.RUNNERS,
profile.host.HOST_RUNNERS); tests/test_formats.py fails when a stage lacks a registered format.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str
    runtime: str  # the runtime that runs its artefacts on the host and on a phone: the report's runtime dimension

    def runtime_version(self) -> dict[str, str]:
        """The host runtime's package name and version, recorded with every parity result."""
        raise NotImplementedError

    def describe(self, path: Path) -> tuple[int | None, dict[str, int], dict | None]:
        """(opset, op type counts, lint details or None) of one artefact file."""
        raise NotImplementedError


@dataclass(frozen=True)
class Onnx(Format):
    def runtime_version(self):
        import onnxruntime

        return {"name": "onnxruntime", "version": onnxruntime.__version__}

    def describe(self, path):
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
        op_types: dict[str, int] = {}
        for node in model.graph.node:
            key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
            op_types[key] = op_types.get(key, 0) + 1
        return opset, op_types, None


@dataclass(frozen=True)
class TFLite(Format):
    def runtime_version(self):
        from .runtime.litert import runtime_version

        return {"name": "ai-edge-litert", "version": runtime_version()}

    def describe(self, path):
        from .verify.lint import lint_tflite

        lint = lint_tflite(path)
        return None, lint["op_types"], lint


@dataclass(frozen=True)
class ExecuTorch(Format):
    def runtime_version(self):
        from .runtime.pte import runtime_version

        return {"name": "executorch", "version": runtime_version()}

    def describe(self, path):
        from .runtime.pte import lint_pte

        lint = lint_pte(path)
        return None, lint.pop("op_types"), lint


FORMATS: dict[str, Format] = {f.name: f for f in (
    Onnx("onnx", ".onnx", "onnxruntime"),
    TFLite("tflite", ".tflite", "litert"),
    ExecuTorch("executorch", ".pte", "executorch"),
)}
