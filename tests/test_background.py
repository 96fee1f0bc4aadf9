"""TFLite work started ahead (issue 24): the recipe passes on the fp32 file, the worker process,
and the export's step times. The files must be the ones the old route built, byte for byte."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

pytest.importorskip("litert_torch", reason="litert-torch not installed (scripts/setup.d/15-litert.sh)")
pytest.importorskip("ai_edge_litert", reason="ai-edge-litert not installed (scripts/setup.d/15-litert.sh)")

from mobilecomp.progress import Progress, StepLog  # noqa: E402


def _old_route(model, lens, path: Path, recipe_name: str) -> None:
    """How fp16 / int8-dynamic / int8-weight-only / int8-smooth were built before: a fresh
    conversion from PyTorch with litert-torch's quant_config."""
    from mobilecomp.export.tflite import convert
    from mobilecomp.runtime.litert import import_quietly

    recipes = import_quietly("litert_torch.generative.quantize.quant_recipes")
    convert(model, lens, path, quant_config=getattr(recipes, recipe_name)())


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_recipe):
    from mobilecomp.export.tflite import convert
    from mobilecomp.load import load_model

    model = load_model(tiny_recipe)
    work = tmp_path_factory.mktemp("tiny-tflite")
    convert(model, (16, 32), work / "model-fp32.tflite")
    return model, work


@pytest.mark.parametrize("recipe_name", ["full_fp16_recipe", "full_dynamic_recipe", "full_weight_only_recipe"])
def test_recipe_pass_on_the_fp32_file_is_the_old_routes_file(tiny, recipe_name, tmp_path):
    from mobilecomp.quantise.litert import recipe_pass

    model, work = tiny
    _old_route(model, (16, 32), tmp_path / "old.tflite", recipe_name)
    details = recipe_pass(work / "model-fp32.tflite", tmp_path / "new.tflite", recipe_name)
    assert _sha(tmp_path / "new.tflite") == _sha(tmp_path / "old.tflite")
    assert "model-fp32.tflite" in details["built_from"] and recipe_name in details["quantiser"]


def test_smoothed_float_then_the_pass_is_the_old_int8_smooth_file(tiny, tiny_recipe, tmp_path):
    from mobilecomp.export.tflite import convert
    from mobilecomp.inputs import encode
    from mobilecomp.quantise.litert import recipe_pass
    from mobilecomp.quantise.smooth import SMOOTH_ALPHA
    from mobilecomp.quantise.smooth_torch import smoothed_copy
    from mobilecomp.text import calibration_corpus

    model, _ = tiny
    calibration = encode(model.tokenizer, calibration_corpus().sentences[:16], model.input_names,
                         tiny_recipe.seq_len, batch_size=8, pad_to_max=True)
    smoothed, _ = smoothed_copy(model, calibration, SMOOTH_ALPHA)
    _old_route(smoothed, (16, 32), tmp_path / "old.tflite", "full_dynamic_recipe")
    convert(smoothed, (16, 32), tmp_path / "smoothed-fp32.tflite")
    recipe_pass(tmp_path / "smoothed-fp32.tflite", tmp_path / "new.tflite", "full_dynamic_recipe")
    assert _sha(tmp_path / "new.tflite") == _sha(tmp_path / "old.tflite")


def test_on_real_minilm_weights_int8_dynamic_from_the_fp32_file_is_the_old_routes(tmp_path):
    """The same bytes as converting with quant_config, so the same parity (one 32-token signature, for time)."""
    from mobilecomp.export.tflite import convert
    from mobilecomp.inputs import encode
    from mobilecomp.load import load_model
    from mobilecomp.quantise.litert import recipe_pass
    from mobilecomp.recipe import load_recipe
    from mobilecomp.text import calibration_corpus
    from mobilecomp.types import Budget
    from mobilecomp.verify import artefact_outputs, check_parity, reference_outputs

    model = load_model(load_recipe("minilm-l6-int8"))
    convert(model, (32,), tmp_path / "fp32.tflite")
    _old_route(model, (32,), tmp_path / "old.tflite", "full_dynamic_recipe")
    recipe_pass(tmp_path / "fp32.tflite", tmp_path / "new.tflite", "full_dynamic_recipe")
    assert _sha(tmp_path / "new.tflite") == _sha(tmp_path / "old.tflite")
    feeds = encode(model.tokenizer, calibration_corpus().sentences[:48], model.input_names, 32)
    reference = reference_outputs(model, feeds)
    old, new = (check_parity(reference, artefact_outputs("tflite", tmp_path / f"{route}.tflite", feeds,
                                                         model.output_names),
                             feeds, "sentence_embedding", "encoder", Budget(), "calibration text")
                for route in ("old", "new"))
    assert new.cos_min == old.cos_min and 0.98 < new.cos_min < 0.9999  # real weights: visibly int8


def test_the_worker_makes_the_same_files_and_cleans_up(tiny, tmp_path):
    from mobilecomp.export.background import Background

    model, work = tiny
    lines: list[str] = []
    background = Background(log=lines.append)
    background.convert(tmp_path / "model-fp32.tflite", model, (16, 32), {"note": "kept"})
    background.recipe_pass(tmp_path / "model-fp32.tflite", tmp_path / "dyn.tflite", "full_dynamic_recipe")
    background.recipe_pass(tmp_path / "missing.tflite", tmp_path / "bad.tflite", "full_dynamic_recipe")

    def here(what):
        def make():
            raise AssertionError(f"{what} was made here, not by the worker")
        return make

    assert background.get(tmp_path / "model-fp32.tflite", here("fp32")) == {"note": "kept"}
    assert _sha(tmp_path / "model-fp32.tflite") == _sha(work / "model-fp32.tflite")
    assert background.get(tmp_path / "dyn.tflite", here("dyn"))["quantiser"].endswith("full_dynamic_recipe()")
    # the job that failed in the worker is done here, and the log says why
    made = background.get(tmp_path / "bad.tflite", lambda: {"made": "here"})
    assert made == {"made": "here"} and any("bad.tflite" in line and "failed" in line for line in lines)
    assert not background.busy()
    # a job never started there is made here
    assert background.get(tmp_path / "other.tflite", lambda: {"made": "here too"}) == {"made": "here too"}
    background.close()
    assert not list(tmp_path.glob(".*.job"))


def test_a_dead_worker_means_converting_here(tiny, tmp_path):
    from mobilecomp.export.background import Background
    from mobilecomp.export.tflite import convert

    model, work = tiny
    lines: list[str] = []
    background = Background(log=lines.append)
    background.convert(tmp_path / "model-fp32.tflite", model, (16, 32), scratch=True)
    background._process.kill()
    background.get(tmp_path / "model-fp32.tflite", lambda: convert(model, (16, 32), tmp_path / "model-fp32.tflite"))
    assert _sha(tmp_path / "model-fp32.tflite") == _sha(work / "model-fp32.tflite")
    assert any("exited" in line for line in lines)
    background.close()
    assert not (tmp_path / "model-fp32.tflite").exists() and not list(tmp_path.glob(".*.job"))  # scratch


def test_export_with_a_background_process_builds_the_same_bundle(tiny_recipe, tmp_path):
    """onnx then tflite (the background's case) against tflite alone (built in process)."""
    from mobilecomp.pipeline import export_bundle

    variants = ("fp32", "int8-dynamic", "int8-smooth")
    lines: list[str] = []
    ahead = export_bundle(dataclasses.replace(tiny_recipe, formats=("onnx", "tflite"), variants=variants),
                          tmp_path / "ahead", log=lines.append)
    alone = export_bundle(dataclasses.replace(tiny_recipe, formats=("tflite",), variants=variants),
                          tmp_path / "alone")
    tflite = {a.name: a for a in ahead.manifest.artefacts if a.format == "tflite"}
    assert set(tflite) == {a.name for a in alone.manifest.artefacts}
    for art in alone.manifest.artefacts:
        assert tflite[art.name].sha256 == art.sha256, art.name
        assert tflite[art.name].parity.cos_min == art.parity.cos_min
    files = {p.name for p in (tmp_path / "ahead").iterdir()}
    assert "smoothed-fp32.tflite" not in files and not [f for f in files if f.endswith(".job")]
    manifest = json.loads((tmp_path / "ahead" / "manifest.json").read_text())
    smooth = next(a for a in manifest["artefacts"] if a["name"] == "tflite-int8-smooth")
    assert "smoothed-fp32.tflite" in smooth["details"]["built_from"]
    assert lines[-1].startswith("export took ") and "longest steps:" in lines[-1]


# ---- step times and progress lines ----------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_step_log_names_the_three_longest_steps():
    clock, lines = Clock(), []
    log = StepLog(lines.append, clock=clock)
    for line, seconds in [("loading", 2), ("onnx int8-accurate: sweep", 30), ("exporting tflite", 5),
                          ("tflite fp16: pass", 1), ("onnx fp16: convert", 7)]:
        log(line)
        clock.now += seconds
    log.note("a progress line")  # inside the current step, not a step of its own
    clock.now += 1
    assert log.summary() == ("export took 46.0 s; longest steps: onnx int8-accurate 30.0 s; "
                             "onnx fp16 8.0 s; exporting tflite 5.0 s")
    assert lines[-1] == "a progress line"


def test_progress_logs_an_eta_at_most_every_few_seconds():
    clock, lines = Clock(), []
    progress = Progress(lines.append, "sweep", 10, every=5.0, clock=clock)
    for _ in range(9):
        clock.now += 2.0
        progress.advance()
    assert lines == ["sweep: 3/10, ETA 14 s", "sweep: 6/10, ETA 8 s", "sweep: 9/10, ETA 2 s"]
