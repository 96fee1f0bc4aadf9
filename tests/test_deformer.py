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

    from mobilecomp import deformer
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

    from mobilecomp.deformer import count_deformer

    with torch.device("meta"):
        base = BertModel(BertConfig(num_hidden_layers=12))
    counts = count_deformer(base, DecomposeSpec(lower_layers=9, question_len=28), 320).describe()
    assert counts["gflops"] < counts["undecomposed_gflops"] / 3
