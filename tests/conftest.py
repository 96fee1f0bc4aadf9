"""Shared fixtures: a tiny random BERT bundle made once per session by the real pipeline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Every test builds what it checks, and a test run does not fill the user's artefact cache (the
# cache's own tests turn it back on, against a cache directory of their own).
os.environ.setdefault("MOBILECOMP_ARTEFACT_CACHE", "0")

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def tiny_recipe():
    from mobilecomp.recipe import load_recipe

    return load_recipe(str(DATA / "tiny-bert.yaml"))


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, tiny_recipe) -> Path:
    """bundle dir with onnx-fp32 and onnx-int8-dynamic of a 2-layer random BERT (seq 32)."""
    from mobilecomp.pipeline import export_bundle

    out = tmp_path_factory.mktemp("bundles") / "tiny-bert"
    export_bundle(tiny_recipe, out)
    return out
