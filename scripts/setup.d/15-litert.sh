#!/usr/bin/env bash
# TFLite / LiteRT: litert-torch (PyTorch -> .tflite, no TensorFlow), ai-edge-litert (the
# interpreter for parity and host profiling) and ai-edge-quantizer (static int8 / int16x8).
# ~1.2 GB. Constrained by constraints.txt so torch stays the CPU 2.13.0 wheel. Idempotent:
# pip skips what is already at the pinned versions.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
if "$PY" - <<'PY' 2>/dev/null
from importlib.metadata import version
assert version("litert-torch") == "0.10.0"
version("ai-edge-litert"); version("ai-edge-quantizer")
PY
then
  exit 0
fi
"$PY" -m pip install -q --disable-pip-version-check -c constraints.txt \
  litert-torch==0.10.0 ai-edge-litert ai-edge-quantizer 2> >(grep -v 'WARNING: Location' >&2)
