"""GPU latency (provenance measured-gpu): the bundle's ONNX artefacts on onnxruntime's CUDA (and TensorRT)
providers, and its PyTorch source on CUDA, each row under its own name and hash.

Without a GPU both are absent and the backend raises DeviceError saying which checks failed,
so `profile --device cuda` stops in one line and `compare` records the column as skipped.
The paper's V100 row (DeFormer Table 3) is the anchor for this column.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import time
from dataclasses import replace
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


GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")  # each timed where present


def backend() -> tuple[list[str], bool, str]:
    """(onnxruntime GPU providers present, whether torch sees CUDA, GPU name), or DeviceError naming
    why there is no GPU backend."""
    import onnxruntime as ort
    import torch

    providers = ort.get_available_providers()
    name = gpu_name()
    gpu_providers = [p for p in GPU_PROVIDERS if p in providers] if name else []
    torch_cuda = torch.cuda.is_available()
    if gpu_providers or torch_cuda:
        return gpu_providers, torch_cuda, name or "cuda:0"
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
    """The bundle's ONNX artefacts on onnxruntime's GPU providers, each under its own name and
    sha256; and, where torch sees CUDA, the bundle's PyTorch source (its recorded checkpoint and
    pruning) as a row of its own, ``pytorch-source``, keyed by the checkpoint's sha256."""
    providers, torch_cuda, name = backend()
    feed = read_inputs(bundle, "profile.npz")
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rows = []
    if providers:
        import onnxruntime as ort

        device = _device(name, "onnxruntime")
        named = tuple(a for a in options.artefacts if a != SOURCE)
        chosen = [] if options.artefacts and not named else selected(manifest, replace(options, artefacts=named))
        for art in (a for a in chosen if a["format"] == "onnx"):
            for provider in providers:
                session = ort.InferenceSession(str(bundle / art["file"]), providers=[provider, "CPUExecutionProvider"])
                if session.get_providers()[0] != provider:  # it fell back: not a GPU row
                    continue
                wanted = {i.name for i in session.get_inputs()}
                art_feed = {k: v for k, v in feed.items() if k in wanted}
                values = _time(lambda: session.run(None, art_feed), options)
                rows.append(_row(art, manifest, feed, values, device, {
                    "name": "onnxruntime", "version": ort.__version__, "provider": provider,
                    "providers": session.get_providers()}, stamp))
    if torch_cuda and (not options.artefacts or SOURCE in options.artefacts):
        rows.append(_torch_row(bundle, manifest, feed, options, _device(name, "torch"), stamp))
    return rows


SOURCE = "pytorch-source"  # the row name of the bundle's PyTorch source (not a file in the bundle)


def source_model(bundle: Path, manifest: dict):
    """The bundle's PyTorch source as it was exported: the recipe, checkpoint and pruning recorded
    in its manifest, checked against the recorded checkpoint sha256 (never the recipe's name)."""
    from ..errors import CheckpointError
    from ..load import load_model
    from ..load.checkpoints import weights_sha256
    from ..transform.prune import prune_model
    from ..schema import from_dict
    from ..types import Recipe

    recipe = from_dict(Recipe, manifest["recipe"], where=f"{bundle}/manifest.json recipe")
    checkpoint = manifest["checkpoint"]
    directory = checkpoint["path"] if checkpoint["source"] == "hf-dir" else None
    if directory is not None and weights_sha256(Path(directory)) != checkpoint["sha256"]:
        raise CheckpointError(f"{directory}: weights changed since the bundle was exported (sha256 differs); "
                              "re-export the bundle")
    model = load_model(recipe, directory)
    if model.checkpoint["sha256"] != checkpoint["sha256"]:
        raise CheckpointError(f"{checkpoint.get('path') or checkpoint['source']}: weights changed since the bundle "
                              "was exported (sha256 differs); re-export the bundle")
    if recipe.prune is not None:
        prune_model(model.module, recipe.prune)
    return model


def _torch_row(bundle: Path, manifest: dict, feed: dict, options: ProfileOptions, device: DeviceInfo,
               stamp: str) -> ProfileRow:
    import torch

    model = source_model(bundle, manifest)
    module = model.module.to("cuda").eval()
    inputs = [torch.from_numpy(feed[n]).to("cuda") for n in model.input_names]
    with torch.no_grad():
        values = _time(lambda: module(*inputs), options, torch.cuda.synchronize)
    prune = manifest["recipe"].get("prune")
    source = {"name": SOURCE, "sha256": manifest["checkpoint"]["sha256"], "variant": "source-fp32"}
    return _row(source, manifest, feed, values, device, {
        "name": "torch", "version": torch.__version__, "provider": "cuda",
        "source": f"checkpoint {manifest['checkpoint']['source']} {manifest['checkpoint'].get('name') or ''}"
                  f"{manifest['checkpoint'].get('path') or ''} (sha256 {manifest['checkpoint']['sha256'][:12]})"
                  + (f", pruned {prune['method']} {prune['sparsity']:.0%}" if prune else ", not pruned")}, stamp)


def _row(art, manifest, feed, values, device, runner, stamp) -> ProfileRow:
    return ProfileRow(
        artefact=art["name"], artefact_sha256=art["sha256"], model=manifest["recipe"]["name"],
        variant=art["variant"], device="cuda", provenance="measured-gpu", threads=1,  # one host thread drives it
        seq_len=int(feed["input_ids"].shape[1]), batch=int(feed["input_ids"].shape[0]),
        latency_ms=Latency(values), cpu_ms=None, device_info=device, runner=runner,
        label=manifest["checkpoint"].get("label"), timestamp=stamp)
