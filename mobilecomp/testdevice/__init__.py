"""A loopback adb test device: the device side of the adb protocol that really runs commands.

Debian has no adbd, so this stands in for a phone: ``python -m mobilecomp.testdevice --port P
--props FILE --root DIR`` listens on 127.0.0.1 only; a real adb server connects to it with
``adb connect 127.0.0.1:P``. Shell commands run on this machine through a sandbox that maps
/data/local/tmp into DIR; pushed files are stored there; getprop answers from FILE.
"""

from .device import TestDevice, start
from .sandbox import Sandbox, read_props

__all__ = ["Sandbox", "TestDevice", "read_props", "start", "write_phone_sysfs"]


def write_phone_sysfs(root, max_khz: list[int], temp_c: float = 35.0, governor: str = "schedutil") -> None:
    """An overlay of a phone's cpufreq and thermal tree under ``root/sys`` (the host has none).

    One entry per core; the core numbers must exist on this machine for ``taskset`` to pin to them.
    """
    from pathlib import Path

    cpu_root = Path(root) / "sys/devices/system/cpu"
    for i, khz in enumerate(max_khz):
        freq = cpu_root / f"cpu{i}" / "cpufreq"
        freq.mkdir(parents=True, exist_ok=True)
        (cpu_root / f"cpu{i}" / "online").write_text("1\n")
        (freq / "cpuinfo_max_freq").write_text(f"{khz}\n")
        (freq / "scaling_cur_freq").write_text(f"{khz}\n")
        (freq / "scaling_governor").write_text(f"{governor}\n")
    zone = Path(root) / "sys/class/thermal/thermal_zone0"
    zone.mkdir(parents=True, exist_ok=True)
    (zone / "type").write_text("cpu-big\n")
    (zone / "temp").write_text(f"{int(temp_c * 1000)}\n")
