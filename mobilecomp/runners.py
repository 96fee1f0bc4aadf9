"""Runs an ONNX file with onnxruntime on a list of feeds (used by quantise sweeps, verify and host profiling)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np

from .inputs import Feed


def onnx_session(path, threads: int = 0):
    """An onnxruntime CPU session of a file or an in-memory ModelProto; ``threads`` 0 means all cores."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    model = path.SerializeToString() if hasattr(path, "SerializeToString") else str(path)
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def run_onnx(session, feeds: list[Feed], output: str) -> np.ndarray:
    """``output`` for every feed, rows concatenated (sentence-level outputs only)."""
    wanted = {i.name for i in session.get_inputs()}
    parts = [session.run([output], {k: v for k, v in feed.items() if k in wanted})[0] for feed in feeds]
    return np.concatenate(parts, axis=0)


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


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
