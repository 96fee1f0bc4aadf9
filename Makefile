# The two commands of the README: `make demo` and `make test`. Both set up first (idempotent).
VENV ?= .venv
PY := $(VENV)/bin/python
MC := $(VENV)/bin/mobilecomp
RECIPE ?= minilm-l6-int8

.PHONY: setup demo test demo-avx2 test-avx2 bench students clean

setup:
	bash scripts/setup.sh

demo: setup
	$(MC) export --recipe $(RECIPE) --force
	$(MC) profile --device host bundles/$(RECIPE)

test: setup
	$(PY) -m pytest -q

# The same two commands on an AVX2-only CPU's int8 kernels (onnxruntime's saturating U8S8 path):
# this CPU, natively, with CPUID masked by mobilecomp/runtime/cpu_view.c (needs CPUID faulting: recent Intel).
demo-avx2 test-avx2: setup
	$(PY) -m mobilecomp.runtime.cpu_view $(MAKE) $(@:-avx2=)

bench: setup
	$(PY) bench/onnx_int8.py

students: setup  # every seed compression method on the fine-tuned teacher: docs/students.md (about 2 hours)
	$(PY) bench/students.py

clean:
	rm -rf bundles .pytest_cache
