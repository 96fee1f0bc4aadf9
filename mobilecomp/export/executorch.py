"""ExecuTorch export: torch.export per fixed length, lowered to the XNNPACK delegate, one .pte.

Each length in the recipe (``seq_len`` and ``tflite_seq_lens``, the same buckets as TFLite's
signatures) is one method, ``seqN``, taking [1, N] int64 inputs; the methods share one copy of
the weights. The module is TFLite's wrapper (additive mask built inside, eager attention), so
both mobile formats run the same graph."""

from __future__ import annotations

import copy
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from ..errors import ToolchainError, first_line
from ..runtime.litert import quiet
from ..types import LoadedModel, Recipe
from .tflite import sample_inputs, seq_lens, signature_name, tflite_module


def pte_module(model: LoadedModel):
    """The head's outputs as a tuple in ``model.output_names`` order (the runtime returns a list)."""
    import torch

    inner = tflite_module(model)

    class PteWrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs):
            out = self.inner(**dict(zip(model.input_names, inputs)))
            return tuple(out[name] for name in model.output_names)

    return PteWrapped().eval()


def convert(model: LoadedModel, lens: tuple[int, ...], path: Path,
            transform: Callable | None = None, per_length: Callable | None = None) -> dict:
    """Write ``model`` (``transform``-ed first: a quantiser) as one .pte with a method per length;
    returns which ops the XNNPACK partitioner took and which it left on portable kernels.
    ``per_length(module, n, args)`` gives the module to export for length ``n`` instead (PT2E
    quantises a captured graph, which holds one shape)."""
    import torch

    try:
        with quiet(), warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
            from executorch.exir import to_edge_transform_and_lower

            module = pte_module(model)
            if transform is not None:  # on a copy: the loaded model goes on to other formats unchanged
                module = copy.deepcopy(module)
                transform(module)
            programs = {}
            for n in lens:
                sample = sample_inputs(model, n)
                args = tuple(sample[k].to(torch.int64) for k in model.input_names)
                exported = module if per_length is None else per_length(module, n, args)
                programs[signature_name(n)] = torch.export.export(exported, args).run_decompositions(
                    xnnpack_decompositions())
            edge = to_edge_transform_and_lower(programs, partitioner=[XnnpackPartitioner()])
            coverage = _coverage(edge, signature_name(lens[0]))
            path.write_bytes(edge.to_executorch().buffer)
    except (OSError, ToolchainError):  # a full disk is the bundle's to report; a quantiser's verdict is its own
        raise
    except Exception as exc:  # torch.export and the lowering raise many types; the message is what helps
        raise ToolchainError(f"ExecuTorch export failed: {type(exc).__name__}: {first_line(exc)[:300]}") from None
    return coverage


def xnnpack_decompositions() -> dict:
    """ATen rewrites that keep BERT's LayerNorm, attention matmuls and gelu_new's cube inside XNNPACK,
    applied before lowering. The partitioner takes no layer_norm, and its default matmul decomposition
    adds a same-shape expand_copy before each bmm; both ran on portable kernels between delegate calls
    (MiniLM-L6, seq 128: 13 native_layer_norm and 24 expand_copy, 27 delegate calls). Rewritten,
    fp32 stays within 5e-7 of PyTorch and ran 83.6 ms against 88.8 ms (host, 1 thread, p50 of 60
    interleaved runs, busy 2-core Xeon). XNNPACK has no pow: gelu_new's x ** 3 split ALBERT's graph
    into 9 delegate calls, where int8-dynamic ran at 61 ms against fp32's 11 (as products: 3 calls,
    3.3 against 8.7 ms; docs/runtimes.md)."""
    import torch

    aten = torch.ops.aten

    def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
        if len(normalized_shape) != 1:
            return NotImplemented
        # XNNPACK's mean.dim takes 4-D inputs averaged over dims (2, 3): one row per token
        rows = x.reshape(1, -1, 1, x.shape[-1])
        centred = rows - aten.mean.dim(rows, [2, 3], True)
        scaled = centred * aten.rsqrt(aten.mean.dim(centred * centred, [2, 3], True) + eps)
        out = scaled.reshape(x.shape)
        out = out if weight is None else out * weight
        return out if bias is None else out + bias

    def matmul(a, b):
        if a.dim() != 4 or b.dim() != 4 or a.shape[:2] != b.shape[:2]:
            return NotImplemented  # only attention's batched matmuls; the rest decompose as usual
        n = a.shape[0] * a.shape[1]
        out = aten.bmm(a.reshape(n, a.shape[2], a.shape[3]), b.reshape(n, b.shape[2], b.shape[3]))
        return out.reshape(a.shape[0], a.shape[1], a.shape[2], b.shape[3])

    def cube(x, exponent):
        # gelu_new's x ** 3 (ALBERT, ELECTRA's gelu variants): XNNPACK has no pow, products it takes
        return x * x * x if exponent == 3 else NotImplemented

    return {aten.layer_norm.default: layer_norm, aten.matmul.default: matmul, aten.pow.Tensor_Scalar: cube}


def _coverage(edge, method: str) -> dict:
    """Ops inside the XNNPACK delegate (from the lowered modules' own graphs) and ops left to
    ExecuTorch's portable kernels, for one method: the known traps for BERT encoders
    (LayerNorm, embedding gathers, mask ops) show up in the second list."""
    program = edge.exported_program(method)
    delegated, portable = Counter(), Counter()
    for node in program.graph_module.graph.nodes:
        if node.op != "call_function":
            continue
        if node.target.__name__ == "executorch_call_delegate":
            lowered = getattr(program.graph_module, node.args[0].target)
            for inner in lowered.original_module.graph_module.graph.nodes:
                if inner.op == "call_function" and inner.target.__name__ != "getitem":
                    delegated[_op_name(inner.target)] += 1
        elif node.target.__name__ != "getitem":
            portable[_op_name(node.target)] += 1
    return {"xnnpack_ops": dict(sorted(delegated.items())), "portable_ops": dict(sorted(portable.items())),
            "coverage_method": method}


def _op_name(target) -> str:
    name = getattr(target, "__name__", str(target))  # edge ops: 'aten.linear.default'
    return name.split(".")[1] if name.startswith("aten.") else name


def export_executorch(model: LoadedModel, recipe: Recipe, path: Path, background=None) -> dict:
    from ..runtime.pte import runtime_version

    lens = seq_lens(recipe)
    coverage = convert(model, lens, path)
    return {"exporter": f"executorch {runtime_version()} (torch.export, XnnpackPartitioner)",
            "methods": {signature_name(n): n for n in lens}, "mask": "additive, built in the wrapper",
            "attention": "eager", "delegate_coverage": coverage}
