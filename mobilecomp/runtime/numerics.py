"""Which int8 kernel onnxruntime runs on this CPU, and whether it computes exact integer math.

On x86-64 without VNNI, onnxruntime's U8S8 GEMM (MLAS: AVX2 or AVX-512BW ``vpmaddubsw``) adds
each pair of adjacent uint8 x int8 products into a saturating int16: 255*127*2 does not fit, so
large activations against large weights are clipped. VNNI, AMX and ARM64 accumulate in int32 and
are exact. Phones are ARM, so only exact integer math says what an artefact computes on a phone:
every session that judges numerics runs exact: where this host's default session saturates it sets
``EXACT_INT8`` (onnxruntime then stores constant int8 weights as uint8 and runs its exact
U8U8 kernels). Whether the default session saturates is measured by a probe, not assumed from the
flags.

``python -m mobilecomp.runtime.numerics`` prints this host's facts as JSON (``--line``: one line); run by
``avx2_command`` (CPUID masked by ``cpu_view``, or ``qemu-x86_64 -cpu Haswell``) it reports an
AVX2-only host.
"""

from __future__ import annotations

import ctypes
import json
import mmap
import platform
import shutil
import sys
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .cpu import proc_cpuinfo

# onnxruntime's x86 U8S8 kernels without VNNI saturate int16 pair sums; this stores constant int8
# weights as uint8 for its exact U8U8 kernels. No effect on ARM.
EXACT_INT8 = {"session.x64quantprecision": "1"}

# The CPU flags that decide onnxruntime's int8 kernels, recorded on every host row.
INT8_FLAGS = ("avx2", "avx_vnni", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512_vnni",
              "amx_tile", "amx_int8", "asimddp", "i8mm", "sve")

# An AVX2-only x86-64 CPU that qemu-user's TCG emulates without warnings (qemu 7.2 has no AVX-512).
EMULATED_AVX2 = ("qemu-x86_64", "-cpu", "Haswell-noTSX,-pcid,-x2apic,-tsc-deadline,-invpcid")

# (leaf, subleaf, register, bit) of each flag, named as /proc/cpuinfo names it.
_CPUID_BITS = {
    "avx2": (7, 0, 1, 5), "avx512f": (7, 0, 1, 16), "avx512dq": (7, 0, 1, 17), "avx512bw": (7, 0, 1, 30),
    "avx512vl": (7, 0, 1, 31), "avx512_vnni": (7, 0, 2, 11), "amx_tile": (7, 0, 3, 24),
    "amx_int8": (7, 0, 3, 25), "avx_vnni": (7, 1, 0, 4),
}
# x86-64 SysV: cpuid(leaf=edi, subleaf=esi) -> out[4] at rdx (eax, ebx, ecx, edx); rbx is callee-saved.
_CPUID_CODE = bytes.fromhex("53" "89f8" "89f1" "4989d0" "0fa2" "418900" "41895804" "41894808" "4189500c" "5b" "c3")


def _cpuid() -> tuple[str, set[str]] | None:
    """(brand string, flags) as CPUID reports them to this process (what onnxruntime reads; under
    qemu, the emulated CPU's), or None where CPUID cannot be run from here."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    try:
        buf = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except (OSError, ValueError, AttributeError):  # W+X memory refused: fall back to /proc/cpuinfo
        return None
    buf.write(_CPUID_CODE)
    address = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    cpuid = ctypes.CFUNCTYPE(None, ctypes.c_uint32, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32))(address)
    out = (ctypes.c_uint32 * 4)()
    cpuid(0, 0, out)
    max_leaf = out[0]
    regs = {}
    for leaf, sub in {(b[0], b[1]) for b in _CPUID_BITS.values()}:
        if leaf <= max_leaf:
            cpuid(leaf, sub, out)
            regs[(leaf, sub)] = tuple(out)
    flags = {name for name, (leaf, sub, reg, bit) in _CPUID_BITS.items()
             if (leaf, sub) in regs and regs[(leaf, sub)][reg] >> bit & 1}
    brand = b""
    cpuid(0x80000000, 0, out)
    if out[0] >= 0x80000004:
        for leaf in (0x80000002, 0x80000003, 0x80000004):
            cpuid(leaf, 0, out)
            brand += bytes(out)
    del cpuid
    return brand.rstrip(b"\0").decode("ascii", "replace").strip(), flags




def u8s8_kernel(flags: set[str], machine: str) -> tuple[str, bool | None]:
    """The uint8 x int8 GEMM kernel onnxruntime's MLAS picks for these flags (the ladder of
    MLAS platform.cpp), and whether that kernel saturates by design (None: unknown)."""
    if machine in ("aarch64", "arm64"):
        return ("ARM64 NEON " + ("sdot/udot" if "asimddp" in flags else "smull/smlal"), False)
    if machine not in ("x86_64", "AMD64"):
        return ("unknown", None)
    if {"amx_tile", "amx_int8"} <= flags:
        return ("AMX (tdpbusd, int32 accumulation)", False)
    avx512_core = {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags
    if avx512_core and "avx512_vnni" in flags:
        return ("AVX512-VNNI (vpdpbusd, int32 accumulation)", False)
    if avx512_core:
        return ("AVX512-Core (vpmaddubsw, saturating int16 pair sums)", True)
    if {"avx2", "avx_vnni"} <= flags:
        return ("AVX-VNNI (vpdpbusd, int32 accumulation)", False)
    if "avx2" in flags:
        return ("AVX2 (vpmaddubsw, saturating int16 pair sums)", True)
    return ("SSE (16-bit widening)", None)


# ONNX ops (named as a manifest's op_types names them) that onnxruntime runs on integer GEMMs.
INT8_GEMM_OPS = ("MatMulInteger", "QLinearMatMul", "ConvInteger", "QLinearConv", "QuantizeLinear",
                 "com.microsoft.DynamicQuantizeMatMul", "com.microsoft.MatMulIntegerToFloat",
                 "com.microsoft.QGemm", "com.microsoft.MatMulNBits")


def runs_int8_kernels(op_types: dict[str, int]) -> bool:
    return any(op in op_types for op in INT8_GEMM_OPS)


PROBE_K = 64  # all 255 x all 127 over K: exact 2,072,640, saturated pairs 32,767 x 32


def probe_wrong_outputs(exact: bool | None) -> int:
    """Outputs (of 32) of one MatMulInteger (uint8 input, constant int8 weight, as quantised
    MatMuls are) that differ from exact integer math, in the session ``onnx_session(exact=...)``."""
    from onnx import TensorProto, helper, numpy_helper

    a = np.full((4, PROBE_K), 255, np.uint8)
    b = np.full((PROBE_K, 8), 127, np.int8)
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["y"], name="probe")], "u8s8-probe",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [None, PROBE_K])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [None, 8])],
        [numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    got = probe_session(model, exact).run(None, {"a": a})[0]
    return int((got != a.astype(np.int32) @ b.astype(np.int32)).sum())


def probe_session(model, exact: bool | None):
    """A 1-thread session of the probe: the default session, or exact mode where ``exact`` is True
    (None probes the default: what exact_mode_needed() is deciding)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    for key, value in (EXACT_INT8 if exact else {}).items():
        opts.add_session_config_entry(key, value)
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


@dataclass(frozen=True)
class HostInt8:
    """This host's int8 numerics as onnxruntime computes them: recorded on every host row."""

    cpu: str
    machine: str
    flags: tuple[str, ...]  # the int8-relevant ones (INT8_FLAGS) this CPU has
    flags_from: str  # "cpuid" (what onnxruntime reads) or "/proc/cpuinfo"
    u8s8_kernel: str  # the kernel those flags select
    kernel_saturates: bool | None  # by that kernel's design
    default_session_saturates: bool  # measured by the probe
    probe_wrong_outputs: dict[str, int]  # {"default": n, "exact": n} of 32
    onnxruntime: str
    # "" on the CPU as it is; under mobilecomp.runtime.cpu_view, what was masked and the flags it hid
    cpu_view: str = ""

    def to_dict(self) -> dict:
        return {**asdict(self), "flags": list(self.flags)}  # as it reads back from JSON

    def summary(self) -> str:
        """One line: which CPU this is and what that means for int8 parity here."""
        exact = ("saturates on the probe, so parity sessions run onnxruntime's exact mode"
                 if self.default_session_saturates else "is exact on the probe")
        view = f", {self.cpu_view}" if self.cpu_view else ""
        return (f"{self.cpu} ({self.machine}; {' '.join(self.flags) or 'no int8 flags'}{view}); onnxruntime "
                f"{self.onnxruntime} U8S8 kernel {self.u8s8_kernel}; the default session {exact}")


@lru_cache(maxsize=1)
def host_int8() -> HostInt8:
    import onnxruntime

    from . import cpu_view

    cpuid = _cpuid()
    cpu, flags = cpuid if cpuid is not None else proc_cpuinfo()
    machine = platform.machine()
    kernel, by_design = u8s8_kernel(flags, machine)
    wrong = {"default": probe_wrong_outputs(exact=False), "exact": probe_wrong_outputs(exact=True)}
    view = ""
    if cpu_view.active():  # /proc/cpuinfo (the kernel's view) still lists what CPUID now hides
        hidden = " ".join(f for f in INT8_FLAGS if f in proc_cpuinfo()[1] - flags) or "nothing"
        view = f"CPUID masked to AVX2-only by mobilecomp.runtime.cpu_view, hiding {hidden}"
    return HostInt8(cpu=cpu, machine=machine, flags=tuple(f for f in INT8_FLAGS if f in flags),
                    flags_from="cpuid" if cpuid is not None else "/proc/cpuinfo", u8s8_kernel=kernel,
                    kernel_saturates=by_design, default_session_saturates=wrong["default"] > 0,
                    probe_wrong_outputs=wrong, onnxruntime=onnxruntime.__version__, cpu_view=view)


def exact_mode_needed() -> bool:
    """Whether exact integer math needs EXACT_INT8 here: only where the default session saturates.
    Elsewhere the default session is already exact (the probe shows it), and exact mode can be
    slower (on VNNI it switches to the U8U8 kernels: about half the int8 speed)."""
    return host_int8().default_session_saturates


def avx2_hosts() -> dict[str, list[str]]:
    """The ways this host can run a command as an AVX2-only CPU, fastest first, each as the prefix
    of that command: "cpuid-masked" (natively, mobilecomp.runtime.cpu_view: its wall time is real AVX2
    kernel time on this CPU) and "qemu-x86_64" (emulated: numerics only)."""
    from . import cpu_view

    hosts = {}
    if cpu_view.unavailable_reason() is None:
        hosts["cpuid-masked"] = ["env", f"LD_PRELOAD={cpu_view.environment()['LD_PRELOAD']}"]
    if shutil.which(EMULATED_AVX2[0]) is not None and platform.machine() == "x86_64":
        hosts["qemu-x86_64"] = list(EMULATED_AVX2)
    return hosts


def avx2_command(*argv: str, how: str | None = None) -> list[str] | None:
    """``argv`` run by this Python as an AVX2-only CPU, the fastest way (or ``how``, a key of
    avx2_hosts()); None where this host has no way."""
    hosts = avx2_hosts()
    prefix = hosts.get(how) if how else next(iter(hosts.values()), None)
    return None if prefix is None else [*prefix, sys.executable, *argv]


if __name__ == "__main__":
    facts = host_int8()
    print(facts.summary() if sys.argv[1:] == ["--line"] else json.dumps(facts.to_dict(), indent=2))
