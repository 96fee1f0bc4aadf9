"""Magnitude pruning: the exported weights' measured sparsity, the zipped size, and the plain speed note."""

from __future__ import annotations

import json

import pytest

from mobilecomp.transform.prune import SPEED_NOTE, checkpoint_sparsity, prunable_weights, prune_model
from mobilecomp.types import PruneSpec

TINY = """\
name: tiny-pruned
description: tiny pruned BERT for tests
checkpoint:
  source: architecture
  architecture: bert
  config: {hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 128}
head: encoder
seq_len: 32
prune: {sparsity: 0.4}
variants: [fp32, int8-dynamic]
"""


def test_prune_model_reaches_the_sparsity():
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    model = BertModel(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64))
    embeddings = model.embeddings.word_embeddings.weight.detach().clone()
    info = prune_model(model, PruneSpec(sparsity=0.593))
    assert info["sparsity_torch"] == pytest.approx(0.593, abs=0.002)
    for _, weight in prunable_weights(model):
        assert float((weight == 0).float().mean()) == pytest.approx(0.593, abs=0.01)
    assert torch.equal(model.embeddings.word_embeddings.weight, embeddings)  # never pruned


def test_a_pruned_checkpoint_is_measured_as_such():
    """A checkpoint pruned elsewhere (a compress student) is recorded with its own sparsity, so its
    bundle reports zeros and zipped size; a dense one is not."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    model = BertModel(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64))
    assert checkpoint_sparsity(model) is None
    prune_model(model, PruneSpec(sparsity=0.3))
    info = checkpoint_sparsity(model)
    assert info["sparsity_torch"] == pytest.approx(0.3, abs=0.002) and info["speed_note"] == SPEED_NOTE


def test_bad_sparsity_is_a_config_error(tmp_path):
    from click.testing import CliRunner

    from mobilecomp.cli import main

    path = tmp_path / "bad.yaml"
    path.write_text(TINY.replace("name: tiny-pruned", "name: bad").replace("0.4", "1.5"))
    result = CliRunner().invoke(main, ["export", "--recipe", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "prune.sparsity 1.5 is outside" in result.stderr


def test_pruned_bundle_reports_sparsity_and_zipped_size(tmp_path):
    from mobilecomp.pipeline import export_bundle
    from mobilecomp.recipe import load_recipe


    (tmp_path / "tiny-pruned.yaml").write_text(TINY)
    export_bundle(load_recipe(str(tmp_path / "tiny-pruned.yaml")), tmp_path / "b",
                  parity_text=short_text(tmp_path / "t.txt"))
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["model"]["pruning"]["speed_note"] == SPEED_NOTE and "no speed" in SPEED_NOTE
    for art in manifest["artefacts"]:
        stats = art["details"]["weight_stats"]
        assert stats["weight_matrix_sparsity"] == pytest.approx(0.4, abs=0.01), art["name"]
        assert stats["zipped_bytes"] < stats["size_bytes"]
        assert art["passed"]


def short_text(path) -> str:
    """60 real OANC sentences in a file: a fast parity corpus."""
    from mobilecomp.text import oanc_sentences

    path.write_text("\n".join([s for s in oanc_sentences()[:500] if 6 <= len(s.split()) <= 30][:60]) + "\n")
    return str(path)
