"""Emulated-ARM device backend: the real aarch64 onnxruntime, LiteRT and ExecuTorch runtimes under
qemu-user, parity-checked, counted, estimated.

Device string ``emulated-arm:PROFILE`` (a devices/*.yaml). Per artefact one guest process (in the
sysroot whose runtime runs its format: setup.guest_for) runs the parity sentences and then warm-up
plus counted inferences (single-threaded, between markers the plugin watches). The latency is an estimate from the median counts, the
artefact's matrix weights and the per-core model fitted on published CPU figures (model.py,
docs/emulated-arm.md); every row says so (provenance ``estimated-emulated-arm``).
"""

from __future__ import annotations

import sys
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

from ...bundle import read_inputs, read_manifest
from ...devices import DeviceProfile, device_paths, load_device
from ...errors import ConfigError, DeviceError
from ...types import DeviceInfo, Latency, ProfileRow
from ...verify import device_parity, per_token_width
from .. import ProfileOptions, selected, unjudged
from .model import CORES, FIT_FILE, PHONE_RUNTIME, Params, Workload, fitted_params, gemm_weight_bytes
from .model import estimate_ms as core_estimate_ms

PROVENANCE = "estimated-emulated-arm"
COUNTED_RUNS = 3  # counts repeat within 0.002%: three runs and their median are plenty
WARMUP_RUNS = 1
PARITY_SENTENCES = 32  # spread evenly over the bundle's parity set (a full set takes minutes per model)


def parse_device(device: str) -> DeviceProfile:
    name = device.split(":", 1)[1] if ":" in device else ""
    if not name:
        raise ConfigError(f"'{device}' names no phone profile: use emulated-arm:PROFILE "
                          f"(known: {', '.join(device_paths())})")
    return load_device(name)


def estimate_ms(classes: dict[str, int], profile: DeviceProfile, threads: int, weight_bytes: float = 0.0,
                params: Params | None = None) -> float:
    """Latency on the phone's big cores from single-thread instruction counts and the weights the
    matrix multiplies read: the per-core model (model.py) with the fitted parameters."""
    params = params or fitted_params()
    return core_estimate_ms(Workload(classes, weight_bytes), profile, big_core(profile), threads, PHONE_RUNTIME,
                            params)


def big_core(profile: DeviceProfile) -> str:
    return profile.clusters[0].core


def _device_info(device: str, profile: DeviceProfile, tc, params: Params) -> DeviceInfo:
    cores = sum(c.count for c in profile.clusters)
    big = profile.clusters[0]
    return DeviceInfo(
        name=device, kind="emulated-arm",
        cpu=f"{big.core} x{big.count} @ {big.max_ghz} GHz (estimated from qemu -cpu {profile.qemu_cpu})",
        cores=cores, os=f"Linux aarch64 (Debian {tc.guest.suite} sysroot under qemu-user)",
        manufacturer=profile.manufacturer, model=profile.model, soc=profile.soc,
        extra={"qemu_cpu": profile.qemu_cpu, "qemu": tc.qemu_version, "profile": profile.name,
               "clusters": [vars(c) for c in profile.clusters], "latency_model": {
                   "core": big_core(profile), "cpi": CORES[big_core(profile)][0],
                   "stall": params.stall[big_core(profile)], "runtime": PHONE_RUNTIME,
                   "runtime_factor": params.runtime[PHONE_RUNTIME], "thread_efficiency": params.thread_efficiency,
                   "dram_gbps": profile.dram_gbps, "fit": str(FIT_FILE.relative_to(FIT_FILE.parent.parent))}})


def _onnx_job(bundle: Path, art: dict, indices: list[int]) -> tuple[dict, dict, dict]:
    """(job, feeds, runner fields) for an ONNX artefact: the guest cuts the parity rows itself."""
    job = {"format": "onnx", "model": str((bundle / art["file"]).resolve()),
           "parity": str((bundle / "inputs" / "parity.npz").resolve()), "indices": indices,
           "profile": str((bundle / "inputs" / "profile.npz").resolve())}
    return job, {}, {"build": "PyPI manylinux_2_28_aarch64 wheel"}


def _tflite_job(bundle: Path, art: dict, indices: list[int]) -> tuple[dict, dict, dict]:
    """(job, feeds, runner fields) for a .tflite: signatures are picked and inputs padded here,
    as the host's LiteRT runner does, so the guest only calls the signature runners."""
    from ...runtime.litert import TFLiteModel, example

    try:
        model = TFLiteModel(bundle / art["file"], threads=1)
    except ModuleNotFoundError:
        raise DeviceError(f"{art['file']}: picking its signatures needs ai-edge-litert on the host; "
                          "install it with scripts/setup.d/15-litert.sh") from None
    parity = read_inputs(bundle, "parity.npz")
    rows, arrays = [], {}
    for k, i in enumerate(indices):
        row = example(parity, i)
        length = int(row["input_ids"].shape[1])
        signature = model.signature_for(length)
        rows.append([signature, length])
        arrays.update({f"{k}.{name}": value for name, value in model.padded(row, signature).items()})
    feed = read_inputs(bundle, "profile.npz")
    signature = model.signature_for(int(feed["input_ids"].shape[1]))
    job = {"format": "tflite", "model": str((bundle / art["file"]).resolve()), "parity_rows": rows,
           "profile_signature": signature}
    feeds = {"parity": arrays, "profile": model.padded(feed, signature)}
    return job, feeds, {"build": "PyPI manylinux_2_27_aarch64 wheel", "signature": signature}


def _executorch_job(bundle: Path, art: dict, indices: list[int]) -> tuple[dict, dict, dict]:
    """(job, feeds, runner fields) for a .pte: methods are picked and inputs padded here (int64, in
    BERT_INPUTS order), as the host's ExecuTorch runner does, so the guest only calls the methods."""
    import numpy as np

    from ...load.architectures import BERT_INPUTS
    from ...runtime.buckets import bucket_for, padded
    from ...runtime.litert import example

    lengths = art["details"]["methods"]
    parity = read_inputs(bundle, "parity.npz")
    names = [k for k in BERT_INPUTS if k in parity]
    dtypes = dict.fromkeys(names, np.int64)
    rows, arrays = [], {}
    for k, i in enumerate(indices):
        row = example(parity, i)
        length = int(row["input_ids"].shape[1])
        method = bucket_for(lengths, length, art["file"], "method")
        rows.append([method, length])
        arrays.update({f"{k}.{name}": value for name, value in padded(row, lengths[method], dtypes).items()})
    feed = read_inputs(bundle, "profile.npz")
    method = bucket_for(lengths, int(feed["input_ids"].shape[1]), art["file"], "method")
    job = {"format": "executorch", "model": str((bundle / art["file"]).resolve()), "parity_rows": rows,
           "profile_method": method, "inputs": names, "outputs": read_manifest(bundle)["model"]["outputs"]}
    feeds = {"parity": arrays, "profile": padded(feed, lengths[method], dtypes)}
    return job, feeds, {"build": "PyPI manylinux_2_28_aarch64 wheel (cp312-abi3, Python 3.13)", "method": method,
                        "thread_pool": "1 thread: the guest shows one CPU (the runtime sizes its pool from "
                                      "cpuinfo; no API sets it)"}


# artefact format -> (bundle, artefact, parity indices) -> (guest job, feeds, runner fields)
GUEST_JOBS = {"onnx": _onnx_job, "tflite": _tflite_job, "executorch": _executorch_job}


def profile_emulated_arm(bundle: Path, manifest: dict, device: str, options: ProfileOptions) -> list[ProfileRow]:
    import numpy as np

    from .run import GUEST, run_guest
    from .setup import emulated_cpu, guest_for, toolchain

    profile = parse_device(device)
    artefacts = selected(manifest, options)
    chains = {fmt: toolchain(guest_for(fmt)) for fmt in sorted({a["format"] for a in artefacts})}
    if not options.artefacts:
        # onnxruntime's CPU fp16 path casts around every op: under emulation one MiniLM run
        # takes over 5 minutes and says nothing a phone's fp16 kernels would. One rule for
        # every format: fp16 runs when asked for by name.
        skipped = [a["name"] for a in artefacts if a["variant"] == "fp16"]
        if skipped:
            print(f"emulated-arm: skipping {', '.join(skipped)} (CPU fp16 emulation is impractically "
                  "slow; name it with --artefact to run it anyway)", file=sys.stderr)
        artefacts = [a for a in artefacts if a["variant"] != "fp16"]
    runs = int(options.extra.get("arm_runs", COUNTED_RUNS))
    if runs < 3:
        raise ConfigError(f"arm_runs {runs}: counting needs the median of at least 3 runs")
    with np.load(bundle / "inputs" / "parity.npz") as data:
        total = len(data[data.files[0]])
    per_token = per_token_width(bundle, manifest)
    n = min(total, int(options.extra.get("arm_parity_sentences", PARITY_SENTENCES)))
    indices = sorted({round(i * (total - 1) / max(n - 1, 1)) for i in range(n)})
    with np.load(bundle / "inputs" / "profile.npz") as data:
        seq_len, batch = (int(x) for x in reversed(data["input_ids"].shape))
    # the sysroot's /proc/cpuinfo names the CPU model the guest's runtimes pick kernels for: held
    # for every run of this profile, so a concurrent profile of another model cannot swap it mid-run
    with ExitStack() as held:
        for tc in {tc.sysroot: tc for tc in chains.values()}.values():  # one order: two profiles cannot deadlock
            held.enter_context(emulated_cpu(tc.sysroot, part=int(profile.cpuinfo_part, 16), variant=0,
                                            cores=tc.guest.cpuinfo_cores, implementer=int(profile.cpuinfo_implementer, 16),
                                            dotprod=profile.qemu_cpu != "cortex-a53"))
        params = fitted_params()
        if big_core(profile) not in params.stall:
            raise ConfigError(f"{FIT_FILE}: no fitted stall factor for {big_core(profile)} ({profile.name}'s big core); "
                              "rerun bench/calibrate_arm.py")
        threads_list = options.threads or tuple(dict.fromkeys((1, profile.threads)))
        rows = []
        for art in artefacts:
            t0 = time.perf_counter()
            tc = chains[art["format"]]
            info = _device_info(device, profile, tc, params)
            job, feeds, runner = GUEST_JOBS[art["format"]](bundle, art, indices)
            why_not = unjudged(manifest, art)
            result = run_guest(tc, profile.qemu_cpu, GUEST, {
                **job, "primary": manifest["model"]["primary_output"], "per_token_length": per_token,
                "warmup": WARMUP_RUNS, "runs": runs,
                **({} if why_not is None else {"parity": None})}, what=f"artefact {art['name']}", feeds=feeds)
            parity = (device_parity(bundle, manifest, art, result.outputs["primary"], indices, "evenly spaced")
                      if why_not is None else None)
            classes = result.classes()
            weight_bytes = gemm_weight_bytes(bundle / art["file"], art["format"])
            extra = {
                "instructions": sum(classes.values()), "instruction_classes": classes,
                "plugin_classes": result.median, "runs": [sum(r.values()) for r in result.regions],
                "count_spread": result.spread(), "counted_runs": runs, "warmup": WARMUP_RUNS,
                "qemu_cpu": profile.qemu_cpu, "guest_threads": 1,
                "guest_threads_started": result.info["threads_started"],  # by the runtime: 0 when it runs on the caller
                "emulation_seconds": round(time.perf_counter() - t0, 1),
                "weight_bytes": weight_bytes,
                **({} if why_not is None else {"device_parity": f"parity not checked on device: {why_not}"}),
                "estimate": "ms = runtime_factor * (stall[core] * sum(count * cpi[core]) / (f1 + thread_efficiency * "
                            "(f2 + ... + fN)) + weight_bytes / dram_bandwidth); parameters in device_info.latency_model",
            }
            stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
            for threads in threads_list:
                ms = [estimate_ms(_grouped(region), profile, threads, weight_bytes, params) for region in result.regions]
                basis = ("counted single-threaded" if threads == 1 else
                         f"extrapolated from 1-thread counts with an assumed thread efficiency of "
                         f"{params.thread_efficiency} (no multi-threaded run was counted)")
                rows.append(ProfileRow(
                    artefact=art["name"], artefact_sha256=art["sha256"], model=manifest["recipe"]["name"],
                    variant=art["variant"], device=device, provenance=PROVENANCE, threads=threads,
                    seq_len=seq_len, batch=batch, latency_ms=Latency(ms), cpu_ms=None, device_info=info,
                    runner={**result.info["runtime"], **runner,
                            "emulator": f"qemu-aarch64 {tc.qemu_version} -cpu {profile.qemu_cpu}"},
                    label=manifest["checkpoint"].get("label"), timestamp=stamp, parity=parity,
                    extra={**extra, "threads_basis": basis}))
    return rows


def _grouped(region: dict[str, int]) -> dict[str, int]:
    from .run import CLASS_GROUPS

    out: dict[str, int] = {}
    for name, count in region.items():
        out[CLASS_GROUPS[name]] = out.get(CLASS_GROUPS[name], 0) + count
    return out
