"""DeFormer (Cao et al., 2020), single-sentence form: the teacher fine-tuned with its lower layers
decomposed. Polarity has one sentence, not a question and a passage, so the nearest form splits
each sentence at token ``decompose.question_len``: the lower layers attend within the first
segment and within the rest, the upper layers over both (mobilecomp.transform.deformer's block-diagonal
forward, the one the exported two-graph run is checked against). Loss: distillation from the
undecomposed teacher plus cross-entropy (the paper adds a layer-wise representation loss)."""

from __future__ import annotations

from dataclasses import dataclass

from .train import task_phase, teacher_copy

PAPER = "DeFormer: decomposing pre-trained transformers (Cao et al., 2020)"
HEADS = ("classifier",)
WHY_HEADS = ("this is the single-sentence form; a DeFormer QA model is fine-tuned by examples/finetune_qa.py "
             "--deformer")


@dataclass(frozen=True)
class Options:
    """No fields of its own: the split comes from the recipe's decompose section."""


def decomposed_classifier(model, spec):
    """logits(enc) of ``model`` (a sequence classifier of an architecture DeFormer splits) run with
    ``spec``'s decomposition."""
    from ..transform.deformer import architecture, base_model_of, decomposed_modules, graph_inputs, task_head

    _, _, reference = decomposed_modules(base_model_of(model), spec, task_head(model))
    full = graph_inputs(architecture(model))[0]  # token types only where the architecture takes them

    def forward(enc):
        return reference(*(enc[n] for n in full))

    return forward


def run(ctx, options: Options):
    from ..errors import ConfigError
    from ..load.architectures import for_model_type
    from . import Student

    spec = ctx.recipe.decompose
    if spec is None:
        raise ConfigError(f"recipe {ctx.recipe.name}: compress.method deformer needs a decompose section "
                          "(lower_layers, question_len)")
    arch = for_model_type(ctx.teacher.config.model_type)
    if arch is None or arch.no_deformer:
        why = arch.no_deformer if arch else "not a registered architecture"
        raise ConfigError(f"recipe {ctx.recipe.name}: compress.method deformer cannot split the teacher's architecture "
                          f"{ctx.teacher.config.model_type}: {why}; use another teacher or method")
    model = teacher_copy(ctx)
    forward = decomposed_classifier(model, spec)
    task_phase(ctx, model, ctx.teacher_tokenizer, "decomposed finetune", forward=forward)
    return Student(model, ctx.teacher_tokenizer, {
        "lower_layers": spec.lower_layers, "split_at_token": spec.question_len,
        "form": "single sentence split at a fixed token into two segments (no question/passage pair in polarity)"},
        forward=forward)
