"""Runs an ONNX file with onnxruntime on a list of feeds (used by quantise sweeps, verify and host profiling)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np

from ..inputs import Feed
from .cpu import cpu_count
from .numerics import EXACT_INT8, exact_mode_needed


# A multi-thread session's pool spins after each run by default, holding a core that the next
# session timed in the same process needs: host profiling turns it off (docs/threads.md).
NO_SPINNING = {"session.intra_op.allow_spinning": "0"}


def onnx_session(path, threads: int = 0, exact: bool | None = None, config: dict[str, str] | None = None):
    """An onnxruntime CPU session of a file or an in-memory ModelProto; ``threads`` 0 means all cores.

    ``config``: more session config entries (NO_SPINNING). ``exact`` None (the default, for every
    session that judges or times an artefact): int8 products
    are exact integer math, as on a phone, the fastest way this host allows: onnxruntime's default
    session where the saturation probe finds it exact, EXACT_INT8 where it does not
    (numerics.exact_mode_needed). True or False forces exact mode or the default session.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    if exact is None:
        exact = exact_mode_needed()
    for key, value in {**(EXACT_INT8 if exact else {}), **(config or {})}.items():
        opts.add_session_config_entry(key, value)
    model = path.SerializeToString() if hasattr(path, "SerializeToString") else str(path)
    try:
        return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime's pybind errors share no base class but Exception
        from ..errors import ToolchainError, first_line

        where = path if isinstance(model, str) else "an in-memory ONNX model"
        raise ToolchainError(f"{where}: does not load in onnxruntime ({first_line(exc)}); re-export it") from None


def run_onnx(session, feeds: list[Feed], output: str) -> np.ndarray:
    """``output`` for every feed, rows concatenated (sentence-level outputs only)."""
    wanted = {i.name for i in session.get_inputs()}
    parts = [session.run([output], {k: v for k, v in feed.items() if k in wanted})[0] for feed in feeds]
    return np.concatenate(parts, axis=0)



def interleaved_median_ms(calls: list[Callable[[], object]], runs: int = 10) -> list[float]:
    """Median ms of each call, round-robin in one process after a warm-up round (drift hits all alike)."""
    for call in calls:
        call()
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(runs):
        for call, bucket in zip(calls, times):
            t0 = time.perf_counter()
            call()
            bucket.append((time.perf_counter() - t0) * 1e3)
    return [float(np.median(t)) for t in times]
