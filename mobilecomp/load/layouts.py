"""Layouts a paper describes that no transformers config builds: applied to a freshly built model."""

from __future__ import annotations


def mobilebert_table1(model) -> None:
    """MobileBERT as in its paper's Table 1 ("MHA h_input 512"): Q, K and V read the 512-wide
    block input. The released google/mobilebert-uncased config instead shares a 128-wide Q/K
    bottleneck (key_query_shared_bottleneck), which is 0.8M parameters and 0.2 GFLOPs smaller.
    transformers' Bottleneck already returns the wide input for Q and K when nothing is shared,
    but sizes the query and key projections for the 128-wide one; resize them here."""
    import torch

    base = getattr(model, "mobilebert", model)
    config = base.config
    for layer in base.encoder.layer:
        attention = layer.attention.self
        attention.query = torch.nn.Linear(config.hidden_size, attention.all_head_size)
        attention.key = torch.nn.Linear(config.hidden_size, attention.all_head_size)
        layer.bottleneck.key_query_shared_bottleneck = False
        del layer.bottleneck.attention
    config.key_query_shared_bottleneck = False


LAYOUTS = {"mobilebert-table1": mobilebert_table1}
