"""The training loop every compression method shares: seeded, bounded by a time budget, with a
progress line (ETA) and a loss log, and the distillation losses the methods combine."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

PROGRESS_EVERY_S = 5.0


@dataclass
class PhaseResult:
    """One training phase as it ran: what the card and the report show."""

    name: str
    steps: int
    planned_steps: int
    seconds: float
    stopped_by_budget: bool
    loss_first: float  # mean of the first tenth of steps
    loss_last: float  # mean of the last tenth

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Trainer:
    """Runs phases against one shared deadline and appends every step's loss to ``log_path``."""

    log_path: Any  # pathlib.Path of the jsonl loss log
    deadline: float  # time.monotonic() at which all training stops
    log: Callable[[str], None] = lambda msg: None
    phases: list[PhaseResult] = field(default_factory=list)

    def run(self, name: str, params, batches: Callable[[int], Iterable], loss_fn, epochs: int, lr: float,
            share: float = 1.0, after_step: Callable[[int, int, float], None] | None = None) -> PhaseResult:
        """AdamW over ``params`` for ``epochs`` passes of ``batches(epoch)``, linear warm-up and decay,
        stopping when this phase's ``share`` of the remaining budget is spent. ``loss_fn(batch)``
        returns (loss tensor, dict of named float parts); ``after_step(step, planned, lr)`` runs
        after each optimiser step (pruning masks, proximal operators)."""
        import torch

        per_epoch = sum(1 for _ in batches(0))
        planned = max(1, per_epoch * epochs)
        start = time.monotonic()
        phase_deadline = start + max(1.0, (self.deadline - start) * share)
        params = [p for p in params if p.requires_grad]
        optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
        warmup = max(1, planned // 10)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimiser, lambda s: min((s + 1) / warmup, max(0.0, (planned - s) / max(1, planned - warmup))))
        losses: list[float] = []
        step, stopped, last_print = 0, False, start
        with open(self.log_path, "a") as fh:
            for epoch in range(epochs):
                for batch in batches(epoch):
                    loss, parts = loss_fn(batch)
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(params, 1.0)
                    optimiser.step()
                    schedule.step()
                    step += 1
                    current_lr = schedule.get_last_lr()[0]
                    if after_step is not None:
                        with torch.no_grad():
                            after_step(step, planned, current_lr)
                    value = float(loss.detach())
                    if not math.isfinite(value):
                        raise FloatingPointError(f"{name}: loss became {value} at step {step}")
                    losses.append(value)
                    now = time.monotonic()
                    fh.write(json.dumps({"phase": name, "step": step, "epoch": epoch, "loss": round(value, 5),
                                         **{k: round(float(v), 5) for k, v in parts.items()},
                                         "lr": current_lr, "seconds": round(now - start, 2)}) + "\n")
                    if now - last_print >= PROGRESS_EVERY_S:
                        last_print = now
                        self.log(_progress(name, step, planned, now - start, phase_deadline - now, losses))
                    if now >= phase_deadline:
                        stopped = True
                        break
                if stopped:
                    break
        tenth = max(1, len(losses) // 10)
        result = PhaseResult(name, step, planned, round(time.monotonic() - start, 1), stopped,
                             round(sum(losses[:tenth]) / tenth, 4), round(sum(losses[-tenth:]) / tenth, 4))
        self.log(f"{name}: {step}/{planned} steps in {result.seconds:.0f} s"
                 f"{' (stopped by the time budget)' if stopped else ''}; loss {result.loss_first:.4f} -> "
                 f"{result.loss_last:.4f}")
        self.phases.append(result)
        return result


def _progress(name: str, step: int, planned: int, elapsed: float, budget_left: float, losses: list[float]) -> str:
    eta = min(elapsed / step * (planned - step), max(0.0, budget_left))
    recent = losses[-20:]
    return (f"{name}: step {step}/{planned} ({100 * step / planned:.0f}%), loss {sum(recent) / len(recent):.4f}, "
            f"ETA {int(eta) // 60}m{int(eta) % 60:02d}s")


def distill_loss(student_logits, teacher_logits, labels, temperature: float, alpha: float):
    """Hinton's soft-target KL (times T^2) mixed with cross-entropy on the labels (if any)."""
    import torch.nn.functional as F

    soft = F.kl_div(F.log_softmax(student_logits / temperature, -1), F.softmax(teacher_logits / temperature, -1),
                    reduction="batchmean") * temperature ** 2
    if labels is None:
        return soft, {"kd": float(soft.detach())}
    hard = F.cross_entropy(student_logits, labels)
    return alpha * soft + (1 - alpha) * hard, {"kd": float(soft.detach()), "ce": float(hard.detach())}


def mean_pool(states, mask):
    weights = mask.to(states.dtype).unsqueeze(-1)
    return (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


def normalised_mse(student, teacher):
    """PKD's patient loss: squared distance between L2-normalised vectors, summed over features."""
    import torch.nn.functional as F

    return (F.normalize(student, dim=-1) - F.normalize(teacher.to(student.dtype), dim=-1)).pow(2).sum(-1).mean()


def task_phase(ctx, model, tokenizer, name: str = "task", share: float = 1.0, extra_loss=None,
               after_step=None, lr: float | None = None, forward=None):
    """The task phase most methods end with: the recipe head's objective (the classifier's:
    distillation from the teacher's logits plus cross-entropy on the polarity labels);
    ``extra_loss(batch, outputs)`` adds a method's term; ``forward(enc)`` -> logits replaces the
    model's plain forward."""
    from types import SimpleNamespace

    spec = ctx.spec

    def loss_fn(batch):
        if forward is not None:
            out = SimpleNamespace(logits=forward(batch.enc))
        else:
            out = model(**batch.enc, output_hidden_states=extra_loss is not None)
        loss, parts = ctx.objective.loss(out, batch, ctx)
        if extra_loss is not None:
            term, extra_parts = extra_loss(batch, out)
            loss, parts = loss + term, {**parts, **extra_parts}
        return loss, parts

    model.train()
    return ctx.trainer.run(name, model.parameters(), ctx.task_batches(tokenizer), loss_fn,
                           spec.epochs, lr or spec.lr, share, after_step)


def teacher_copy(ctx):
    """A trainable deep copy of the teacher: where truncation and pruning start."""
    import copy

    model = copy.deepcopy(ctx.teacher)
    for param in model.parameters():
        param.requires_grad_(True)
    return model.train()
