"""Runs and lints ExecuTorch programs (.pte) with the ExecuTorch runtime, quietly: one method per length."""

from __future__ import annotations

import warnings
import weakref
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ..inputs import Feed
from .buckets import bucket_for, padded
from .litert import quiet

XNNPACK = "XnnpackBackend"
# Every loaded PteModel: their methods' XNNPACK delegates hold the process-wide thread pool, so they
# are released before the pool is replaced (using one after crashed: pthread_mutex_lock on a freed pool).
_LOADED: weakref.WeakSet = weakref.WeakSet()


def runtime_version() -> str:
    from importlib.metadata import version

    return version("executorch")


def set_threads(threads: int) -> int:
    """The runtime's one thread pool is process-wide: size it for the next runs (0: every core). A new
    size replaces the pool, so every loaded program is released first and loads again when next run."""
    from .cpu import cpu_count

    wanted = threads or cpu_count()
    with quiet(), warnings.catch_warnings():  # cpuinfo prints 'Failed to open midr file' lines on x86
        warnings.simplefilter("ignore")  # the module warns on import that its API is experimental
        from executorch.extension.pybindings import portable_lib

        if portable_lib._threadpool_get_thread_count() != wanted:
            for model in list(_LOADED):
                model.release()
            portable_lib._unsafe_reset_threadpool(wanted)
    return wanted


class PteModel:
    """Every method of a .pte exported by mobilecomp (``seqN``: inputs of shape [1, N])."""

    def __init__(self, path: Path | str, threads: int = 0) -> None:
        self.path = Path(path)
        self.threads = set_threads(threads)
        self.load()
        _LOADED.add(self)

    def release(self) -> None:
        """Drop the loaded program (before the thread pool it runs on is replaced)."""
        self.methods = None

    def load(self) -> None:
        """Load the program and its methods on the current thread pool."""
        from ..errors import ToolchainError, first_line

        try:
            with quiet():
                import executorch.kernels.quantized  # noqa: F401 - registers embedding_byte (int8 tables)
                from executorch.runtime import Runtime, Verification

                program = Runtime.get().load_program(str(self.path), verification=Verification.Minimal)
                self.methods = {name: program.load_method(name) for name in sorted(program.method_names)}
        except (ValueError, RuntimeError) as exc:
            raise ToolchainError(f"{self.path}: does not load in the ExecuTorch runtime ({first_line(exc)}); "
                                 "re-export it") from None
        self.lengths = {}
        for name, method in self.methods.items():
            shape = tuple(method.metadata.input_tensor_meta(0).sizes())
            if len(shape) != 2 or shape[0] != 1:
                raise ToolchainError(f"{self.path.name}: method '{name}' input_ids has shape {list(shape)}, "
                                     "expected [1, seq_len]; re-export it")
            self.lengths[name] = int(shape[1])
        self.inputs = {name: method.metadata.num_inputs() for name, method in self.methods.items()}

    def method_for(self, length: int) -> str:
        """The shortest method that holds ``length`` tokens."""
        return bucket_for(self.lengths, length, self.path.name, "method")

    def run_one(self, row: Feed, input_names: tuple[str, ...], method: str | None = None) -> list[np.ndarray]:
        """Outputs for one example (arrays of shape (1, L)), padded to the method's length and cut back."""
        import torch

        if self.methods is None:  # released when another thread count replaced the pool: load again on ours
            set_threads(self.threads)
            self.load()
        length = int(row["input_ids"].shape[1])
        name = method or self.method_for(length)
        args = padded(row, self.lengths[name], dict.fromkeys(input_names[:self.inputs[name]], np.int64))
        out = self.methods[name].execute([torch.from_numpy(v) for v in args.values()])
        return [v.numpy()[:, :length] if v.dim() == 3 else v.numpy() for v in out]

    def run(self, feed: Feed, input_names: tuple[str, ...]) -> list[np.ndarray]:
        """Outputs for a batch, one example at a time (the methods take batch 1), in output order."""
        rows = [self.run_one({k: v[i:i + 1] for k, v in feed.items()}, input_names)
                for i in range(len(feed["input_ids"]))]
        return [np.concatenate([r[j] for r in rows]).astype(np.float32) for j in range(len(rows[0]))]


def lint_pte(path: Path) -> dict[str, Any]:
    """What the file runs outside the XNNPACK delegate: the mobile lint of a .pte. Counts come from
    the program's instruction chains (each KernelCall is one portable-kernel op executed per call),
    per method; ``portable_ops`` sums them over the methods' shared op names."""
    from executorch.exir._serialize._program import deserialize_pte_binary

    with quiet():
        pte = deserialize_pte_binary(Path(path).read_bytes())
    program = getattr(pte, "program", pte)
    methods = {}
    for plan in program.execution_plan:
        kernels, delegates = Counter(), Counter()
        for chain in plan.chains:
            for instruction in chain.instructions:
                args = instruction.instr_args
                if hasattr(args, "op_index"):
                    kernels[plan.operators[args.op_index].name] += 1
                elif hasattr(args, "delegate_index"):
                    delegates[plan.delegates[args.delegate_index].id] += 1
        methods[plan.name] = {"delegate_calls": dict(delegates), "portable_ops": dict(sorted(kernels.items()))}
    first = methods[min(methods)] if methods else {"delegate_calls": {}, "portable_ops": {}}
    return {"methods": sorted(methods), "delegate_calls": first["delegate_calls"],
            "portable_ops": first["portable_ops"],
            "outside_delegate": sum(first["portable_ops"].values()),
            "verdict": "pass" if first["delegate_calls"].get(XNNPACK) else "FAIL: nothing runs in XNNPACK",
            "op_types": {**{f"delegate.{k}": v for k, v in first["delegate_calls"].items()},
                         **first["portable_ops"]}}


def xnnpack_subgraphs(path: Path) -> list[dict[str, Any]]:
    """The XNNPACK subgraphs (XNNGraph tables as dicts) of the program's first method: every method
    holds the same weights. The delegate payloads are opaque to the Program, so each is decoded with
    the flatc and the schema the executorch package ships."""
    import json
    import re
    import tempfile
    from importlib.resources import files

    with quiet():  # importing executorch.exir loads torchao, which prints about its CUDA-only kernels
        from executorch.backends.xnnpack.serialization.xnnpack_graph_serialize import XNNHeader
        from executorch.exir._serialize._flatbuffer import _flatc_decompile
        from executorch.exir._serialize._program import deserialize_pte_binary

        program = deserialize_pte_binary(Path(path).read_bytes()).program
    schema = files("executorch.backends.xnnpack.serialization").joinpath("schema.fbs")
    plan = min(program.execution_plan, key=lambda p: p.name)
    graphs = []
    with tempfile.TemporaryDirectory(prefix="mobilecomp-xnn-") as tmp:
        for delegate in plan.delegates:
            if delegate.id != XNNPACK:
                continue
            blob = program.backend_delegate_data[delegate.processed.index].data
            header = XNNHeader.from_bytes(blob[:XNNHeader.EXPECTED_LENGTH])
            binary = Path(tmp) / "graph.bin"
            binary.write_bytes(blob[header.flatbuffer_offset:header.flatbuffer_offset + header.flatbuffer_size])
            _flatc_decompile(tmp, str(schema), str(binary), ["--raw-binary"])
            text = (Path(tmp) / "graph.json").read_bytes()
            # flatc writes clamp bounds as bare inf, which JSON spells Infinity
            graphs.append(json.loads(re.sub(rb"(?<=[\s:\[,-])inf\b", b"Infinity", text)))
    return graphs
