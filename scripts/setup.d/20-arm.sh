#!/usr/bin/env bash
# Emulated ARM: qemu-user, the arm64 sysroots (Python 3.11 + onnxruntime + LiteRT; Python 3.13 +
# ExecuTorch's runtime) and the counting plugin (idempotent, cached by version under the mobilecomp
# cache; ~30 s the first time).
set -euo pipefail
PY=${PY:-.venv/bin/python}
"$PY" -c 'from mobilecomp.profile.emulated_arm.setup import setup_arm; setup_arm()'
