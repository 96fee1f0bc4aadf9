"""The phone's MLPerf-style device row, read in one shell call, and the big-core taskset mask."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ...types import DeviceInfo

THERMAL = ('for z in /sys/class/thermal/thermal_zone*; do [ -r "$z/temp" ] && '
           'echo "${z##*/} $(cat "$z/type" 2>/dev/null | tr " " _) $(cat "$z/temp" 2>/dev/null)"; done')

# one shell call: every section starts with "@@name"
DEVICE_SCRIPT = "; ".join([
    "echo @@props", "getprop",
    "echo @@uname", "uname -m",
    "echo @@android", "if [ -e /system/bin/linker64 ]; then echo yes; else echo no; fi",
    "echo @@cpuinfo", "cat /proc/cpuinfo",
    "echo @@cpus",
    'for c in /sys/devices/system/cpu/cpu[0-9]*; do echo "${c##*/cpu} $(cat $c/online 2>/dev/null || echo 1) '
    '$(cat $c/cpufreq/cpuinfo_max_freq 2>/dev/null || echo -) $(cat $c/cpufreq/scaling_cur_freq 2>/dev/null || echo -) '
    '$(cat $c/cpufreq/scaling_governor 2>/dev/null || echo -)"; done',
    "echo @@thermal", THERMAL,
    "echo @@battery", "(dumpsys battery 2>/dev/null || cat /sys/class/power_supply/battery/uevent 2>/dev/null)",
    "echo @@df", "df -k /data/local/tmp 2>/dev/null | tail -n 1",
    "echo @@end",
])

PARTS = {  # (implementer, part) -> core name, from the Arm and Qualcomm technical reference manuals
    ("0x41", "0xd03"): "Cortex-A53", ("0x41", "0xd04"): "Cortex-A35", ("0x41", "0xd05"): "Cortex-A55",
    ("0x41", "0xd07"): "Cortex-A57", ("0x41", "0xd08"): "Cortex-A72", ("0x41", "0xd09"): "Cortex-A73",
    ("0x41", "0xd0a"): "Cortex-A75", ("0x41", "0xd0b"): "Cortex-A76", ("0x41", "0xd0d"): "Cortex-A77",
    ("0x41", "0xd41"): "Cortex-A78", ("0x41", "0xd44"): "Cortex-X1", ("0x41", "0xd46"): "Cortex-A510",
    ("0x41", "0xd47"): "Cortex-A710", ("0x41", "0xd48"): "Cortex-X2", ("0x41", "0xd4d"): "Cortex-A715",
    ("0x41", "0xd4e"): "Cortex-X3", ("0x41", "0xd80"): "Cortex-A520", ("0x41", "0xd81"): "Cortex-A720",
    ("0x41", "0xd82"): "Cortex-X4", ("0x41", "0xd85"): "Cortex-X925", ("0x41", "0xd87"): "Cortex-A725",
    ("0x51", "0x800"): "Kryo-2xx-Gold", ("0x51", "0x801"): "Kryo-2xx-Silver",
    ("0x51", "0x802"): "Kryo-3xx-Gold", ("0x51", "0x803"): "Kryo-3xx-Silver",
    ("0x51", "0x804"): "Kryo-4xx-Gold", ("0x51", "0x805"): "Kryo-4xx-Silver",
}


@dataclass
class Core:
    cpu: int
    online: bool
    max_khz: int | None
    cur_khz: int | None
    governor: str | None
    part: str | None = None


@dataclass
class PhoneState:
    """Everything the device script printed, parsed."""

    props: dict[str, str]
    machine: str
    android: bool
    cores: list[Core]
    cpu_parts: list[str]
    thermal_c: dict[str, float]
    battery: dict[str, str]
    data_free_kb: int | None
    extra: dict = field(default_factory=dict)

    @property
    def abi(self) -> str:
        return self.props.get("ro.product.cpu.abi") or self.machine

    @property
    def arch(self) -> str:
        """aarch64 or x86_64 (what binary the phone runs), from the ABI first, uname second."""
        abi = self.abi
        if abi.startswith("arm64") or abi == "aarch64":
            return "aarch64"
        if abi.startswith("x86_64"):
            return "x86_64"
        return self.machine

    def info(self, serial: str) -> DeviceInfo:
        p = self.props
        soc = p.get("ro.soc.model") or p.get("ro.board.platform") or p.get("ro.hardware")
        if p.get("ro.soc.manufacturer") and soc and p["ro.soc.manufacturer"] not in soc:
            soc = f"{p['ro.soc.manufacturer']} {soc}"
        release, sdk = p.get("ro.build.version.release"), p.get("ro.build.version.sdk")
        os_name = f"Android {release} (SDK {sdk})" if release else self.machine
        return DeviceInfo(
            name=f"adb:{serial}", kind="adb", cpu=cpu_summary(self.cpu_parts) or self.machine, cores=len(self.cores) or len(self.cpu_parts),
            os=os_name, manufacturer=p.get("ro.product.manufacturer"), model=p.get("ro.product.model"),
            soc=soc, accelerator=None,
            extra={"serial": serial, "abi": self.abi, "fingerprint": p.get("ro.build.fingerprint"),
                   "hardware": p.get("ro.hardware"), "board_platform": p.get("ro.board.platform"),
                   "android": self.android, "machine": self.machine,
                   "cores": [vars(c) for c in self.cores], "thermal_c": self.thermal_c,
                   "battery": self.battery, "data_free_kb": self.data_free_kb,
                   **({"testdevice": p["ro.mobilecomp.testdevice"]} if "ro.mobilecomp.testdevice" in p else {})})


def sections(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("@@"):
            current = line[2:].strip()
            out[current] = []
        elif current is not None:
            out[current].append(line)
    return out


def parse_props(lines: list[str]) -> dict[str, str]:
    props = {}
    for line in lines:
        m = re.match(r"^\[([^\]]+)\]:\s*\[(.*)\]\s*$", line)
        if m:
            props[m.group(1)] = m.group(2)
    return props


def parse_thermal(lines: list[str]) -> dict[str, float]:
    temps = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and re.fullmatch(r"-?\d+", parts[2]):
            raw = int(parts[2])
            temps[f"{parts[0]}:{parts[1]}"] = raw / 1000.0 if abs(raw) >= 1000 else float(raw)
    return temps


def parse_state(text: str) -> PhoneState:
    sec = sections(text)
    if "end" not in sec:
        raise ValueError("device script output is truncated (no @@end)")
    parts_by_cpu: dict[int, str] = {}
    cpu_parts, block = [], {}
    for line in sec.get("cpuinfo", []) + [""]:
        if not line.strip():
            if "processor" in block and block["processor"].isdigit():
                name = PARTS.get((block.get("CPU implementer", ""), block.get("CPU part", "")))
                name = name or (f"part {block['CPU part']}" if "CPU part" in block else block.get("model name"))
                if name:
                    parts_by_cpu[int(block["processor"])] = name
                    cpu_parts.append(name)
            block = {}
            continue
        if ":" in line:
            key, value = line.split(":", 1)
            block[key.strip()] = value.strip()
    cores = []
    for line in sec.get("cpus", []):
        f = line.split()
        if len(f) == 5 and f[0].isdigit():
            num = lambda s: int(s) if s.isdigit() else None  # noqa: E731
            cores.append(Core(int(f[0]), f[1].strip() != "0", num(f[2]), num(f[3]),
                              None if f[4] == "-" else f[4], parts_by_cpu.get(int(f[0]))))
    cores.sort(key=lambda c: c.cpu)
    battery = {}
    for line in sec.get("battery", []):
        if ":" in line:
            k, v = line.split(":", 1)
        elif "=" in line:
            k, v = line.split("=", 1)
        else:
            continue
        k = k.strip().removeprefix("POWER_SUPPLY_").lower()
        if k in ("level", "capacity", "status", "temperature", "temp", "ac powered", "usb powered",
                 "health", "voltage", "voltage_now"):
            battery[k] = v.strip()
    free = None
    df = [line for line in sec.get("df", []) if line.strip()]
    if df:
        fields = df[-1].split()
        if len(fields) >= 4 and fields[3].isdigit():
            free = int(fields[3])
    return PhoneState(props=parse_props(sec.get("props", [])), machine=" ".join(sec.get("uname", [])).strip(),
                      android=" ".join(sec.get("android", [])).strip() == "yes", cores=cores,
                      cpu_parts=cpu_parts, thermal_c=parse_thermal(sec.get("thermal", [])),
                      battery=battery, data_free_kb=free)


def cpu_summary(parts: list[str]) -> str:
    """'4x Cortex-A55 + 3x Cortex-A78 + 1x Cortex-X1' in the order the cores are numbered."""
    counts: dict[str, int] = {}
    for p in parts:
        counts[p] = counts.get(p, 0) + 1
    return " + ".join(f"{n}x {p}" for p, n in counts.items())


def big_cores(cores: list[Core], threads: int) -> list[int]:
    """The fastest online cores by cpufreq max, whole tiers at a time, until ``threads`` fit.

    Empty when the phone exposes no cpufreq (then nothing is pinned).
    """
    known = [c for c in cores if c.online and c.max_khz]
    if not known:
        return []
    tiers = sorted({c.max_khz for c in known}, reverse=True)
    chosen: list[int] = []
    for tier in tiers:
        chosen += [c.cpu for c in known if c.max_khz == tier]
        if len(chosen) >= threads:
            break
    return sorted(chosen)


def big_core_count(cores: list[Core]) -> int:
    """Cores above the slowest tier (all of them on a phone with one tier)."""
    known = [c for c in cores if c.online and c.max_khz]
    if not known:
        return len([c for c in cores if c.online]) or 1
    lowest = min(c.max_khz for c in known)
    fast = [c for c in known if c.max_khz > lowest]
    return len(fast) or len(known)


def mask(cpus: list[int]) -> str:
    return format(sum(1 << c for c in cpus), "x")


def hottest(thermal_c: dict[str, float]) -> float | None:
    """The hottest CPU/SoC zone (all zones where none is named so)."""
    cpu = {k: v for k, v in thermal_c.items() if re.search(r"cpu|soc|tsens|big|little|cluster|ap", k, re.I)}
    pool = cpu or thermal_c
    plausible = [v for v in pool.values() if -20 < v < 150]
    return max(plausible) if plausible else None
