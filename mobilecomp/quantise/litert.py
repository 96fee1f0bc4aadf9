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


def _reconvert(src: Path, dst: Path, ctx: QuantContext, recipe_name: str) -> dict:
    import litert_torch
    from litert_torch.generative.quantize import quant_recipes

    from ..export.tflite import convert

    if ctx.model is None:
        raise ToolchainError("TFLite quantisation converts from PyTorch: QuantContext.model is missing")
    convert(ctx.model, _lengths(src), dst, quant_config=getattr(quant_recipes, recipe_name)())
    return {"quantiser": f"litert-torch {litert_torch.__version__} quant_recipes.{recipe_name}()"}


def fp32(src: Path, dst: Path, ctx: QuantContext) -> dict:
    if src != dst:
        shutil.copyfile(src, dst)
    return {}


def fp16(src: Path, dst: Path, ctx: QuantContext) -> dict:
    return {**_reconvert(src, dst, ctx, "full_fp16_recipe"), "io_types": "float32"}


def int8_dynamic(src: Path, dst: Path, ctx: QuantContext) -> dict:
    return {**_reconvert(src, dst, ctx, "full_dynamic_recipe"),
            "weights": "int8 per channel", "activations": "int8, ranges computed at run time"}


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

    from ai_edge_quantizer import quantizer, recipe

    from ..litert import quiet

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
