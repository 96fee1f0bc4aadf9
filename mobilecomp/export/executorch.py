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
from ..litert import quiet
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
            transform: Callable | None = None) -> dict:
    """Write ``model`` (``transform``-ed first: a quantiser) as one .pte with a method per length;
    returns which ops the XNNPACK partitioner took and which it left on portable kernels."""
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
                programs[signature_name(n)] = torch.export.export(
                    module, tuple(sample[k].to(torch.int64) for k in model.input_names))
            edge = to_edge_transform_and_lower(programs, partitioner=[XnnpackPartitioner()])
            coverage = _coverage(edge, signature_name(lens[0]))
            path.write_bytes(edge.to_executorch().buffer)
    except OSError:  # a full disk is the bundle's to report (BundleWriter), not the exporter's
        raise
    except Exception as exc:  # torch.export and the lowering raise many types; the message is what helps
        raise ToolchainError(f"ExecuTorch export failed: {type(exc).__name__}: {first_line(exc)[:300]}") from None
    return coverage


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
    from ..pte import runtime_version

    lens = seq_lens(recipe)
    coverage = convert(model, lens, path)
    return {"exporter": f"executorch {runtime_version()} (torch.export, XnnpackPartitioner)",
            "methods": {signature_name(n): n for n in lens}, "mask": "additive, built in the wrapper",
            "attention": "eager", "delegate_coverage": coverage}
