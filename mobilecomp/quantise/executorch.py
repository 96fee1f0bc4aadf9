"""ExecuTorch variants: the fp32 program, and torchao-quantised models exported to XNNPACK again."""

from __future__ import annotations

from pathlib import Path

from ..errors import ToolchainError
from . import QuantContext
from .litert import fp32  # noqa: F401 - the float file as exported, the same copy as TFLite's fp32


def _int8_dynamic_linears(module) -> None:
    """int8 weights per output channel and int8 activations with per-row ranges computed at run
    time, on every Linear: the scheme XNNPACK runs as dynamically quantised fully-connected ops."""
    import torch
    from torchao.quantization import Int8DynamicActivationIntxWeightConfig, quantize_
    from torchao.quantization.granularity import PerAxis

    quantize_(module, Int8DynamicActivationIntxWeightConfig(weight_dtype=torch.int8,
                                                             weight_granularity=PerAxis(0)))


def int8_dynamic(src: Path, dst: Path, ctx: QuantContext) -> dict:
    """Quantised in PyTorch (torchao), then exported and lowered again: an ExecuTorch program's
    quantisation lives in the graph it was exported from, so there is no pass on the fp32 file."""
    from ..export.executorch import convert
    from ..pte import PteModel

    if ctx.model is None or not hasattr(ctx.model.module, "model"):
        raise ToolchainError("ExecuTorch int8 quantises the PyTorch model: this checkpoint has none")
    lens = tuple(sorted(PteModel(src, threads=1).lengths.values()))
    coverage = convert(ctx.model, lens, dst, transform=_int8_dynamic_linears)
    from importlib.metadata import version

    return {"quantiser": f"torchao {version('torchao')} Int8DynamicActivationIntxWeightConfig "
                         "(weight int8 PerAxis(0))",
            "weights": "int8 per channel", "activations": "int8 per row, ranges computed at run time",
            "built_from": "the PyTorch model, quantised then exported again", "delegate_coverage": coverage}
