"""ONNX variants built with onnxruntime.quantization and onnxruntime's fp16 converter."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np

from ..runners import onnx_session, run_onnx
from . import QuantContext
from .calibration import FeedReader

# onnxruntime.quantization logs a pre-processing hint on every call; it does not apply to
# unfused graphs, and repeated 40 times in a sweep it buries what matters.
logging.getLogger().setLevel(logging.ERROR)


def fp32(src: Path, dst: Path, ctx: QuantContext) -> dict:
    if src != dst:
        shutil.copyfile(src, dst)
    return {}


def fp16(src: Path, dst: Path, ctx: QuantContext) -> dict:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    onnx.save(model, str(dst))
    return {"io_types": "float32", "converter": "onnxruntime.transformers.float16"}


def weight_matmuls(path: Path) -> list[str]:
    """MatMul nodes whose second input is a weight (activation x activation stays fp32)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    weights = {init.name for init in model.graph.initializer}
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in weights]


def dynamic_int8(src: Path, dst: Path, exclude: list[str] | None = None, embeddings: bool = True,
                 weight_type: str = "QInt8", reduce_range: bool = False) -> None:
    """onnxruntime dynamic int8 on the weight MatMuls, per channel, plus per-row int8 embeddings.
    ``weight_type="QUInt8"`` or ``reduce_range`` (7-bit weights) are the formats that x86's
    saturating U8S8 kernels cannot overflow (see numerics.py); int8 weights are the default."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per channel: per-tensor weights drop real MiniLM to cos_min 0.92 (0.98 per channel).
    quantize_dynamic(src, dst, weight_type=QuantType[weight_type], per_channel=True,
                     reduce_range=reduce_range, op_types_to_quantize=["MatMul"],
                     nodes_to_exclude=exclude or [])
    if embeddings:
        quantise_embedding_rows(dst)


# Only vocabulary-sized tables: position and token-type rows are added to every token, so
# their rounding error is systematic, and they are under 1 MB anyway.
MIN_EMBEDDING_ROWS = 4096


def quantise_embedding_rows(path: Path) -> list[str]:
    """Int8 embedding tables with one scale per row, in standard ops (Gather, Cast, Mul).

    The word-embedding table is half of MiniLM's fp32 size. onnxruntime quantises a Gather's
    table with a single scale, which costs real MiniLM cos_min 0.984 -> 0.978; a scale per
    token row keeps the loss negligible and runs on any runtime.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    tables = {init.name: init for init in graph.initializer}
    done, new_nodes = [], []
    for node in graph.node:
        table = tables.get(node.input[0]) if node.op_type == "Gather" else None
        if (table is None or table.data_type != onnx.TensorProto.FLOAT or len(table.dims) != 2
                or table.dims[0] < MIN_EMBEDDING_ROWS):
            new_nodes.append(node)
            continue
        weights = numpy_helper.to_array(table)
        scale = np.maximum(np.abs(weights).max(axis=1, keepdims=True), 1e-12) / 127.0
        quantised = np.clip(np.round(weights / scale), -127, 127).astype(np.int8)
        base = table.name
        graph.initializer.remove(table)
        graph.initializer.extend([numpy_helper.from_array(quantised, f"{base}_int8"),
                                  numpy_helper.from_array(scale.astype(np.float32), f"{base}_row_scale")])
        rows, scales, floats = f"{base}_rows_int8", f"{base}_rows_scale", f"{base}_rows_float"
        new_nodes += [
            helper.make_node("Gather", [f"{base}_int8", node.input[1]], [rows], name=f"{node.name}_int8", axis=0),
            helper.make_node("Gather", [f"{base}_row_scale", node.input[1]], [scales], name=f"{node.name}_scale", axis=0),
            helper.make_node("Cast", [rows], [floats], name=f"{node.name}_cast", to=onnx.TensorProto.FLOAT),
            helper.make_node("Mul", [floats, scales], list(node.output), name=f"{node.name}_dequant"),
        ]
        done.append(base)
    del graph.node[:]
    graph.node.extend(new_nodes)
    onnx.save(model, str(path))
    return done


def int8_dynamic(src: Path, dst: Path, ctx: QuantContext) -> dict:
    dynamic_int8(src, dst)
    return {"weights": "QInt8 per channel", "activations": "uint8 per tensor, dynamic",
            "embeddings": "int8, one scale per row", "op_types": ["MatMul", "Gather"]}


def tuning_cos_min(session, ctx: QuantContext, reference: np.ndarray) -> float:
    """Lowest cosine to ``reference`` over the tuning text: what every search optimises."""
    return ctx.tuning_cos_min(reference, run_onnx(session, ctx.tuning, ctx.primary_output))


def int8_accurate(src: Path, dst: Path, ctx: QuantContext) -> dict:
    """Dynamic int8 that keeps in fp32 the MatMuls whose quantisation costs the most.

    The sensitivity sweep and the mixed-precision search are search.py's (shared with the
    other formats): sensitivity of a node = how much cos_min on the tuning text rises when
    only that node is left in fp32; nodes are kept fp32, highest gain
    first, until the tuning cos_min clears the budget with a margin (the parity corpus is
    different text), or a third of them are kept.
    """
    import onnx

    from .search import search, sensitivity

    target = (ctx.budget.cos_min or 0.985) + 0.003
    reference = run_onnx(onnx_session(src, threads=0), ctx.tuning, ctx.primary_output)
    candidates = weight_matmuls(src)
    trial = ctx.work_dir / "sweep.onnx"

    def score(kept: frozenset[str], embeddings: bool = True) -> float:
        dynamic_int8(src, trial, exclude=sorted(kept), embeddings=embeddings)
        return tuning_cos_min(onnx_session(trial), ctx, reference)

    # The ranking leaves the embedding table fp32 (it is the same in every trial; saves a
    # load and save of the model per node); the search's steps include it.
    ranking_base, gains = sensitivity(candidates, lambda kept: score(kept, embeddings=False))
    base = score(frozenset())
    model = onnx.load(str(src), load_external_data=False)
    dims = {i.name: list(i.dims) for i in model.graph.initializer}
    macs = {n.name: float(np.prod(dims[n.input[1]])) for n in model.graph.node if n.name in candidates}
    total = sum(macs.values()) or 1.0
    # ranked by gain alone and no give-back pass: ORT's per-tensor int8 error is spread, so the
    # margin on the tuning text is what carries the budget over to the parity corpus
    result = search(candidates, score, target, {n: m / total for n, m in macs.items()}, gains=gains,
                    base=base, max_kept=max(1, len(candidates) // 3), rank_by_gain=True, give_back=False)
    dynamic_int8(src, dst, exclude=result.kept)
    trial.unlink(missing_ok=True)
    return {"weights": "QInt8 per channel", "activations": "uint8 per tensor, dynamic",
            "kept_fp32": result.kept,
            "sweep": {"tuning_sentences": sum(len(f["input_ids"]) for f in ctx.tuning),
                      "target_cos_min": target, "all_int8_cos_min": base, "ranking_base_cos_min": ranking_base,
                      "reached_cos_min": result.reached, "met": result.met, "trials": result.trials,
                      "latency_share": "by MACs", "gain_by_node": result.describe()["gain_by_node"]}}


def int8_static(src: Path, dst: Path, ctx: QuantContext) -> dict:
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.inner = FeedReader(ctx.calibration)

        def get_next(self):
            return self.inner.get_next()

    quantize_static(src, dst, Reader(), quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=["MatMul"], per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax,
                    extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
    shape = ctx.calibration[0]["input_ids"].shape
    return {"format": "QDQ", "calibration": "MinMax", "op_types": ["MatMul"],
            "calibration_batches": len(ctx.calibration), "calibration_shape": list(shape)}
