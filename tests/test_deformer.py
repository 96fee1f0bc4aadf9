"""DeFormer: two ONNX graphs (passage cached, question path) equal the undecomposed PyTorch forward."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mobilecomp.types import DecomposeSpec

TINY = """\
name: tiny-deformer
description: tiny DeFormer for tests
checkpoint:
  source: architecture
  architecture: bert
  config: {hidden_size: 32, num_hidden_layers: 3, num_attention_heads: 2, intermediate_size: 64}
head: encoder
seq_len: 48
decompose: {lower_layers: 2, question_len: 12}
variants: [fp32, int8-dynamic]
"""


def short_text(path: Path) -> str:
    from mobilecomp.text import oanc_sentences

    path.write_text("\n".join([s for s in oanc_sentences()[:500] if 6 <= len(s.split()) <= 30][:60]) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def deformer_bundle(tmp_path_factory):
    from mobilecomp.pipeline import export_bundle
    from mobilecomp.recipe import load_recipe

    tmp = tmp_path_factory.mktemp("deformer")
    (tmp / "tiny-deformer.yaml").write_text(TINY)
    recipe = load_recipe(str(tmp / "tiny-deformer.yaml"))
    export_bundle(recipe, tmp / "bundle", parity_text=short_text(tmp / "text.txt"))
    return tmp / "bundle", recipe


def test_two_graphs_match_the_undecomposed_forward(deformer_bundle):
    bundle, _ = deformer_bundle
    manifest = json.loads((bundle / "manifest.json").read_text())
    arts = {a["name"]: a for a in manifest["artefacts"]}
    assert set(arts) == {"onnx-fp32", "onnx-int8-dynamic", "onnx-passage-fp32", "onnx-passage-int8-dynamic",
                         "onnx-full-fp32"}
    assert arts["onnx-fp32"]["file"] == "question-fp32.onnx" and arts["onnx-fp32"]["passed"]
    assert arts["onnx-fp32"]["parity"]["cos_min"] > 0.99999 and arts["onnx-fp32"]["parity"]["max_abs"] < 1e-4
    assert all(a["passed"] for a in arts.values())
    assert manifest["model"]["decompose"]["lower_layers"] == 2
    assert manifest["checkpoint"]["label"] == "untrained: size and latency only"
    import onnx

    question = onnx.load(str(bundle / "question-fp32.onnx"), load_external_data=False)
    assert {"passage_states", "passage_attention_mask"} <= {i.name for i in question.graph.input}


def test_decomposition_is_not_the_plain_model(deformer_bundle):
    """The lower layers really are split: the DeFormer reference differs from plain BERT."""
    import torch

    from mobilecomp.transform import deformer
    from mobilecomp.load import load_model
    from mobilecomp.verify import reference_outputs

    _, recipe = deformer_bundle
    model = load_model(recipe)
    feeds = deformer.paired_feeds(model.tokenizer, ["What is the time?", "It is late.", "Very late.",
                                                    "The night is long."], recipe.decompose, recipe.seq_len)
    torch.manual_seed(0)
    split = np.concatenate(deformer.reference_outputs(model, recipe.decompose, feeds)["sentence_embedding"])
    plain = np.concatenate(reference_outputs(model, feeds)["sentence_embedding"])
    assert not np.allclose(split, plain, atol=1e-4)
    assert feeds[0]["input_ids"].shape[1] == recipe.seq_len and feeds[0]["question_input_ids"].shape[1] == 12


def test_profile_reports_per_query_next_to_full(deformer_bundle, tmp_path):
    from mobilecomp.pipeline import profile_bundle
    from mobilecomp.profile import ProfileOptions
    from mobilecomp.report.compare import collect

    bundle, _ = deformer_bundle
    rows = profile_bundle(bundle, "host", ProfileOptions(threads=(1,), runs=20, warmup=1))
    assert {r.artefact for r in rows} >= {"onnx-fp32", "onnx-full-fp32", "onnx-passage-fp32"}
    assert all(r.seq_len == 48 for r in rows)
    report_rows, comparisons, _ = collect([str(bundle)])
    gflops = {r.variant: r.gflops for r in report_rows}
    assert gflops["full-fp32"] > gflops["fp32"] and gflops["passage-fp32"] > 0
    ours = comparisons[0]["ours"][0]
    assert ours["column"] == "host 1T" and ours["speedup"] > 0
    assert [p["speedup"] for p in comparisons[0]["paper"]][:2] == [3.6, 3.1]


def test_counts_on_the_meta_device():
    import torch
    from transformers import BertConfig, BertModel

    from mobilecomp.load.inspect import count_deformer

    with torch.device("meta"):
        base = BertModel(BertConfig(num_hidden_layers=12))
    counts = count_deformer(base, DecomposeSpec(lower_layers=9, question_len=28), 320).describe()
    assert counts["gflops"] < counts["undecomposed_gflops"] / 3


def test_classifier_deformer_runs_split_sentences_and_gates_accuracy(tmp_path):
    """A single-sentence DeFormer classifier: both graphs end in the classifier's logits, equal the
    decomposed PyTorch forward, and each two-graph run is gated on accuracy against it."""
    import onnx

    from mobilecomp.pipeline import evaluate_bundle, export_bundle
    from mobilecomp.recipe import load_recipe
    from mobilecomp.text import polarity_split

    cls = TINY.replace("name: tiny-deformer", "name: tiny-deformer-cls").replace("head: encoder",
                                                                               "head: classifier\nnum_labels: 2")
    (tmp_path / "tiny-deformer-cls.yaml").write_text(cls)
    _, test = polarity_split(0)
    (tmp_path / "eval.tsv").write_text("".join(f"{text}\t{label}\n" for text, label in test[:40]))
    out = tmp_path / "bundle"
    export_bundle(load_recipe(str(tmp_path / "tiny-deformer-cls.yaml")), out,
                  parity_text=short_text(tmp_path / "text.txt"), eval_data=str(tmp_path / "eval.tsv"))
    manifest = json.loads((out / "manifest.json").read_text())
    arts = {a["name"]: a for a in manifest["artefacts"]}
    assert manifest["model"]["head"] == "classifier" and "split at token 12" in manifest["model"]["decompose"]["inputs"]
    assert manifest["eval_data"]["examples"] == 40
    assert arts["onnx-fp32"]["parity"]["cos_min"] > 0.99999
    assert arts["onnx-fp32"]["accuracy"]["drop_points"] == 0  # fp32 two-graph run == decomposed PyTorch
    assert arts["onnx-int8-dynamic"]["accuracy"]["source_accuracy"] == arts["onnx-fp32"]["accuracy"]["source_accuracy"]
    assert "accuracy" not in arts["onnx-full-fp32"] or arts["onnx-full-fp32"]["accuracy"] is None
    question = onnx.load(str(out / "question-fp32.onnx"), load_external_data=False)
    assert [o.name for o in question.graph.output] == ["logits"]
    # `mobilecomp eval` runs the same two graphs: the same verdict, under the question artefact's name
    rows = {r["artefact"]: r for r in evaluate_bundle(out, str(tmp_path / "eval.tsv"))}
    assert set(rows) == {"pytorch-source", "onnx-fp32", "onnx-int8-dynamic"}
    assert rows["onnx-int8-dynamic"]["accuracy"] == arts["onnx-int8-dynamic"]["accuracy"]["accuracy"]


def test_export_split_equals_the_compress_stage_forward(tmp_path):
    """The exported layout (padded to seq_len, split at question_len) gives the logits the compress
    stage fine-tuned (batches padded to their longest sentence): a student is exported as trained."""
    import torch

    from mobilecomp.transform import deformer
    from mobilecomp.compress.deformer import decomposed_classifier
    from mobilecomp.load import load_model
    from mobilecomp.recipe import load_recipe

    (tmp_path / "tiny-deformer.yaml").write_text(TINY.replace("head: encoder", "head: classifier\nnum_labels: 2"))
    recipe = load_recipe(str(tmp_path / "tiny-deformer.yaml"))
    model = load_model(recipe)
    sentences = ["A short one.", "This sentence is long enough to cross the split at token twelve, surely.",
                 "Middling length sentence here."]
    torch.manual_seed(0)
    enc = model.tokenizer(sentences, padding=True, truncation=True, max_length=recipe.seq_len, return_tensors="pt")
    with torch.no_grad():
        trained = decomposed_classifier(model.module.model, recipe.decompose)(enc).numpy()
    exported = deformer.reference_outputs(model, recipe.decompose, deformer.sentence_feeds(
        model.tokenizer, sentences, recipe.decompose, recipe.seq_len))["logits"][0]
    np.testing.assert_allclose(exported, trained, atol=1e-5)


# ---- every registered architecture: split through the registry, or refused with its reason -------------

# real weights: all-MiniLM-L6-v2 transplanted (load/transplant.py), so the split must compute MiniLM's own
TRANSPLANTED = ("distilbert", "roberta", "electra")
# no transplant of its own (ALBERT shares one layer; XLM-R is RoBERTa's under other names): tiny random
# weights, "untrained: size and latency only", with a classifier head, the head each class reads differently
RANDOM = ("albert", "xlm-roberta")
# cannot hold BERT's weights: the distilled polarity students (models/students, compress method wrs), whose
# encoders DeFormer runs through their own per-layer inputs (transform.deformer.LAYERS)
STUDENTS = ("deberta-v2", "modernbert")  # distilled from the real teacher (conftest's `distilled`)
# Guard: a registered architecture is split by an end-to-end test here (bert: the tests above and
# test_qa.py's DeFormer QA export) or refused with a reason (no_deformer, test_refused_architecture).
SPLIT = ("bert", *TRANSPLANTED, *RANDOM, *STUDENTS)


def test_every_architecture_is_split_or_refused():
    from mobilecomp.load.architectures import ARCHITECTURES

    refused = sorted(n for n, a in ARCHITECTURES.items() if a.no_deformer)
    assert sorted(SPLIT) == sorted(n for n, a in ARCHITECTURES.items() if not a.no_deformer), \
        "a registered architecture DeFormer can split has no end-to-end DeFormer test"
    assert sorted([*SPLIT, *refused]) == sorted(ARCHITECTURES) and refused


@pytest.fixture(scope="module")
def parity_text(tmp_path_factory):
    return short_text(tmp_path_factory.mktemp("text") / "text.txt")


@pytest.mark.parametrize("to", TRANSPLANTED)
def test_transplant_splits_as_minilm(to, parity_text, tmp_path):
    """A DeFormer encoder of MiniLM's real weights in another layout: both graphs (fp32, int8-dynamic)
    pass parity against the undecomposed forward, take the architecture's own inputs, and that forward
    equals MiniLM's own (BERT) DeFormer forward, token types zeroed where the layout has none."""
    import dataclasses

    import onnxruntime as ort

    from mobilecomp.load import load_model
    from mobilecomp.load.architectures import ARCHITECTURES
    from mobilecomp.load.transplant import transplant
    from mobilecomp.pipeline import export_bundle, profile_bundle
    from mobilecomp.profile import ProfileOptions
    from mobilecomp.recipe import load_recipe
    from mobilecomp.transform import deformer

    checkpoint = transplant(to, tmp_path / to)
    (tmp_path / f"split-{to}.yaml").write_text(
        f"name: split-{to}\ndescription: t\ncheckpoint: {{source: hf-dir, architecture: {to}, path: {checkpoint}}}\n"
        "head: encoder\nseq_len: 48\ndecompose: {lower_layers: 4, question_len: 12}\nvariants: [fp32, int8-dynamic]\n")
    recipe = load_recipe(str(tmp_path / f"split-{to}.yaml"))
    result = export_bundle(recipe, tmp_path / "bundle", parity_text=parity_text)
    manifest, bundle = result.manifest, result.bundle
    arts = {a.name: a for a in manifest.artefacts}
    assert manifest.checkpoint["trained"] and manifest.model["architecture"] == to
    assert all(a.parity.passed for a in arts.values()), {n: a.parity.failures for n, a in arts.items()}
    assert arts["onnx-fp32"].parity.cos_min > 0.99999 and arts["onnx-fp32"].parity.max_abs < 1e-4
    assert arts["onnx-int8-dynamic"].parity.cos_min < 0.9999  # real weights: int8 is visibly lossy
    inputs = ARCHITECTURES[to].inputs
    assert manifest.model["passage_inputs"] == [f"passage_{n}" for n in inputs]
    assert manifest.model["inputs"] == [f"question_{n}" for n in inputs] + ["passage_states", "passage_attention_mask"]
    for name, key in (("question-int8-dynamic.onnx", "inputs"), ("passage-fp32.onnx", "passage_inputs")):
        session = ort.InferenceSession(str(bundle / name), providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == manifest.model[key]
    with np.load(bundle / "inputs" / "profile.npz") as data:
        assert ("passage_token_type_ids" in data.files) == ("token_type_ids" in inputs)
    rows = profile_bundle(bundle, "host", ProfileOptions(threads=(1,), runs=3, warmup=1))  # feeds by the graphs' names
    assert sorted(r.artefact for r in rows) == sorted(arts)

    minilm = load_model(dataclasses.replace(load_recipe("minilm-l6-int8"), decompose=recipe.decompose,
                                            seq_len=recipe.seq_len, tflite_seq_lens=(), formats=("onnx",)))
    model = load_model(recipe)
    feeds = deformer.paired_feeds(model.tokenizer, ["What is the time?", "It is late.", "Very late.",
                                                    "The night is long."], recipe.decompose, recipe.seq_len)
    as_bert = [{**f, "token_type_ids": f["token_type_ids"] * ("token_type_ids" in inputs)} for f in feeds]
    ours = deformer.reference_outputs(model, recipe.decompose, feeds)["token_embeddings"][0]
    theirs = deformer.reference_outputs(minilm, recipe.decompose, as_bert)["token_embeddings"][0]
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("name", RANDOM)
def test_random_architecture_splits_with_its_classifier(name, parity_text, tmp_path):
    import onnx

    from mobilecomp.pipeline import export_bundle
    from mobilecomp.recipe import load_recipe

    text = (TINY.replace("name: tiny-deformer", f"name: split-{name}")
            .replace("architecture: bert", f"architecture: {name}")
            .replace("intermediate_size: 64}", "intermediate_size: 64, vocab_size: 30522}")
            .replace("head: encoder", "head: classifier\nnum_labels: 2"))
    (tmp_path / f"split-{name}.yaml").write_text(text)
    manifest = export_bundle(load_recipe(str(tmp_path / f"split-{name}.yaml")), tmp_path / "b",
                             parity_text=parity_text).manifest
    arts = {a.name: a for a in manifest.artefacts}
    assert manifest.checkpoint["label"] == "untrained: size and latency only"
    assert all(a.parity.passed for a in arts.values()), {n: a.parity.failures for n, a in arts.items()}
    assert arts["onnx-fp32"].parity.cos_min > 0.99999
    question = onnx.load(str(tmp_path / "b" / "question-fp32.onnx"), load_external_data=False)
    assert [o.name for o in question.graph.output] == ["logits"]


@pytest.mark.parametrize("name", SPLIT)
@pytest.mark.parametrize("suffix", ("ForSequenceClassification", "ForQuestionAnswering"))
def test_task_head_is_the_models_own(name, suffix):
    """The head DeFormer puts over the final states computes what the task model's own forward does
    after its base model (Architecture.classifier_head; qa_outputs)."""
    import torch
    import transformers

    from mobilecomp.load.architectures import ARCHITECTURES
    from mobilecomp.transform.deformer import base_model_of, task_head

    arch = ARCHITECTURES[name]
    config = _tiny_config(name, classifier_pooling="mean") if name == "modernbert" else _tiny_config(name)
    torch.manual_seed(0)
    model = getattr(transformers, arch.task_class(suffix))(config).eval()
    ids = torch.randint(3, 100, (2, 10))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0  # ModernBERT's mean pooling reads the mask
    with torch.no_grad():
        own = model(input_ids=ids, attention_mask=mask)
        states = base_model_of(model)(input_ids=ids, attention_mask=mask).last_hidden_state
        ours = task_head(model)(states, mask)
    expected = (own.start_logits, own.end_logits) if suffix == "ForQuestionAnswering" else (own.logits,)
    for a, b in zip(ours if isinstance(ours, tuple) else (ours,), expected):
        torch.testing.assert_close(a, b)


def _tiny_config(name: str, layers: int = 2, **overrides):
    """A tiny eager config of architecture ``name`` (ModernBERT keeps its published vocabulary, which holds
    its special tokens' ids)."""
    from mobilecomp.load.architectures import ARCHITECTURES

    arch = ARCHITECTURES[name]
    vocab = {} if name == "modernbert" else {"vocab_size": 100}
    config = arch.build_config({arch.shape[0]: layers, arch.shape[1]: 32, arch.shape[2]: 2, arch.shape[3]: 64,
                                **vocab, **overrides})
    config._attn_implementation = "eager"
    return config


# DeBERTa: v3's position-free embeddings and with absolute positions too; ModernBERT: a sliding window (|i - j|
# <= 4) shorter than the 20 tokens, and both of its poolings
STUDENT_CONFIGS = [("deberta-v2", {}), ("deberta-v2", {"position_biased_input": True}),
                   ("modernbert", {"local_attention": 8}),
                   ("modernbert", {"local_attention": 8, "classifier_pooling": "mean"})]


def _outputs(result) -> tuple:
    return result if isinstance(result, tuple) else (result,)


@pytest.mark.parametrize("name,overrides", STUDENT_CONFIGS)
@pytest.mark.parametrize("suffix", ("ForSequenceClassification", "ForQuestionAnswering"))
def test_student_layouts_split_as_their_own_encoder(name, overrides, suffix):
    """With no layer split, the decomposed reference is the task model's own forward (embeddings, per-layer
    relative or rotary positions and masks, final norm, head); with two, the passage and question modules
    equal the block-diagonal reference on every real token, padding inside both segments."""
    from types import SimpleNamespace

    import torch
    import transformers

    from mobilecomp.load.architectures import ARCHITECTURES
    from mobilecomp.transform.deformer import base_model_of, decomposed_modules, task_head

    torch.manual_seed(0)
    model = getattr(transformers, ARCHITECTURES[name].task_class(suffix))(_tiny_config(name, 3, **overrides)).eval()
    ids = torch.randint(3, 100, (2, 20))
    mask = torch.ones_like(ids)
    mask[1, 4:6], mask[1, 15:] = 0, 0  # question_len 6: both segments padded
    with torch.no_grad():
        own = model(input_ids=ids, attention_mask=mask)
        expected = (own.start_logits, own.end_logits) if suffix == "ForQuestionAnswering" else (own.logits,)
        # DecomposeSpec refuses lower_layers 0, which no recipe wants; the modules read only these two fields
        _, _, plain = decomposed_modules(base_model_of(model), SimpleNamespace(lower_layers=0, question_len=6),
                                         task_head(model))
        for ours, theirs in zip(_outputs(plain(ids, mask)), expected):
            torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
        passage, question, reference = decomposed_modules(base_model_of(model), DecomposeSpec(2, 6), task_head(model))
        split = _outputs(question(ids[:, :6], mask[:, :6], passage(ids[:, 6:], mask[:, 6:]), mask[:, 6:]))
        whole = _outputs(reference(ids, mask))
    real = mask.bool() if suffix == "ForQuestionAnswering" else slice(None)  # padding rows carry no meaning
    for ours, theirs in zip(split, whole):
        torch.testing.assert_close(ours[real], theirs[real], atol=1e-5, rtol=0)
    assert not torch.allclose(whole[0], expected[0], atol=1e-5)  # and the lower layers really are split


def test_deberta_convolution_is_refused():
    """DeBERTa's optional convolution (conv_kernel_size) mixes neighbours across the split: one line naming it."""
    import transformers

    from mobilecomp.errors import ConfigError
    from mobilecomp.transform.deformer import decomposed_modules

    config = _tiny_config("deberta-v2")
    config.conv_kernel_size = 3  # not a default field: a checkpoint's config.json carries it (deberta-v2-xlarge)
    base = transformers.DebertaV2Model(config).eval()
    with pytest.raises(ConfigError) as err:
        decomposed_modules(base, DecomposeSpec(1, 6))
    assert "\n" not in str(err.value) and "conv_kernel_size 3" in str(err.value)


@pytest.mark.parametrize("name", STUDENTS)
def test_student_splits_end_to_end(name, distilled, parity_text, tmp_path):
    """A student distilled from the real teacher (test_architectures' 2-layer one, shared per session) as a
    DeFormer classifier: `export --checkpoint` writes the passage and question graphs, fp32 and int8-dynamic,
    and the two-graph run passes parity against the undecomposed block-diagonal forward."""
    import onnx

    from mobilecomp.pipeline import export_bundle
    from mobilecomp.recipe import load_recipe

    _, student = distilled(name)
    (tmp_path / f"split-{name}.yaml").write_text(
        f"name: split-{name}\ndescription: t\ncheckpoint: {{source: hf-dir, architecture: {name}, path: {student}}}\n"
        "head: classifier\nnum_labels: 2\nseq_len: 48\nformats: [onnx]\n"
        "decompose: {lower_layers: 1, question_len: 12}\nvariants: [fp32, int8-dynamic]\n")
    manifest = export_bundle(load_recipe(str(tmp_path / f"split-{name}.yaml")), tmp_path / "b",
                             parity_text=parity_text).manifest
    arts = {a.name: a for a in manifest.artefacts}
    assert manifest.checkpoint["trained"] and manifest.checkpoint["label"] == "distilled"
    assert set(arts) == {"onnx-fp32", "onnx-int8-dynamic", "onnx-passage-fp32", "onnx-passage-int8-dynamic",
                         "onnx-full-fp32"}
    assert all(a.parity.passed for a in arts.values()), {n: a.parity.failures for n, a in arts.items()}
    assert arts["onnx-fp32"].parity.cos_min > 0.99999 and arts["onnx-fp32"].parity.max_abs < 1e-4
    # the int8 graphs really are int8: further from the reference than fp32 (two logits: cosines stay near 1)
    assert arts["onnx-int8-dynamic"].parity.max_abs > 10 * arts["onnx-fp32"].parity.max_abs
    question = onnx.load(str(tmp_path / "b" / "question-fp32.onnx"), load_external_data=False)
    assert [o.name for o in question.graph.output] == ["logits"]
    assert manifest.model["inputs"] == ["question_input_ids", "question_attention_mask", "passage_states",
                                        "passage_attention_mask"]


def _refused_names():
    from mobilecomp.load.architectures import ARCHITECTURES

    return [n for n, a in ARCHITECTURES.items() if a.no_deformer]


@pytest.mark.parametrize("name", _refused_names())
def test_refused_architecture(name, tmp_path):
    """A recipe splitting an architecture DeFormer cannot is one ConfigError line naming
    checkpoint.architecture and why."""
    import yaml

    from mobilecomp.errors import ConfigError
    from mobilecomp.load.architectures import ARCHITECTURES
    from mobilecomp.recipe import load_recipe

    path = tmp_path / f"split-{name}.yaml"
    path.write_text(yaml.safe_dump({
        "name": f"split-{name}", "description": "", "seq_len": 32, "formats": ["onnx"], "variants": ["fp32"],
        "checkpoint": {"source": "architecture", "architecture": name, "config": {"num_hidden_layers": 2}},
        "decompose": {"lower_layers": 1, "question_len": 8}}))
    with pytest.raises(ConfigError) as err:
        load_recipe(str(path))
    message = str(err.value)
    assert "\n" not in message and f"checkpoint.architecture {name}: " in message
    assert ARCHITECTURES[name].no_deformer in message


def _tiny_teacher(directory: Path, name: str) -> Path:
    """A tiny random sequence classifier of architecture ``name`` with MiniLM's tokenizer: a teacher of
    that layout for compress (its accuracy is not the point here, the decomposed forward's wiring is)."""
    import shutil

    import torch
    import transformers

    from mobilecomp.load.architectures import ARCHITECTURES
    from mobilecomp.load.checkpoints import embedded_dir
    from mobilecomp.load.transplant import TOKENIZER_FILES

    arch = ARCHITECTURES[name]
    config = arch.build_config({arch.shape[0]: 2, arch.shape[1]: 32, arch.shape[2]: 2, arch.shape[3]: 64,
                                "vocab_size": 30522})
    config.num_labels = 2
    torch.manual_seed(0)
    getattr(transformers, arch.classifier_class)(config).save_pretrained(directory)
    source = embedded_dir("all-minilm-l6-v2")
    for file in TOKENIZER_FILES:
        if (source / file).exists():
            shutil.copyfile(source / file, directory / file)
    return directory


@pytest.mark.parametrize("name,refused", [("distilbert", False), ("mobilebert", True)])
def test_compress_deformer_takes_the_teachers_architecture(name, refused, tmp_path):
    """compress method deformer fine-tunes a non-BERT teacher with its lower layers split (a few steps),
    and refuses an architecture DeFormer cannot split in one line naming it."""
    import yaml

    from mobilecomp.compress import CARD, compress
    from mobilecomp.errors import ConfigError
    from mobilecomp.load.architectures import ARCHITECTURES
    from mobilecomp.recipe import load_recipe

    teacher = _tiny_teacher(tmp_path / "teacher", name)
    path = tmp_path / "split-student.yaml"
    path.write_text(yaml.safe_dump({
        "name": "split-student", "description": "",
        # the recipe names the student's layout; a refused teacher is met by the method's own check
        "checkpoint": {"source": "hf-dir", "architecture": "bert" if refused else name,
                       "path": str(tmp_path / "student")},
        "compress": {"method": "deformer", "teacher": str(teacher), "budget_s": 30, "epochs": 1, "batch": 16,
                     "max_len": 32, "lr": 1e-3},
        "head": "classifier", "seq_len": 32, "formats": ["onnx"], "variants": ["fp32"],
        "decompose": {"lower_layers": 1, "question_len": 8}}))
    recipe = load_recipe(str(path))
    if refused:
        with pytest.raises(ConfigError) as err:
            compress(recipe, limit=32)
        message = str(err.value)
        assert "\n" not in message and f"architecture {name}: {ARCHITECTURES[name].no_deformer}" in message
        return
    result = compress(recipe, limit=32)
    card = json.loads((result.directory / CARD).read_text())
    assert card["method"] == "deformer" and sum(p["steps"] for p in card["phases"]) >= 1
    assert json.loads((result.directory / "config.json").read_text())["model_type"] == name
