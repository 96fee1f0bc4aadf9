"""Task heads: the registry, the token classifier's metrics and CoNLL reader, and a real POS tagger
(MiniLM cut to 2 layers, tag classifier trained on OANC in seconds) exported from --checkpoint DIR
through ONNX and TFLite fp32 and int8, gated on its own parity metric and held-out token accuracy."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from mobilecomp.cli import main
from mobilecomp.errors import CheckpointError, ConfigError, DataError
from mobilecomp.load.architectures import ARCHITECTURES
from mobilecomp.load.heads import HEADS, RECIPE_FOR, checkpoint_head
from mobilecomp.metrics import entities, real_tokens, token_parity, token_scores
from mobilecomp.verify.tagging import read_conll

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent

# Each registered head's end-to-end test: a real checkpoint exported, gated and (where labels
# exist) scored. A head registered without one fails test_every_head_has_an_end_to_end_test.
END_TO_END = {
    "encoder": "test_minilm.py::test_minilm_fp32_is_exact_and_int8_within_budget",
    "classifier": "test_accuracy.py::test_accuracy_gate_fails_a_destroyed_artefact",
    "token-classifier": "test_heads.py::test_pos_tagger_checkpoint_export",
    "fill-mask": "test_heads.py::test_fill_mask_checkpoint_export",
    "question-answering": "test_qa.py::test_qa_checkpoint_export",
}


def test_every_head_has_an_end_to_end_test():
    assert set(END_TO_END) == set(HEADS), f"heads without an end-to-end test: {set(HEADS) - set(END_TO_END)}"
    for head, test in END_TO_END.items():
        file, name = test.split("::")
        assert re.search(rf"^def {name}\(", (TESTS / file).read_text(), re.M), f"{head}: {test} does not exist"


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
@pytest.mark.parametrize("head", sorted(HEADS))
def test_each_head_names_a_transformers_class_of_each_architecture(arch, head):
    import transformers

    name = HEADS[head].model_class(ARCHITECTURES[arch])
    assert hasattr(transformers, name), name
    assert name.startswith(ARCHITECTURES[arch].base_class.removesuffix("Model"))


def test_heads_say_their_metrics_and_checkpoints_map_back():
    for name, head in HEADS.items():
        assert head.primary in head.outputs and head.parity_metric
        assert RECIPE_FOR[head.suffix] == name
    assert HEADS["token-classifier"].accuracy_metric and not HEADS["encoder"].accuracy_metric
    said = checkpoint_head({"architectures": ["BertForTokenClassification"]})
    assert "token-classification head" in said and "use head: token-classifier" in said


# ---- the token classifier's metrics, on numbers worked out by hand ---------------------------


def test_real_tokens_drop_padding_and_the_special_tokens():
    mask = np.array([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]])
    assert real_tokens(mask).tolist() == [[False, True, True, False, False], [False, True, False, False, False]]


def test_token_parity_counts_real_tokens_only():
    ref = np.zeros((1, 5, 3))
    ref[0, :, 0] = 1.0  # every token says tag 0
    cand = ref.copy()
    cand[0, 2] = [0.0, 1.0, 0.0]  # one real token flips to tag 1
    cand[0, 4] = [0.0, 0.0, 9.0]  # padding: ignored
    cand[0, 0] = [0.0, 0.0, 9.0]  # [CLS]: ignored
    numbers = token_parity([ref], [cand], [real_tokens(np.array([[1, 1, 1, 1, 0]]))])
    assert numbers["top1"] == pytest.approx(0.5)  # 2 real tokens, 1 flipped
    assert numbers["cosines"][0] == pytest.approx(0.5)  # [1,0,0,1,0,0] vs [1,0,0,0,1,0]


def test_entity_f1_and_token_accuracy():
    assert entities(["B-PER", "I-PER", "O", "I-LOC", "B-LOC"]) == {(0, 2, "PER"), (3, 4, "LOC"), (4, 5, "LOC")}
    tags = ("O", "B-PER", "I-PER")
    gold = np.array([[-100, 1, 2, 0, 1, -100]])  # entities (0,2) and (3,4) over the 4 scored words
    logits = np.eye(3)[[0, 1, 2, 0, 0, 0]][None]  # predicts O B I O O: one entity of two, none wrong
    result = token_scores([logits], [gold], tags)
    assert result["accuracy"] == pytest.approx(75.0)
    assert result["f1"] == pytest.approx(200 * 1 / 3)  # P 1/1, R 1/2
    assert "f1" not in token_scores([logits], [gold], ("NN", "VB", "DT"))  # Penn tags are not BIO


# ---- CoNLL files -------------------------------------------------------------------------


def test_conll_reads_sentences_and_skips_docstart(tmp_path):
    f = tmp_path / "d.conll"
    f.write_text("-DOCSTART- -X- O\n\nThe DT\ncat NN B-X\n\n\nsat VBD\n")
    data = read_conll(f)
    assert data.words == (("The", "cat"), ("sat",)) and data.tags == (("DT", "B-X"), ("VBD",))
    assert data.first_line == {"DT": 3, "B-X": 4, "VBD": 7}


@pytest.mark.parametrize("text, message", [
    ("The DT\ncat\n", r"d.conll:2: expected 'token TAG', got one field"),
    ("The DT\nca\x00t NN\n", r"d.conll:2: holds control character"),
    ("\n\n", r"d.conll: no tagged sentences"),
])
def test_malformed_conll_is_one_line_naming_file_and_line(tmp_path, text, message):
    f = tmp_path / "d.conll"
    f.write_text(text)
    with pytest.raises(DataError, match=message) as err:
        read_conll(f)
    assert "\n" not in str(err.value)


FIELD = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
CONLL_LINE = st.one_of(st.just(""), st.just("-DOCSTART- O"), FIELD,
                       st.builds(lambda w, t, sep: f"{w}{sep}{t}", FIELD, FIELD, st.sampled_from([" ", "\t", "  "])))


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(st.lists(CONLL_LINE, max_size=30), st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_conll_files_are_refused_naming_the_line_or_read_whole(tmp_path_factory, rows, newline, broken_utf8):
    """Generated CoNLL files, broken ones among them: either one DataError line naming the file (and
    the line, where one line is at fault), or every 'token TAG' line kept, in order, in sentences."""
    path = tmp_path_factory.mktemp("conll") / "d.conll"
    raw = newline.join(rows).encode("utf-8") + (b"\xff\xfe" if broken_utf8 else b"")
    path.write_bytes(raw)
    try:
        data = read_conll(path)
    except DataError as exc:
        text = str(exc)
        assert text.startswith(str(path)) and "\n" not in text
        if "one field" in text or "control character" in text:
            line = int(re.match(rf"{re.escape(str(path))}:(\d+):", text).group(1))
            assert 1 <= line <= len(rows)
        return
    assert not broken_utf8
    kept = [ln.split() for ln in newline.join(rows).replace("\r\n", "\n").split("\n")]
    kept = [f for f in kept if f and f[0] != "-DOCSTART-"]
    assert [(w, t) for ws, ts in zip(data.words, data.tags) for w, t in zip(ws, ts)] == [(f[0], f[-1]) for f in kept]
    assert all(len(ws) == len(ts) >= 1 for ws, ts in zip(data.words, data.tags))


# ---- the encoder's pooling choice -------------------------------------------------------------


def test_encoder_pooling_cls_takes_the_first_token(tiny_recipe):
    import torch

    from mobilecomp.inputs import encode
    from mobilecomp.load import load_model

    model = load_model(replace(tiny_recipe, pooling="cls"))
    feed = encode(model.tokenizer, ["a cat sat on the mat", "rain"], model.input_names, 32)[0]
    with torch.no_grad():
        states, pooled = model.module(*(torch.from_numpy(feed[n]) for n in model.input_names))
    assert torch.equal(pooled, states[:, 0])
    mean = load_model(tiny_recipe).module
    with torch.no_grad():
        _, averaged = mean(*(torch.from_numpy(feed[n]) for n in model.input_names))
    assert not torch.allclose(averaged, pooled)


def test_pooling_is_checked_with_the_recipe(tmp_path):
    from mobilecomp.recipe import load_recipe

    data = yaml.safe_load((ROOT / "export_recipes" / "minilm-l6-int8.yaml").read_text())
    for change, message in (({"pooling": "max"}, "pooling 'max' is unknown .known: mean, cls."),
                            ({"pooling": "cls", "head": "classifier"}, "pooling is an encoder setting")):
        path = tmp_path / "minilm-l6-int8.yaml"
        path.write_text(yaml.safe_dump({**data, **change}))
        with pytest.raises(ConfigError, match=message):
            load_recipe(str(path))


# ---- a real POS tagger, end to end ----------------------------------------------------------


def test_pos_tagger_checkpoint_export(tagger, tmp_path):
    card = json.loads((tagger / "model" / "mobilecomp_finetune.json").read_text())
    assert card["test_token_accuracy"] > 80, card  # it learned real tags (the commonest tag, NN, is 13%)
    out = tmp_path / "b"
    run = CliRunner().invoke(main, ["export", "--recipe", str(tagger / "pos-2l.yaml"), "--checkpoint",
                                    str(tagger / "model"), "--eval-data", str(tagger / "eval.conll"),
                                    "--out", str(out)])
    assert run.exit_code == 0, run.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["head"] == "token-classifier" and len(manifest["model"]["labels"]) == card["tags"]
    assert manifest["eval_data"]["format"] == "conll" and manifest["eval_data"]["examples"] == 120
    arts = {a["name"]: a for a in manifest["artefacts"]}
    assert sorted(arts) == ["onnx-fp32", "onnx-int8-dynamic", "tflite-fp32", "tflite-int8-dynamic"]
    for name, art in arts.items():
        parity, accuracy = art["parity"], art["accuracy"]
        assert parity["passed"] and accuracy["passed"], (name, parity, accuracy)
        assert parity["output"] == "logits" and parity["sentences"] == 258
        if name.endswith("fp32"):
            assert parity["top1"] == 1.0 and parity["cos_min"] > 0.9999
            assert accuracy["accuracy"] == pytest.approx(accuracy["source_accuracy"], abs=0.05)
        else:  # real weights: visibly lossy, within the budgets
            assert 0.95 <= parity["top1"] < 1.0 and parity["cos_min"] < 0.99999
            assert abs(accuracy["drop_points"]) <= 1.0 and accuracy["accuracy"] > 80
    # device checks read the stored reference: per-token logits padded to the stored inputs
    with np.load(out / "inputs" / "reference.npz") as ref, np.load(out / "inputs" / "parity.npz") as inputs:
        assert ref["logits"].shape == (*inputs["input_ids"].shape, card["tags"])
    # and `mobilecomp eval` scores the same artefacts again, from the bundle
    again = CliRunner().invoke(main, ["eval", str(out), "--data", str(tagger / "eval.conll"), "--json"])
    assert again.exit_code == 0, again.output
    rows = {r["artefact"]: r for r in json.loads(again.stdout)}
    assert rows["onnx-int8-dynamic"]["accuracy"] == pytest.approx(arts["onnx-int8-dynamic"]["accuracy"]["accuracy"])


def test_checkpoint_heads_are_refused_by_the_wrong_recipe(tagger, tiny_recipe):
    from mobilecomp.load import load_model
    from mobilecomp.load.checkpoints import embedded_dir
    from mobilecomp.recipe import load_recipe

    pos = load_recipe(str(tagger / "pos-2l.yaml"))
    with pytest.raises(CheckpointError, match="asks for head: classifier but the checkpoint has a "
                                              "token-classification head .* use head: token-classifier"):
        load_model(replace(pos, head="classifier"), checkpoint=str(tagger / "model"))
    with pytest.raises(CheckpointError, match="asks for head: token-classifier but the checkpoint has no "
                                              "trained classifier, only the encoder"):
        load_model(pos, checkpoint=str(embedded_dir("all-minilm-l6-v2")))


def test_unknown_tags_name_their_line(tagger, tmp_path):
    f = tmp_path / "other.conll"
    f.write_text("The DT\ncat NN\n\nDogs NNS\nbark VERB\n")
    run = CliRunner().invoke(main, ["export", "--recipe", str(tagger / "pos-2l.yaml"), "--checkpoint",
                                    str(tagger / "model"), "--eval-data", str(f), "--out", str(tmp_path / "o")])
    assert run.exit_code != 0 and "Traceback" not in run.output
    assert re.search(r"other.conll:5: tag 'VERB' is not one of the model's 45 labels", run.stderr), run.stderr
    assert not (tmp_path / "o").exists()
    f.write_text("The DT\ncat NN\n\nDogs\n")  # malformed: refused before anything loads
    bad = CliRunner().invoke(main, ["export", "--recipe", str(tagger / "pos-2l.yaml"), "--checkpoint",
                                    str(tagger / "model"), "--eval-data", str(f), "--out", str(tmp_path / "o")])
    assert bad.exit_code == run.exit_code and "Traceback" not in bad.output
    assert bad.stderr.strip().count("\n") == 0 and "other.conll:4: expected 'token TAG'" in bad.stderr
    assert not (tmp_path / "o").exists()


# ---- fill-mask (no trained masked-LM head is available offline: parity only, labelled untrained) ----

TINY = {"bert": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64),
        "distilbert": dict(dim=32, n_layers=2, n_heads=2, hidden_dim=64),
        "roberta": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64),
        "electra": dict(embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64)}


@pytest.mark.parametrize("arch", sorted(TINY))
def test_fill_mask_output_is_the_masked_lm_at_the_mask(arch):
    """The head computes the prediction head at the mask only: the same numbers as the full
    transformers model's logits at that position."""
    import torch

    from mobilecomp.load import build_for_head
    from mobilecomp.load.heads import head_for, wrap

    spec = ARCHITECTURES[arch]
    head = replace(head_for("fill-mask"), mask_token_id=5)
    config = spec.build_config(TINY[arch])
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = build_for_head(spec, config, head, "t")
    ids = torch.tensor([[1, 7, 5, 9, 2, 0], [1, 5, 8, 11, 12, 2]])
    mask = (ids != 0).long()
    inputs = {"input_ids": ids, "attention_mask": mask}
    with torch.no_grad():
        (logits,) = wrap(head, model, tuple(inputs))(*inputs.values())
        full = model(**inputs).logits
    assert logits.shape == (2, config.vocab_size)
    torch.testing.assert_close(logits, full[torch.arange(2), torch.tensor([2, 1])], rtol=1e-5, atol=1e-5)


def test_fill_mask_checkpoint_export(tmp_path, tiny_recipe):
    """A --checkpoint DIR of a (random, so untrained) BertForMaskedLM through ONNX fp32 and int8:
    one token of every parity sentence masked, parity on the vocabulary at that token."""
    import torch
    import transformers

    from mobilecomp.load.checkpoints import embedded_dir

    torch.manual_seed(0)
    config = transformers.BertConfig(**TINY["bert"])
    directory = tmp_path / "mlm"
    transformers.BertForMaskedLM(config).save_pretrained(directory)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (directory / name).write_bytes((embedded_dir("all-minilm-l6-v2") / name).read_bytes())
    recipe = {**yaml.safe_load((TESTS / "data" / "tiny-bert.yaml").read_text()), "name": "tiny-mlm",
              "head": "fill-mask", "checkpoint": {"source": "hf-dir", "path": str(directory)}}
    (tmp_path / "tiny-mlm.yaml").write_text(yaml.safe_dump(recipe))
    out = tmp_path / "b"
    run = CliRunner().invoke(main, ["export", "--recipe", str(tmp_path / "tiny-mlm.yaml"), "--checkpoint",
                                    str(directory), "--out", str(out)])
    assert run.exit_code == 0, run.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["head"] == "fill-mask" and manifest["model"]["outputs"] == ["logits"]
    for art in manifest["artefacts"]:
        assert art["parity"]["passed"] and art["parity"]["top1"] >= 0.97, art["parity"]
        # top-5 agreement at the mask is reported beside top-1; the gate stays on top-1 (no budget names topk)
        assert art["parity"]["k"] == 5 and 0.0 <= art["parity"]["topk"] <= 1.0
        assert art["parity"]["budget"]["topk"] is None
    assert {a["variant"]: a["parity"]["topk"] for a in manifest["artefacts"]}["fp32"] == 1.0
    with np.load(out / "inputs" / "parity.npz") as inputs, np.load(out / "inputs" / "reference.npz") as ref:
        assert ((inputs["input_ids"] == 103).sum(axis=1) == 1).all()  # one [MASK] in every sentence
        assert ref["logits"].shape == (258, config.vocab_size)
    with pytest.raises(CheckpointError, match="asks for head: encoder but the checkpoint has a masked-LM head"):
        from mobilecomp.load import load_model

        load_model(tiny_recipe, checkpoint=str(directory))


def test_pos_split_is_disjoint_from_parity_calibration_and_distillation():
    from mobilecomp.compress.data import task_data
    from mobilecomp.text import _detag, _splits
    from mobilecomp.verify.tagging import POS_TEST, oanc_pos_split

    train, test = oanc_pos_split()

    def text(sentence):
        return _detag(" ".join(f"{w}/{t}" for w, t in zip(*sentence)))

    train_text, test_text = {text(s) for s in train}, {text(s) for s in test}
    parity, calibration = _splits()
    assert len(test) == POS_TEST and len(train) > 10_000 and not train_text & test_text
    for held in (parity, calibration, task_data().unlabelled):
        assert not (train_text | test_text) & set(held)
