"""SmoothQuant on the PyTorch model, for formats that quantise while converting (TFLite).

The same scales as smooth.py: for every attention block whose input alone feeds Q, K and V,
the input columns of the three weights are multiplied by s and the block's input divided by s
(one elementwise multiply that the converter keeps in float). The fp32 outputs do not change;
the per-row int8 activations of the smoothed input lose less to a few outlier channels.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np

from ..errors import ToolchainError
from ..inputs import Feed
from ..load.architectures import ARCHITECTURES
from ..types import LoadedModel
from .smooth import smoothing_scales


def _attention_blocks(base, pattern: str) -> list:
    """The modules ``pattern`` names in ``base``, "*" standing for every index of a ModuleList."""
    found = [base]
    for part in pattern.split("."):
        found = [child for m in found for child in (list(m) if part == "*" else [getattr(m, part)])]
    return found


def _input_peaks(model: LoadedModel, blocks: list, feeds: list[Feed]) -> list[np.ndarray]:
    """Per-channel max |x| of each block's input over the real (unpadded) tokens of ``feeds``."""
    import torch

    peaks: list[np.ndarray | None] = [None] * len(blocks)
    real = {}

    def record(index: int):
        def hook(_module, args, kwargs):
            x = args[0] if args else kwargs["hidden_states"]
            peak = x[real["mask"]].abs().amax(0).numpy()
            peaks[index] = peak if peaks[index] is None else np.maximum(peaks[index], peak)
        return hook

    handles = [b.register_forward_pre_hook(record(i), with_kwargs=True) for i, b in enumerate(blocks)]
    try:
        with torch.no_grad():
            for feed in feeds:
                real["mask"] = torch.from_numpy(feed["attention_mask"]).bool()
                model.module(*(torch.from_numpy(feed[n]) for n in model.input_names))
    finally:
        for handle in handles:
            handle.remove()
    return peaks


def smoothed_copy(model: LoadedModel, feeds: list[Feed], alpha: float) -> tuple[LoadedModel, dict]:
    """A copy of ``model`` with its Q/K/V inputs smoothed; ``model`` itself is left as it was."""
    import torch

    arch = ARCHITECTURES[model.architecture]
    pattern = arch.qkv_attention
    if not pattern:
        raise ToolchainError(f"SmoothQuant needs attention whose Q, K and V read one tensor; "
                             f"{model.architecture}: {arch.no_smoothquant}")
    module = copy.deepcopy(model.module)
    blocks = _attention_blocks(module.model.base_model, pattern)  # a classifier's encoder is its base_model
    smoothed = dataclasses.replace(model, module=module)
    scales = []
    for block, x_peak in zip(blocks, _input_peaks(smoothed, blocks, feeds)):
        linears = [getattr(block, name) for name in arch.qkv]
        w_peak = np.max([lin.weight.detach().abs().amax(0).numpy() for lin in linears], axis=0)
        s = smoothing_scales(x_peak, w_peak, alpha)
        with torch.no_grad():
            for lin in linears:
                lin.weight.mul_(torch.from_numpy(s)[None, :])
        block.register_buffer("smooth_inverse", torch.from_numpy(1.0 / s))
        block.register_forward_pre_hook(_divide_input, with_kwargs=True)
        scales.append(s)
    every = np.concatenate(scales)
    return smoothed, {"alpha": alpha, "groups": len(blocks), "matmuls": len(blocks) * len(arch.qkv),
                      "calibration_sentences": sum(len(f["input_ids"]) for f in feeds),
                      "scale_range": [float(every.min()), float(every.max())]}


def _divide_input(block, args, kwargs):
    if args:
        return (args[0] * block.smooth_inverse, *args[1:]), kwargs
    return args, {**kwargs, "hidden_states": kwargs["hidden_states"] * block.smooth_inverse}
