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

from conftest import DISTILLED_VARIANTS

TESTS = Path(__file__).parent
TRANSPLANTS = ("distilbert", "roberta", "xlm-roberta", "electra")
# Max |token state - MiniLM's| on real tokens (NOTES, measured 2026-12-05). DistilBERT's 1.6e-6 was
# with token-type row 0 in the position table; transplant.py folds it into the word table: 0 here.
STATE_TOLERANCE = {"distilbert": 1.6e-6, "roberta": 0.0, "xlm-roberta": 0.0, "electra": 0.0}
VARIANTS = ("fp32", "int8-dynamic")
# SmoothQuant finds Q/K/V through the class (test_smoothquant_finds_qkv_through_the_class); one
# architecture whose names differ from BERT's also takes it through both exporters.
EXTRA_VARIANTS = {"distilbert": ("int8-smooth",)}
# A gate miss that is a result, not a bug: onnxruntime's int8-dynamic takes one activation range per
# tensor, pad tokens included. MiniLM itself measures cos_min 0.9803 at seq 64 against the 0.98 budget;
# RoBERTa's pad tokens sit at position padding_idx (a zero row, as in the published RoBERTa), which moves
# the shared ranges enough for 0.9788. The per-row and smoothed variants pass with room.
# XLM-R's transplant is RoBERTa's under other names: the same miss.
KNOWN_MISSES = {("roberta", "onnx-int8-dynamic"): 0.005,  # how far under its budget it may fall
                ("xlm-roberta", "onnx-int8-dynamic"): 0.005}

# Guard: every registered architecture has an end-to-end test (file::function), found below.
END_TO_END = {
    "bert": ("test_minilm.py::test_minilm_fp32_is_exact_and_int8_within_budget",  # real weights, ONNX
             "test_tflite.py::test_variant_passes_parity_and_lint"),  # every TFLite variant, tiny BERT
    "mobilebert": ("test_architectures.py::test_random_architecture_end_to_end",),
    "mobilebert-table1": ("test_architectures.py::test_random_architecture_end_to_end",),
    "distilbert": ("test_architectures.py::test_transplant_end_to_end",),
    "roberta": ("test_architectures.py::test_transplant_end_to_end",),
    "xlm-roberta": ("test_architectures.py::test_transplant_end_to_end",),
    "electra": ("test_architectures.py::test_transplant_end_to_end",),
    "albert": ("test_architectures.py::test_distilled_end_to_end",),
    "deberta-v2": ("test_architectures.py::test_distilled_end_to_end",),
    "modernbert": ("test_architectures.py::test_distilled_end_to_end",),
}
RANDOM = ("mobilebert", "mobilebert-table1")  # no weights reachable: architecture-only, 2 layers
RANDOM_VARIANTS = ("fp32", "int8-dynamic")  # MobileBERT's Q/K/V read different tensors: no SmoothQuant
# Layouts that cannot hold BERT's weights: students distilled from a real teacher (compress method wrs).
DISTILLED = ("albert", "deberta-v2", "modernbert")


def test_every_architecture_has_an_end_to_end_test():
    assert sorted(END_TO_END) == sorted(ARCHITECTURES), "a registered architecture has no end-to-end test"
    assert sorted(TRANSPLANTS + RANDOM + DISTILLED) == sorted(n for n, tests in END_TO_END.items()
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

    from mobilecomp.runtime.litert import TFLiteModel

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
    assert bad.exit_code == 2 and "known: distilbert, roberta, xlm-roberta, electra" in bad.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine\n")
    busy = CliRunner().invoke(main, ["transplant", "--to", "electra", "--out", str(tmp_path / "full")])
    assert busy.exit_code == 5 and "already exists" in busy.stderr  # as export's --out: written whole or not at all
    assert [f.name for f in (tmp_path / "full").iterdir()] == ["keep.txt"]


# ---- ALBERT, DeBERTa-v2/v3 and ModernBERT ---------------------------------------------------------

# Each paper's (or model card's) parameter count of its published config, base model without a head.
# Papers round to two figures: within 5%. Measured: BERT 109.5M, MobileBERT 24.6M (paper 25.3M),
# DistilBERT 66.4M, RoBERTa 124.6M, XLM-R 278.0M, ELECTRA 13.5M, ALBERT 11.7M, DeBERTa-v3-xsmall 70.7M, ModernBERT 149.0M.
PAPER_PARAMS = {"bert": 110e6, "mobilebert": 25.3e6, "mobilebert-table1": 25.3e6, "distilbert": 66e6,
                "roberta": 125e6, "xlm-roberta": 270e6, "electra": 14e6, "albert": 12e6, "deberta-v2": 22e6 + 48e6,
                "modernbert": 149e6}


def _published(name: str, **overrides):
    import torch

    arch = ARCHITECTURES[name]
    config = arch.build_config(overrides)
    config._attn_implementation = "eager"
    with torch.device("meta" if arch.counts_on_meta or not overrides else "cpu"):
        return arch.build(config, classifier=False)


def test_every_architecture_has_a_paper_size():
    assert sorted(PAPER_PARAMS) == sorted(ARCHITECTURES)


@pytest.mark.parametrize("name", sorted(PAPER_PARAMS))
def test_published_config_has_the_papers_params(name):
    model = _published(name)
    params = sum(p.numel() for p in model.parameters())
    assert abs(params / PAPER_PARAMS[name] - 1) < 0.05, f"{name}: {params / 1e6:.2f}M vs {PAPER_PARAMS[name] / 1e6}M"
    if name == "deberta-v2":  # the model card splits it: 22M backbone + 48M embedding (128k vocabulary)
        embedding = model.get_input_embeddings().weight.numel()
        assert abs((params - embedding) / 22e6 - 1) < 0.05 and abs(embedding / 48e6 - 1) < 0.05


def _closed_form_flops(name: str, config, s: int) -> int:
    """2 x multiply-accumulates from the shapes alone, batch 1, ``s`` tokens."""
    h, i, L = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    attention = 2 * s * s * h  # scores and weighted values
    if name == "modernbert":  # fused Q/K/V, GeGLU (Wi is 2 x intermediate wide); no pooler
        return 2 * L * (s * (4 * h * h + 3 * h * i) + attention)
    layer = s * (4 * h * h + 2 * h * i) + attention
    if name == "deberta-v2":  # relative positions: 2k rows projected by the (shared) Q and K, then c2p + p2c
        k = config.position_buckets
        return 2 * L * (layer + 2 * 2 * k * h * h + 4 * s * k * h)
    return 2 * (L * layer + s * config.embedding_size * h + h * h)  # ALBERT: embedding projection, pooler


@pytest.mark.parametrize("name", DISTILLED)
def test_flops_counter_matches_the_closed_form(name):
    """The project's counter (torch's FlopCounterMode) through the class: ALBERT-base and ModernBERT-base
    as published on the meta device; DeBERTa (whose forward the meta device cannot run) small, on the CPU."""
    from mobilecomp.load.inspect import count_model

    small = dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=1, intermediate_size=256,
                 vocab_size=1000) if name == "deberta-v2" else {}
    model = _published(name, **small)
    counts = count_model(model, 128, ARCHITECTURES[name].inputs)
    assert counts.flops == _closed_form_flops(name, model.config, 128), name


@pytest.mark.parametrize("name", DISTILLED)
def test_model_type_picks_the_architecture(name):
    from mobilecomp.load.architectures import for_model_type

    assert _published(name).config.model_type == name and for_model_type(name) is ARCHITECTURES[name]


# A variant the toolchain cannot build for an architecture: pinned, with the reason the bundle and CLI give.
UNBUILT = {
    ("albert", "onnx-int8-smooth"): "SmoothQuant found no LayerNorm feeding Q, K and V weight MatMuls in the graph "
                                    "(albert: one shared layer",
    ("albert", "tflite-int8-smooth"): "SmoothQuant needs attention whose Q, K and V read one tensor; albert: one "
                                      "shared layer",
    ("deberta-v2", "onnx-int8-smooth"): "(deberta-v2: Q and K also project the relative-position embeddings",
    ("deberta-v2", "tflite-int8-smooth"): "deberta-v2: Q and K also project the relative-position embeddings",
    ("modernbert", "onnx-int8-smooth"): "(modernbert: Q, K and V are one fused Linear (attn.Wqkv))",
    ("modernbert", "tflite-int8-smooth"): "modernbert: Q, K and V are one fused Linear (attn.Wqkv)",
}


@pytest.mark.parametrize("name", DISTILLED)
def test_distilled_end_to_end(name, distilled, tmp_path):
    """`compress` distils a student of this layout from the real teacher (the teacher's WordPiece and, where
    the layout has them, its embeddings); `export --recipe R --checkpoint DIR` takes it through ONNX and
    TFLite; every artefact passes parity and lint, and what cannot be built says why in one line."""
    import json

    from safetensors.torch import load_file

    recipe, student = distilled(name)
    card = json.loads((student / "mobilecomp_compress.json").read_text())
    assert card["details"]["label"] == "distilled" and card["details"]["architecture"] == name
    assert json.loads((student / "config.json").read_text())["model_type"] == name
    task = [json.loads(row)["loss"] for row in (student / "train_log.jsonl").read_text().splitlines()
            if json.loads(row)["phase"] == "task distillation"]
    assert len(task) >= 6 and sum(task[-3:]) < sum(task[:3]), task  # trained: the loss falls
    words = load_file(student / "model.safetensors")
    assert max(w.numel() for k, w in words.items() if "embeddings" in k) >= 30522 * 64  # the teacher's vocabulary

    out = tmp_path / "bundle"
    export = CliRunner().invoke(main, ["export", "--recipe", str(recipe), "--checkpoint", str(student),
                                       "--out", str(out), "--allow-fail"])
    assert export.exit_code == 0 and "Traceback" not in export.output, export.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["architecture"] == manifest["checkpoint"]["architecture"] == name
    assert manifest["model"]["inputs"] == list(ARCHITECTURES[name].inputs) and manifest["checkpoint"]["trained"]
    assert manifest["checkpoint"]["label"] == "distilled"
    assert "** distilled ** (trained by distillation from a teacher)" in export.output  # not "random weights"
    unbuilt = {u["name"]: u["error"] for u in manifest["unbuilt"]}
    assert sorted(unbuilt) == sorted(a for n, a in UNBUILT if n == name)
    for artefact, error in unbuilt.items():
        assert UNBUILT[(name, artefact)] in error and "\n" not in error
        row = next(line for line in export.output.splitlines() if line.startswith(f"| {artefact} |"))
        assert "NOT BUILT: SmoothQuant" in row
    built = {a["name"]: a for a in manifest["artefacts"]}
    assert sorted([*built, *unbuilt]) == sorted(f"{f}-{v}" for f in ("onnx", "tflite") for v in DISTILLED_VARIANTS
                                               if f == "onnx" or v != "int8-rowwise-ffn")
    for art in built.values():
        assert art["parity"]["passed"], (art["name"], art["parity"]["failures"])
        if art["format"] == "tflite":
            assert art["details"]["lint"]["passed"] and art["details"]["lint"]["flex_ops"] == []
    layers = json.loads((student / "config.json").read_text())["num_hidden_layers"]
    ffn = built["onnx-int8-rowwise-ffn"]["details"]["rowwise_matmuls"]  # found through the class's ffn pattern
    assert len(ffn) == 2 * layers, ffn  # ALBERT's too: its one shared layer's two FFN MatMuls at every application
    if name == "albert":  # the shared layer is int8 at every application: only attention's 2 MatMuls a layer stay float
        assert built["onnx-int8-dynamic"]["op_types"]["MatMul"] == 2 * layers, built["onnx-int8-dynamic"]["op_types"]
        assert built["onnx-fp32"]["details"]["weight_aliases_inlined"] > 0
    if "onnx-int8-smooth" in built:
        assert built["onnx-int8-smooth"]["details"]["smoothquant"]["groups"] >= 1


@pytest.mark.parametrize("name", DISTILLED)
def test_pruning_finds_the_layers_through_the_class(name):
    """Magnitude and RPP pruning prune the Linears inside the architecture's layers (layer_prefix)."""
    from mobilecomp.transform.prune import prunable_weights

    model = _published(name, num_hidden_layers=2, hidden_size=64, num_attention_heads=1, intermediate_size=128)
    names = [n for n, _ in prunable_weights(model)]
    per_layer = {"albert": 6, "deberta-v2": 6, "modernbert": 4}[name]  # ALBERT: one shared layer
    assert len(names) == per_layer * (1 if name == "albert" else 2), names


@pytest.mark.parametrize("name", ("deberta-v2", "modernbert"))
def test_tflite_wrapper_keeps_the_models_own_mask(name):
    """DeBERTa and ModernBERT take the 0/1 mask as given in the TFLite wrapper (tflite_mask: as-given): DeBERTa
    reads an additive mask as 'keep', and ModernBERT's sliding-window layers would turn global (here a window
    of 8 over 40 tokens). Untrained weights: this checks the masks' function, not quantisation."""
    import torch

    from mobilecomp.export.tflite import MASK_VALUE, tflite_module
    from mobilecomp.load.heads import HEADS

    arch = ARCHITECTURES[name]
    small = dict(num_hidden_layers=2, hidden_size=32, num_attention_heads=2, intermediate_size=64, vocab_size=200,
                 **({"local_attention": 8, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2,
                     "cls_token_id": 1, "sep_token_id": 2} if name == "modernbert" else {}))
    config = arch.build_config(small)
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = arch.build(config, classifier=True)
    ids = torch.randint(3, 200, (2, 40))
    mask = torch.ones_like(ids)
    mask[1, 25:] = 0
    with torch.no_grad():
        want = model(input_ids=ids, attention_mask=mask).logits
        got = tflite_module(base=model, head=HEADS["classifier"])(ids, mask)["logits"]
        additive = model(input_ids=ids, attention_mask=(1.0 - mask.float())[:, None, None, :] * MASK_VALUE).logits
    assert arch.tflite_mask == "as-given" and torch.allclose(got, want, atol=1e-6)
    assert (additive - want).abs().max() > 1e-4  # what the additive mask would have given


def test_weight_aliases_are_inlined_and_outputs_unchanged(tmp_path):
    """An exporter's Identity of a weight (ALBERT's shared layer at its second application) is dropped and
    its readers read the weight; an Identity that is a graph output stays; the outputs are bit for bit equal."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from mobilecomp.export.onnx import inline_weight_aliases

    w = numpy_helper.from_array(np.arange(16, dtype=np.float32).reshape(4, 4) / 7, "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"], name="first"),
         helper.make_node("Identity", ["w"], ["w_alias"], name="alias"),
         helper.make_node("MatMul", ["h", "w_alias"], ["y"], name="second"),
         helper.make_node("Identity", ["w"], ["w_out"], name="kept")],
        "shared", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4]),
         helper.make_tensor_value_info("w_out", TensorProto.FLOAT, [4, 4])], [w])
    path = tmp_path / "shared.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    x = {"x": np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)}
    before = ort.InferenceSession(str(path)).run(None, x)
    assert inline_weight_aliases(path) == 1
    model = onnx.load(str(path))
    assert [n.name for n in model.graph.node] == ["first", "second", "kept"]
    assert list(model.graph.node[1].input) == ["h", "w"]
    after = ort.InferenceSession(str(path)).run(None, x)
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    assert inline_weight_aliases(path) == 0  # nothing left to inline
