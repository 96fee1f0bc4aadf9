"""Task heads: which outputs a wrapped model returns and how they are computed from the base model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Head:
    name: str
    outputs: tuple[str, ...]
    primary: str  # the output parity cosines and device checks are taken on
    uses_classifier: bool  # built from the architecture's sequence-classification class
    # Modules the built model has but the head's outputs never read: a checkpoint may lack them (the
    # encoder's mean pooling skips BERT's pooler). Every other tensor must come from the checkpoint.
    unused: tuple[str, ...] = ()


HEADS: dict[str, Head] = {
    "encoder": Head("encoder", ("token_embeddings", "sentence_embedding"), "sentence_embedding", False,
                    unused=("pooler.",)),
    "classifier": Head("classifier", ("logits",), "logits", True),
}

# What a checkpoint's config.json `architectures` entry says its head is, by class-name suffix.
CHECKPOINT_HEADS = {"ForSequenceClassification": "a sequence-classification head",
                    "ForTokenClassification": "a token-classification head",
                    "ForQuestionAnswering": "a question-answering head",
                    "ForMaskedLM": "a masked-LM head", "ForPreTraining": "pre-training heads",
                    "ForMultipleChoice": "a multiple-choice head",
                    "Model": "no trained classifier, only the encoder"}
# The recipe head that takes a checkpoint with that head, where mobilecomp has one
RECIPE_FOR = {"ForSequenceClassification": "classifier", "Model": "encoder"}


def checkpoint_head(config: dict) -> str:
    """What a checkpoint's config.json says its head is, and the fix, in words ('' when it does not say)."""
    names = config.get("architectures")
    name = names[0] if isinstance(names, list) and names and isinstance(names[0], str) else ""
    for suffix, words in CHECKPOINT_HEADS.items():
        if name.endswith(suffix):
            fix = f"use head: {RECIPE_FOR[suffix]}" if suffix in RECIPE_FOR else "mobilecomp has no recipe head for it"
            return f"{words} (config.json architectures: {name}); {fix} or another checkpoint"
    return ""


def wrap(head: Head, model, input_names: tuple[str, ...]):
    """A torch module taking the inputs by position and passing them to ``model`` by keyword.

    transformers 5 fails on positional-argument ONNX export (``multiple values for argument
    'use_cache'``), so export always goes through this wrapper.
    """
    import torch

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs):
            kwargs = dict(zip(input_names, inputs))
            out = self.model(**kwargs)
            if head.name == "classifier":
                return (out.logits,)
            states = out.last_hidden_state
            mask = kwargs["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return states, pooled

    return Wrapped().eval()
