"""Every registered architecture end to end: real weights (all-MiniLM-L6-v2 transplanted into
DistilBERT, RoBERTa and ELECTRA) through ONNX and TFLite, each artefact gated on parity and lint."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mobilecomp.cli import main
from mobilecomp.load.architectures import ARCHITECTURES
from mobilecomp.recipe import load_recipe
from mobilecomp.types import CheckpointSpec, Recipe

TESTS = Path(__file__).parent
TRANSPLANTS = ("distilbert", "roberta", "electra")
# Max |token state - MiniLM's| on real tokens (NOTES, measured 2026-12-05). DistilBERT's 1.6e-6 was
# with token-type row 0 in the position table; transplant.py folds it into the word table: 0 here.
STATE_TOLERANCE = {"distilbert": 1.6e-6, "roberta": 0.0, "electra": 0.0}
VARIANTS = ("fp32", "int8-dynamic")
# SmoothQuant finds Q/K/V through the class (test_smoothquant_finds_qkv_through_the_class); one
# architecture whose names differ from BERT's also takes it through both exporters.
EXTRA_VARIANTS = {"distilbert": ("int8-smooth",)}
# A gate miss that is a result, not a bug: onnxruntime's int8-dynamic takes one activation range per
# tensor, pad tokens included. MiniLM itself measures cos_min 0.9803 at seq 64 against the 0.98 budget;
# RoBERTa's pad tokens sit at position padding_idx (a zero row, as in the published RoBERTa), which moves
# the shared ranges enough for 0.9788. The per-row and smoothed variants pass with room.
KNOWN_MISSES = {("roberta", "onnx-int8-dynamic"): 0.005}  # how far under its budget it may fall

# Guard: every registered architecture has an end-to-end test (file::function), found below.
END_TO_END = {
    "bert": ("test_minilm.py::test_minilm_fp32_is_exact_and_int8_within_budget",  # real weights, ONNX
             "test_tflite.py::test_variant_passes_parity_and_lint"),  # every TFLite variant, tiny BERT
    "mobilebert": ("test_architectures.py::test_random_architecture_end_to_end",),
    "mobilebert-table1": ("test_architectures.py::test_random_architecture_end_to_end",),
    "distilbert": ("test_architectures.py::test_transplant_end_to_end",),
    "roberta": ("test_architectures.py::test_transplant_end_to_end",),
    "electra": ("test_architectures.py::test_transplant_end_to_end",),
}
RANDOM = ("mobilebert", "mobilebert-table1")  # no weights reachable: architecture-only, 2 layers
RANDOM_VARIANTS = ("fp32", "int8-dynamic")  # MobileBERT's Q/K/V read different tensors: no SmoothQuant


def test_every_architecture_has_an_end_to_end_test():
    assert sorted(END_TO_END) == sorted(ARCHITECTURES), "a registered architecture has no end-to-end test"
    assert sorted(TRANSPLANTS + RANDOM) == sorted(n for n, tests in END_TO_END.items()
                                                  if tests[0].startswith("test_architectures.py"))
    for tests in END_TO_END.values():
        for test in tests:
            file, function = test.split("::")
            assert re.search(rf"^def {function}\(", (TESTS / file).read_text(), re.M), test


@pytest.fixture(scope="module")
def transplants(tmp_path_factory) -> dict[str, Path]:
    """The three checkpoint directories, written by the CLI."""
    root = tmp_path_factory.mktemp("transplants")
    for to in TRANSPLANTS:
        result = CliRunner().invoke(main, ["transplant", "--to", to, "--out", str(root / to)])
        assert result.exit_code == 0, result.output
    return {to: root / to for to in TRANSPLANTS}


@pytest.fixture(scope="module")
def recipe():
    """The shipped MiniLM recipe, small: `export --recipe minilm-l6-int8 --checkpoint DIR` picks the
    checkpoint's architecture from its config.json."""
    return dataclasses.replace(load_recipe("minilm-l6-int8"), seq_len=64, tflite_seq_lens=(),
                               formats=("onnx", "tflite"), variants=VARIANTS)


@pytest.fixture(scope="module")
def minilm_states(recipe):
    import torch

    from mobilecomp.inputs import encode
    from mobilecomp.load import load_model
    from mobilecomp.text import parity_corpus

    model = load_model(recipe)
    feeds = encode(model.tokenizer, parity_corpus().sentences[:64], model.input_names, recipe.seq_len)
    with torch.no_grad():
        states = [model.module(*(torch.from_numpy(f[n]) for n in model.input_names))[0] for f in feeds]
    return feeds, states


@pytest.mark.parametrize("to", TRANSPLANTS)
def test_transplant_computes_minilms_function(to, transplants, recipe, minilm_states):
    import torch

    from mobilecomp.load import load_model

    model = load_model(recipe, checkpoint=str(transplants[to]))
    assert model.architecture == to and model.checkpoint["architecture"] == to
    assert model.input_names == ARCHITECTURES[to].inputs
    assert type(model.module.model).__name__ == ARCHITECTURES[to].base_class
    feeds, reference = minilm_states
    worst = 0.0
    with torch.no_grad():
        for feed, want in zip(feeds, reference):
            got = model.module(*(torch.from_numpy(feed[n]) for n in model.input_names))[0]
            real = torch.from_numpy(feed["attention_mask"]).bool()  # pad tokens: RoBERTa places them apart
            worst = max(worst, float((got[real] - want[real]).abs().max()))
    assert worst <= STATE_TOLERANCE[to], f"{to}: max |diff| {worst:.2e}"


@pytest.mark.parametrize("to", TRANSPLANTS)
def test_smoothquant_finds_qkv_through_the_class(to, transplants, recipe, minilm_states):
    """Every layer's Q/K/V Linears, by the class's module pattern and names; fp32 outputs unchanged."""
    import torch

    from mobilecomp.load import load_model
    from mobilecomp.quantise.smooth_torch import smoothed_copy

    model = load_model(recipe, checkpoint=str(transplants[to]))
    feeds = [{n: f[n] for n in model.input_names} for f in minilm_states[0][:2]]
    smoothed, details = smoothed_copy(model, feeds, alpha=0.5)
    assert details["groups"] == 6 and details["matmuls"] == 18, details
    with torch.no_grad():
        for feed in feeds:
            args = [torch.from_numpy(feed[n]) for n in model.input_names]
            assert torch.allclose(smoothed.module(*args)[1], model.module(*args)[1], atol=1e-4)


@pytest.fixture(scope="module")
def bundles(transplants, recipe, tmp_path_factory):
    from mobilecomp.pipeline import export_bundle

    made = {}

    def bundle(to: str):
        if to not in made:
            small = dataclasses.replace(recipe, variants=VARIANTS + EXTRA_VARIANTS.get(to, ()))
            made[to] = export_bundle(small, tmp_path_factory.mktemp("b") / to, checkpoint=str(transplants[to]))
        return made[to]
    return bundle


def _check_bundle(result, name: str, variants: tuple[str, ...], layers: int, misses: dict[str, float]) -> None:
    import onnxruntime as ort

    from mobilecomp.litert import TFLiteModel

    manifest, inputs = result.manifest, list(ARCHITECTURES[name].inputs)
    assert manifest.model["architecture"] == manifest.checkpoint["architecture"] == name
    assert manifest.model["inputs"] == inputs and manifest.unbuilt == []
    with np.load(result.bundle / "inputs" / "profile.npz") as data:
        assert sorted(data.files) == sorted(inputs)
    built = {a.name: a for a in manifest.artefacts}
    assert sorted(built) == sorted(f"{f}-{v}" for f in ("onnx", "tflite") for v in variants)
    for art in built.values():
        parity = art.parity
        if art.name in misses:  # a result the gate reports, within a known distance of its budget
            assert parity.cos_min >= parity.budget.cos_min - misses[art.name], (art.name, parity)
        else:
            assert parity.passed, (art.name, parity.failures)
        if art.format == "tflite":
            lint = art.details["lint"]
            assert lint["passed"] and lint["flex_ops"] == [], (art.name, lint)
            model = TFLiteModel(result.bundle / art.file, threads=1)
            signature = model.interpreter.get_signature_runner(next(iter(model.lengths)))
            assert sorted(signature.get_input_details()) == sorted(inputs)
        else:
            session = ort.InferenceSession(str(result.bundle / art.file), providers=["CPUExecutionProvider"])
            assert [i.name for i in session.get_inputs()] == inputs
        if art.variant == "int8-smooth":  # found through the class: Q/K/V of every layer
            assert art.details["smoothquant"]["groups"] == layers, art.details["smoothquant"]


@pytest.mark.parametrize("to", TRANSPLANTS)
def test_transplant_end_to_end(to, bundles):
    result = bundles(to)
    assert result.manifest.checkpoint["trained"] is True
    misses = {art: d for (name, art), d in KNOWN_MISSES.items() if name == to}
    _check_bundle(result, to, VARIANTS + EXTRA_VARIANTS.get(to, ()), layers=6, misses=misses)
    int8 = {a.name: a.parity.cos_min for a in result.manifest.artefacts if "int8" in a.variant}
    assert max(int8.values()) < 0.9999, int8  # real weights: int8 is visibly lossy (random weights show ~1.0)


@pytest.mark.parametrize("name", RANDOM)
def test_random_architecture_end_to_end(name, tmp_path):
    from mobilecomp.pipeline import export_bundle

    recipe = Recipe(name=f"tiny-{name}", description="", seq_len=32, formats=("onnx", "tflite"),
                    variants=RANDOM_VARIANTS, checkpoint=CheckpointSpec(source="architecture", architecture=name,
                                                                        config={"num_hidden_layers": 2}))
    _check_bundle(export_bundle(recipe, tmp_path / "b"), name, RANDOM_VARIANTS, layers=2, misses={})


@pytest.mark.parametrize("to", TRANSPLANTS)
def test_shipped_recipe_takes_the_transplant(to, transplants):
    """`export --recipe TO-minilm-int8` names how to make its checkpoint; with --checkpoint it loads."""
    from mobilecomp.errors import ConfigError
    from mobilecomp.load import check_config, load_model

    recipe = load_recipe(f"{to}-minilm-int8")
    if not Path(recipe.checkpoint.path).is_dir():
        with pytest.raises(ConfigError, match=f"mobilecomp transplant --to {to}"):
            check_config(recipe)
    check_config(recipe, str(transplants[to]))
    model = load_model(recipe, checkpoint=str(transplants[to]))
    assert model.architecture == to and model.checkpoint["trained"] is True


def test_a_recipe_naming_another_architecture_refuses_the_checkpoint(transplants, tmp_path):
    result = CliRunner().invoke(main, ["export", "--recipe", "mobilebert-int8", "--checkpoint",
                                       str(transplants["distilbert"]), "--out", str(tmp_path / "out")])
    assert result.exit_code == 3 and "model_type 'distilbert' does not match" in result.stderr


def test_roberta_positions_start_after_the_pad_row(recipe):
    """RoBERTa numbers positions from pad_token_id + 1: a table of 65 rows with pad id 1 holds 63 tokens."""
    import transformers

    from mobilecomp.errors import CheckpointError, ConfigError
    from mobilecomp.load import check_fits

    tokens = list(range(100))  # stands for a tokenizer: only its length is read
    fits = transformers.RobertaConfig(max_position_embeddings=66, pad_token_id=1, vocab_size=100)
    check_fits(recipe, fits, tokens, "config.json", CheckpointError)
    short = transformers.RobertaConfig(max_position_embeddings=65, pad_token_id=1, vocab_size=100)
    with pytest.raises(ConfigError, match=r"max_position_embeddings 65 \(63 usable"):
        check_fits(recipe, short, tokens, "config.json", CheckpointError)


def test_transplant_refuses_unknown_and_occupied(tmp_path):
    bad = CliRunner().invoke(main, ["transplant", "--to", "gpt2", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "known: distilbert, roberta, electra" in bad.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine\n")
    busy = CliRunner().invoke(main, ["transplant", "--to", "electra", "--out", str(tmp_path / "full")])
    assert busy.exit_code == 5 and "already exists" in busy.stderr  # as export's --out: written whole or not at all
    assert [f.name for f in (tmp_path / "full").iterdir()] == ["keep.txt"]
