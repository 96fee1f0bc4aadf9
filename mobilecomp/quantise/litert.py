"""TFLite variants: litert-torch quant recipes while converting from PyTorch, ai-edge-quantizer on the fp32 file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ..errors import ToolchainError
from . import QuantContext

CALIBRATION_ROWS = 64  # sentences per signature; ranges settle well before this on OANC text


def _lengths(src: Path) -> tuple[int, ...]:
    """The fp32 file's signature lengths: every variant keeps the same signatures."""
    from ..litert import TFLiteModel

    return tuple(sorted(TFLiteModel(src, threads=1).lengths.values()))


def _reconvert(src: Path, dst: Path, ctx: QuantContext, recipe_name: str, model=None) -> dict:
    """Converts ``model`` (default: the context's) again, quantising with a litert-torch recipe."""
    from ..export.tflite import convert
    from ..litert import import_quietly

    quant_recipes = import_quietly("litert_torch.generative.quantize.quant_recipes")

    model = model or ctx.model
    if model is None:
        raise ToolchainError("TFLite quantisation converts from PyTorch: QuantContext.model is missing")
    convert(model, _lengths(src), dst, quant_config=getattr(quant_recipes, recipe_name)())
    return {"quantiser": f"litert-torch {import_quietly().__version__} quant_recipes.{recipe_name}()"}


def fp32(src: Path, dst: Path, ctx: QuantContext) -> dict:
    if src != dst:
        shutil.copyfile(src, dst)
    return {}


def fp16(src: Path, dst: Path, ctx: QuantContext) -> dict:
    return {**_reconvert(src, dst, ctx, "full_fp16_recipe"), "io_types": "float32"}


def int8_dynamic(src: Path, dst: Path, ctx: QuantContext) -> dict:
    return {**_reconvert(src, dst, ctx, "full_dynamic_recipe"),
            "weights": "int8 per channel", "activations": "int8, ranges computed at run time"}


def int8_smooth(src: Path, dst: Path, ctx: QuantContext) -> dict:
    """Dynamic-range int8 of the model with SmoothQuant on its Q/K/V inputs: XNNPACK quantises
    activations per row, and smoothing takes the outlier channels out of those rows."""
    from .smooth import SMOOTH_ALPHA
    from .smooth_torch import smoothed_copy

    if ctx.model is None:
        raise ToolchainError("TFLite quantisation converts from PyTorch: QuantContext.model is missing")
    smoothed, smoothing = smoothed_copy(ctx.model, ctx.calibration, SMOOTH_ALPHA)
    return {**_reconvert(src, dst, ctx, "full_dynamic_recipe", model=smoothed),
            "weights": "int8 per channel", "activations": "int8 per row, ranges computed at run time",
            "smoothquant": {**smoothing, "group": "Q/K/V (the attention input, divided in the graph)"}}


def int8_weight_only(src: Path, dst: Path, ctx: QuantContext) -> dict:
    return {**_reconvert(src, dst, ctx, "full_weight_only_recipe"),
            "weights": "int8 per channel", "activations": "float32 (weights dequantised)"}


def _calibration(src: Path, ctx: QuantContext) -> dict[str, list[dict[str, np.ndarray]]]:
    """Real calibration text for every signature, cut to the signature's length, int32."""
    from ..litert import TFLiteModel

    model = TFLiteModel(src, threads=1)
    rows = [{k: v[i:i + 1] for k, v in feed.items()} for feed in ctx.calibration
            for i in range(next(iter(feed.values())).shape[0])][:CALIBRATION_ROWS]
    data = {}
    for name, size in model.lengths.items():
        dtypes = model.dtypes[name]
        data[name] = [{k: np.ascontiguousarray(row[k][:, :size]).astype(dtypes[k]) for k in dtypes}
                      for row in rows]
    return data


def _static(src: Path, dst: Path, ctx: QuantContext, activation_bits: int) -> dict:
    from importlib.metadata import version

    from ..litert import import_quietly, quiet

    quantizer = import_quietly("ai_edge_quantizer.quantizer")
    recipe = import_quietly("ai_edge_quantizer.recipe")
    chosen = recipe.static_wi8_ai8() if activation_bits == 8 else recipe.static_wi8_ai16()
    data = _calibration(src, ctx)
    try:
        with quiet():
            q = quantizer.Quantizer(str(src), chosen)
            result = q.calibrate(data)
            q.quantize(result).export_model(str(dst), overwrite=True)
    except Exception as exc:  # the quantiser raises many types; the message is what helps
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ToolchainError(f"ai-edge-quantizer static int8/int{activation_bits} failed: "
                             f"{type(exc).__name__}: {first[:300]}") from None
    return {"quantiser": f"ai-edge-quantizer {version('ai-edge-quantizer')} "
                         f"recipe.static_wi8_ai{activation_bits}() (MinMax)",
            "weights": "int8", "activations": f"int{activation_bits}, static ranges",
            "calibration": {"rows": len(next(iter(data.values()))), "signatures": sorted(data),
                            "text": "oanc-calibration (disjoint from the parity corpus)"}}


def int8_full(src: Path, dst: Path, ctx: QuantContext) -> dict:
    return _static(src, dst, ctx, 8)


def int16x8(src: Path, dst: Path, ctx: QuantContext) -> dict:
    return _static(src, dst, ctx, 16)
