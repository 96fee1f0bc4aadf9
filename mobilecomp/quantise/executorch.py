"""ExecuTorch variants: the fp32 program, and the PyTorch model in fp16 or int8 exported to XNNPACK again."""

from __future__ import annotations

from pathlib import Path

from ..errors import ToolchainError
from . import QuantContext
from .litert import fp32  # noqa: F401 - the float file as exported, the same copy as TFLite's fp32


def _int8_dynamic_linears(module) -> None:
    """int8 weights per output channel and int8 activations with per-row ranges computed at run
    time, on every Linear: the scheme XNNPACK runs as dynamically quantised fully-connected ops."""
    import torch
    from torchao.quantization import Int8DynamicActivationIntxWeightConfig, quantize_
    from torchao.quantization.granularity import PerAxis

    quantize_(module, Int8DynamicActivationIntxWeightConfig(weight_dtype=torch.int8,
                                                             weight_granularity=PerAxis(0)))


def _int8_embeddings(module) -> None:
    """Every embedding table as int8 rows with one fp32 scale each (symmetric), gathered by
    ``quantized_decomposed::embedding_byte``: XNNPACK takes no gather, and this is the int8 one
    ExecuTorch's own kernels run (the runtime loads them from ``executorch.kernels.quantized``).
    MiniLM's word table is 47 MB of the 90 MB fp32 file."""
    import torch

    import executorch.exir.passes._quant_patterns_and_replacements  # noqa: F401 - defines the op for export

    class Int8Embedding(torch.nn.Module):
        def __init__(self, table: torch.nn.Embedding) -> None:
            super().__init__()
            weight = table.weight.detach().float()
            scales = weight.abs().amax(1).clamp(min=1e-12) / 127
            self.register_buffer("weight", torch.round(weight / scales[:, None]).clamp(-127, 127).to(torch.int8))
            self.register_buffer("scales", scales)

        def forward(self, indices):
            return torch.ops.quantized_decomposed.embedding_byte.default(
                self.weight, self.scales, None, -127, 127, indices)

    for child in list(module.modules()):
        for attr, table in list(child.named_children()):
            if isinstance(table, torch.nn.Embedding):
                setattr(child, attr, Int8Embedding(table))


def _int8_dynamic(module) -> None:
    _int8_dynamic_linears(module)
    _int8_embeddings(module)


def _rebuilt(src: Path, dst: Path, ctx: QuantContext, what: str, **how) -> dict:
    """The PyTorch model exported and lowered again with ``how`` (convert's transform or per_length),
    at the fp32 file's lengths: an ExecuTorch program's precision lives in the graph it was exported
    from, so there is no pass on the fp32 file."""
    from ..export.executorch import convert
    from ..runtime.pte import PteModel

    if ctx.model is None or not hasattr(ctx.model.module, "model"):
        raise ToolchainError(f"ExecuTorch {what} is built from the PyTorch model: this checkpoint has none")
    lens = tuple(sorted(PteModel(src, threads=1).lengths.values()))
    return {"built_from": "the PyTorch model, converted then exported again",
            "delegate_coverage": convert(ctx.model, lens, dst, **how)}


def int8_dynamic(src: Path, dst: Path, ctx: QuantContext) -> dict:
    from importlib.metadata import version

    return {"quantiser": f"torchao {version('torchao')} Int8DynamicActivationIntxWeightConfig "
                         "(weight int8 PerAxis(0))",
            "weights": "int8 per channel", "activations": "int8 per row, ranges computed at run time",
            "embeddings": "int8 per row (quantized_decomposed::embedding_byte, portable kernel)",
            **_rebuilt(src, dst, ctx, "int8", transform=_int8_dynamic)}


def _fp16(module) -> None:
    """fp16 weights and compute. The wrapper builds its additive mask in fp32, and BERT's eager
    attention would promote the scores to fp32 and fail at the value matmul: the mask is cast
    where it enters the transformer."""
    import torch

    module.half()

    def mask_to_fp16(base, args, kwargs):
        mask = kwargs.get("attention_mask")
        if mask is not None and mask.is_floating_point():
            kwargs["attention_mask"] = mask.to(torch.float16)
        return args, kwargs

    module.inner.model.base_model.register_forward_pre_hook(mask_to_fp16, with_kwargs=True)


def fp16(src: Path, dst: Path, ctx: QuantContext) -> dict:
    return {"weights": "fp16", "compute": "fp16 in XNNPACK (inputs int64, outputs fp16)",
            **_rebuilt(src, dst, ctx, "fp16", transform=_fp16)}


class _Pt2eStatic:
    """PT2E static int8 (XNNPACKQuantizer, symmetric, weights per channel, activations per tensor
    calibrated on the calibration text), one captured graph per length. Before any file is
    written it checks the longest length in PyTorch on the calibration text and refuses under the
    budget's cos_min: per-tensor int8 activations lose BERT's outlier channels."""

    def __init__(self, ctx: QuantContext, seq_len: int) -> None:
        self.ctx, self.seq_len = ctx, seq_len
        self.longest = None  # quantised and checked first: a refusal costs one calibration

    def rows(self, n: int):
        """The calibration text one sentence at a time, cut to ``n`` tokens, through the reader protocol."""
        from .calibration import FeedReader

        reader = FeedReader(self.ctx.calibration)
        while (feed := reader.get_next()) is not None:
            for i in range(len(feed["input_ids"])):
                yield {k: v[i:i + 1, :n] for k, v in feed.items()}

    def args(self, row) -> tuple:
        import torch

        return tuple(torch.from_numpy(row[k]).to(torch.int64) for k in self.ctx.model.input_names)

    def __call__(self, module, n: int, args):
        if self.longest is None:
            self.longest = self.quantise(module, self.seq_len, self.args(next(self.rows(self.seq_len))))
            self.gate(module, self.longest)
        return self.longest if n == self.seq_len else self.quantise(module, n, args)

    def quantise(self, module, n: int, args):
        import torch
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            XNNPACKQuantizer, get_symmetric_quantization_config)
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
        prepared = prepare_pt2e(torch.export.export(module, args).module(), quantizer)
        for row in self.rows(n):
            prepared(*self.args(row))
        return convert_pt2e(prepared)

    def gate(self, module, quantised) -> None:
        """The head's own search score (every output, and its agreement budgets: a tagger's argmax,
        a reader's decoded span) on the calibration text, in PyTorch, before any file is written."""
        names = self.ctx.model.output_names
        runs = {"reference": module, "candidate": quantised}
        outputs = {key: {name: [] for name in names} for key in runs}
        rows = list(self.rows(self.seq_len))
        for row in rows:
            for key, graph in runs.items():
                result = graph(*self.args(row))
                for name, value in zip(names, result if isinstance(result, (tuple, list)) else (result,)):
                    outputs[key][name].append(value.detach().numpy())
        score = self.ctx.head.tuning_score(outputs["reference"], outputs["candidate"], rows, self.ctx.budget)
        if self.ctx.budget.cos_min is not None and score < self.ctx.budget.cos_min:
            raise ToolchainError(
                f"static int8 (PT2E XNNPACKQuantizer, per-tensor activations) scores {score:.4f} on the {len(rows)} "
                f"calibration sentences in PyTorch ({self.ctx.score_name}), under the budget's cos_min "
                f"{self.ctx.budget.cos_min}: not built; use int8-dynamic")


def int8_static(src: Path, dst: Path, ctx: QuantContext) -> dict:
    from importlib.metadata import version

    if not ctx.calibration:
        raise ToolchainError("ExecuTorch int8-static calibrates on the recipe's calibration text: there is none")
    seq_len = int(ctx.calibration[0]["input_ids"].shape[1])  # the calibration text is padded to seq_len
    return {"quantiser": f"executorch {version('executorch')} XNNPACKQuantizer "
                         "get_symmetric_quantization_config(is_per_channel=True), PT2E",
            "weights": "int8 per channel", "activations": "int8 per tensor, calibrated on real text",
            **_rebuilt(src, dst, ctx, "int8-static", per_length=_Pt2eStatic(ctx, seq_len))}
