"""Host CPU latency of every artefact with its own runtime, interleaved so drift hits all alike."""

from __future__ import annotations

import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..runners import cpu_count, onnx_session
from ..types import DeviceInfo, Latency, ProfileRow
from . import ProfileOptions, selected


def host_device() -> DeviceInfo:
    cpu, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not cpu:
                cpu = value.strip()
            elif key.strip() in ("flags", "Features") and not flags:
                flags = set(value.split())
    except OSError:
        pass
    isa = sorted(flags & {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm", "sve"})
    return DeviceInfo(name="host", kind="host", cpu=cpu or platform.processor() or platform.machine(),
                      cores=cpu_count(), os=platform.platform(), extra={"isa": isa, "machine": platform.machine()})


class OnnxRuntimeRunner:
    name = "onnxruntime"

    def __init__(self, path: Path, threads: int, feed: dict) -> None:
        import onnxruntime as ort

        self.version = ort.__version__
        self.session = onnx_session(path, threads)
        wanted = {i.name for i in self.session.get_inputs()}
        self.feed = {k: v for k, v in feed.items() if k in wanted}

    def __call__(self) -> None:
        self.session.run(None, self.feed)

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version, "provider": "CPUExecutionProvider"}


class LiteRTRunner:
    name = "ai-edge-litert"

    def __init__(self, path: Path, threads: int, feed: dict) -> None:
        from ..litert import TFLiteModel, runtime_version

        self.version = runtime_version()
        self.model = TFLiteModel(path, threads)
        self.signature = self.model.signature_for(int(feed["input_ids"].shape[1]))
        self.feed = feed

    def __call__(self) -> None:
        self.model.run_one(self.feed, self.signature)

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version, "delegate": "XNNPACK (LiteRT default CPU)",
                "signature": self.signature}


# format -> runner class taking (path, threads, feed)
HOST_RUNNERS = {"onnx": OnnxRuntimeRunner, "tflite": LiteRTRunner}


def profile_host(bundle: Path, manifest: dict, options: ProfileOptions) -> list[ProfileRow]:
    device = host_device()
    with np.load(bundle / "inputs" / "profile.npz") as data:
        feed = {k: data[k] for k in data.files}
    seq_len = int(feed["input_ids"].shape[1])
    artefacts = [a for a in selected(manifest, options) if a["format"] in HOST_RUNNERS]
    threads_list = options.threads or tuple(dict.fromkeys((1, device.cores)))
    rows = []
    for threads in threads_list:
        runners = [HOST_RUNNERS[a["format"]](bundle / a["file"], threads, feed) for a in artefacts]
        for run in runners:
            for _ in range(options.warmup):
                run()
        wall = [[] for _ in runners]
        cpu = [[] for _ in runners]
        for _ in range(options.runs):  # round-robin: a slow spell of the machine hits every artefact
            for i, run in enumerate(runners):
                c0, t0 = time.process_time(), time.perf_counter()
                run()
                wall[i].append((time.perf_counter() - t0) * 1e3)
                cpu[i].append((time.process_time() - c0) * 1e3)
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for art, run, w, c in zip(artefacts, runners, wall, cpu):
            rows.append(ProfileRow(
                artefact=art["name"], artefact_sha256=art["sha256"], model=manifest["recipe"]["name"],
                variant=art["variant"], device="host", provenance="measured-host", threads=threads,
                seq_len=seq_len, batch=int(feed["input_ids"].shape[0]), latency_ms=Latency(w),
                cpu_ms=Latency(c), device_info=device, runner=run.describe(),
                label=manifest["checkpoint"].get("label"), timestamp=stamp))
    return rows
