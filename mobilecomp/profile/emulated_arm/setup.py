"""Builds the emulated-ARM toolchain once per version: qemu-user, two arm64 sysroots and the counting plugin.

One sysroot per guest (``guests()``): Debian bookworm's Python 3.11 with the aarch64 wheels of the
host's onnxruntime, numpy and ai-edge-litert; Debian trixie's Python 3.13 with numpy and
executorch-numpy-runtime (ExecuTorch's C++ runtime and XNNPACK without torch; its only aarch64
wheel is cp312-abi3, which needs Python 3.12's C API, so not bookworm's 3.11).

Everything lands in ``cache_dir()/arm``; the host's apt and dpkg state is never touched (the
arm64 packages come through a private APT_CONFIG and are unpacked with ``dpkg-deb -x``). Only
the two host packages qemu-user and libglib2.0-dev need root, and only when they are absent.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from ...errors import DeviceError
from ...text import cache_dir

SETUP_REVISION = "r2"  # bump to rebuild every cached bookworm sysroot
HOST_SUITE = "bookworm"  # the host's Debian: the source of its qemu-user (for qemu-plugin.h)
# The guest's LiteRT when the host has none (a setup that skipped scripts/setup.d/15-litert.sh).
LITERT_WITHOUT_HOST = "2.3.0"
QEMU = "/usr/bin/qemu-aarch64"  # the dynamic build: the -static one refuses -plugin
# The ExecuTorch guest's runtime: ExecuTorch 1.3.1 inside; it loads the .pte files executorch 1.4 writes.
EXECUTORCH_NUMPY_RUNTIME = "1.4.0"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
PLUGIN_SOURCE = Path(__file__).with_name("plugin.c")
FIX = "run `mobilecomp setup arm`"
FEATURES_V80 = "fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid"
FEATURES_V82 = FEATURES_V80 + " atomics fphp asimdhp asimdrdm lrcpc dcpop asimddp"

# What `-L SYSROOT` serves as /proc/cpuinfo: onnxruntime's cpuinfo parser crashes on the host's x86 one.
CPUINFO_CORE = """processor\t: {n}
BogoMIPS\t: 38.40
Features\t: {features}
CPU implementer\t: 0x{implementer:02x}
CPU architecture: 8
CPU variant\t: 0x{variant:x}
CPU part\t: 0x{part:03x}
CPU revision\t: 0
"""


@dataclass(frozen=True)
class Guest:
    """One arm64 sysroot: a Debian suite's Python and the aarch64 wheels pip puts beside it."""

    name: str
    suite: str
    python: str  # "3.11": the python3.X-minimal and libpython3.X-stdlib packages and pip's --python-version
    wheels: tuple[tuple[str, str, str, str], ...]  # (PyPI name, version, module, tag in the sysroot's name)
    revision: str
    formats: tuple[str, ...]  # the artefact formats its runtimes run
    # None: the guest sees the host's CPUs (its runtimes take a thread count); N: its sysfs and
    # cpuinfo show N CPUs, for a runtime that sizes its thread pool from cpuinfo alone
    cpus: int | None = None

    @property
    def cpuinfo_cores(self) -> int:
        return self.cpus or 4

    @property
    def packages(self) -> tuple[str, ...]:
        return (f"python{self.python}-minimal", f"libpython{self.python}-stdlib", "libstdc++6")

    @property
    def sysroot_name(self) -> str:
        return "-".join(["sysroot", self.suite, f"py{self.python}", *(tag + v for _, v, _, tag in self.wheels),
                         self.revision])

    def version(self, package: str) -> str:
        return next(v for name, v, _, _ in self.wheels if name == package)


@dataclass(frozen=True)
class Toolchain:
    """What a guest run needs: the qemu binary, the sysroot, the guest's site-packages, the plugin."""

    qemu: str
    qemu_version: str
    sysroot: Path
    site: Path
    plugin: Path
    guest: Guest

    @property
    def python(self) -> Path:
        return self.sysroot / "usr" / "bin" / f"python{self.guest.python}"

    @property
    def onnxruntime(self) -> str:
        return self.guest.version("onnxruntime")

    @property
    def numpy(self) -> str:
        return self.guest.version("numpy")

    @property
    def litert(self) -> str:
        return self.guest.version("ai-edge-litert")

    def describe(self) -> dict:
        return {"qemu": self.qemu, "qemu_version": self.qemu_version, "sysroot": str(self.sysroot),
                "plugin": str(self.plugin), **{name: v for name, v, _, _ in self.guest.wheels},
                "python": f"{self.guest.python} (Debian {self.guest.suite} arm64)"}


def _log_default(msg: str) -> None:
    print(f"setup arm: {msg}", file=sys.stderr)


def _run(cmd: list[str], what: str, fix: str, env: dict | None = None, cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    except FileNotFoundError:
        raise DeviceError(f"{what}: `{cmd[0]}` not found; {fix}") from None
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or [str(proc.returncode)]
        raise DeviceError(f"{what} failed ({tail[0]}); {fix}")
    return proc.stdout


class GuestVersions(NamedTuple):
    onnxruntime: str
    numpy: str
    litert: str


def host_versions() -> GuestVersions:
    """onnxruntime, numpy and ai-edge-litert on the host: the guest gets the same versions."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        litert = version("ai-edge-litert")
    except PackageNotFoundError:
        litert = LITERT_WITHOUT_HOST
    return GuestVersions(version("onnxruntime"), version("numpy"), litert)


def guests() -> dict[str, Guest]:
    """Every guest sysroot by name; the ONNX and LiteRT guest gets the host's runtime versions."""
    ort = host_versions()
    return {g.name: g for g in (
        Guest("ort", "bookworm", "3.11", (("onnxruntime", ort.onnxruntime, "onnxruntime", "ort"),
                                           ("numpy", ort.numpy, "numpy", "numpy"),
                                           ("ai-edge-litert", ort.litert, "ai_edge_litert.interpreter", "litert")),
              SETUP_REVISION, ("onnx", "tflite")),
        Guest("executorch", "trixie", "3.13", (("executorch-numpy-runtime", EXECUTORCH_NUMPY_RUNTIME,
                                                 "executorch_numpy_runtime", "etnp"),
                                                ("numpy", ort.numpy, "numpy", "numpy")),
              "r1", ("executorch",), cpus=1),
    )}


def guest_for(fmt: str) -> str | None:
    """The name of the guest whose runtime runs artefacts of format ``fmt`` (None: no guest does)."""
    return next((g.name for g in guests().values() if fmt in g.formats), None)


def arm_root() -> Path:
    path = cache_dir() / "arm"
    path.mkdir(parents=True, exist_ok=True)
    return path


def qemu_version() -> str:
    if not os.access(QEMU, os.X_OK):
        raise DeviceError(f"{QEMU} not found; install Debian's qemu-user (`sudo apt-get install "
                          f"qemu-user`) or {FIX} as root")
    out = _run([QEMU, "--version"], "qemu-aarch64 --version", "reinstall qemu-user")
    return out.split("\n", 1)[0].split("version", 1)[-1].strip().split()[0]


def _apt_install_host(packages: list[str], log: Callable[[str], None]) -> None:
    """Host packages via the host's apt (the one step that needs root)."""
    if os.geteuid() != 0:
        raise DeviceError(f"host packages {' '.join(packages)} are missing; run `sudo apt-get install -y "
                          f"{' '.join(packages)}`, then {FIX}")
    log(f"apt-get install {' '.join(packages)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]
    if subprocess.run(cmd, capture_output=True, env=env).returncode != 0:
        _run(["apt-get", "update", "-qq"], "apt-get update", "check the network", env=env)
        _run(cmd, f"apt-get install {' '.join(packages)}", "check the network and apt sources", env=env)


def ensure_host_packages(log: Callable[[str], None] = _log_default) -> None:
    missing = []
    if not os.access(QEMU, os.X_OK):
        missing.append("qemu-user")
    if not Path("/usr/include/glib-2.0/glib.h").exists():
        missing.append("libglib2.0-dev")
    for tool, package in (("gcc", "gcc"), ("dpkg-deb", "dpkg"), ("xz", "xz-utils")):
        if shutil.which(tool) is None:
            missing.append(package)
    if missing:
        _apt_install_host(missing, log)


# ---- private apt ------------------------------------------------------------------------------


def _private_apt(root: Path, source_kind: str, suite: str) -> dict:
    """An APT_CONFIG environment whose sources, state, cache and architecture live under ``root``."""
    for sub in ("etc/apt.conf.d", "etc/sources.list.d", "etc/preferences.d", "etc/trusted.gpg.d",
                "state/lists/partial", "cache/archives/partial", "log"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "state" / "status").touch()
    (root / "etc" / "apt.conf").touch()
    signed = f"[arch=arm64 signed-by={KEYRING}]" if source_kind == "deb" else f"[signed-by={KEYRING}]"
    (root / "etc" / "sources.list").write_text(
        f"{source_kind} {signed} http://deb.debian.org/debian {suite} main\n"
        f"{source_kind} {signed} http://deb.debian.org/debian {suite}-updates main\n"
        f"{source_kind} {signed} http://deb.debian.org/debian-security {suite}-security main\n")
    conf = f"""Dir::Etc "{root}/etc/";
Dir::Etc::main "{root}/etc/apt.conf";
Dir::Etc::parts "{root}/etc/apt.conf.d/";
Dir::Etc::sourcelist "{root}/etc/sources.list";
Dir::Etc::sourceparts "{root}/etc/sources.list.d/";
Dir::Etc::preferences "{root}/etc/preferences";
Dir::Etc::preferencesparts "{root}/etc/preferences.d/";
Dir::Etc::trustedparts "{root}/etc/trusted.gpg.d/";
Dir::State "{root}/state/";
Dir::State::status "{root}/state/status";
Dir::Cache "{root}/cache/";
Dir::Log "{root}/log/";
APT::Architecture "arm64";
APT::Architectures {{ "arm64"; }};
APT::Install-Recommends "false";
APT::Sandbox::User "{'root' if os.geteuid() == 0 else ''}";
Acquire::Languages "none";
Debug::NoLocking "true";
"""
    (root / "apt.conf").write_text(conf)
    return dict(os.environ, APT_CONFIG=str(root / "apt.conf"), DEBIAN_FRONTEND="noninteractive", LC_ALL="C")


def _fetch_debs(apt_root: Path, guest: Guest, log: Callable[[str], None]) -> list[Path]:
    env = _private_apt(apt_root, "deb", guest.suite)
    fix = "check that deb.debian.org is reachable, then " + FIX
    log(f"arm64 package lists ({guest.suite}) into {apt_root}")
    _run(["apt-get", "update", "-qq"], "apt-get update (private arm64 config)", fix, env=env)
    log(f"downloading {' '.join(guest.packages)} and their dependencies")
    _run(["apt-get", "install", "--download-only", "-y", "-qq", *guest.packages],
         "apt-get install --download-only (arm64)", fix, env=env)
    debs = sorted((apt_root / "cache" / "archives").glob("*.deb"))
    if not debs:
        raise DeviceError(f"no arm64 packages were downloaded into {apt_root}; {fix}")
    return debs


def build_sysroot(target: Path, guest: Guest, log: Callable[[str], None]) -> None:
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "root").mkdir(parents=True)
    # one package cache per suite: every .deb in it is unpacked
    debs = _fetch_debs(arm_root() / ("apt-arm64" if guest.suite == HOST_SUITE else f"apt-arm64-{guest.suite}"),
                       guest, log)
    log(f"unpacking {len(debs)} packages with dpkg-deb -x")
    for deb in debs:
        _run(["dpkg-deb", "-x", str(deb), str(tmp / "root")], f"dpkg-deb -x {deb.name}", "delete it and " + FIX)
    for top in ("bin", "lib", "sbin"):  # trixie's packages ship /usr only: its /lib links come from base-files
        if not (tmp / "root" / top).exists() and (tmp / "root" / "usr" / top).is_dir():
            (tmp / "root" / top).symlink_to(f"usr/{top}")
    site = tmp / "root" / "opt" / "mobilecomp" / "site-packages"
    wheels = [f"{name}=={v}" for name, v, _, _ in guest.wheels]
    log(f"aarch64 wheels {' '.join(wheels)} (manylinux_2_28/2_27_aarch64, cp{guest.python.replace('.', '')})")
    # --no-deps: the runtimes import nothing beyond numpy. pip does not widen a --platform
    # manylinux_2_28 to older glibc tags, and ai-edge-litert ships manylinux_2_27 only. The wheel tags
    # pin the guest's Python; pip 23 would check Requires-Python against the host's instead.
    _run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
          "--ignore-requires-python",
          "--target", str(site), "--platform", "manylinux_2_28_aarch64", "--platform", "manylinux_2_27_aarch64",
          "--only-binary=:all:", "--python-version", guest.python, "--implementation", "cp", *wheels],
         "pip install --target (aarch64 wheels)", "check that PyPI is reachable, then " + FIX)
    write_cpuinfo(tmp / "root", part=0xD0B, variant=4, cores=guest.cpuinfo_cores)  # Cortex-A76; runs rewrite it per profile
    if guest.cpus:  # what cpuinfo counts processors from (qemu -L serves these paths from the sysroot)
        sysfs = tmp / "root" / "sys" / "devices" / "system" / "cpu"
        sysfs.mkdir(parents=True)
        for name in ("possible", "present", "online"):
            (sysfs / name).write_text(f"0-{guest.cpus - 1}\n" if guest.cpus > 1 else "0\n")
    (tmp / "root" / "VERSION").write_text(f"{target.name}\n")
    shutil.rmtree(target, ignore_errors=True)
    (tmp / "root").rename(target)
    shutil.rmtree(tmp, ignore_errors=True)


def write_cpuinfo(sysroot: Path, part: int, variant: int, cores: int, implementer: int = 0x41,
                  dotprod: bool = True) -> None:
    """The fake aarch64 /proc/cpuinfo (written only when it changes, atomically)."""
    text = "\n".join(CPUINFO_CORE.format(n=i, part=part, variant=variant, implementer=implementer,
                                          features=FEATURES_V82 if dotprod else FEATURES_V80)
                     for i in range(cores))
    path = sysroot / "proc" / "cpuinfo"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_name(f"cpuinfo.{os.getpid()}")
    tmp.write_text(text)
    tmp.replace(path)


@contextmanager
def emulated_cpu(sysroot: Path, **cpuinfo) -> Iterator[None]:
    """The sysroot's fake /proc/cpuinfo set to one CPU model (write_cpuinfo's arguments) and held
    for the block: a second profile of another model waits (flock) instead of swapping it under
    a running guest, whose runtime would then pick kernels the emulated CPU lacks (SIGILL)."""
    import fcntl

    lock = sysroot / "proc" / ".cpuinfo.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("emulated-arm: another emulated profile is running; waiting for it", file=sys.stderr)
            fcntl.flock(fd, fcntl.LOCK_EX)
        write_cpuinfo(sysroot, **cpuinfo)
        yield
    finally:
        os.close(fd)


# ---- plugin -----------------------------------------------------------------------------------


def _plugin_header(version: str, log: Callable[[str], None]) -> Path:
    """qemu-plugin.h from Debian's qemu source package of exactly the installed version."""
    header = arm_root() / f"qemu-{version}" / "qemu-plugin.h"
    if header.exists():
        return header
    src_version = _run(["dpkg-query", "-W", "-f=${source:Version}", "qemu-user"],
                       "dpkg-query qemu-user", "install qemu-user").strip()
    apt_root = arm_root() / "apt-src"
    env = _private_apt(apt_root, "deb-src", HOST_SUITE)
    fix = "check that deb.debian.org is reachable, then " + FIX
    log(f"qemu {src_version} source package (for qemu-plugin.h)")
    _run(["apt-get", "update", "-qq"], "apt-get update (private deb-src config)", fix, env=env)
    work = apt_root / "source"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    _run(["apt-get", "source", "--download-only", "-qq", f"qemu={src_version}"],
         "apt-get source qemu", fix, env=env, cwd=work)
    origs = sorted(work.glob("qemu_*.orig.tar.*"))
    if not origs:
        raise DeviceError(f"the qemu source package has no orig tarball in {work}; {fix}")
    with tarfile.open(origs[0]) as tar:
        member = next((m for m in tar if m.name.endswith("include/qemu/qemu-plugin.h")), None)
        if member is None:
            raise DeviceError(f"{origs[0].name} has no include/qemu/qemu-plugin.h; {fix}")
        data = tar.extractfile(member).read()
    header.parent.mkdir(parents=True, exist_ok=True)
    header.write_bytes(data)
    shutil.rmtree(work, ignore_errors=True)
    return header


def build_plugin(version: str, log: Callable[[str], None]) -> Path:
    digest = hashlib.sha256(PLUGIN_SOURCE.read_bytes()).hexdigest()[:12]
    out = arm_root() / f"plugin-qemu{version}-{digest}.so"
    if out.exists():
        return out
    header = _plugin_header(version, log)
    cflags = _run(["pkg-config", "--cflags", "glib-2.0"], "pkg-config glib-2.0",
                  "install libglib2.0-dev (`sudo apt-get install libglib2.0-dev`)").split()
    log(f"gcc {PLUGIN_SOURCE.name} -> {out.name}")
    tmp = out.with_suffix(".partial.so")
    _run(["gcc", "-O2", "-shared", "-fPIC", "-Wall", *cflags, "-I", str(header.parent),
          str(PLUGIN_SOURCE), "-o", str(tmp)], "gcc (qemu plugin)", "install gcc and libglib2.0-dev")
    tmp.replace(out)
    return out


# ---- entry points ---------------------------------------------------------------------------


def sysroot_path(guest: Guest) -> Path:
    return arm_root() / guest.sysroot_name


def setup_arm(force: bool = False, log: Callable[[str], None] = _log_default) -> Toolchain:
    """Idempotent: builds what is missing (or everything with ``force``): every guest's sysroot, the
    plugin. Returns the ONNX and LiteRT guest's toolchain (``toolchain(name)`` gives any guest's)."""
    t0 = time.perf_counter()
    ensure_host_packages(log)
    version = qemu_version()
    every = guests()
    if force:
        for guest in every.values():
            shutil.rmtree(sysroot_path(guest), ignore_errors=True)
        for old in arm_root().glob("plugin-*.so"):
            old.unlink()
    for guest in every.values():
        if not (sysroot_path(guest) / "VERSION").exists():
            log(f"building the {guest.name} sysroot (Debian {guest.suite}, Python {guest.python})")
            build_sysroot(sysroot_path(guest), guest, log)
    plugin = build_plugin(version, log)
    chains = {name: Toolchain(QEMU, version, sysroot_path(g), sysroot_path(g) / "opt" / "mobilecomp" / "site-packages",
                              plugin, g) for name, g in every.items()}
    for tc in chains.values():
        smoke_test(tc)
    log(f"ready in {time.perf_counter() - t0:.1f} s: "
        + ", ".join(f"{tc.sysroot} ({_size_mb(tc.sysroot):.0f} MB)" for tc in chains.values()) + f", {plugin.name}")
    return chains["ort"]


def toolchain(name: str = "ort") -> Toolchain:
    """A built guest's toolchain, or a DeviceError naming the fix; builds nothing."""
    version = qemu_version()
    guest = guests()[name]
    sysroot = sysroot_path(guest)
    if not (sysroot / "VERSION").exists():
        raise DeviceError(f"no ARM sysroot at {sysroot}; {FIX}")
    digest = hashlib.sha256(PLUGIN_SOURCE.read_bytes()).hexdigest()[:12]
    plugin = arm_root() / f"plugin-qemu{version}-{digest}.so"
    if not plugin.exists():
        raise DeviceError(f"the instruction-counting plugin {plugin.name} is not built; {FIX}")
    tc = Toolchain(QEMU, version, sysroot, sysroot / "opt" / "mobilecomp" / "site-packages", plugin, guest)
    if not tc.python.exists():
        raise DeviceError(f"the ARM sysroot {sysroot} is broken (no usr/bin/{tc.python.name}); "
                          "rebuild it with `mobilecomp setup arm --force`")
    return tc


def smoke_test(tc: Toolchain) -> None:
    """Python and the guest's runtimes import under qemu; a broken sysroot fails here, by name."""
    if not tc.python.exists():
        raise DeviceError(f"{tc.python} is missing: the ARM sysroot is broken; `mobilecomp setup arm --force`")
    modules = [module for _, _, module, _ in tc.guest.wheels]
    code = (f"import sys, {', '.join(modules)}; "
            f"print(*(sys.modules[m.split('.')[0]].__version__ for m in {modules!r}))")
    proc = subprocess.run([tc.qemu, "-cpu", "cortex-a76", "-L", str(tc.sysroot), str(tc.python), "-c", code],
                          capture_output=True, text=True, env=guest_env(tc), timeout=300)
    if proc.returncode != 0 or proc.stdout.split() != [v for _, v, _, _ in tc.guest.wheels]:
        tail = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        raise DeviceError(f"{' or '.join(name for name, _, _, _ in tc.guest.wheels)} does not import under qemu "
                          f"({tail}); the ARM sysroot {tc.sysroot} is broken: `mobilecomp setup arm --force`")


def guest_env(tc: Toolchain) -> dict:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR")}
    return dict(keep, PYTHONPATH=str(tc.site), PYTHONNOUSERSITE="1", PYTHONDONTWRITEBYTECODE="1",
                OMP_NUM_THREADS="1", LC_ALL="C.UTF-8", PYTHONHASHSEED="0")


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6
