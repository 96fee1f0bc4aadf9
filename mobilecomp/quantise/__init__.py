"""Stage 3: makes each quantisation variant of an fp32 artefact, looked up by (format, name)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..inputs import Feed
from ..types import Budget


@dataclass
class QuantContext:
    """What a variant may use besides the fp32 file: real text, already tokenised."""

    calibration: list[Feed]  # all padded to one shape (static calibration needs it)
    tuning: list[Feed]  # variable-length batches for sensitivity sweeps
    primary_output: str
    budget: Budget  # the variant's parity budget; searches aim at it
    work_dir: Path
    head: Any  # load.heads.Head: what a search runs (``scored`` outputs) and how it scores a trial
    model: Any = None  # the LoadedModel, for formats that quantise while converting (TFLite)
    log: Callable[[str], None] = lambda msg: None  # lines within the variant's step: progress, cache use
    background: Any = None  # export.background.Background: TFLite files started ahead, or None

    @property
    def threads(self) -> int:
        """Threads for a session the variant runs: one while the background process converts on
        the other core (two would wait on each other), else 0, every core. onnxruntime's and
        LiteRT's outputs are the same whatever the count."""
        return 1 if self.background is not None and self.background.busy() else 0

    def tuning_score(self, reference: dict[str, list[np.ndarray]], candidate: dict[str, list[np.ndarray]]) -> float:
        """The head's parity score of two runs over the tuning text (one array per tuning batch, by
        output name): what every search maximises, whatever the format."""
        return self.head.tuning_score(reference, candidate, self.tuning, self.budget)

    @property
    def score_name(self) -> str:
        return self.head.tuning_score_name(self.budget)


@dataclass(frozen=True)
class Variant:
    name: str
    format: str
    budget: Budget  # default parity budget; a recipe may override it
    summary: str
    build: Callable[[Path, Path, QuantContext], dict]  # (fp32 file, out file, ctx) -> details


def _backend(module: str, fn_name: str):
    """A build function that imports its backend module (onnxruntime, litert...) only when called."""

    def build(src: Path, dst: Path, ctx: QuantContext) -> dict:
        return getattr(importlib.import_module(f"{__name__}.{module}"), fn_name)(src, dst, ctx)

    return build


def _ort(fn_name: str):
    return _backend("onnxruntime", fn_name)


VARIANTS: dict[str, dict[str, Variant]] = {
    "onnx": {
        "fp32": Variant("fp32", "onnx", Budget(cos_min=0.9999, max_abs=1e-3), "the exported graph",
                        _ort("fp32")),
        "fp16": Variant("fp16", "onnx", Budget(cos_min=0.999), "fp16 weights and compute, fp32 I/O",
                        _ort("fp16")),
        "int8-dynamic": Variant(
            "int8-dynamic", "onnx", Budget(cos_min=0.98, cos_mean=0.99, spearman=0.98, top1=0.97),
            "dynamic int8, QInt8 weights per channel", _ort("int8_dynamic")),
        "int8-accurate": Variant(
            "int8-accurate", "onnx", Budget(cos_min=0.985, cos_mean=0.99, spearman=0.98, top1=0.98),
            "dynamic int8 with the most sensitive MatMuls kept fp32 (sensitivity sweep)",
            _ort("int8_accurate")),
        "int8-static": Variant(
            "int8-static", "onnx", Budget(cos_min=0.98, cos_mean=0.99, spearman=0.98, top1=0.97),
            "static QDQ int8, MatMul only, per channel, MinMax on real text", _ort("int8_static")),
    },
}


def _fidelity(fn_name: str):
    return _backend("fidelity", fn_name)


# The fidelity frontier (issue 9): per-row activations, SmoothQuant, 8-bit MatMulNBits, search.
VARIANTS["onnx"].update({
    "int8-rowwise": Variant(
        "int8-rowwise", "onnx", Budget(cos_min=0.993, cos_mean=0.997, spearman=0.99, top1=0.98),
        "int8 on every MatMul with per-row asymmetric uint8 activations (MatMulInteger, standard ops)",
        _fidelity("int8_rowwise")),
    "int8-rowwise-ffn": Variant(
        "int8-rowwise-ffn", "onnx", Budget(cos_min=0.985, cos_mean=0.993, spearman=0.99, top1=0.98),
        "per-row int8 feed-forward MatMuls, onnxruntime dynamic int8 attention", _fidelity("int8_rowwise_ffn")),
    "int8-smooth": Variant(
        "int8-smooth", "onnx", Budget(cos_min=0.995, cos_mean=0.998, spearman=0.99, top1=0.98),
        "SmoothQuant (alpha 0.5) on Q/K/V + dynamic int8 attention, per-row int8 feed-forward",
        _fidelity("int8_smooth")),
    "int8-nbits": Variant(
        "int8-nbits", "onnx", Budget(cos_min=0.995, cos_mean=0.998, spearman=0.99, top1=0.98),
        "8-bit MatMulNBits (block 128, accuracy_level 4: int8 compute), per-row int8 embeddings",
        _fidelity("int8_nbits")),
    "int8-mixed": Variant(
        "int8-mixed", "onnx", Budget(cos_min=0.997, cos_mean=0.998, spearman=0.99, top1=0.98),
        "SmoothQuant + per-row int8, the MatMuls the budget cannot afford kept fp32 (searched)",
        _fidelity("int8_mixed")),
})


def _litert(fn_name: str):
    return _backend("litert", fn_name)


_INT8 = Budget(cos_min=0.98, cos_mean=0.99, spearman=0.98, top1=0.97)  # the ONNX int8 budgets
VARIANTS["tflite"] = {
    "fp32": Variant("fp32", "tflite", Budget(cos_min=0.9999, max_abs=1e-3),
                    "litert-torch conversion, fixed-length signatures", _litert("fp32")),
    "fp16": Variant("fp16", "tflite", Budget(cos_min=0.999), "fp16 weights (litert-torch full_fp16_recipe)",
                    _litert("fp16")),
    "int8-dynamic": Variant("int8-dynamic", "tflite", _INT8,
                            "dynamic-range int8, weights per channel (litert-torch full_dynamic_recipe)",
                            _litert("int8_dynamic")),
    "int8-smooth": Variant("int8-smooth", "tflite", VARIANTS["onnx"]["int8-smooth"].budget,
                           "SmoothQuant (alpha 0.5) on Q/K/V, then dynamic-range int8 (full_dynamic_recipe)",
                           _litert("int8_smooth")),
    "int8-mixed": Variant("int8-mixed", "tflite", VARIANTS["onnx"]["int8-mixed"].budget,
                          "SmoothQuant + dynamic int8 (ai-edge-quantizer), the FULLY_CONNECTED ops the "
                          "budget cannot afford kept float (searched)", _litert("int8_mixed")),
    "int8-weight-only": Variant("int8-weight-only", "tflite",
                                Budget(cos_min=0.99, cos_mean=0.995, spearman=0.98, top1=0.98),
                                "int8 weights, float compute (litert-torch full_weight_only_recipe)",
                                _litert("int8_weight_only")),
    "int8-full": Variant("int8-full", "tflite", _INT8,
                         "full int8: int8 weights and static int8 activations calibrated on real text "
                         "(ai-edge-quantizer); expected to fail parity on BERT", _litert("int8_full")),
    "int16x8": Variant("int16x8", "tflite", _INT8,
                       "int8 weights, static int16 activations calibrated on real text (ai-edge-quantizer)",
                       _litert("int16x8")),
}


VARIANTS["executorch"] = {
    "fp32": Variant("fp32", "executorch", Budget(cos_min=0.9999, max_abs=1e-3),
                    "torch.export lowered to XNNPACK, fixed-length methods", _backend("executorch", "fp32")),
    "fp16": Variant("fp16", "executorch", Budget(cos_min=0.999), "fp16 weights and compute in XNNPACK",
                    _backend("executorch", "fp16")),
    "int8-dynamic": Variant("int8-dynamic", "executorch", _INT8,
                            "int8 weights per channel, int8 activations per row at run time (torchao, XNNPACK), "
                            "int8 embedding tables", _backend("executorch", "int8_dynamic")),
    "int8-static": Variant("int8-static", "executorch", _INT8,
                           "static int8 through PT2E (XNNPACKQuantizer, per-channel weights, per-tensor activations "
                           "calibrated on real text); refused before export under the budget",
                           _backend("executorch", "int8_static")),
}


def known_variants() -> list[str]:
    return sorted({name for per_format in VARIANTS.values() for name in per_format})
