"""High-fidelity ONNX int8 variants: per-row activations, SmoothQuant, 8-bit MatMulNBits, searched mixed precision.

Each function is a variant builder ``(fp32 file, out file, QuantContext) -> details``. The
building blocks live in rowwise.py (per-row MatMulInteger rewrite), smooth.py (SmoothQuant
with a duplicated LayerNorm) and search.py (sensitivity sweep + mixed-precision search).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..errors import ToolchainError
from ..runtime.ort import interleaved_median_ms, onnx_session
from . import QuantContext
from .onnxruntime import quantise_embedding_rows, tuning_outputs, tuning_score

TUNING_MARGIN = 0.001  # the search aims this far above the budget (the parity corpus is other text)
NBITS_BLOCK = 128  # 8-bit MatMulNBits block along K (32: cos_min 0.999 but slower on x86)


def _load(path: Path):
    import onnx

    return onnx.load(str(path))


def _save(model, path: Path) -> None:
    import onnx

    onnx.save(model, str(path))


def is_ffn(node, model, pattern: str = "") -> bool:
    """Feed-forward MatMuls: where the architecture names its feed-forward Linears (``pattern``, a regex
    on the module path the exporter writes into the node name), by that; else by BERT's names, else
    the non-square (expand/contract) ones."""
    if pattern:
        import re

        path = ".".join(node.name.strip("/").split("/")[:-1])  # /model/layers.0/mlp/Wi/MatMul -> model.layers.0.mlp.Wi
        return re.search(pattern, path) is not None
    name = node.name.lower()
    if "intermediate" in name or ("output" in name and "attention" not in name):
        return True
    inits = {i.name: i for i in model.graph.initializer}
    dims = inits[node.input[1]].dims
    return "attention" not in name and dims[0] != dims[1]


def _dynamic_rest(path: Path, nodes: list[str]) -> None:
    """onnxruntime dynamic int8 (QInt8 per channel) on the named MatMuls, in place."""
    if not nodes:  # an empty list would mean "every node" to quantize_dynamic
        return
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="mobilecomp-dyn-") as tmp:
        out = Path(tmp) / "q.onnx"
        quantize_dynamic(path, out, weight_type=QuantType.QInt8, per_channel=True, reduce_range=False,
                         op_types_to_quantize=["MatMul"], nodes_to_quantize=nodes)
        path.write_bytes(out.read_bytes())


def _finish(model, dst: Path, dynamic: list[str]) -> list[str]:
    _save(model, dst)
    _dynamic_rest(dst, dynamic)
    return quantise_embedding_rows(dst)


_ROWWISE = {"activations": "uint8 per row (token), asymmetric, computed at run time",
            "weights": "int8 per column, symmetric", "op": "MatMulInteger + zero-point correction"}


def int8_rowwise(src: Path, dst: Path, ctx: QuantContext) -> dict:
    from .rowwise import rewrite

    model = _load(src)
    done = rewrite(model)
    embeddings = _finish(model, dst, [])
    return {**_ROWWISE, "rowwise_matmuls": len(done), "embeddings": embeddings and "int8, one scale per row"}


def _ffn_pattern(ctx: QuantContext) -> str:
    from ..load.architectures import ARCHITECTURES

    arch = ARCHITECTURES.get(getattr(ctx.model, "architecture", ""))
    return arch.ffn if arch is not None else ""


def _rowwise_ffn(model, pattern: str = "") -> tuple[list[str], list[str]]:
    from .rowwise import rewrite, weight_matmuls

    matmuls = weight_matmuls(model)
    ffn = [n.name for n in matmuls if is_ffn(n, model, pattern)]
    rest = [n.name for n in matmuls if n.name not in ffn]
    rewrite(model, ffn)
    return ffn, rest


def int8_rowwise_ffn(src: Path, dst: Path, ctx: QuantContext) -> dict:
    model = _load(src)
    ffn, rest = _rowwise_ffn(model, _ffn_pattern(ctx))
    _finish(model, dst, rest)
    return {**_ROWWISE, "rowwise_matmuls": ffn, "dynamic_int8_matmuls": len(rest),
            "attention": "onnxruntime dynamic int8 (uint8 per tensor, QInt8 per channel)",
            "embeddings": "int8, one scale per row"}


def int8_smooth(src: Path, dst: Path, ctx: QuantContext) -> dict:
    from .smooth import SMOOTH_ALPHA, smooth

    model = _load(src)
    smoothing = smooth(model, ctx.calibration, alpha=SMOOTH_ALPHA, threads=ctx.threads)
    if not smoothing["groups"]:  # nothing smoothed: it would be int8-rowwise-ffn under another name
        raise ToolchainError(f"SmoothQuant found no LayerNorm feeding Q, K and V weight MatMuls in the graph"
                             f"{_no_smoothing_reason(ctx)}")
    ffn, rest = _rowwise_ffn(model, _ffn_pattern(ctx))
    _finish(model, dst, rest)
    return {**_ROWWISE, "smoothquant": {**smoothing, "group": "Q/K/V (duplicated LayerNorm)"},
            "rowwise_matmuls": ffn, "dynamic_int8_matmuls": len(rest),
            "attention": "SmoothQuant then onnxruntime dynamic int8", "embeddings": "int8, one scale per row"}


def _no_smoothing_reason(ctx: QuantContext) -> str:
    from ..load.architectures import ARCHITECTURES

    arch = ARCHITECTURES.get(getattr(ctx.model, "architecture", ""))
    if arch is None or arch.qkv_attention:
        return ""
    return f" ({arch.name}: {arch.no_smoothquant})"


def int8_nbits(src: Path, dst: Path, ctx: QuantContext) -> dict:
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quant = MatMulNBitsQuantizer(_load(src), bits=8, block_size=NBITS_BLOCK, is_symmetric=True,
                                 accuracy_level=4, op_types_to_quantize=("MatMul",))
    quant.process()
    quant.model.save_model_to_file(str(dst), False)
    embeddings = quantise_embedding_rows(dst)
    return {"op": "com.microsoft.MatMulNBits", "bits": 8, "block_size": NBITS_BLOCK, "accuracy_level": 4,
            "weights": f"int8 per block of {NBITS_BLOCK} along K, symmetric",
            "activations": "int8 per block, computed at run time (accuracy_level 4)",
            "embeddings": embeddings and "int8, one scale per row (Gather, separately)"}


# ---- mixed precision: smoothed, per-row everywhere, the search keeps some MatMuls fp32 ----------

def time_models(models: list, feed: dict, runs: int = 10, threads: int = 1) -> list[float]:
    """Median ms per model, interleaved in one process (drift hits all alike)."""
    sessions = [onnx_session(m, threads) for m in models]
    wanted = [{k: v for k, v in feed.items() if k in {i.name for i in s.get_inputs()}} for s in sessions]
    return interleaved_median_ms([lambda s=s, f=f: s.run(None, f) for s, f in zip(sessions, wanted)], runs)


def int8_mixed(src: Path, dst: Path, ctx: QuantContext) -> dict:
    """SmoothQuant + per-row int8, with the MatMuls the budget cannot afford left fp32 (search.py)."""
    from onnx import ModelProto

    from .rowwise import rewrite, weight_matmuls
    from .search import latency_saved, search
    from .smooth import SMOOTH_ALPHA, smooth

    smoothed = _load(src)
    smoothing = smooth(smoothed, ctx.calibration, alpha=SMOOTH_ALPHA, threads=ctx.threads)
    inits = {i.name: i for i in smoothed.graph.initializer}
    units = [n.name for n in weight_matmuls(smoothed)]
    macs = {n.name: float(np.prod(inits[n.input[1]].dims)) for n in weight_matmuls(smoothed)}

    def configured(kept: frozenset[str]):
        model = ModelProto()
        model.CopyFrom(smoothed)
        rewrite(model, [u for u in units if u not in kept])
        return model

    reference = tuning_outputs(onnx_session(smoothed), ctx)
    target = (ctx.budget.cos_min or 0.995) + TUNING_MARGIN
    feed = {k: v[:1] for k, v in ctx.calibration[0].items()}
    float_ms, int8_ms = time_models([smoothed, configured(frozenset())], feed)
    saved = latency_saved(macs, float_ms, int8_ms)
    result = search(units, lambda kept: tuning_score(onnx_session(configured(kept)), ctx, reference), target, saved)
    model = configured(frozenset(result.kept))
    _finish(model, dst, [])
    return {**_ROWWISE, "smoothquant": {**smoothing, "group": "Q/K/V (duplicated LayerNorm)"},
            "search": {**result.describe(), "unit": "weight MatMul", "score": ctx.score_name,
                       "tuning_sentences": sum(len(f["input_ids"]) for f in ctx.tuning),
                       "timing_ms_1_thread": {"float": float_ms, "all_int8": int8_ms,
                                              "seq_len": int(feed["input_ids"].shape[1])}},
            "kept_fp32": result.kept, "embeddings": "int8, one scale per row"}
