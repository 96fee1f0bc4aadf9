"""What this host's CPU is, as the kernel lists it: its name, flags and the cores this process may use."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def proc_cpuinfo() -> tuple[str, set[str]]:
    """(CPU name, flags) as the kernel lists them: not masked by mobilecomp.runtime.cpu_view."""
    cpu, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Hardware") and not cpu:
                cpu = value.strip()
            elif key.strip() in ("flags", "Features") and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return cpu or platform.processor() or platform.machine(), flags


def cpu_count() -> int:
    """The cores this process may run on (its affinity), which is what a thread count of 0 means."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
