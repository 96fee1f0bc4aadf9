"""Magnitude pruning (Gordon et al., 2020): unstructured, per matrix, raised gradually while the
pruned model is fine-tuned (cubic schedule, Zhu & Gupta), masks held for the rest of training."""

from __future__ import annotations

from dataclasses import dataclass

from ..transform.prune import prunable_weights
from .train import task_phase, teacher_copy

PAPER = "Compressing BERT: magnitude weight pruning (Gordon et al., 2020)"
HEADS = ("classifier",)
WHY_HEADS = "the paper prunes GLUE sequence classifiers, and only that is checked here"


@dataclass(frozen=True)
class Options:
    sparsity: float  # final share of each encoder matrix set to zero
    ramp: float = 0.6  # share of the planned steps over which sparsity rises to its target
    every: int = 10  # steps between mask updates

    def __post_init__(self) -> None:
        if not 0.0 < self.sparsity < 1.0 or not 0.0 < self.ramp <= 1.0 or self.every < 1:
            raise ValueError("sparsity must be in (0, 1), ramp in (0, 1], every >= 1")


def magnitude_masks(weights, sparsity: float) -> list:
    """Per matrix: True where a weight survives (its magnitude is above the matrix's quantile)."""
    masks = []
    for _, weight in weights:
        k = int(round(weight.numel() * sparsity))
        if k == 0:
            masks.append(weight.new_ones(weight.shape, dtype=bool))
            continue
        threshold = weight.detach().abs().flatten().kthvalue(k).values
        masks.append(weight.detach().abs() > threshold)
    return masks


def apply_masks(weights, masks) -> None:
    for (_, weight), mask in zip(weights, masks):
        weight.mul_(mask)


def measured_sparsity(weights) -> float:
    zeros = sum(int((w == 0).sum()) for _, w in weights)
    return zeros / sum(w.numel() for _, w in weights)


def run(ctx, options: Options):
    from . import Student

    model = teacher_copy(ctx)
    weights = prunable_weights(model)
    state = {"masks": None}

    def after_step(step: int, planned: int, lr: float) -> None:
        ramp_steps = max(1, int(planned * options.ramp))
        if step <= ramp_steps and (step % options.every == 0 or step == ramp_steps):
            target = options.sparsity * (1 - (1 - step / ramp_steps) ** 3)
            state["masks"] = magnitude_masks(weights, target)
        if state["masks"] is not None:
            apply_masks(weights, state["masks"])

    task_phase(ctx, model, ctx.teacher_tokenizer, "prune+finetune", after_step=after_step)
    import torch

    with torch.no_grad():  # a budget stop may come before the ramp ends: reach the target anyway
        apply_masks(weights, magnitude_masks(weights, options.sparsity))
    return Student(model, ctx.teacher_tokenizer, {"sparsity": measured_sparsity(weights), "matrices": len(weights),
                                                  "schedule": f"cubic over {options.ramp:.0%} of steps, "
                                                              f"masks every {options.every} steps"})
