"""Task heads: which outputs a wrapped model returns and how they are computed from the base model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Head:
    name: str
    outputs: tuple[str, ...]
    primary: str  # the output parity cosines and device checks are taken on
    uses_classifier: bool  # built from the architecture's sequence-classification class


HEADS: dict[str, Head] = {
    "encoder": Head("encoder", ("token_embeddings", "sentence_embedding"), "sentence_embedding", False),
    "classifier": Head("classifier", ("logits",), "logits", True),
}


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
