"""Unstructured magnitude pruning of the loaded weights, and the sparsity and zipped size of exported files.

Pruned weights are still stored and multiplied densely: onnxruntime's and LiteRT's CPU kernels
do the same work for a zero as for any other weight, so pruning here shrinks the compressed
(zipped) download, not the latency. SPEED_NOTE says so in every pruned bundle.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..types import PruneSpec

METHODS = ("magnitude",)
SPEED_NOTE = ("unstructured sparsity: the zeros are stored and multiplied densely, so dense "
              "kernels (onnxruntime, LiteRT/XNNPACK CPU) gain no speed from it; only the zipped "
              "size shrinks")
SCOPE = "every nn.Linear weight inside the encoder layers (embeddings, pooler and head kept dense)"


def prunable_weights(model) -> list[tuple[str, Any]]:
    """(name, weight) of the Linear layers inside the encoder's layers (where the model's architecture
    keeps them: its layer_prefix, e.g. encoder.layer, transformer.layer, layers): the matrices both papers prune."""
    import torch

    inside = f".{_layer_prefix(model)}."
    return [(f"{name}.weight", module.weight) for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and inside in f".{name}."]


def _layer_prefix(model) -> str:
    """The registered architecture's layer_prefix, from the transformers config inside ``model``."""
    from ..load.architectures import for_model_type

    config = next((m.config for m in model.modules() if hasattr(m, "config")), None)
    arch = for_model_type(getattr(config, "model_type", None))
    return arch.layer_prefix if arch is not None else "encoder"


def prune_model(model, spec: PruneSpec) -> dict[str, Any]:
    """Zero the smallest-magnitude ``spec.sparsity`` of each prunable matrix, in place.

    Per-matrix (layer-wise) thresholds, as in Gordon et al.; RPP (Guo et al.) reaches its
    sparsity by reweighted proximal training, which needs data and time: here only its
    sparsity level is reproduced, on magnitude, to measure size and latency.
    """
    import torch

    if spec.method not in METHODS:
        raise ConfigError(f"prune.method '{spec.method}' is unknown (known: {', '.join(METHODS)})")
    weights = prunable_weights(model)
    if not weights:
        raise ConfigError("prune: the model has no encoder Linear layers to prune")
    with torch.no_grad():
        for _, weight in weights:
            k = int(round(weight.numel() * spec.sparsity))
            if k > 0:
                threshold = weight.abs().flatten().kthvalue(k).values
                weight.masked_fill_(weight.abs() <= threshold, 0.0)
    return {"method": spec.method, "sparsity_target": spec.sparsity, **_measured(weights)}


def _measured(weights: list[tuple[str, Any]]) -> dict[str, Any]:
    """The zeros the prunable matrices hold: the sparsity record of a pruned bundle."""
    total = sum(w.numel() for _, w in weights)
    zeros = sum(int((w == 0).sum()) for _, w in weights)
    return {"scope": SCOPE, "matrices": len(weights), "prunable_params": total,
            "sparsity_torch": zeros / total if total else 0.0, "speed_note": SPEED_NOTE}


def checkpoint_sparsity(model) -> dict[str, Any] | None:
    """The unstructured sparsity a checkpoint already carries (a pruned student of `mobilecomp
    compress`, or any pruned model handed in): prune_model's record, measured; None when the
    encoder's matrices are dense (under 1% zeros)."""
    measured = _measured(prunable_weights(model))
    if measured["sparsity_torch"] < 0.01:
        return None
    return {"method": "already in the checkpoint", **measured}


def zipped_size(path: Path) -> int:
    """Bytes of ``path`` in a deflate zip (level 6): what a download or an APK would carry."""
    target = path.with_name(path.name + ".zip-probe")
    try:
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            zf.write(path, arcname=path.name)
        return target.stat().st_size
    finally:
        target.unlink(missing_ok=True)


def onnx_weight_stats(path: Path) -> dict[str, Any]:
    """Measured sparsity of the weight matrices (2-D initializers with >= 4096 values) of an ONNX
    file, and its zipped size."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    zeros = total = 0
    for init in model.graph.initializer:
        if len(init.dims) != 2 or int(np.prod(init.dims)) < 4096:
            continue
        values = numpy_helper.to_array(init)
        if "embeddings" in init.name or "pooler" in init.name:
            continue  # lookup tables and the pooler are never pruned
        zeros += int(np.count_nonzero(values == 0))
        total += values.size
    return {"weight_matrix_sparsity": (zeros / total) if total else 0.0, "weight_matrix_values": total,
            "zipped_bytes": zipped_size(path), "size_bytes": path.stat().st_size}
