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
