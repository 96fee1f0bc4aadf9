#!/usr/bin/env bash
# ExecuTorch (.pte with the XNNPACK delegate): the exporter and the Python runtime, one wheel.
# 1.4.1 is the last release whose metadata requires torch (1.5 drops it), so it is pinned beside
# torch 2.13.0. --no-deps: its requirements pull coremltools, pandas, scikit-learn, hydra and more
# that export and the runtime never import; the one they do import is ruamel.yaml (edge op specs).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
if "$PY" - <<'PY' 2>/dev/null
from importlib.metadata import version
assert version("executorch") == "1.4.1"
version("ruamel.yaml")
PY
then
  exit 0
fi
"$PY" -m pip install -q --disable-pip-version-check --no-deps -c constraints.txt \
  executorch==1.4.1 ruamel.yaml==0.19.1 2> >(grep -v 'WARNING: Location' >&2)
