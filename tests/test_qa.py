"""Extractive question answering: span decoding, SQuAD EM/F1, the QA JSONL reader, the OANC
cloze-QA task's split, and a real QA checkpoint (MiniLM cut to 2 layers, its span head trained on
cached states in seconds) exported from --checkpoint DIR, plain and in DeFormer's two-graph form."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mobilecomp.cli import main
from mobilecomp.errors import CheckpointError, DataError
from mobilecomp.verify.decode import answer_f1, best_span, exact_match, normalize_answer, passage_tokens, span_f1
from mobilecomp.verify.qa import QAExample, noun_phrases, read_qa

ROOT = Path(__file__).resolve().parent.parent


# ---- decoding -----------------------------------------------------------------------------

LOGITS = st.lists(st.floats(-20, 20, allow_nan=False, width=32), min_size=1, max_size=24)


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(st.data(), LOGITS, st.integers(1, 8))
def test_best_span_is_the_best_allowed_span_within_the_length(data, starts, max_len):
    n = len(starts)
    ends = data.draw(st.lists(st.floats(-20, 20, allow_nan=False, width=32), min_size=n, max_size=n))
    allowed = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    start, end = best_span(np.array(starts), np.array(ends), allowed, max_len)
    candidates = [(s, e) for s in range(n) for e in range(s, min(n, s + max_len)) if allowed[s] and allowed[e]]
    if not candidates:
        assert (start, end) == (-1, -1)
        return
    assert allowed[start] and allowed[end] and start <= end < start + max_len
    best = max(np.float64(starts[s]) + ends[e] for s, e in candidates)
    assert np.float64(starts[start]) + ends[end] == best
    # ties: the smallest start, then the smallest end
    assert (start, end) == min((s, e) for s, e in candidates if np.float64(starts[s]) + ends[e] == best)


def test_passage_tokens_are_the_second_segment_of_the_pair_encoding():
    from transformers import AutoTokenizer

    from mobilecomp.load.checkpoints import embedded_dir

    tokenizer = AutoTokenizer.from_pretrained(embedded_dir("all-minilm-l6-v2"), local_files_only=True)
    enc = tokenizer(["who sat?", "what did the dog see on the mat?"], ["The cat sat on the mat.", "A bird."],
                    padding="longest", return_tensors="np")
    allowed = passage_tokens(enc["input_ids"], enc["attention_mask"])
    for row in range(2):
        ids = enc.sequence_ids(row)
        passage = [i for i, s in enumerate(ids) if s == 1 and enc["input_ids"][row, i] != tokenizer.sep_token_id]
        assert np.flatnonzero(allowed[row]).tolist() == passage


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(st.text(max_size=30), st.text(max_size=30))
def test_squad_em_and_f1_invariants(a, b):
    assert exact_match(a, a) == 1.0 and answer_f1(a, a) == 1.0
    assert answer_f1(a, b) == pytest.approx(answer_f1(b, a))
    assert 0.0 <= answer_f1(a, b) <= 1.0
    assert exact_match(a, b) == float(normalize_answer(a) == normalize_answer(b))
    if exact_match(a, b):
        assert answer_f1(a, b) == 1.0


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(st.integers(-1, 20), st.integers(0, 10), st.integers(-1, 20), st.integers(0, 10))
def test_span_f1_invariants(s1, w1, s2, w2):
    a, b = (s1, s1 + w1) if s1 >= 0 else (-1, -1), (s2, s2 + w2) if s2 >= 0 else (-1, -1)
    assert span_f1(a, a) == 1.0 and span_f1(a, b) == pytest.approx(span_f1(b, a))
    assert 0.0 <= span_f1(a, b) <= 1.0 and (span_f1(a, b) == 1.0) == (a == b)


def test_squad_scores_worked_by_hand():
    assert normalize_answer("The  Cat, sat!") == "cat sat"
    assert exact_match("the big dog", "Big dog.") == 1.0
    assert answer_f1("big brown dog", "the big dog") == pytest.approx(0.8)  # P 2/3, R 2/2
    assert span_f1((3, 6), (5, 8)) == pytest.approx(0.5)  # 2 of 4 positions each


def test_noun_phrases_follow_the_tags():
    tags = ("DT", "JJ", "NN", "VBD", "IN", "DT", "NN", "IN", "CD", "NNS", "JJ", ".")
    assert noun_phrases(tags) == [(0, 3), (5, 7), (8, 10)]  # the trailing JJ ends on no noun


# ---- the QA JSONL reader ------------------------------------------------------------------


def test_qa_jsonl_reads_context_or_passage_and_answers(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_text(json.dumps({"question": "who sat?", "context": "The cat sat.", "answer": "The cat",
                             "answer_start": 0}) + "\n\n"
                 + json.dumps({"question": "what?", "passage": "A dog ran.", "answers": ["dog", "A dog"],
                               "answer_start": 2}) + "\n")
    data = read_qa(f)
    assert data.examples == (QAExample("who sat?", "The cat sat.", ("The cat",), 0),
                             QAExample("what?", "A dog ran.", ("dog", "A dog"), 2))
    assert data.describe()["examples"] == 2


@pytest.mark.parametrize("line, message", [
    ('{"question": "q", "context": "abc", "answer": "b", "answer_start": 0}', r"d.jsonl:1: answer_start 0 does not"),
    ('{"question": "q", "context": "abc", "answer_start": 1}', r"d.jsonl:1: give one of answer or answers"),
    ('{"question": "q", "answer": "b", "answer_start": 1}', r"d.jsonl:1: give one of context or passage"),
    ('{"question": "q", "context": "abc", "answer": "b", "answer_start": "1"}', r"answer_start must be an integer"),
    ('{"question": 3, "context": "abc", "answer": "b", "answer_start": 1}', r"must be strings"),
    ('{"question": "q", "context": "abc", "answer": "b", "answer_start": 1, "x": 1}', r"unknown key 'x'"),
    ('{"question": "q", "context": "a\\u0000bc", "answer": "b", "answer_start": 2}', r"control character"),
    ('{"question": "q"', r"d.jsonl:1: not valid JSON"),
])
def test_malformed_qa_jsonl_is_one_line_naming_file_and_line(tmp_path, line, message):
    f = tmp_path / "d.jsonl"
    f.write_text(line + "\n")
    with pytest.raises(DataError, match=message) as err:
        read_qa(f)
    assert "\n" not in str(err.value)


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
RECORD = st.fixed_dictionaries({"question": TEXT, "context": TEXT}, optional={
    "answer": st.one_of(TEXT, st.integers()), "answers": st.lists(TEXT, max_size=2), "passage": TEXT,
    "answer_start": st.one_of(st.integers(-2, 12), st.booleans(), TEXT), "extra": TEXT})


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(st.lists(st.one_of(RECORD.map(json.dumps), TEXT), max_size=8), st.booleans())
def test_qa_files_are_refused_naming_the_line_or_read_whole(tmp_path_factory, rows, broken_utf8):
    """Generated QA JSONL files, broken ones among them: one DataError line naming the file (and the
    line, where one line is at fault), or every example kept with its answer where answer_start says."""
    path = tmp_path_factory.mktemp("qa") / "d.jsonl"
    path.write_bytes("\n".join(rows).encode("utf-8") + (b"\xff\xfe" if broken_utf8 else b""))
    try:
        data = read_qa(path)
    except DataError as exc:
        text = str(exc)
        assert text.startswith(str(path)) and "\n" not in text
        numbered = re.match(rf"{re.escape(str(path))}:(\d+):", text)
        if numbered:
            assert 1 <= int(numbered.group(1)) <= len(rows)
        return
    assert not broken_utf8
    assert len(data.examples) == sum(1 for r in rows if r.strip())
    for e in data.examples:
        assert e.context[e.answer_start:e.answer_start + len(e.answers[0])] == e.answers[0]


# ---- the built task ------------------------------------------------------------------------


def test_cloze_qa_split_is_disjoint_and_answers_stand_where_they_say():
    from mobilecomp.compress.data import task_data
    from mobilecomp.text import _splits
    from mobilecomp.verify.qa import SPLIT, cloze_qa_split

    split = cloze_qa_split()
    assert {k: len(split[k]) for k in SPLIT} == SPLIT and len(split["train"]) > 5000
    contexts = {name: {e.context for e in examples} for name, examples in split.items()}
    names = sorted(contexts)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not contexts[a] & contexts[b], (a, b)
    parity, calibration = _splits()
    held = set(parity) | set(calibration) | set(task_data().unlabelled)
    for examples in split.values():
        for e in examples:
            assert e.context[e.answer_start:e.answer_start + len(e.answers[0])] == e.answers[0]
            assert re.search(r"\bwhat\b", e.question) and e.question.endswith("?")
            assert not any(s in e.context for s in held if len(s) > 40)


# ---- a real QA checkpoint, end to end -----------------------------------------------------


def _export(reader: Path, recipe: str, out: Path) -> dict:
    """The reader checkpoint exported through the CLI with a recipe of the fixture's, gated on its eval data."""
    run = CliRunner().invoke(main, ["export", "--recipe", str(reader / recipe), "--checkpoint",
                                    str(reader / "model"), "--eval-data", str(reader / "eval.jsonl"),
                                    "--out", str(out)])
    assert run.exit_code == 0, run.output
    return json.loads((out / "manifest.json").read_text())


def test_qa_checkpoint_export(reader, tmp_path):
    out = tmp_path / "b"
    manifest = _export(reader, "qa-2l.yaml", out)
    assert manifest["model"]["head"] == "question-answering"
    assert manifest["model"]["outputs"] == ["start_logits", "end_logits"]
    assert manifest["parity_corpus"]["name"] == "oanc-cloze-qa-parity-128"
    assert manifest["eval_data"]["format"] == "qa-jsonl" and manifest["eval_data"]["examples"] == 48
    arts = {a["name"]: a for a in manifest["artefacts"]}
    assert sorted(arts) == ["onnx-fp32", "onnx-int8-dynamic", "tflite-fp32", "tflite-int8-dynamic"]
    for name, art in arts.items():
        parity, accuracy = art["parity"], art["accuracy"]
        assert parity["passed"] and accuracy["passed"], (name, parity, accuracy)
        assert parity["output"] == "start_logits" and parity["sentences"] == 128
        if name.endswith("fp32"):
            assert parity["top1"] == 1.0 and parity["span_f1"] == 1.0 and parity["cos_min"] > 0.9999
            assert accuracy["accuracy"] == pytest.approx(accuracy["source_accuracy"], abs=1e-6)
        else:  # real weights: lossy, and the decoded spans say by how much
            assert parity["cos_min"] < 0.99999 and parity["span_f1"] >= parity["top1"] >= 0.5
    with np.load(out / "inputs" / "reference.npz") as ref, np.load(out / "inputs" / "parity.npz") as inputs:
        assert ref["start_logits"].shape == inputs["input_ids"].shape == (128, inputs["input_ids"].shape[1])
        assert (inputs["token_type_ids"].max(axis=1) == 1).all()  # pairs: question 0, passage 1
    again = CliRunner().invoke(main, ["eval", str(out), "--data", str(reader / "eval.jsonl"), "--json"])
    assert again.exit_code == 0, again.output
    rows = {r["artefact"]: r for r in json.loads(again.stdout)}
    assert rows["onnx-int8-dynamic"]["accuracy"] == pytest.approx(arts["onnx-int8-dynamic"]["accuracy"]["accuracy"])
    assert rows["pytorch-source"]["f1"] >= rows["pytorch-source"]["accuracy"]


def test_deformer_qa_export_runs_question_and_passage_apart(reader, tmp_path):
    out = tmp_path / "d"
    manifest = _export(reader, "deformer-qa-2l.yaml", out)
    assert manifest["model"]["decompose"]["inputs"] == "(question, passage) pairs"
    assert manifest["model"]["decompose"]["passage_len"] == 128
    arts = {a["name"]: a for a in manifest["artefacts"]}
    assert arts["onnx-fp32"]["details"]["passage_cached"] is True
    assert arts["onnx-fp32"]["parity"]["top1"] == 1.0 and arts["onnx-fp32"]["parity"]["span_f1"] == 1.0
    assert arts["onnx-full-fp32"]["parity"]["top1"] == 1.0
    assert arts["onnx-int8-dynamic"]["parity"]["passed"] and arts["onnx-fp32"]["accuracy"]["passed"]


def test_a_qa_checkpoint_is_refused_by_a_classifier_recipe_naming_its_head(reader):
    from mobilecomp.load import load_model
    from mobilecomp.recipe import load_recipe

    recipe = load_recipe(str(reader / "qa-2l.yaml"))
    with pytest.raises(CheckpointError, match="asks for head: classifier but the checkpoint has a "
                                              "question-answering head .* use head: question-answering"):
        load_model(replace(recipe, head="classifier"), checkpoint=str(reader / "model"))


# ---- DeFormer's fixed question length ---------------------------------------------------------


@pytest.fixture(scope="module")
def minilm_tokenizer():
    from transformers import AutoTokenizer

    from mobilecomp.load.checkpoints import embedded_dir

    return AutoTokenizer.from_pretrained(embedded_dir("all-minilm-l6-v2"), local_files_only=True)


@settings(max_examples=8, deadline=None, database=None, derandomize=True)
@given(question_len=st.integers(4, 72), passage_len=st.integers(-4, 40))
@example(question_len=64, passage_len=40).via("fits")
@example(question_len=8, passage_len=24).via("question cut")
@example(question_len=64, passage_len=1).via("no passage")
def test_deformer_qa_holds_every_question_whole_or_names_the_field(minilm_tokenizer, question_len, passage_len):
    """A question is never cut to fit DeFormer's question_len: it fits whole, or the export stops with
    one ConfigError naming decompose.question_len (or seq_len, where no passage token is left)."""
    from mobilecomp.errors import ConfigError
    from mobilecomp.types import DecomposeSpec
    from mobilecomp.verify.qa import encode_deformer, parity_pairs

    examples = parity_pairs().examples[:6]
    seq_len = question_len + passage_len
    questions = [minilm_tokenizer(e.question, add_special_tokens=False)["input_ids"] for e in examples]
    needed = max(map(len, questions)) + 2  # with [CLS] and [SEP]
    try:
        feeds, gold = encode_deformer(minilm_tokenizer, examples, DecomposeSpec(1, question_len), seq_len)
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message
        if passage_len < 2:
            assert message.startswith(f"seq_len {seq_len} leaves no room for a passage"), message
            assert f"raise seq_len to at least {question_len + 2}" in message
        else:
            assert message.startswith(f"decompose.question_len {question_len} cannot hold"), message
            assert f"raise decompose.question_len to at least {needed}" in message
        return
    assert passage_len >= 2 and needed <= question_len
    ids = np.concatenate([f["input_ids"] for f in feeds])
    mask = np.concatenate([f["attention_mask"] for f in feeds])
    for row, question in enumerate(questions):
        assert list(ids[row, 1:len(question) + 1]) == question and mask[row, :question_len].sum() == len(question) + 2
        assert mask[row, question_len:].sum() >= 2 and (gold.offsets[row][question_len] >= 0).all()


@pytest.mark.parametrize("decompose, seq_len, field", [
    ({"lower_layers": 1, "question_len": 8}, 32, "decompose.question_len 8"),
    ({"lower_layers": 1, "question_len": 31}, 32, "seq_len 32"),
])
def test_a_deformer_qa_recipe_too_short_for_its_text_is_one_line_and_no_bundle(tmp_path, decompose, seq_len, field):
    recipe = yaml.safe_load((ROOT / "tests" / "data" / "tiny-bert.yaml").read_text())
    recipe.update(name="tiny-deformer-qa", head="question-answering", decompose=decompose, seq_len=seq_len,
                  variants=["fp32"])
    (tmp_path / "tiny-deformer-qa.yaml").write_text(yaml.safe_dump(recipe))
    out = tmp_path / "out"
    run = CliRunner().invoke(main, ["export", "--recipe", str(tmp_path / "tiny-deformer-qa.yaml"), "--out", str(out)])
    assert run.exit_code == 2 and isinstance(run.exception, SystemExit), run.output
    errors = [line for line in run.stderr.splitlines() if line.startswith("mobilecomp: error:")]
    assert len(errors) == 1 and field in errors[0] and "Traceback" not in run.output, run.output
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["tiny-deformer-qa.yaml"]
