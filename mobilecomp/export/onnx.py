"""ONNX export through the keyword wrapper, with dynamic batch and sequence axes."""

from __future__ import annotations

import warnings
from pathlib import Path

from ..errors import ToolchainError
from ..inputs import profiling_feed
from ..load.heads import HEADS
from ..types import LoadedModel, Recipe


def export_onnx(model: LoadedModel, recipe: Recipe, path: Path) -> dict:
    if hasattr(model.module, "onnx_path"):  # a checkpoint that is already ONNX: its graph is the export
        import shutil

        shutil.copyfile(model.module.onnx_path, path)
        return {"exporter": "none: the checkpoint is ONNX (outputs renamed to the head's names)",
                "source_file": model.checkpoint.get("path")}
    import torch

    feed = profiling_feed(model.tokenizer, model.input_names, recipe.seq_len)
    args = tuple(torch.from_numpy(feed[name]) for name in model.input_names)
    axes = {name: {0: "batch", 1: "sequence"} for name in model.input_names}
    for name in model.output_names:
        axes[name] = {0: "batch", 1: "sequence"} if name in HEADS[model.head].per_token else {0: "batch"}
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            # dynamo=False: 4x faster to export, same parity, and onnxruntime's BERT tools
            # understand its graph.
            torch.onnx.export(model.module, args, str(path), input_names=list(model.input_names),
                              output_names=list(model.output_names), dynamic_axes=axes,
                              opset_version=recipe.opset, dynamo=False)
    except OSError:  # a full disk is the bundle's to report (BundleWriter), not the exporter's
        raise
    except Exception as exc:  # the exporter raises many types; the message is what helps
        raise ToolchainError(f"ONNX export of {recipe.name} failed: {str(exc).splitlines()[0][:200]}") from None
    return {"exporter": f"torch.onnx.export (torchscript) torch {torch.__version__}",
            "dynamic_axes": ["batch", "sequence"]}
