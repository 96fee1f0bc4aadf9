"""Stage 2: writes the fp32 model in each registered format (the quantise stage starts from it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..types import LoadedModel, Recipe


def _onnx(model: LoadedModel, recipe: Recipe, path: Path, background=None) -> dict:
    from .onnx import export_onnx

    return export_onnx(model, recipe, path)


def _tflite(model: LoadedModel, recipe: Recipe, path: Path, background=None) -> dict:
    from .tflite import export_tflite

    return export_tflite(model, recipe, path, background)


def _executorch(model: LoadedModel, recipe: Recipe, path: Path, background=None) -> dict:
    from .executorch import export_executorch

    return export_executorch(model, recipe, path)


# format name (formats.FORMATS) -> exporter(model, recipe, path, background) -> details; ``background``
# is an export.background.Background that may have started the conversion already, or None
EXPORTERS: dict[str, Callable[..., dict]] = {"onnx": _onnx, "tflite": _tflite, "executorch": _executorch}


def export(model: LoadedModel, recipe: Recipe, fmt: str, path: Path, background=None) -> dict:
    return EXPORTERS[fmt](model, recipe, path, background)
