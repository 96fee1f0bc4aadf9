"""Runs a fixed-length .tflite with ai-edge-litert: picks the signature by length, pads, loops per example."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..inputs import Feed

RUNTIME = "ai-edge-litert"


@contextlib.contextmanager
def quiet():
    """Send the toolchain's native logging and progress bars (fd 1 and 2) to a temporary file;
    yields a function returning the captured text's tail, for error messages."""
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+b") as log:
        saved = [os.dup(1), os.dup(2)]
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)

        def tail() -> str:
            log.seek(0)
            lines = [ln for ln in log.read().decode(errors="replace").splitlines() if ln.strip()]
            return " | ".join(lines[-3:])[-400:]

        try:
            yield tail
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def import_quietly(module: str = "litert_torch"):
    """A toolchain module imported with its import-time chatter (torchao's missing CUDA
    kernels, torch's pytree deprecation notices) kept off the user's terminal. SIGINT and SIGTERM
    are held until the import ends and then raised: native library loaders can swallow an
    interrupt that lands inside them, and a Ctrl-C must never be lost."""
    import importlib
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        with quiet():
            return importlib.import_module(module)
    held: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: held.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with quiet():
            return importlib.import_module(module)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if held:
            raise KeyboardInterrupt(held[0])


def runtime_version() -> str:
    from importlib.metadata import version

    return version(RUNTIME)


PER_TOKEN_2D = ("start_logits", "end_logits")  # question answering: one number per token (batch, sequence)


class TFLiteModel:
    """One interpreter over every signature of a .tflite; ``threads`` 0 means all cores."""

    def __init__(self, path: Path | str, threads: int = 0) -> None:
        from ai_edge_litert.interpreter import Interpreter

        from .cpu import cpu_count

        self.path = Path(path)
        self.threads = threads or cpu_count()
        try:
            with quiet():
                self.interpreter = Interpreter(model_path=str(self.path), num_threads=self.threads)
        except (ValueError, RuntimeError) as exc:
            from ..errors import ToolchainError, first_line

            raise ToolchainError(f"{self.path}: does not load in ai-edge-litert ({first_line(exc)}); "
                                 "re-export it") from None
        self.runners, self.lengths, self.dtypes = {}, {}, {}
        for name in self.interpreter.get_signature_list():
            runner = self.interpreter.get_signature_runner(name)
            inputs = runner.get_input_details()
            shape = inputs["input_ids"]["shape"]
            if len(shape) != 2 or shape[0] != 1:
                raise ValueError(f"{self.path.name}: signature '{name}' input_ids has shape {list(shape)}, "
                                 "expected [1, seq_len]")
            self.runners[name] = runner
            self.lengths[name] = int(shape[1])
            self.dtypes[name] = {k: v["dtype"] for k, v in inputs.items()}
        self.fresh = set(self.runners)

    def signature_for(self, length: int) -> str:
        """The shortest signature that holds ``length`` tokens."""
        from .buckets import bucket_for

        return bucket_for(self.lengths, length, self.path.name, "signature")

    def padded(self, row: Feed, signature: str) -> dict[str, np.ndarray]:
        """One example's inputs, padded to the signature's length in its dtypes."""
        from .buckets import padded

        return padded(row, self.lengths[signature], self.dtypes[signature])

    def run_one(self, row: Feed, signature: str | None = None) -> dict[str, np.ndarray]:
        """Outputs for one example (arrays of shape (1, L) with L <= the signature's length)."""
        length = int(row["input_ids"].shape[1])
        name = signature or self.signature_for(length)
        if name in self.fresh:  # LiteRT prints a line when a signature's first call applies XNNPACK
            self.fresh.discard(name)
            with quiet():
                out = self.runners[name](**self.padded(row, name))
        else:
            out = self.runners[name](**self.padded(row, name))
        return {k: (v[:, :length] if v.ndim == 3 or k in PER_TOKEN_2D else v) for k, v in out.items()}

    def run(self, feed: Feed, names: tuple[str, ...]) -> list[np.ndarray]:
        """Outputs for a variable-length batch, cut back to the batch's shape."""
        parts: dict[str, list[np.ndarray]] = {n: [] for n in names}
        for i in range(feed["attention_mask"].shape[0]):
            row = example(feed, i)
            used = int(row["input_ids"].shape[1])
            out = self.run_one(row)
            for n in names:
                value = out[n]
                if value.ndim == 3 or n in PER_TOKEN_2D:  # per-token outputs: back to the batch's padded length
                    full = np.zeros((1, feed["input_ids"].shape[1], *value.shape[2:]), dtype=np.float32)
                    full[:, :used] = value
                    value = full
                parts[n].append(value.astype(np.float32))
        return [np.concatenate(parts[n]) for n in names]


def example(feed: Feed, i: int) -> Feed:
    """Row ``i`` of a right-padded batch, cut to its real tokens (a bucket only needs those)."""
    used = max(int(feed["attention_mask"][i].sum()), 1)
    return {k: v[i:i + 1, :used] for k, v in feed.items()}
