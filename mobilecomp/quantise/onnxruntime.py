"""ONNX variants built with onnxruntime.quantization and onnxruntime's fp16 converter."""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path

import numpy as np

from ..load.heads import COSINE_SCORE
from ..runtime.ort import onnx_session
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
    saturating U8S8 kernels cannot overflow (see runtime/numerics.py); int8 weights are the default."""
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


def tuning_outputs(session, ctx: QuantContext) -> dict[str, list[np.ndarray]]:
    """The outputs the head's score reads, one array per tuning batch."""
    names = list(ctx.head.scored)
    runs = [session.run(names, _inputs_of(session, feed)) for feed in ctx.tuning]
    return {name: [run[i] for run in runs] for i, name in enumerate(names)}


def tuning_score(session, ctx: QuantContext, reference: dict[str, list[np.ndarray]]) -> float:
    """The head's score against ``reference`` over the tuning text: what every search optimises."""
    return ctx.tuning_score(reference, tuning_outputs(session, ctx))


def keep_float(quantised, original, kept: list[str]):
    """A copy of ``quantised`` (quantize_dynamic of every weight MatMul) with the ``kept`` MatMuls
    put back as they are in ``original``: the graph quantize_dynamic(exclude=kept) builds, with
    the same outputs bit for bit, without quantising every weight again (1.4 s a trial on
    MiniLM, ~40 trials a sweep). Raises ValueError where quantize_dynamic named its nodes otherwise."""
    model = _copy_model(quantised)
    graph = model.graph
    originals = {n.name: n for n in original.graph.node}
    weights = {i.name: i for i in original.graph.initializer}
    present = {i.name for i in graph.initializer}
    for name in kept:
        nodes = list(graph.node)
        by_name = {n.name: n for n in nodes}
        integer = by_name.get(f"{name}_quant")
        casts = [n for n in nodes
                 if integer is not None and n.op_type == "Cast" and list(n.input) == [integer.output[0]]]
        chain = [integer, by_name.get(f"{name}_quant_scales_mul"), by_name.get(f"{name}_quant_output_scale_mul"),
                 *casts[:1]]
        if (None in chain or len(casts) != 1 or integer.op_type != "MatMulInteger"
                or chain[2].output[0] != originals[name].output[0]):
            raise ValueError(f"{name}: not quantised as onnxruntime's quantize_dynamic did when this was written")
        first = min(nodes.index(n) for n in chain)  # the float input exists before it: it fed the chain
        rest = [n for n in nodes if all(n is not c for c in chain)]
        rest.insert(first, originals[name])
        del graph.node[:]
        graph.node.extend(rest)
        if originals[name].input[1] not in present:
            graph.initializer.append(weights[originals[name].input[1]])
            present.add(originals[name].input[1])
    return model


def int8_accurate(src: Path, dst: Path, ctx: QuantContext) -> dict:
    """Dynamic int8 that keeps in fp32 the MatMuls whose quantisation costs the most.

    The sensitivity sweep and the mixed-precision search are search.py's (shared with the
    other formats): sensitivity of a node = how much the head's score on the tuning text
    (Head.tuning_score; the encoder's: cos_min) rises when only that node is left in fp32; nodes
    are kept fp32, highest gain first, until the score clears the budget with a margin (the parity corpus is
    different text), or a third of them are kept. The result is cached (cache.py) for the next
    export of the same checkpoint; a cached one is rebuilt and rescored before it is used.
    """
    from . import cache

    target = (ctx.budget.cos_min or 0.985) + 0.003
    candidates = weight_matmuls(src)
    max_kept = max(1, len(candidates) // 3)
    reference = tuning_outputs(onnx_session(src, threads=1), ctx)
    key = _sweep_key(src, ctx, target, max_kept)
    stored = cache.load(key, lambda r: _valid_sweep(r, candidates)) if key else None
    if stored is not None:
        dynamic_int8(src, dst, exclude=stored["kept_fp32"])
        reached = tuning_score(onnx_session(dst, threads=1), ctx, reference)
        if abs(reached - stored["sweep"]["reached_cos_min"]) <= 1e-9:
            ctx.log(f"int8-accurate: reused the sweep cached in {cache.entry_path(key)} (rebuilt, same tuning "
                    f"cos_min {reached:.4f})")
            return {**_ACCURATE, **stored, "search_cache": {"reused": cache.entry_path(key).name,
                                                            "checked": "rebuilt and rescored: same tuning cos_min"}}
        ctx.log(f"int8-accurate: the cached sweep does not reproduce (tuning cos_min {reached:.6f}, cached "
                f"{stored['sweep']['reached_cos_min']:.6f}); sweeping again")
    try:
        result = _sweep(src, ctx, reference, candidates, target, max_kept, shortcut=True)
        dynamic_int8(src, dst, exclude=result["kept_fp32"])
        reached = tuning_score(onnx_session(dst, threads=1), ctx, reference)
        if abs(reached - result["sweep"]["reached_cos_min"]) > 1e-9:
            raise ValueError(f"tuning cos_min {reached} against {result['sweep']['reached_cos_min']} in the sweep")
    except ValueError as exc:  # the shortcut met a graph it does not know: quantise every trial as before
        ctx.log(f"int8-accurate: the sweep's shortcut does not apply ({exc}); quantising every trial")
        result = _sweep(src, ctx, reference, candidates, target, max_kept, shortcut=False)
        dynamic_int8(src, dst, exclude=result["kept_fp32"])
    if key is not None:
        saved = cache.save(key, result)
        result = {**result, **({"search_cache": {"stored": saved.name}} if saved else {})}
    return {**_ACCURATE, **result}


_ACCURATE = {"weights": "QInt8 per channel", "activations": "uint8 per tensor, dynamic"}


def _valid_sweep(result: dict, candidates: list[str]) -> bool:
    """A cached sweep has this variant's two fields, and keeps only MatMuls the graph has."""
    kept, sweep = result.get("kept_fp32"), result.get("sweep")
    return (set(result) == {"kept_fp32", "sweep"} and isinstance(kept, list) and set(kept) <= set(candidates)
            and isinstance(sweep, dict) and isinstance(sweep.get("reached_cos_min"), float))


def _sweep_key(src: Path, ctx: QuantContext, target: float, max_kept: int) -> dict | None:
    """Everything the sweep's result depends on; None for a model without a checkpoint hash (random
    test weights: nothing worth keeping)."""
    from ..load.checkpoints import sha256_file
    from ..runtime.numerics import exact_mode_needed, host_int8
    from .cache import feeds_sha256, tool_versions

    checkpoint = getattr(ctx.model, "checkpoint", None) or {}
    if not checkpoint.get("sha256"):
        return None
    return {"variant": "onnx-int8-accurate", "checkpoint_sha256": checkpoint["sha256"],
            "fp32_sha256": sha256_file(src), "tuning_tokens_sha256": feeds_sha256(ctx.tuning),
            "primary_output": ctx.primary_output, "target_cos_min": target, "max_kept": max_kept,
            # the encoder's key predates the head's score: unchanged, so its cached sweeps still apply
            **({} if ctx.score_name == COSINE_SCORE else {"score": ctx.score_name}),
            "versions": tool_versions("onnxruntime", "onnx", "numpy"),
            "host_int8": {**host_int8().to_dict(), "exact_mode": exact_mode_needed()}}


class LayerParts:
    """The ranking's trials (every MatMul int8 but one) run from the kept MatMul's layer on.

    A layer's input is the tensor that three or more weight MatMuls read (its Q, K and V); one run
    of the all-int8 graph gives those tensors for the tuning text, and a trial that keeps a MatMul
    of layer L in float runs only the part of the graph from layer L's input on: MiniLM's
    leave-one-out trials do ~40% less work. A part is used only where, unchanged, it gives the
    whole graph's scored outputs bit for bit (checked on the longest tuning batch); elsewhere
    ``outputs`` returns None and the caller runs the whole graph."""

    def __init__(self, quantised, original, candidates: list[str], ctx: QuantContext) -> None:
        from onnx import TensorProto, helper
        from onnx.utils import Extractor

        self.original, self.ctx, self.names = original, ctx, list(ctx.head.scored)
        readers: dict[str, int] = {}
        for node in original.graph.node:
            if node.name in candidates:
                readers[node.input[0]] = readers.get(node.input[0], 0) + 1
        cuts = [tensor for tensor, count in readers.items() if count >= 3]
        self.layer_of: dict[str, str] = {}  # MatMul -> its layer's input: the last one read before it
        current = None
        for node in original.graph.node:
            current = next((i for i in node.input if i in cuts), current)
            if node.name in candidates and current is not None:
                self.layer_of[node.name] = current
        probe = _copy_model(quantised)
        probe.graph.output.extend(helper.make_tensor_value_info(cut, TensorProto.FLOAT, None) for cut in cuts)
        session = onnx_session(probe, threads=1)
        runs = [session.run([*self.names, *cuts], _inputs_of(session, feed)) for feed in ctx.tuning]
        self.base = {name: [run[i] for run in runs] for i, name in enumerate(self.names)}
        self.states = {cut: [run[len(self.names) + i] for run in runs] for i, cut in enumerate(cuts)}
        longest = max(range(len(ctx.tuning)), key=lambda i: ctx.tuning[i]["input_ids"].size)
        inputs = [i.name for i in quantised.graph.input]
        extractor = Extractor(quantised)
        self.parts, self.nodes = {}, {}
        for cut in cuts:
            part = extractor.extract_model([cut, *inputs], self.names)
            got = self._run(part, cut, [longest])
            if all(np.array_equal(got[name][0], runs[longest][i]) for i, name in enumerate(self.names)):
                self.parts[cut], self.nodes[cut] = part, {n.name for n in part.graph.node}

    def outputs(self, kept: str | None) -> dict[str, list[np.ndarray]] | None:
        """The scored outputs over the tuning text with ``kept`` alone in float (None: all int8)."""
        if kept is None:
            return self.base
        cut = self.layer_of.get(kept)
        if cut not in self.parts or f"{kept}_quant" not in self.nodes[cut]:  # not downstream of that cut
            return None
        return self._run(keep_float(self.parts[cut], self.original, [kept]), cut, range(len(self.ctx.tuning)))

    def _run(self, part, cut: str, batches) -> dict[str, list[np.ndarray]]:
        session = onnx_session(part, threads=1)
        runs = [session.run(self.names, {**_inputs_of(session, self.ctx.tuning[i]), cut: self.states[cut][i]})
                for i in batches]
        return {name: [run[i] for run in runs] for i, name in enumerate(self.names)}


def _copy_model(model):
    import onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    return copy


def _inputs_of(session, feed: dict) -> dict:
    wanted = {i.name for i in session.get_inputs()}
    return {k: v for k, v in feed.items() if k in wanted}


def _sweep(src: Path, ctx: QuantContext, reference: dict[str, list[np.ndarray]], candidates: list[str], target: float,
           max_kept: int, shortcut: bool) -> dict:
    """The sensitivity sweep and the search; ``shortcut`` builds each trial from one quantised
    graph (keep_float) instead of quantising it again, and runs the ranking's trials from the kept
    MatMul's layer on (LayerParts). Trials run at once on every core, each in a one-thread session
    (onnxruntime's results do not depend on its thread count)."""
    import onnx

    from ..progress import Progress
    from ..runtime.cpu import cpu_count
    from .search import search, sensitivity

    original = onnx.load(str(src)) if shortcut else None
    quantised = {}
    one_at_a_time = threading.Lock()
    if shortcut:  # dynamic_int8 with and without its embedding pass, quantising the weights once
        whole = ctx.work_dir / "sweep-all-int8.onnx"
        dynamic_int8(src, whole, embeddings=False)
        quantised[False] = onnx.load(str(whole))
        quantise_embedding_rows(whole)
        quantised[True] = onnx.load(str(whole))
        whole.unlink()

    layers = LayerParts(quantised[False], original, candidates, ctx) if shortcut else None

    def score(kept: frozenset[str], embeddings: bool = True) -> float:
        if shortcut and not embeddings and len(kept) <= 1:  # the ranking's trials
            outputs = layers.outputs(next(iter(kept), None))
            if outputs is not None:
                return ctx.tuning_score(reference, outputs)
        if shortcut:
            model = keep_float(quantised[embeddings], original, sorted(kept))
            return tuning_score(onnx_session(model, threads=1), ctx, reference)
        trial = ctx.work_dir / f"sweep-{threading.get_ident()}.onnx"
        with one_at_a_time:  # quantize_dynamic writes and deletes a scratch file beside src
            dynamic_int8(src, trial, exclude=sorted(kept), embeddings=embeddings)
        try:
            return tuning_score(onnx_session(trial, threads=1), ctx, reference)
        finally:
            trial.unlink(missing_ok=True)

    progress = Progress(ctx.log, "int8-accurate sensitivity sweep, trials", len(candidates) + 1)
    # The ranking leaves the embedding table fp32 (it is the same in every trial; saves a
    # load and save of the model per node); the search's steps include it.
    ranking_base, gains = sensitivity(candidates, lambda kept: score(kept, embeddings=False),
                                      workers=cpu_count(), progress=progress.advance)
    base = score(frozenset())
    model = onnx.load(str(src), load_external_data=False)
    dims = {i.name: list(i.dims) for i in model.graph.initializer}
    macs = {n.name: float(np.prod(dims[n.input[1]])) for n in model.graph.node if n.name in candidates}
    total = sum(macs.values()) or 1.0
    # ranked by gain alone and no give-back pass: ORT's per-tensor int8 error is spread, so the
    # margin on the tuning text is what carries the budget over to the parity corpus
    result = search(candidates, score, target, {n: m / total for n, m in macs.items()}, gains=gains,
                    base=base, max_kept=max_kept, rank_by_gain=True, give_back=False, workers=cpu_count())
    return {"kept_fp32": result.kept,
            "sweep": {"tuning_sentences": sum(len(f["input_ids"]) for f in ctx.tuning),
                      "target_cos_min": target, "all_int8_cos_min": base, "ranking_base_cos_min": ranking_base,
                      "reached_cos_min": result.reached, "met": result.met, "trials": result.trials,
                      "latency_share": "by MACs", "gain_by_node": result.describe()["gain_by_node"],
                      **({} if ctx.score_name == COSINE_SCORE else {"score": ctx.score_name}),
                      "trial_models": ("one quantize_dynamic, each trial's kept MatMuls restored from the fp32 "
                                       "graph (the same outputs as quantising each trial)") if shortcut
                      else "quantize_dynamic per trial"}}


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
