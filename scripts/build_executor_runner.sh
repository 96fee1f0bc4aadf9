#!/usr/bin/env bash
# Builds ExecuTorch's own executor_runner (examples/portable/executor_runner) with the XNNPACK
# delegate, for `mobilecomp profile --device adb --runner executor_runner=PATH`.
#
#   scripts/build_executor_runner.sh SOURCE PLATFORM OUT
#
# SOURCE: an ExecuTorch v1.4.1 checkout with its submodules, in a directory named `executorch`
#   (git clone --branch v1.4.1 --recursive https://github.com/pytorch/executorch). No registry
#   this project reaches (PyPI, npm, Debian) ships ExecuTorch's C++ sources or a built runner:
#   the executorch wheel holds Python bindings only, and executorch-numpy-runtime's sdist fetches
#   its sources from GitHub at build time. So the user supplies the checkout.
# PLATFORM: linux-aarch64 (Debian's cross g++), linux-x86_64 (the host g++) or android-arm64
#   (needs ANDROID_NDK).
# Every portable operator is registered, so the runner runs any program mobilecomp exports.
# OUT is the build directory (rerunning rebuilds only what changed); it ends holding
# OUT/executor_runner and OUT/executor_runner.json (what was built, from what).
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: $0 SOURCE linux-aarch64|linux-x86_64|android-arm64 OUT" >&2
  exit 2
fi
SRC=$(realpath "$1"); PLATFORM=$2; OUT=$(realpath -m "$3")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-$ROOT/.venv/bin/python}
[ -f "$SRC/CMakeLists.txt" ] && [ -d "$SRC/backends/xnnpack/third-party/XNNPACK/src" ] || {
  echo "$SRC: not an ExecuTorch checkout with submodules (git submodule update --init --recursive)" >&2; exit 2; }
[ "$(basename "$SRC")" = executorch ] || { echo "$SRC: ExecuTorch's CMake needs the checkout in a directory named executorch" >&2; exit 2; }
VERSION=$(cat "$SRC/version.txt" 2>/dev/null || echo unknown)

BUILD="$OUT"
mkdir -p "$BUILD"
case "$PLATFORM" in
  linux-aarch64)
    command -v aarch64-linux-gnu-g++ >/dev/null || { echo "no aarch64-linux-gnu-g++: apt-get install g++-aarch64-linux-gnu" >&2; exit 2; }
    cat > "$BUILD/toolchain.cmake" <<'EOF'
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
EOF
    # static libstdc++: the phone (or a Debian sysroot) need not carry the cross compiler's
    TARGET=(-DCMAKE_TOOLCHAIN_FILE="$BUILD/toolchain.cmake" "-DCMAKE_EXE_LINKER_FLAGS=-static-libstdc++ -static-libgcc") ;;
  linux-x86_64)
    TARGET=() ;;
  android-arm64)
    [ -n "${ANDROID_NDK:-}" ] || { echo "android-arm64 needs ANDROID_NDK (the NDK's directory)" >&2; exit 2; }
    TARGET=(-DCMAKE_TOOLCHAIN_FILE="$ANDROID_NDK/build/cmake/android.toolchain.cmake" -DANDROID_ABI=arm64-v8a
            -DANDROID_PLATFORM=android-26) ;;
  *) echo "unknown platform '$PLATFORM' (linux-aarch64, linux-x86_64, android-arm64)" >&2; exit 2 ;;
esac

# Kleidi off: XNNPACK would fetch KleidiAI from GitHub at configure time
cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release "${TARGET[@]}" \
  -DPYTHON_EXECUTABLE="$PY" -DEXECUTORCH_BUILD_XNNPACK=ON -DEXECUTORCH_XNNPACK_ENABLE_KLEIDI=OFF \
  -DEXECUTORCH_BUILD_EXECUTOR_RUNNER=ON -DEXECUTORCH_BUILD_EXTENSION_EVALUE_UTIL=ON \
  -DEXECUTORCH_BUILD_EXTENSION_RUNNER_UTIL=ON -DEXECUTORCH_BUILD_EXTENSION_DATA_LOADER=ON \
  -DEXECUTORCH_BUILD_EXTENSION_FLAT_TENSOR=ON -DEXECUTORCH_BUILD_KERNELS_QUANTIZED=ON \
  -DEXECUTORCH_ENABLE_LOGGING=ON -DEXECUTORCH_BUILD_DEVTOOLS=OFF > "$BUILD/configure.log"
ninja -C "$BUILD" executor_runner
"$PY" - "$OUT" "$PLATFORM" "$VERSION" <<'PY'
import hashlib, json, sys
from pathlib import Path
out, platform, version = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
exe = out / "executor_runner"
(out / "executor_runner.json").write_text(json.dumps({
    "program": "executor_runner (ExecuTorch examples/portable/executor_runner, XNNPACK delegate linked)",
    "executorch": version, "platform": platform, "sha256": hashlib.sha256(exe.read_bytes()).hexdigest(),
    "portable_ops": "all"}, indent=1) + "\n")
PY
echo "$OUT/executor_runner"
