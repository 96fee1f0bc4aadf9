"""Maps a phone's paths onto a sandbox directory and turns device shell commands into host ones.

The test device really runs what the adb host sends; only the paths are moved: ``/data/...``
and ``/sdcard/...`` live under the sandbox root, ``/sys/...`` and ``/proc/cpuinfo`` come from
the sandbox when it holds an overlay for them (a phone's cpufreq and thermal tree) and from
the host otherwise, and ``getprop`` reads the props file. Where a qemu sysroot is given, an
aarch64 ELF named in a command is started under ``qemu-aarch64`` the way binfmt_misc would.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path

WRITABLE = ("/data/", "/sdcard/")  # the only trees a push may write to
OVERLAYS = ("/sys/", "/proc/cpuinfo", "/system/bin/")  # served from the sandbox when present there
_PATH = re.compile(r"(?<![\w.~/-])(/data/|/sdcard/|/sys/|/proc/cpuinfo|/system/bin/)")
EM_AARCH64 = 0xB7

GETPROP = """#!/bin/sh
# getprop of the mobilecomp test device: the props file, `key=value` a line.
PROPS='{props}'
if [ $# -eq 0 ]; then
  grep -v '^#' "$PROPS" | grep '=' | sed 's/^\\([^=]*\\)=\\(.*\\)$/[\\1]: [\\2]/'
else
  v=$(grep -m1 "^$1=" "$PROPS" | cut -d= -f2-)
  [ -n "$v" ] && echo "$v" || echo "${{2:-}}"
fi
"""


def read_props(path: Path) -> dict[str, str]:
    props = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            props[key.strip()] = value.strip()
    return props


@dataclass
class Sandbox:
    root: Path
    props: Path
    qemu_sysroot: Path | None = None  # run aarch64 ELFs under qemu-aarch64 -L this
    qemu_cpu: str = "cortex-a76"
    quota_bytes: int | None = None  # /data fills up past this many bytes (the "full /data" fault)

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        for sub in ("data/local/tmp", "sdcard", "system/bin"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        getprop = self.root / "system/bin/getprop"
        getprop.write_text(GETPROP.format(props=str(Path(self.props).resolve())))
        getprop.chmod(0o755)

    # ---- paths ----------------------------------------------------------------------------

    def host_path(self, device_path: str, for_write: bool = False) -> Path | None:
        """Where a device path lives on the host; None where a push may not write."""
        p = os.path.normpath("/" + device_path.lstrip("/"))
        if p in ("/data", "/sdcard") or p.startswith(WRITABLE):
            return self.root / p.lstrip("/")
        if for_write:
            return None
        overlay = self.root / p.lstrip("/")
        return overlay if overlay.exists() else Path(p)

    def _map(self, match: re.Match) -> str:
        prefix = match.group(1)
        if prefix in ("/data/", "/sdcard/") or (self.root / prefix.strip("/")).exists():
            return str(self.root) + prefix
        return prefix

    def used_bytes(self) -> int:
        total = 0
        for dirpath, _, files in os.walk(self.root / "data"):
            for name in files:
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_size
                except OSError:
                    pass
        return total

    # ---- commands -------------------------------------------------------------------------

    def command(self, cmd: str) -> str:
        """The host shell command that does what ``cmd`` asks of the phone."""
        cmd = _PATH.sub(self._map, cmd)
        if self.qemu_sysroot is not None:
            cmd = self._qemu(cmd)
        return cmd

    def _qemu(self, cmd: str) -> str:
        try:
            tokens = shlex.split(cmd, posix=True)
        except ValueError:
            return cmd
        wrapped = set()
        for tok in tokens:
            if tok.startswith(str(self.root)) and tok not in wrapped and _is_aarch64(Path(tok)):
                wrapped.add(tok)
        for tok in sorted(wrapped, key=len, reverse=True):
            qemu = f"qemu-aarch64 -cpu {self.qemu_cpu} -L {shlex.quote(str(self.qemu_sysroot))} {tok}"
            cmd = re.sub(rf"(?<![\w/.-]){re.escape(tok)}(?![\w/.-])", lambda _m: qemu, cmd)
        return cmd

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TZ")}
        env.update(PATH=f"{self.root}/system/bin:/usr/local/bin:/usr/bin:/bin",
                   HOME=str(self.root / "data/local/tmp"), TMPDIR=str(self.root / "data/local/tmp"),
                   ANDROID_DATA=str(self.root / "data"), MOBILECOMP_TESTDEVICE="1")
        return env


def _is_aarch64(path: Path) -> bool:
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return False
        with open(path, "rb") as fh:
            head = fh.read(20)
    except OSError:
        return False
    return head[:4] == b"\x7fELF" and int.from_bytes(head[18:20], "little") == EM_AARCH64
