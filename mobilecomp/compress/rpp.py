"""RPP (Guo et al., 2019): reweighted proximal pruning. AdamW minimises the task loss; after each
step a proximal operator applies the reweighted L1 penalty lambda * sum_i |w_i| / (|w_i^old| + eps)
(soft-thresholding each weight by lr * lambda / (|w_i^old| + eps), the weights refreshed every few
steps), so small weights reach exact zero. At the end the matrices are cut to the target sparsity
by magnitude and fine-tuned with the mask held."""

from __future__ import annotations

from dataclasses import dataclass

from ..transform.prune import prunable_weights
from .magnitude import apply_masks, magnitude_masks, measured_sparsity
from .train import task_phase, teacher_copy

PAPER = "Reweighted Proximal Pruning (Guo et al., 2019)"
HEADS = ("classifier",)
WHY_HEADS = "only its sequence-classifier runs are checked here"


@dataclass(frozen=True)
class Options:
    sparsity: float  # target share of zeros in each encoder matrix after the final cut
    lam: float = 0.02  # reweighted L1 strength (lambda)
    eps: float = 1e-3  # reweighting floor: 1 / (|w| + eps)
    reweight_every: int = 20  # steps between refreshes of the weights 1 / (|w| + eps)
    proximal_share: float = 0.7  # share of the budget spent in the proximal phase

    def __post_init__(self) -> None:
        if not 0.0 < self.sparsity < 1.0 or self.lam <= 0 or self.eps <= 0 or not 0 < self.proximal_share < 1:
            raise ValueError("sparsity in (0, 1), lam and eps positive, proximal_share in (0, 1)")


def run(ctx, options: Options):
    import torch

    from . import Student

    model = teacher_copy(ctx)
    weights = prunable_weights(model)
    state = {"reweight": None}

    def proximal(step: int, planned: int, lr: float) -> None:
        if state["reweight"] is None or step % options.reweight_every == 0:
            state["reweight"] = [1.0 / (w.abs() + options.eps) for _, w in weights]
        for (_, weight), r in zip(weights, state["reweight"]):
            weight.copy_(weight.sign() * (weight.abs() - lr * options.lam * r).clamp(min=0.0))

    task_phase(ctx, model, ctx.teacher_tokenizer, "proximal", share=options.proximal_share, after_step=proximal)
    reached = measured_sparsity(weights)
    with torch.no_grad():
        masks = magnitude_masks(weights, options.sparsity)
        apply_masks(weights, masks)
    ctx.log(f"rpp: the proximal phase reached {reached:.1%} exact zeros; cut to {options.sparsity:.0%}")
    task_phase(ctx, model, ctx.teacher_tokenizer, "masked finetune",
               after_step=lambda step, planned, lr: apply_masks(weights, masks))
    return Student(model, ctx.teacher_tokenizer, {
        "proximal_sparsity": reached, "sparsity": measured_sparsity(weights), "matrices": len(weights),
        "loss": "KD + CE on the task; reweighted L1 lambda * sum |w| / (|w_old| + eps) by proximal steps"})
