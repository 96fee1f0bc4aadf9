"""The per-core latency model: instruction counts, weight traffic, runtime and threads to milliseconds.

    compute_ms = stall[core] * sum(count[c] * cpi[core][c]) / (f1 + thread_efficiency * (f2 + ... + fN))
    memory_ms  = weight_bytes / dram_bandwidth          # weights stream from DRAM once per inference;
                                                         # shared by all threads, so it does not scale
    ms         = runtime_factor[runtime] * (compute_ms + memory_ms)

``cpi`` per core type comes from Arm's optimisation guides (throughput bound); ``stall`` per core
type and ``runtime_factor`` per runtime are fitted on published figures (bench/calibrate_arm.py).
fp16 runs 8 lanes per 128-bit vector instead of 4: its multiply and load/store counts and its
weight bytes are half the fp32 ones; the rest of the instructions stay.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ...devices import DeviceProfile
from ...errors import ConfigError

# core type -> cycles per instruction of each class (throughput bound), with where it comes from
CORES: dict[str, tuple[dict[str, float], str]] = {
    "cortex-a76": ({"simd_mac": 0.5, "dot": 0.5, "load_store": 0.5, "other": 0.33},
                   "Arm Cortex-A76 Software Optimization Guide: two 128-bit ASIMD pipes, two load/store pipes, "
                   "three integer ALUs"),
    "cortex-a75": ({"simd_mac": 1.0, "dot": 1.0, "load_store": 0.5, "other": 0.33},
                   "Arm Cortex-A75 Software Optimization Guide: 64-bit-wide ASIMD pipes (a Q-form FMLA per cycle), "
                   "two load/store pipes"),
    "cortex-a55": ({"simd_mac": 1.0, "dot": 1.0, "load_store": 1.0, "other": 0.5},
                   "Arm Cortex-A55 Software Optimization Guide: in-order dual issue, Q-form FMLA/SDOT about one "
                   "per cycle, one load/store pipe"),
    "cortex-a53": ({"simd_mac": 2.0, "dot": 2.0, "load_store": 1.0, "other": 0.5},
                   "Arm Cortex-A53 TRM: 64-bit ASIMD datapath (a Q-form FMLA takes two cycles), one load/store pipe"),
}
PRECISIONS = ("fp32", "fp16")


@dataclass(frozen=True)
class Workload:
    """What one single-threaded inference executes (qemu counts) and how many weight bytes it reads."""

    classes: dict[str, float]
    weight_bytes: float

    def at(self, precision: str) -> Workload:
        if precision not in PRECISIONS:
            raise ConfigError(f"precision '{precision}' is not modelled (known: {', '.join(PRECISIONS)})")
        if precision == "fp32":
            return self
        halved = {c: n / 2 if c in ("simd_mac", "load_store") else n for c, n in self.classes.items()}
        return replace(self, classes=halved, weight_bytes=self.weight_bytes / 2)


@dataclass(frozen=True)
class Params:
    """The fitted part: a stall factor per core type, a factor per runtime, and the thread assumption."""

    stall: dict[str, float]
    runtime: dict[str, float]
    thread_efficiency: float = 0.8  # an assumption: no anchor pair isolates thread scaling


def core_ghz(profile: DeviceProfile, core: str, threads: int) -> list[float]:
    """The clocks of the ``threads`` fastest cores of type ``core`` on the phone."""
    ghz = sorted((c.max_ghz for c in profile.clusters if c.core == core for _ in range(c.count)), reverse=True)
    if len(ghz) < threads:
        raise ConfigError(f"{profile.name} has {len(ghz)} {core} core(s), not {threads}; "
                          f"its clusters: {', '.join(f'{c.count}x {c.core}' for c in profile.clusters)}")
    return ghz[:threads]


def parts_ms(work: Workload, profile: DeviceProfile, core: str, threads: int, stall: float,
             thread_efficiency: float) -> tuple[float, float]:
    """(compute ms, memory ms) before the runtime factor."""
    if core not in CORES:
        raise ConfigError(f"no latency model for core '{core}' (known: {', '.join(CORES)})")
    cpi = CORES[core][0]
    ghz = core_ghz(profile, core, threads)
    effective = ghz[0] + thread_efficiency * sum(ghz[1:])
    compute = stall * sum(work.classes[c] * cpi[c] for c in cpi) / (effective * 1e9) * 1e3
    memory = work.weight_bytes / (profile.dram_gbps * 1e9) * 1e3 if profile.dram_gbps else 0.0
    return compute, memory


def estimate_ms(work: Workload, profile: DeviceProfile, core: str, threads: int, runtime: str, params: Params) -> float:
    if core not in params.stall:
        raise ConfigError(f"no fitted stall factor for {core} (fitted: {', '.join(params.stall)})")
    if runtime not in params.runtime:
        raise ConfigError(f"no fitted factor for runtime '{runtime}' (fitted: {', '.join(params.runtime)})")
    compute, memory = parts_ms(work, profile, core, threads, params.stall[core], params.thread_efficiency)
    return params.runtime[runtime] * (compute + memory)
