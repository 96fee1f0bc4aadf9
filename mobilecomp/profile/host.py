"""Host CPU latency of every artefact with its own runtime, interleaved so drift hits all alike.

Every (threads, artefact) configuration is a session of its own, all alive at once and timed
round-robin, one call each per round, so a slow spell of a shared machine hits every row alike and
1- and N-thread rows are comparable. onnxruntime's multi-thread pools would keep spinning after
each call and take a core from the session timed next (docs/threads.md measured a 2-thread TFLite
call at 2.2x its time when it followed a spinning one): they run with spinning off, and the
row's ``extra.timing`` says so.
"""

from __future__ import annotations

import platform
import time
from datetime import datetime, timezone
from pathlib import Path

from ..bundle import read_inputs
from ..runtime.cpu import cpu_count
from ..runtime.ort import EXACT_INT8, NO_SPINNING, onnx_session, run_onnx
from ..types import DeviceInfo, Latency, ProfileRow
from . import ProfileOptions, selected, unjudged


def host_device() -> DeviceInfo:
    """This CPU, with the int8 facts that shaped its numbers (flags, onnxruntime's kernel, saturation)."""
    from ..runtime.numerics import host_int8

    int8 = host_int8()
    return DeviceInfo(name="host", kind="host", cpu=int8.cpu, cores=cpu_count(), os=platform.platform(),
                      extra={"isa": list(int8.flags), "machine": int8.machine, "int8": int8.to_dict()})


class OnnxRuntimeRunner:
    """Times the session a deployment on this CPU should use: onnxruntime's default where its int8
    kernels are exact, the exact mode (EXACT_INT8) where they saturate."""

    name = "onnxruntime"

    def __init__(self, path: Path, threads: int, feed: dict, exact: bool | None = None,
                 spinning: bool | None = None) -> None:
        import onnxruntime as ort

        from ..runtime.numerics import exact_mode_needed

        self.version = ort.__version__
        self.exact = exact_mode_needed() if exact is None else exact
        # None: off for a multi-thread session (it would spin into the next session's time)
        self.spinning = threads == 1 if spinning is None else spinning
        self.config = {} if self.spinning or threads == 1 else dict(NO_SPINNING)
        self.session = onnx_session(path, threads, exact=self.exact, config=self.config)
        wanted = {i.name for i in self.session.get_inputs()}
        self.feed = {k: v for k, v in feed.items() if k in wanted}

    def __call__(self) -> None:
        self.session.run(None, self.feed)

    def describe(self) -> dict:
        from ..runtime.numerics import host_int8

        return {"name": self.name, "version": self.version, "provider": "CPUExecutionProvider",
                "session_config": {**(EXACT_INT8 if self.exact else {}), **self.config},
                "int8_kernel": host_int8().u8s8_kernel}


class LiteRTRunner:
    name = "ai-edge-litert"

    def __init__(self, path: Path, threads: int, feed: dict) -> None:
        from ..runtime.litert import TFLiteModel, runtime_version

        self.version = runtime_version()
        self.model = TFLiteModel(path, threads)
        self.signature = self.model.signature_for(int(feed["input_ids"].shape[1]))
        self.feed = feed

    def __call__(self) -> None:
        self.model.run_one(self.feed, self.signature)

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version, "delegate": "XNNPACK (LiteRT default CPU)",
                "signature": self.signature}


class ExecuTorchRunner:
    """The ExecuTorch runtime's one thread pool is process-wide: a call whose thread count differs
    from the previous call's resizes it first, outside the timed call (``prepare``)."""

    name = "executorch"

    def __init__(self, path: Path, threads: int, feed: dict) -> None:
        from ..load.architectures import BERT_INPUTS
        from ..runtime.pte import PteModel, runtime_version

        self.version = runtime_version()
        self.model = PteModel(path, threads)
        self.threads = self.model.threads
        self.method = self.model.method_for(int(feed["input_ids"].shape[1]))
        self.inputs = tuple(k for k in BERT_INPUTS if k in feed)
        self.feed = feed

    def prepare(self) -> None:
        from ..runtime.pte import set_threads

        set_threads(self.threads)  # a no-op when the pool has this size already
        if self.model.methods is None:  # released when the pool was resized for another runner's call
            self.model.load()

    def __call__(self) -> None:
        self.model.run_one(self.feed, self.inputs, self.method)

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version, "delegate": "XNNPACK (ExecuTorch backend)",
                "method": self.method}


# format -> runner class taking (path, threads, feed)
HOST_RUNNERS = {"onnx": OnnxRuntimeRunner, "tflite": LiteRTRunner, "executorch": ExecuTorchRunner}


def default_session_check(bundle: Path, manifest: dict, art: dict) -> dict | None:
    """Parity of onnxruntime's default session on this CPU (whose int8 kernel saturates), on the
    export gate's own batches: the number a user who deploys with default options gets (None where
    the stored reference cannot judge the artefact: a DeFormer's passage graph and undecomposed baseline)."""
    from ..verify import device_parity, stored_feeds

    if unjudged(manifest, art) is not None:
        return None
    feeds = stored_feeds(bundle)
    candidate = run_onnx(onnx_session(bundle / art["file"], threads=0, exact=False), feeds,
                         manifest["model"]["primary_output"])
    return device_parity(bundle, manifest, art, candidate, list(range(len(candidate))),
                         "the export gate's batches, onnxruntime default session")


def profile_host(bundle: Path, manifest: dict, options: ProfileOptions) -> list[ProfileRow]:
    from ..runtime.numerics import runs_int8_kernels

    device = host_device()
    saturates = device.extra["int8"]["default_session_saturates"]
    feed = read_inputs(bundle, "profile.npz")
    seq_len = int(feed["input_ids"].shape[1])
    artefacts = [a for a in selected(manifest, options) if a["format"] in HOST_RUNNERS]
    # Where the default session saturates, int8 artefacts are timed exact and their default
    # session is timed beside them, with its own parity: both numbers, never a silent one.
    fast_path = [a for a in artefacts if saturates and a["format"] == "onnx" and runs_int8_kernels(a["op_types"])]
    checks = {a["name"]: default_session_check(bundle, manifest, a) for a in fast_path}
    threads_list = options.threads or tuple(dict.fromkeys((1, device.cores)))
    configs = [(t, a, HOST_RUNNERS[a["format"]](bundle / a["file"], t, feed)) for t in threads_list for a in artefacts]
    configs += [(t, a, OnnxRuntimeRunner(bundle / a["file"], t, feed, exact=False))
                for t in threads_list for a in fast_path]
    wall, cpu = interleaved([run for _, _, run in configs], options.runs, options.warmup)
    timing = {"schedule": "round-robin, one call of each configuration per round", "configurations": len(configs),
              "threads_interleaved": list(threads_list),
              "onnxruntime_spinning": "off for multi-thread sessions (session.intra_op.allow_spinning=0)"}
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    main = len(threads_list) * len(artefacts)
    fast_ms = {(t, a["name"]): Latency(w).summary() for (t, a, _), w in zip(configs[main:], wall[main:])}
    rows = []
    for (threads, art, run), w, c in zip(configs[:main], wall, cpu):
        extra = {"timing": timing}
        if art["name"] in checks:  # the kernel that makes it inexact is the row's runner.int8_kernel
            extra["default_session"] = {
                "latency_ms": {k: fast_ms[threads, art["name"]][k] for k in ("p50", "mean", "n")},
                "parity": checks[art["name"]]}
        rows.append(ProfileRow(
            artefact=art["name"], artefact_sha256=art["sha256"], model=manifest["recipe"]["name"],
            variant=art["variant"], device="host", provenance="measured-host", threads=threads,
            seq_len=seq_len, batch=int(feed["input_ids"].shape[0]), latency_ms=Latency(w),
            cpu_ms=Latency(c), device_info=device, runner=run.describe(),
            label=manifest["checkpoint"].get("label"), timestamp=stamp, extra=extra))
    return rows


def interleaved(calls: list, runs: int, warmup: int) -> tuple[list[list[float]], list[list[float]]]:
    """(wall ms, process CPU ms) per call: warm-up, then ``runs`` rounds of one call each in turn."""
    for call in calls:
        for _ in range(warmup):
            getattr(call, "prepare", lambda: None)()
            call()
    wall: list[list[float]] = [[] for _ in calls]
    cpu: list[list[float]] = [[] for _ in calls]
    for _ in range(runs):  # round-robin: a slow spell of the machine hits every configuration
        for i, call in enumerate(calls):
            getattr(call, "prepare", lambda: None)()  # untimed set-up a runtime needs before each call
            c0, t0 = time.process_time(), time.perf_counter()
            call()
            wall[i].append((time.perf_counter() - t0) * 1e3)
            cpu[i].append((time.process_time() - c0) * 1e3)
    return wall, cpu
