"""Reads the documented text output of TFLite's benchmark_model, onnxruntime_perf_test and
ExecuTorch's executor_runner.

Both parsers return milliseconds whatever unit the tool printed (benchmark_model: microseconds,
perf_test: seconds and milliseconds), under one set of keys: ``n``, ``mean``, ``min``, ``max``,
``std``, ``p5``, ``p50``, ``p90``, ``p95``, ``p99``, ``p999``, ``first``, ``init``, ``warmup``,
``peak_mb``, and ``samples`` where the tool printed every run (mobilecomp's ort-runner does).
"""

from __future__ import annotations

import re

NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


class ParseError(ValueError):
    """The text holds none of the lines the tool documents."""


def _f(text: str) -> float:
    return float(text)


def parse_benchmark_model(text: str) -> dict:
    """TFLite benchmark_model: the last ``count=`` line is the timed run (the first the warm-up)."""
    stats: dict = {}
    counts = [m for m in re.finditer(rf"count=(\d+)((?:[ \t]+\w+={NUM})+)", text)]
    if counts:
        last = counts[-1]
        fields = dict(re.findall(rf"(\w+)=({NUM})", last.group(2)))
        stats["n"] = int(last.group(1))
        for src, dst in (("first", "first"), ("min", "min"), ("max", "max"), ("avg", "mean"),
                         ("std", "std"), ("p5", "p5"), ("median", "p50"), ("p95", "p95"),
                         ("curr", "last")):
            if src in fields:
                stats[dst] = _f(fields[src]) / 1e3
        if len(counts) > 1:
            warm = dict(re.findall(rf"(\w+)=({NUM})", counts[0].group(2)))
            stats["warmup_n"] = int(counts[0].group(1))
            if "avg" in warm:
                stats["warmup"] = _f(warm["avg"]) / 1e3
    m = re.search(rf"Inference timings in us:\s*Init:\s*({NUM}),\s*First inference:\s*({NUM}),"
                  rf"\s*Warmup \(avg\):\s*({NUM}),\s*Inference \(avg\):\s*({NUM})", text)
    if m:
        stats["init"], stats["first"], stats["warmup"] = (_f(g) / 1e3 for g in m.groups()[:3])
        stats.setdefault("mean", _f(m.group(4)) / 1e3)
    m = re.search(rf"Memory footprint delta from the start of the tool \(MB\):\s*init=({NUM})\s+overall=({NUM})", text)
    if m:
        stats["mem_init_mb"], stats["mem_overall_mb"] = _f(m.group(1)), _f(m.group(2))
    m = re.search(rf"Peak memory footprint \(MB\):\s*({NUM})", text)
    if m:
        stats["peak_mb"] = _f(m.group(1))
    # the signature it ran: the parameter line (printed when the flag is given) and, in builds
    # that print it, the one it picked
    m = re.search(r"Signature to run:\s*\[([^\]]*)\]", text)
    if m:
        stats["signature"] = m.group(1).strip()
    m = re.search(r"Using signature:\s*(\S+)", text)
    if m:
        stats["signature_used"] = m.group(1).strip()
    if "mean" not in stats:
        raise ParseError("no 'count=... avg=...' or 'Inference timings in us' line in benchmark_model output")
    return stats


_PERF_LINES = {  # perf_test line -> (key, factor to ms)
    "Session creation time cost": ("init", 1e3),  # seconds
    "First inference time cost": ("first", 1.0),  # ms
    "Total inference requests": ("n", None),
    "Average inference time cost total": ("mean", 1.0),  # newer builds
    "Average inference time cost": ("mean", 1.0),
    "Average time cost": ("mean", 1.0),  # older builds
    "Total inference time cost": ("total_s", None),
    "Number of inferences per second": ("ips", None),
}


def parse_perf_test(text: str) -> dict:
    """onnxruntime_perf_test (and ort-runner, which prints the same lines plus every sample)."""
    stats: dict = {}
    for line in text.splitlines():
        line = line.strip()
        m = re.match(rf"^([A-Za-z][A-Za-z0-9 /]*?):\s*({NUM})\s*(s|ms|us|bytes|%)?\s*$", line)
        if not m:
            m2 = re.match(r"^mobilecomp latencies \(ms\):\s*(.*)$", line)
            if m2:
                stats["samples"] = [float(x) for x in m2.group(1).split()]
            m3 = re.match(r"^onnxruntime version:\s*(\S+)", line)
            if m3:
                stats["version"] = m3.group(1)
            continue
        label, value, unit = m.group(1), _f(m.group(2)), m.group(3)
        lat = re.match(r"^(Min|Max|P50|P90|P95|P99|P999) Latency$", label)
        if lat:
            stats[lat.group(1).lower()] = value * {"s": 1e3, "ms": 1.0, "us": 1e-3}.get(unit or "s", 1e3)
        elif label == "Peak working set size":
            stats["peak_mb"] = value / (1024 * 1024)
        elif label in _PERF_LINES:
            key, factor = _PERF_LINES[label]
            if key == "mean" and "mean" in stats:
                continue  # "total" spelling first wins over a later plain one
            if key == "n":
                stats["n"] = int(value)
            elif factor is None:
                stats[key] = value
            else:
                unit_ms = {"s": 1e3, "ms": 1.0, "us": 1e-3}.get(unit, None)
                stats[key] = value * (unit_ms if unit_ms is not None else factor)
    if "mean" not in stats:
        raise ParseError("no 'Average inference time cost' (or 'Average time cost') line in perf_test output")
    return stats


def summary(samples: list[float]) -> dict:
    """The summary keys of every parser from per-run latencies (ms), by the rows' own definitions
    (:class:`mobilecomp.types.Latency`)."""
    from ...types import Latency

    latency = Latency(list(samples))
    return {"n": len(samples), "samples": list(samples), "mean": latency.mean, "min": min(samples),
            "max": max(samples), "std": latency.stdev, **{f"p{q}": latency.percentile(q) for q in (5, 50, 90, 95, 99)}}


def parse_executor_runner(text: str) -> dict:
    """ExecuTorch's executor_runner: its "Iteration i of N: X ms" log lines, warm-up runs included
    (it has no warm-up flag; :func:`without_warmup` drops them), and the method it ran."""
    samples = [float(m.group(3)) for m in re.finditer(rf"Iteration (\d+) of (\d+): ({NUM}) ms", text)]
    if not samples:
        raise ParseError("no 'Iteration i of N: X ms' line in executor_runner output (a build without "
                         "EXECUTORCH_ENABLE_LOGGING prints none)")
    stats = summary(samples)
    m = re.search(r"Using method (\S+)", text)
    if m:
        stats["signature_used"] = m.group(1)
    return stats


def without_warmup(stats: dict, warmup: int) -> dict:
    """``stats`` over the runs after the first ``warmup`` (the first run is kept as ``first``)."""
    samples = stats["samples"]
    if warmup <= 0 or len(samples) <= warmup:
        return stats
    return {**stats, **summary(samples[warmup:]), "first": samples[0], "warmup_n": warmup,
            "warmup": summary(samples[:warmup])["mean"]}
