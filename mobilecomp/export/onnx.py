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
    details = {"exporter": f"torch.onnx.export (torchscript) torch {torch.__version__}",
               "dynamic_axes": ["batch", "sequence"]}
    inlined = inline_weight_aliases(path)
    if inlined:
        details["weight_aliases_inlined"] = inlined
    return details


def inline_weight_aliases(path: Path) -> int:
    """Points every reader of an Identity of a weight at the weight itself, and drops the Identity.

    The exporter writes a weight once and gives each further use (ALBERT's shared layer, tied
    embeddings) an Identity of it; the quantisers only quantise a MatMul that reads a weight
    directly, so without this ALBERT's shared layer is int8 at its first application only. An
    Identity computes nothing: the outputs are the same bit for bit. Returns how many were dropped."""
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    weights = {i.name for i in graph.initializer}
    kept_names = {o.name for o in graph.output}
    alias = {n.output[0]: n.input[0] for n in graph.node
             if n.op_type == "Identity" and n.input[0] in weights and n.output[0] not in kept_names}
    if not alias:
        return 0
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in alias:
                node.input[i] = alias[name]
    nodes = [n for n in graph.node if not (n.op_type == "Identity" and n.output[0] in alias)]
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(path))
    return len(alias)
