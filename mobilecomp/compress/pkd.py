"""PKD (Sun et al., 2019): a truncated teacher distilled patiently, matching the teacher's
intermediate [CLS] states as well as its logits."""

from __future__ import annotations

from dataclasses import dataclass

from .train import normalised_mse, task_phase, teacher_copy

PAPER = "Patient Knowledge Distillation (Sun et al., 2019)"
# truncation keeps the teacher's head and tokenizer, and the patient loss reads [CLS] states every head has
HEADS = ("classifier", "token-classifier", "question-answering", "encoder")


@dataclass(frozen=True)
class Options:
    layers: int  # student depth
    pick: str = "skip"  # skip: every other teacher layer (PKD-Skip); lower: the lowest layers (PKD-Last targets)
    beta: float = 10.0  # weight of the patient loss

    def __post_init__(self) -> None:
        if self.pick not in ("skip", "lower") or self.layers < 1:
            raise ValueError(f"pick '{self.pick}' is unknown (known: skip, lower) or layers < 1")


def plan(teacher_layers: int, options: Options) -> tuple[list[int], list[int]]:
    """(teacher layers copied into the student, teacher layers each student layer learns from)."""
    k, n = options.layers, teacher_layers
    if k >= n:
        raise ValueError(f"compress.options.layers {k} must be below the teacher's {n} layers")
    skip = [round((j + 1) * n / k) - 1 for j in range(k)]  # ends on the teacher's last layer
    if options.pick == "skip":
        return skip, skip
    return list(range(k)), list(range(n - k, n))  # PKD-Last: the lower layers learn the top k


def run(ctx, options: Options):
    from . import Student

    from ..errors import ConfigError
    from ..load.architectures import layer_list

    model = teacher_copy(ctx)
    found = layer_list(model)
    if found is None:
        raise ConfigError(f"compress.method pkd truncates the teacher's layers, and a {model.config.model_type} "
                          "teacher's are shared or not registered; use wrs for this teacher")
    holder, attr = found
    layers = getattr(holder, attr)
    kept, targets = plan(len(layers), options)
    setattr(holder, attr, type(layers)([layers[i] for i in kept]))
    model.config.num_hidden_layers = len(kept)
    ctx.log(f"pkd: kept teacher layers {kept}; patient targets {targets[:-1]} ([CLS], beta {options.beta})")

    def patient(batch, out):  # the last layer is covered by the logits
        terms = [normalised_mse(out.hidden_states[j + 1][:, 0], batch.teacher_cls[:, t])
                 for j, t in enumerate(targets[:-1])]
        value = sum(terms) / max(1, len(terms)) if terms else out.hidden_states[-1].sum() * 0
        return options.beta * value, {"patient": float(value.detach())}

    task_phase(ctx, model, ctx.teacher_tokenizer, "pkd", extra_loss=patient)
    return Student(model, ctx.teacher_tokenizer, {"teacher_layers_kept": kept, "patient_targets": targets[:-1]})
