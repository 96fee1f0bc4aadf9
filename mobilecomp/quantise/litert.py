"""TFLite variants: litert-torch quant recipes and ai-edge-quantizer, run on the float conversion."""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ToolchainError
from . import QuantContext

FULLY_CONNECTED = 9  # the TFLite builtin operator code
CALIBRATION_ROWS = 64  # sentences per signature; ranges settle well before this on OANC text


def _lengths(src: Path) -> tuple[int, ...]:
    """The fp32 file's signature lengths: every variant keeps the same signatures."""
    from ..runtime.litert import TFLiteModel

    return tuple(sorted(TFLiteModel(src, threads=1).lengths.values()))


def _source(ctx: QuantContext):
    """The PyTorch model: the SmoothQuant variants convert it again, smoothed."""
    if ctx.model is None:
        raise ToolchainError("TFLite SmoothQuant converts from PyTorch: QuantContext.model is missing")
    return ctx.model


def recipe_pass(src: Path, dst: Path, recipe_name: str) -> dict:
    """A litert-torch quant recipe applied to the float ``src``, without converting again.

    With these recipes litert-torch converts to float and then runs the recipe, translated to
    ai-edge-quantizer, on the flatbuffer bytes (litert_converter.exported_programs_to_flatbuffer);
    running that same pass on the float file gives the same bytes (checked on MiniLM: the three
    files' sha256 equal the ones converted with quant_config) and saves a conversion (~12 s)."""
    from ..runtime.litert import import_quietly, quiet

    quant_recipes = import_quietly("litert_torch.generative.quantize.quant_recipes")
    translate = import_quietly("litert_torch.quantize.translate_recipe")
    config = getattr(quant_recipes, recipe_name)()
    try:
        with quiet():
            quantised = translate.quantize_model(src.read_bytes(),
                                                 translate.translate_to_ai_edge_recipe(config.generative_recipe))
    except Exception as exc:  # the quantiser raises many types; the message is what helps
        raise _quantizer_failed(f"litert-torch {recipe_name}", exc) from None
    dst.write_bytes(quantised)
    return {"quantiser": f"litert-torch {import_quietly().__version__} quant_recipes.{recipe_name}()",
            "built_from": f"{src.name}: the recipe's ai-edge-quantizer pass run on the float conversion (the "
                          "pass litert-torch runs after converting with quant_config: the same bytes)"}


def fp32(src: Path, dst: Path, ctx: QuantContext) -> dict:
    if src != dst:
        shutil.copyfile(src, dst)
    return {}


def _pass(src: Path, dst: Path, recipe_name: str, ctx: QuantContext) -> dict:
    """recipe_pass, or its result when the pipeline's background process made it ahead."""
    if ctx.background is not None:
        return ctx.background.get(dst, lambda: recipe_pass(src, dst, recipe_name))
    return recipe_pass(src, dst, recipe_name)


def fp16(src: Path, dst: Path, ctx: QuantContext) -> dict:
    return {**_pass(src, dst, RECIPE_PASSES["fp16"], ctx), "io_types": "float32"}


def int8_dynamic(src: Path, dst: Path, ctx: QuantContext) -> dict:
    return {**_pass(src, dst, RECIPE_PASSES["int8-dynamic"], ctx),
            "weights": "int8 per channel", "activations": "int8, ranges computed at run time"}


def int8_weight_only(src: Path, dst: Path, ctx: QuantContext) -> dict:
    return {**_pass(src, dst, RECIPE_PASSES["int8-weight-only"], ctx),
            "weights": "int8 per channel", "activations": "float32 (weights dequantised)"}


RECIPE_PASSES = {"fp16": "full_fp16_recipe", "int8-dynamic": "full_dynamic_recipe",
                 "int8-weight-only": "full_weight_only_recipe"}  # variant -> litert-torch quant recipe
SMOOTHED_FLOAT = "smoothed-fp32.tflite"  # the SmoothQuant model's float conversion (int8-smooth, int8-mixed)
SMOOTHED_VARIANTS = ("int8-smooth", "int8-mixed")


def start_ahead(background, model, lens: tuple[int, ...], work_dir: Path, variants: tuple[str, ...],
                calibration) -> None:
    """Queue in ``background`` (export.background.Background) the files the recipe's TFLite
    artefacts will be built from, in the order the pipeline asks for them: the fp32 conversion,
    the recipe passes on it, the SmoothQuant model's float conversion and int8-smooth's pass."""
    from .smooth import SMOOTH_ALPHA
    from .smooth_torch import smoothed_copy

    if not hasattr(model.module, "model"):  # not a PyTorch model (an ONNX checkpoint): nothing to convert
        return
    smoothed = None
    if any(v in SMOOTHED_VARIANTS for v in variants):
        # here, before the worker starts: torch's numbers depend on its thread count, which stays
        # as it was, and torch's threads would wait on the worker's imports and lose ~10x
        try:
            smoothed = smoothed_copy(model, calibration, SMOOTH_ALPHA)
        except ToolchainError:  # the variant meets it again when it is built, and reports it there
            pass
    fp32_file = work_dir / "model-fp32.tflite"
    background.convert(fp32_file, model, lens)
    for name in variants:
        if name in RECIPE_PASSES:
            background.recipe_pass(fp32_file, work_dir / f"model-{name}.tflite", RECIPE_PASSES[name])
        elif name in SMOOTHED_VARIANTS and smoothed is not None:
            if not background.started(work_dir / SMOOTHED_FLOAT):
                background.convert(work_dir / SMOOTHED_FLOAT, smoothed[0], lens, smoothed[1], scratch=True)
            if name == "int8-smooth":
                background.recipe_pass(work_dir / SMOOTHED_FLOAT, work_dir / "model-int8-smooth.tflite",
                                       "full_dynamic_recipe")


def _smoothed_float(src: Path, ctx: QuantContext) -> tuple[Path, dict]:
    """The SmoothQuant model converted to float with ``src``'s signatures, and the smoothing: the
    file made ahead when the pipeline has a background process, else converted here (the caller
    deletes it then)."""
    from ..export.tflite import convert
    from .smooth import SMOOTH_ALPHA
    from .smooth_torch import smoothed_copy

    path = ctx.work_dir / SMOOTHED_FLOAT

    def make() -> dict:
        smoothed, smoothing = smoothed_copy(_source(ctx), ctx.calibration, SMOOTH_ALPHA)
        convert(smoothed, _lengths(src), path)
        return smoothing

    if ctx.background is not None:
        return path, ctx.background.get(path, make)
    return path, make()


def int8_smooth(src: Path, dst: Path, ctx: QuantContext) -> dict:
    """Dynamic-range int8 of the model with SmoothQuant on its Q/K/V inputs: XNNPACK quantises
    activations per row, and smoothing takes the outlier channels out of those rows."""
    float_file, smoothing = _smoothed_float(src, ctx)
    try:
        details = _pass(float_file, dst, "full_dynamic_recipe", ctx)
    finally:
        if ctx.background is None:
            float_file.unlink(missing_ok=True)
    return {**details, "weights": "int8 per channel", "activations": "int8 per row, ranges computed at run time",
            "smoothquant": {**smoothing, "group": "Q/K/V (the attention input, divided in the graph)"}}


def _calibration(src: Path, ctx: QuantContext) -> dict[str, list[dict[str, np.ndarray]]]:
    """Real calibration text for every signature, cut to the signature's length, int32."""
    from ..runtime.litert import TFLiteModel

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

    from ..runtime.litert import import_quietly, quiet

    quantizer = import_quietly("ai_edge_quantizer.quantizer")
    recipe = import_quietly("ai_edge_quantizer.recipe")
    chosen = recipe.static_wi8_ai8() if activation_bits == 8 else recipe.static_wi8_ai16()
    data = _calibration(src, ctx)
    try:
        with quiet(), warnings.catch_warnings():
            # calibration reads every intermediate tensor, which is what this debugging flag is for
            warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors")
            q = quantizer.Quantizer(str(src), chosen)
            result = q.calibrate(data)
            q.quantize(result).export_model(str(dst), overwrite=True)
    except Exception as exc:  # the quantiser raises many types; the message is what helps
        raise _quantizer_failed(f"static int8/int{activation_bits}", exc) from None
    return {"quantiser": f"ai-edge-quantizer {version('ai-edge-quantizer')} "
                         f"recipe.static_wi8_ai{activation_bits}() (MinMax)",
            "weights": "int8", "activations": f"int{activation_bits}, static ranges",
            "calibration": {"rows": len(next(iter(data.values()))), "signatures": sorted(data),
                            "text": "oanc-calibration (disjoint from the parity corpus)"}}


def int8_full(src: Path, dst: Path, ctx: QuantContext) -> dict:
    return _static(src, dst, ctx, 8)


def int16x8(src: Path, dst: Path, ctx: QuantContext) -> dict:
    return _static(src, dst, ctx, 16)


# ---- mixed precision: smoothed, dynamic int8 per op, the search keeps some ops float ----------


@dataclass(frozen=True)
class Layer:
    """One weight of a .tflite and every FULLY_CONNECTED op that uses it: one op per signature
    (the signatures share their weight buffers, but each names its ops differently)."""

    macs: float  # per token
    scopes: tuple[str, ...]  # ai-edge-quantizer's op scopes: the output names, each ended by ";"


def fully_connected_layers(path: Path) -> dict[str, Layer]:
    """The FULLY_CONNECTED weights of a .tflite in graph order, named ``NN:module.path`` (the
    index keeps names unique where the converter fused several modules' names into one scope)."""
    from ..runtime.litert import import_quietly

    utils = import_quietly("ai_edge_quantizer.utils.tfl_flatbuffer_utils")
    model = utils.read_model(str(path))
    scopes: dict[int, list[str]] = {}
    names: dict[int, str] = {}
    macs: dict[int, float] = {}
    for graph in model.subgraphs:
        for op in graph.operators:
            if model.operatorCodes[op.opcodeIndex].builtinCode != FULLY_CONNECTED:
                continue
            weight = graph.tensors[op.inputs[1]]
            scope = utils.get_op_scope(op, graph.tensors)
            scopes.setdefault(weight.buffer, []).append(scope)
            names.setdefault(weight.buffer, f"{len(names):02d}:{_module_path(scope)}")
            macs[weight.buffer] = float(np.prod(weight.shape))
    return {names[b]: Layer(macs[b], tuple(scopes[b])) for b in scopes}


def _module_path(scope: str) -> str:
    """``.../BertLayer_0/BertAttention_attention/.../Linear_key;;...`` -> ``model.encoder.0.attention.self.key``.

    litert-torch names each segment Class_attribute, so the attributes are the module path; an
    op fused with its neighbours lists several paths, its own Linear first."""
    parts = [p.split(";")[0] for p in scope.rstrip(";").split(";;")]
    own = next((p for p in parts if "linear.Linear_" in p), parts[-1])
    return ".".join(segment.rsplit("_", 1)[-1] for segment in own.split("/")[1:])


def _dynamic_int8(src: Path, dst: Path, kept: list[Layer]) -> None:
    """ai-edge-quantizer's dynamic int8 (weights per channel, activations per row at run time)
    on ``src``, the ``kept`` layers left in float in every signature."""
    import re

    from ..runtime.litert import import_quietly, quiet

    quantizer = import_quietly("ai_edge_quantizer.quantizer")
    recipe = import_quietly("ai_edge_quantizer.recipe")
    qtyping = import_quietly("ai_edge_quantizer.qtyping")
    try:
        with quiet():
            q = quantizer.Quantizer(str(src), recipe.dynamic_wi8_afp32())
            for scope in (scope for layer in kept for scope in layer.scopes):
                q.update_quantization_recipe(regex=f"^{re.escape(scope)}$",
                                             operation_name=qtyping.TFLOperationName.FULLY_CONNECTED,
                                             algorithm_key="no_quantize")
            q.quantize().export_model(str(dst), overwrite=True)
    except Exception as exc:  # the quantiser raises many types; the message is what helps
        raise _quantizer_failed("dynamic int8", exc) from None


def _quantizer_failed(what: str, exc: Exception) -> ToolchainError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return ToolchainError(f"ai-edge-quantizer {what} failed: {type(exc).__name__}: {first[:300]}")


def int8_mixed(src: Path, dst: Path, ctx: QuantContext) -> dict:
    """SmoothQuant + dynamic int8, with the FULLY_CONNECTED ops the budget cannot afford left in
    float (search.py, the same search as the ONNX int8-mixed)."""
    from ..inputs import profiling_feed
    from ..runtime.litert import TFLiteModel
    from ..runtime.ort import interleaved_median_ms
    from .fidelity import TUNING_MARGIN
    from .search import latency_saved, search

    source = _source(ctx)
    lengths = _lengths(src)
    float_file, smoothing = _smoothed_float(src, ctx)
    trial_file = ctx.work_dir / "int8-mixed-trial.tflite"
    layers = fully_connected_layers(float_file)

    def outputs(path: Path) -> dict[str, list[np.ndarray]]:
        model = TFLiteModel(path, threads=0)
        runs = [model.run(feed, ctx.head.scored) for feed in ctx.tuning]
        return {name: [run[i] for run in runs] for i, name in enumerate(ctx.head.scored)}

    def score(kept: frozenset[str]) -> float:
        _dynamic_int8(float_file, trial_file, [layers[name] for name in kept])
        return ctx.tuning_score(reference, outputs(trial_file))

    reference = outputs(float_file)
    target = (ctx.budget.cos_min or 0.995) + TUNING_MARGIN
    _dynamic_int8(float_file, trial_file, [])
    row = profiling_feed(source.tokenizer, source.input_names, lengths[-1])
    timed = [TFLiteModel(p, threads=1) for p in (float_file, trial_file)]
    float_ms, int8_ms = interleaved_median_ms([lambda m=m: m.run_one(row) for m in timed])
    macs = {name: layer.macs for name, layer in layers.items()}
    result = search(list(layers), score, target, latency_saved(macs, float_ms, int8_ms))
    _dynamic_int8(float_file, dst, [layers[name] for name in result.kept])
    for path in (trial_file,) if ctx.background is not None else (float_file, trial_file):
        path.unlink(missing_ok=True)  # the background's float file is deleted when the pipeline closes it
    return {"quantiser": "ai-edge-quantizer recipe.dynamic_wi8_afp32(), searched per-op exclusions",
            "weights": "int8 per channel", "activations": "int8 per row, ranges computed at run time",
            "smoothquant": {**smoothing, "group": "Q/K/V (the attention input, divided in the graph)"},
            "search": {**result.describe(), "unit": "FULLY_CONNECTED weight (its op in every signature)",
                       "score": ctx.score_name,
                       "tuning_sentences": sum(len(f["input_ids"]) for f in ctx.tuning),
                       "timing_ms_1_thread": {"float": float_ms, "all_int8": int8_ms, "seq_len": lengths[-1]}},
            "kept_fp32": result.kept}
