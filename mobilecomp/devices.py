"""Phone profiles (devices/*.yaml): SoC, clusters, qemu CPU model and DRAM bandwidth, with sources. The
latency model's fitted parameters are per core type, in devices/latency_fit.json (bench/calibrate_arm.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .files import read_yaml
from .schema import from_dict

DEVICES_DIR = Path(__file__).resolve().parent.parent / "devices"
INSTRUCTION_CLASSES = ("simd_mac", "dot", "load_store", "other")


@dataclass(frozen=True)
class Cluster:
    """One group of identical cores."""

    core: str  # e.g. cortex-a76
    count: int
    max_ghz: float

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"clusters: core count {self.count} must be at least 1")
        if not 0 < self.max_ghz <= 10:
            raise ValueError(f"clusters: max_ghz {self.max_ghz} must be a clock in GHz above 0 (and at most 10)")


@dataclass(frozen=True)
class DeviceProfile:
    """A phone as the emulated-ARM backend models it."""

    name: str  # the PROFILE in emulated-arm:PROFILE (the file's stem)
    manufacturer: str
    model: str
    soc: str
    clusters: tuple[Cluster, ...]  # fastest first
    qemu_cpu: str  # qemu -cpu model whose features (dot product or not) pick the same kernels
    qemu_cpu_note: str  # why this model is the closest
    cpuinfo_implementer: str  # MIDR implementer of the big core, hex (0x41 Arm, 0x51 Qualcomm)
    cpuinfo_part: str  # MIDR part number of the big core, hex (the fake /proc/cpuinfo says it)
    taskset_mask: str  # the big cores, as `taskset` takes them on the phone
    threads: int  # default thread count for estimates (the big cores)
    sources: dict[str, str] = field(default_factory=dict)  # field -> where the number comes from
    dram_gbps: float | None = None  # peak DRAM bandwidth (GB/s): the weight-traffic term of the per-core model

    def __post_init__(self) -> None:
        if not self.clusters:
            raise ValueError("clusters must not be empty")
        if self.threads < 1 or self.threads > sum(c.count for c in self.clusters):
            raise ValueError(f"threads {self.threads} is not between 1 and the core count")
        if self.dram_gbps is not None and not 0 < self.dram_gbps <= 1000:
            raise ValueError(f"dram_gbps {self.dram_gbps} must be a bandwidth in GB/s above 0 (and at most 1000)")
        int(self.cpuinfo_implementer, 16), int(self.cpuinfo_part, 16), int(self.taskset_mask, 16)

    def core_ghz(self) -> list[float]:
        """Every core's max frequency, fastest first (the order threads fill them)."""
        return sorted((c.max_ghz for c in self.clusters for _ in range(c.count)), reverse=True)

    def describe(self) -> dict:
        from .schema import to_dict

        return to_dict(self)


def device_paths(devices_dir: Path = DEVICES_DIR) -> dict[str, Path]:
    return {p.stem: p for p in sorted(devices_dir.glob("*.yaml"))}


def load_device(name: str, devices_dir: Path = DEVICES_DIR) -> DeviceProfile:
    """A profile by name, or by path to a .yaml file; an unknown name lists the known ones."""
    path = Path(name)
    if path.suffix not in (".yaml", ".yml"):
        known = device_paths(devices_dir)
        if name not in known:
            raise ConfigError(f"unknown device profile '{name}' (known: {', '.join(known) or 'none'}; "
                              f"see `mobilecomp devices`, or give a .yaml path)")
        path = known[name]
    data = read_yaml(path, ConfigError, "a device profile is a YAML mapping (see devices/)")
    profile = from_dict(DeviceProfile, data, str(path))
    if profile.name != path.stem:
        raise ConfigError(f"{path}: name '{profile.name}' differs from the file name '{path.stem}'")
    return profile


def all_devices(devices_dir: Path = DEVICES_DIR) -> list[DeviceProfile]:
    return [load_device(name, devices_dir) for name in device_paths(devices_dir)]
