"""Counts a recipe's parameters, FLOPs (2 x multiply-accumulates) and peak activation memory without weights.

The model is built on PyTorch's meta device (shapes only, no memory, no export), run once at
batch 1 and the chosen sequence length under a dispatch mode that counts the multiply-accumulates
of every matmul/linear/conv (torch.utils.flop_counter) and the bytes of every tensor an op
creates while it is alive. A DeFormer recipe is counted per query with the passage cached (the
question path), and its passage encoder separately.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..types import DecomposeSpec, Recipe


@dataclass
class ModelCounts:
    """Size and cost of one model at one sequence length, batch 1."""

    params: int
    flops: int  # 2 x multiply-accumulates of the matmul-like ops
    peak_activation_bytes: int  # largest total of live op outputs during the forward (fp32)
    seq_len: int
    params_nonzero: int | None = None  # after pruning: weights left non-zero
    detail: dict[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        out = {"params": self.params, "flops": self.flops, "gflops": round(self.flops / 1e9, 3),
               "flops_definition": "2 x multiply-accumulates (matmul, linear, conv, attention), batch 1",
               "peak_activation_mb": round(self.peak_activation_bytes / 2**20, 2),
               "peak_activation_definition": "largest sum of live fp32 op outputs in one eager forward "
                                             "(weights and inputs excluded), batch 1",
               "flops_seq_len": self.seq_len}
        if self.params_nonzero is not None:
            out["params_nonzero"] = self.params_nonzero
        if self.detail:
            out.update(self.detail)
        return out


class _LiveBytes:
    """A dispatch mode recording the peak of bytes held by tensors that ops created."""

    def __init__(self) -> None:
        from torch.utils._python_dispatch import TorchDispatchMode

        tracker = self

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                tracker.record(func, args, kwargs or {}, out)
                return out

        self.mode = Mode()
        self.live = 0
        self.peak = 0

    def record(self, func, args, kwargs, out) -> None:
        import weakref

        import torch
        from torch.utils._pytree import tree_flatten

        if getattr(func, "is_view", False) or torch.Tag.inplace_view in getattr(func, "tags", ()):
            return
        inputs = {id(t) for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)}
        for tensor in tree_flatten(out)[0]:
            if not isinstance(tensor, torch.Tensor) or id(tensor) in inputs:
                continue  # in-place ops hand back their input
            size = tensor.numel() * tensor.element_size()
            self.live += size
            self.peak = max(self.peak, self.live)
            weakref.finalize(tensor, self._free, size)

    def _free(self, size: int) -> None:
        self.live -= size


def _count(fn) -> tuple[int, int]:
    """(FLOPs, peak activation bytes) of calling ``fn`` once."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    live = _LiveBytes()
    with torch.no_grad(), FlopCounterMode(display=False) as flops, live.mode:
        fn()
    return int(flops.get_total_flops()), int(live.peak)


def meta_model(recipe: Recipe):
    """The recipe's transformers model on the meta device (random-free, weight-free)."""
    import torch
    import transformers

    from ..errors import ConfigError
    from . import check_config
    from .architectures import ARCHITECTURES
    from .heads import HEADS

    arch = ARCHITECTURES[recipe.checkpoint.architecture]
    head = HEADS[recipe.head]
    if recipe.checkpoint.source == "embedded-onnx":  # counted on its equivalent config
        from .onnx_source import EMBEDDED_ONNX

        if recipe.checkpoint.name not in EMBEDDED_ONNX:
            raise ConfigError(f"recipe {recipe.name}: checkpoint.name '{recipe.checkpoint.name}' is unknown "
                              f"(known: {', '.join(EMBEDDED_ONNX)})")
        config = arch.build_config(EMBEDDED_ONNX[recipe.checkpoint.name].config)
    elif recipe.checkpoint.source == "architecture":
        config = check_config(recipe)
    else:  # a real checkpoint: its own config.json
        from pathlib import Path

        from .checkpoints import embedded_dir

        directory = (embedded_dir(recipe.checkpoint.name) if recipe.checkpoint.source == "embedded"
                     else Path(recipe.checkpoint.path))
        if not (Path(directory) / "config.json").exists():
            from ..errors import CheckpointError

            hint = f"make it with {recipe.checkpoint.made_by}" if recipe.checkpoint.made_by else "give the directory"
            raise CheckpointError(f"recipe {recipe.name}: {directory}/config.json is missing ({hint})")
        try:  # transformers reads config.json's fields without checking their types
            config = getattr(transformers, arch.config_class).from_pretrained(directory)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            from ..errors import CheckpointError, first_line

            raise CheckpointError(f"{directory}/config.json: transformers cannot read it ({first_line(exc)}); "
                                  "fix the field or save the checkpoint again") from None
    if head.uses_classifier or (head.takes_labels and recipe.checkpoint.source == "architecture"):
        config.num_labels = recipe.num_labels
    config._attn_implementation = "eager"
    from . import build_for_head

    # DeBERTa's forward calls .item(), which the meta device cannot answer: built (and counted) on the CPU
    with torch.device("meta" if arch.counts_on_meta else "cpu"):
        return build_for_head(arch, config, head, recipe.name)


def count_model(model, seq_len: int, input_names: tuple[str, ...] = ("input_ids", "token_type_ids")) -> ModelCounts:
    """Counts for a transformers model (any device, meta included) at batch 1, ``seq_len`` tokens.

    No attention mask is passed: an all-ones mask costs the same matmuls, and building a padding
    mask needs real values the meta device does not have.
    """
    import torch

    device = next(model.parameters()).device
    ids = torch.zeros(1, seq_len, dtype=torch.long, device=device)
    feed = {name: ids for name in input_names if name != "attention_mask"}
    flops, peak = _count(lambda: model(**feed))
    return ModelCounts(params=sum(p.numel() for p in model.parameters()), flops=flops,
                       peak_activation_bytes=peak, seq_len=seq_len)


def inspect_recipe(recipe: Recipe, seq_len: int | None = None) -> ModelCounts:
    """Params, FLOPs and peak activation memory of ``recipe``'s model at ``seq_len`` (default: its own)."""
    from .architectures import ARCHITECTURES

    seq_len = seq_len or recipe.seq_len
    model = meta_model(recipe)
    inputs = tuple(n for n in ARCHITECTURES[recipe.checkpoint.architecture].inputs)
    if recipe.decompose is not None:
        from ..transform.deformer import base_model_of

        return count_deformer(base_model_of(model), recipe.decompose, seq_len)
    counts = count_model(model, seq_len, inputs)
    if recipe.prune is not None:
        from ..transform.prune import prunable_weights

        prunable = sum(w.numel() for _, w in prunable_weights(model))
        counts.params_nonzero = counts.params - round(prunable * recipe.prune.sparsity)
        counts.detail = {"prunable_params": prunable, "sparsity_target": recipe.prune.sparsity}
    return counts


def loaded_counts(model, recipe: Recipe) -> dict[str, Any]:
    """The manifest's counts for a LoadedModel (its real weights, one batch-1 forward at seq_len)."""
    if not hasattr(model.module, "model"):  # an ONNX checkpoint: counted on its equivalent config
        out = inspect_recipe(recipe).describe()
        out.pop("params", None)
        return {**out, "counted_on": "the equivalent BERT config on the meta device (the graph is ONNX)"}
    inner = model.module.model
    if recipe.decompose is not None:
        from ..transform.deformer import base_model_of

        counts = count_deformer(base_model_of(inner), recipe.decompose, recipe.seq_len)
    else:
        counts = count_model(inner, recipe.seq_len, tuple(n for n in model.input_names))
    if recipe.prune is not None:
        nonzero = sum(int((p != 0).sum()) for p in inner.parameters())
        counts.params_nonzero = nonzero
    out = counts.describe()
    out.pop("params", None)  # the manifest's own params field already says it
    return out


def count_deformer(base, spec: DecomposeSpec, seq_len: int):
    """Per-query counts with the passage cached (question graph), plus the passage graph's and the
    undecomposed model's, at ``seq_len`` total tokens, batch 1. ``base`` may live on the meta device."""
    import torch

    from ..transform.deformer import architecture, decomposed_modules, graph_inputs

    passage, question, _ = decomposed_modules(base, spec)
    full, _, _ = graph_inputs(architecture(base))
    device = next(base.parameters()).device
    q_len, p_len = spec.question_len, seq_len - spec.question_len
    hidden = base.config.hidden_size
    zeros = lambda n: torch.zeros(1, n, dtype=torch.long, device=device)  # noqa: E731
    ones = lambda n: torch.ones(1, n, dtype=torch.long, device=device)  # noqa: E731

    def feed(n):  # ids, mask (and token types) of n tokens, in the graphs' input order
        return [ones(n) if name == "attention_mask" else zeros(n) for name in full]

    states = torch.zeros(1, p_len, hidden, device=device)
    q_flops, q_peak = _count(lambda: question(*feed(q_len), states, ones(p_len)))
    p_flops, p_peak = _count(lambda: passage(*feed(p_len)))
    full_flops, full_peak = _count(lambda: base(**{n: v for n, v in zip(full, feed(seq_len)) if n != "attention_mask"}))
    params = sum(p.numel() for p in base.parameters())
    return ModelCounts(params=params, flops=q_flops, peak_activation_bytes=q_peak, seq_len=seq_len, detail={
        "flops_per_query": "question path with the passage's lower layers cached",
        "passage_gflops_once": round(p_flops / 1e9, 3),
        "passage_peak_activation_mb": round(p_peak / 2**20, 2),
        "undecomposed_gflops": round(full_flops / 1e9, 3),
        "undecomposed_peak_activation_mb": round(full_peak / 2**20, 2),
        "flops_speedup": round(full_flops / q_flops, 2),
        "lower_layers": spec.lower_layers, "question_len": q_len, "passage_len": p_len})
