"""GPU latency (provenance measured-gpu): onnxruntime's CUDA provider when present, else PyTorch on CUDA.

Without a GPU both are absent and the backend raises DeviceError saying which checks failed,
so `profile --device cuda` stops in one line and `compare` records the column as skipped.
The paper's V100 row (DeFormer Table 3) is the anchor for this column.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

from ..bundle import read_inputs
from ..errors import DeviceError
from ..types import DeviceInfo, Latency, ProfileRow
from . import ProfileOptions, selected


def gpu_name() -> str | None:
    """The GPU's name from torch or nvidia-smi; None when neither sees one."""
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except Exception:  # a broken CUDA install must not break the check
        pass
    if shutil.which("nvidia-smi"):
        proc = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                              capture_output=True, text=True)
        if proc.returncode == 0 and proc.stdout.strip():
            return proc.stdout.strip().splitlines()[0]
    return None


def backend() -> tuple[str, str]:
    """('onnxruntime' | 'torch', GPU name), or DeviceError naming why there is no GPU backend."""
    import onnxruntime as ort
    import torch

    providers = ort.get_available_providers()
    name = gpu_name()
    if "CUDAExecutionProvider" in providers and name:
        return "onnxruntime", name
    if torch.cuda.is_available():
        return "torch", name or "cuda:0"
    raise DeviceError(
        f"no GPU: onnxruntime {ort.__version__} has no CUDAExecutionProvider (it has {', '.join(providers)}) "
        f"and torch {torch.__version__} sees no CUDA device; skipped (install onnxruntime-gpu on a machine with a GPU)")


def _device(name: str, runtime: str) -> DeviceInfo:
    return DeviceInfo(name="cuda", kind="gpu", cpu=platform.processor() or platform.machine(), cores=0,
                      os=platform.platform(), accelerator=name, extra={"runtime": runtime})


def _time(fn, options: ProfileOptions, sync=lambda: None) -> list[float]:
    for _ in range(options.warmup):
        fn()
    sync()
    values = []
    for _ in range(options.runs):
        t0 = time.perf_counter()
        fn()
        sync()
        values.append((time.perf_counter() - t0) * 1e3)
    return values


def profile_cuda(bundle: Path, manifest: dict, options: ProfileOptions) -> list[ProfileRow]:
    runtime, name = backend()
    device = _device(name, runtime)
    feed = read_inputs(bundle, "profile.npz")
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rows = []
    if runtime == "onnxruntime":
        import onnxruntime as ort

        for art in (a for a in selected(manifest, options) if a["format"] == "onnx"):
            session = ort.InferenceSession(str(bundle / art["file"]),
                                           providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
            wanted = {i.name for i in session.get_inputs()}
            art_feed = {k: v for k, v in feed.items() if k in wanted}
            values = _time(lambda: session.run(None, art_feed), options)
            rows.append(_row(art, manifest, feed, values, device, {
                "name": "onnxruntime", "version": ort.__version__,
                "provider": session.get_providers()[0]}, stamp))
        return rows
    # PyTorch on CUDA: the bundle's source model (same weights: the recipe's seed or checkpoint)
    import torch

    from ..load import load_model
    from ..recipe import load_recipe

    recipe = load_recipe(manifest["recipe"]["name"])
    model = load_model(recipe)
    module = model.module.to("cuda")
    inputs = [torch.from_numpy(feed[n]).to("cuda") for n in model.input_names]
    art = next(a for a in manifest["artefacts"] if a["variant"] in ("fp32", "full-fp32"))
    with torch.no_grad():
        values = _time(lambda: module(*inputs), options, torch.cuda.synchronize)
    return [_row(art, manifest, feed, values, device, {
        "name": "torch", "version": torch.__version__,
        "note": "the PyTorch source of this artefact on CUDA (no onnxruntime CUDA provider)"}, stamp)]


def _row(art, manifest, feed, values, device, runner, stamp) -> ProfileRow:
    return ProfileRow(
        artefact=art["name"], artefact_sha256=art["sha256"], model=manifest["recipe"]["name"],
        variant=art["variant"], device="cuda", provenance="measured-gpu", threads=0,
        seq_len=int(feed["input_ids"].shape[1]), batch=int(feed["input_ids"].shape[0]),
        latency_ms=Latency(values), cpu_ms=None, device_info=device, runner=runner,
        label=manifest["checkpoint"].get("label"), timestamp=stamp)
