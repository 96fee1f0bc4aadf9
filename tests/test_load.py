"""Checkpoint loading: local Hugging Face directories, the embedded default, and refused pickles."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from click.testing import CliRunner

from mobilecomp.cli import main
from mobilecomp.errors import CheckpointError
from mobilecomp.load import load_model
from mobilecomp.load.checkpoints import EMBEDDED, embedded_dir, sha256_file

DATA = Path(__file__).parent / "data"


def _save_tiny(directory: Path, classifier: bool = False, safetensors: bool = True) -> Path:
    import torch
    import transformers

    config = transformers.BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=64, num_labels=2)
    torch.manual_seed(1)
    cls = transformers.BertForSequenceClassification if classifier else transformers.BertModel
    model = cls(config)
    model.save_pretrained(directory)
    if not safetensors:  # the legacy pickle format (save_pretrained only writes safetensors)
        (directory / "model.safetensors").unlink()
        torch.save(model.state_dict(), directory / "pytorch_model.bin")
    embedded = embedded_dir("all-minilm-l6-v2")
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (directory / name).write_bytes((embedded / name).read_bytes())
    return directory


def test_embedded_default_is_the_pinned_minilm(tiny_recipe):
    directory = embedded_dir("all-minilm-l6-v2")
    assert sha256_file(directory / "model.safetensors") == EMBEDDED["all-minilm-l6-v2"].sha256


def test_hf_directory_loads_with_its_hash(tmp_path, tiny_recipe):
    directory = _save_tiny(tmp_path / "ckpt")
    model = load_model(tiny_recipe, checkpoint=str(directory))
    assert model.trained and model.checkpoint["source"] == "hf-dir"
    assert model.checkpoint["sha256"] == sha256_file(directory / "model.safetensors")


def test_weights_only_pickle_loads(tmp_path, tiny_recipe):
    directory = _save_tiny(tmp_path / "ckpt", safetensors=False)
    assert (directory / "pytorch_model.bin").exists()
    assert load_model(tiny_recipe, checkpoint=str(directory)).trained


class _Exploit:
    def __reduce__(self):
        return (print, ("this pickle ran code",))


def test_code_carrying_pickle_is_refused_without_running(tmp_path, tiny_recipe, capsys):
    directory = _save_tiny(tmp_path / "ckpt", safetensors=False)
    (directory / "pytorch_model.bin").write_bytes(pickle.dumps({"w": _Exploit()}))
    with pytest.raises(CheckpointError, match="weights_only=True"):
        load_model(tiny_recipe, checkpoint=str(directory))
    assert "this pickle ran code" not in capsys.readouterr().out


def test_classifier_head_needs_trained_classifier_weights(tmp_path):
    from mobilecomp.recipe import load_recipe

    recipe = load_recipe(str(DATA / "tiny-classifier.yaml"))
    base = _save_tiny(tmp_path / "base")
    with pytest.raises(CheckpointError, match="no trained classifier"):
        load_model(recipe, checkpoint=str(base))
    clf = _save_tiny(tmp_path / "clf", classifier=True)
    model = load_model(recipe, checkpoint=str(clf))
    assert model.output_names == ("logits",)


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    from mobilecomp.recipe import load_recipe

    directory = _save_tiny(tmp_path / "ckpt")
    result = CliRunner().invoke(main, ["export", "--recipe", "mobilebert-int8", "--checkpoint",
                                       str(directory), "--out", str(tmp_path / "out")])
    assert result.exit_code == 3
    assert "model_type 'bert' does not match" in result.stderr
    assert not (tmp_path / "out").exists()
    assert load_recipe("mobilebert-int8").checkpoint.architecture == "mobilebert"


def test_classifier_bundle_reports_top1(tmp_path):
    from mobilecomp.pipeline import export_bundle
    from mobilecomp.recipe import load_recipe

    clf = _save_tiny(tmp_path / "clf", classifier=True)
    result = export_bundle(load_recipe(str(DATA / "tiny-classifier.yaml")), tmp_path / "b", checkpoint=str(clf))
    for art in result.manifest.artefacts:
        assert art.parity.top1 is not None and art.parity.spearman is None
        assert art.parity.output == "logits"
    assert result.manifest.checkpoint["trained"] is True


def test_checkpoint_override_replaces_a_missing_recipe_directory(tmp_path):
    from mobilecomp.pipeline import export_bundle
    from mobilecomp.recipe import load_recipe

    recipe_file = tmp_path / "elsewhere.yaml"
    recipe_file.write_text((DATA / "tiny-bert.yaml").read_text()
                           .replace("name: tiny-bert", "name: elsewhere")
                           .replace("source: architecture", "source: hf-dir\n  path: not-made-yet"))
    recipe = load_recipe(str(recipe_file))
    directory = _save_tiny(tmp_path / "ckpt")
    result = export_bundle(recipe, tmp_path / "b", checkpoint=str(directory))
    assert result.manifest.checkpoint["path"] == str(directory)
    cli = CliRunner().invoke(main, ["export", "--recipe", str(recipe_file), "--out", str(tmp_path / "c")])
    assert cli.exit_code == 2 and "checkpoint.path" in cli.stderr and "not-made-yet" in cli.stderr
