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


# format name -> (file suffix, exporter(model, recipe, path, background) -> details); ``background``
# is an export.background.Background that may have started the conversion already, or None
FORMATS: dict[str, tuple[str, Callable[..., dict]]] = {
    "onnx": (".onnx", _onnx),
    "tflite": (".tflite", _tflite),
    "executorch": (".pte", _executorch),
}


# format name -> the runtime that runs its artefacts, on the host and on a phone: the report's runtime dimension
RUNTIMES: dict[str, str] = {"onnx": "onnxruntime", "tflite": "litert", "executorch": "executorch"}


def export(model: LoadedModel, recipe: Recipe, fmt: str, path: Path, background=None) -> dict:
    return FORMATS[fmt][1](model, recipe, path, background)
