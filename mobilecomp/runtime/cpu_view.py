"""Run a command as an AVX2-only x86-64 host runs it: CPUID masked by cpu_view.c, natively.

onnxruntime's int8 numerics depend on which GEMM kernel CPUID selects (see numerics.py). On an
Intel host whose kernel offers CPUID faulting, ``python -m mobilecomp.runtime.cpu_view CMD ...`` runs CMD
with every CPUID answering as a CPU without AVX-512, VNNI or AMX, so onnxruntime takes the
saturating AVX2 kernel on the real integer units: `make test-avx2` and `make demo-avx2` run the
README's commands that way. Where faulting is missing, qemu-x86_64 (numerics.EMULATED_AVX2) is
the slow substitute.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import ToolchainError

SOURCE = Path(__file__).with_name("cpu_view.c")
MARKER = "mobilecomp_cpu_view"  # a symbol the library exports: present means this process is masked


def unavailable_reason() -> str | None:
    """Why this host cannot run the AVX2 view, or None where it can."""
    from .cpu import proc_cpuinfo

    if sys.platform != "linux" or platform.machine() != "x86_64":
        return f"the AVX2 view needs x86-64 Linux, not {sys.platform} {platform.machine()}"
    if "cpuid_fault" not in proc_cpuinfo()[1]:
        return "this CPU or kernel has no CPUID faulting (/proc/cpuinfo flag cpuid_fault)"
    if shutil.which("cc") is None:
        return "no C compiler to build mobilecomp/runtime/cpu_view.c (scripts/setup.d/30-adb.sh installs gcc)"
    return None


def library() -> Path:
    """The preload library, compiled once per source into the cache."""
    from ..text import cache_dir

    reason = unavailable_reason()
    if reason is not None:
        raise ToolchainError(reason)
    key = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    lib = cache_dir() / "cpu-view" / key / "libcpuview.so"
    if lib.exists():
        return lib
    lib.parent.mkdir(parents=True, exist_ok=True)
    tmp = lib.with_suffix(f".tmp{os.getpid()}")
    proc = subprocess.run(["cc", "-O2", "-Wall", "-shared", "-fPIC", "-o", str(tmp), str(SOURCE), "-ldl"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolchainError(f"building {SOURCE.name} failed: {proc.stderr.strip()[-300:]}")
    tmp.rename(lib)
    return lib


def environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the library preloaded."""
    env = dict(os.environ if base is None else base)
    env["LD_PRELOAD"] = " ".join(filter(None, [str(library()), env.get("LD_PRELOAD", "")]))
    return env


def active() -> bool:
    """Whether CPUID in this process answers through the view."""
    return sys.platform == "linux" and hasattr(ctypes.CDLL(None), MARKER)


if __name__ == "__main__":
    from ..errors import MobilecompError

    if len(sys.argv) < 2:
        sys.exit("usage: python -m mobilecomp.runtime.cpu_view COMMAND [ARG ...]")
    try:
        env = environment()
    except MobilecompError as exc:
        sys.exit(f"mobilecomp.runtime.cpu_view: {exc}")
    os.execvpe(sys.argv[1], sys.argv[1:], env)
