"""The decoders Python and the Android core share (word labels from first subwords, top-k at a mask),
fill-mask's top-k parity and its gate, and the decode-vectors command's refusals. The JVM side's
check on the vectors is in test_android_core.py."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from mobilecomp.cli import main
from mobilecomp.load.heads import HEADS
from mobilecomp.types import Budget, ParityReport
from mobilecomp.verify import budget_failures
from mobilecomp.verify.decode import first_subwords, top_k, word_labels

# float32 logits with many ties: a few distinct values, or any finite value
LOGIT = st.one_of(st.sampled_from([-1.0, -0.0, 0.0, 0.5, 2.0]),
                  st.floats(-50, 50, allow_nan=False, width=32))


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(st.lists(LOGIT, min_size=1, max_size=40), st.integers(1, 60))
def test_top_k_lists_the_best_first_and_breaks_ties_by_index(values, k):
    logits = np.asarray(values, dtype=np.float32)
    picked = top_k(logits, k)
    assert len(picked) == min(k, len(logits)) and len(set(picked)) == len(picked)
    for a, b in zip(picked, picked[1:]):  # non-increasing; equal logits in index order
        assert logits[a] > logits[b] or (logits[a] == logits[b] and a < b)
    last = picked[-1]
    for other in set(range(len(logits))) - set(picked):  # nothing left out beats what was taken
        assert logits[other] < logits[last] or (logits[other] == logits[last] and other > last)


def test_top_k_refuses_what_has_no_order():
    with pytest.raises(ValueError, match="k must be at least 1"):
        top_k(np.zeros(3), 0)
    with pytest.raises(ValueError, match="NaN"):
        top_k(np.array([0.0, np.nan]), 1)


WORD_IDS = st.lists(st.integers(0, 6), max_size=30).map(
    lambda ids: [None, *sorted(ids), None, None])  # [CLS] words... [SEP] [PAD]: a fast tokenizer's word_ids()


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(WORD_IDS, st.integers(1, 5), st.data())
def test_word_labels_read_first_subwords_only(word_ids, labels, data):
    starts = first_subwords(word_ids)
    words = [w for w in dict.fromkeys(word_ids) if w is not None]
    assert [word_ids[p] for p in starts] == words  # one start per word, in order, each its first token
    assert all(word_ids[p - 1] != word_ids[p] for p in starts)
    logits = np.asarray(data.draw(st.lists(st.lists(LOGIT, min_size=labels, max_size=labels),
                                           min_size=len(word_ids), max_size=len(word_ids))), dtype=np.float32)
    tags = word_labels(logits, starts)
    assert tags == [int(np.argmax(logits[p])) for p in starts]
    later = [p for p in range(len(word_ids)) if p not in starts]
    noisy = logits.copy()
    noisy[later] = np.float32(99.0) * (np.arange(labels) == labels - 1)  # later subwords shout the last tag
    assert word_labels(noisy, starts) == tags


def test_word_labels_refuse_a_start_outside_the_tokens():
    with pytest.raises(ValueError, match="word start 4 is outside the 3 tokens"):
        word_labels(np.zeros((3, 2)), [1, 4])


# ---- fill-mask: top-k agreement beside top-1, gated only where a budget names it -----------------


def test_fill_mask_parity_reports_top_k_agreement():
    ref = np.tile(np.arange(10, dtype=np.float32)[::-1], (2, 1))  # best words 0..4 in both rows
    cand = ref.copy()
    cand[0, 9] = 100.0  # row 0: word 9 enters the top 5 (and becomes top-1), word 4 leaves it
    numbers = HEADS["fill-mask"].parity([ref], [cand], [None])
    assert numbers["k"] == 5
    assert numbers["topk"] == pytest.approx((4 / 5 + 5 / 5) / 2)
    assert numbers["top1"] == pytest.approx(0.5)


def _report(top1: float, topk: float) -> ParityReport:
    return ParityReport(corpus="c", sentences=2, output="logits", cos_min=1.0, cos_mean=1.0, max_abs=0.0,
                        spearman=None, top1=top1, budget=Budget(), failures=[], topk=topk, k=5)


def test_top_k_is_gated_only_where_the_budget_names_it():
    report = _report(top1=1.0, topk=0.6)
    assert budget_failures(report, Budget(top1=0.97)) == []  # the variants' budgets gate top-1
    assert budget_failures(report, Budget(top1=0.97, topk=0.8)) == ["topk 0.6 < 0.8"]
    assert budget_failures(_report(top1=0.5, topk=1.0), Budget(top1=0.97)) == ["top1 0.5 < 0.97"]


def test_a_recipe_budget_can_name_top_k(tmp_path):
    from mobilecomp.quantise import VARIANTS
    from mobilecomp.recipe import load_recipe

    (tmp_path / "fm.yaml").write_text(
        "name: fm\ndescription: fill-mask gated on top-5\nhead: fill-mask\nseq_len: 32\n"
        "checkpoint: {source: architecture, architecture: bert, config: {hidden_size: 32, num_hidden_layers: 2, "
        "num_attention_heads: 2, intermediate_size: 64}}\nformats: [onnx]\nvariants: [fp32, int8-dynamic]\n"
        "parity: {int8-dynamic: {topk: 0.8}}\n")
    recipe = load_recipe(str(tmp_path / "fm.yaml"))
    budget = VARIANTS["onnx"]["int8-dynamic"].budget.merged(recipe.parity["int8-dynamic"])
    assert budget.topk == 0.8 and budget.top1 == VARIANTS["onnx"]["int8-dynamic"].budget.top1


# ---- the decode-vectors command ------------------------------------------------------------------------


def test_decode_vectors_for_spans_need_no_bundle(tmp_path):
    out = tmp_path / "qa.jsonl"
    run = CliRunner().invoke(main, ["decode-vectors", "--head", "question-answering", "--out", str(out),
                                    "--count", "40"])
    assert run.exit_code == 0, run.output
    assert "40 question-answering vectors" in run.output and (tmp_path / "qa.npz").is_file()


def test_decode_vectors_of_a_model_need_its_bundle(tmp_path):
    run = CliRunner().invoke(main, ["decode-vectors", "--head", "fill-mask", "--out", str(tmp_path / "v.jsonl")])
    assert run.exit_code != 0 and run.output.strip().count("\n") == 0
    assert "--head fill-mask: its vectors are the bundle model's outputs; pass the BUNDLE" in run.output
    assert not (tmp_path / "v.jsonl").exists()


def test_decode_vectors_refuse_a_bundle_whose_head_has_no_decoder(tiny_bundle, tmp_path):
    run = CliRunner().invoke(main, ["decode-vectors", str(tiny_bundle), "--out", str(tmp_path / "v.jsonl")])
    assert run.exit_code != 0 and run.output.strip().count("\n") == 0
    assert "decoding vectors exist for heads token-classifier, fill-mask, question-answering; not for 'encoder'" \
        in run.output


def test_every_head_the_core_decodes_has_vectors():
    """The heads Heads.java decodes: each has decode vectors, but the classifier (its answer is the
    argmax, which the core's classifier path has always had)."""
    from mobilecomp.android.decode_vectors import HEADS as WITH_VECTORS

    java = (Path(__file__).resolve().parents[1] / "android_demo" / "core" / "src" / "main" / "java" / "io" /
            "mobilecomp" / "core" / "Heads.java").read_text()
    decoded = re.findall(r'"([a-z-]+)"', re.search(r"DECODED = .*?;", java, re.S).group(0))
    assert set(decoded) - {"classifier"} == set(WITH_VECTORS)
    assert set(decoded) - {"question-answering"} <= set(HEADS)  # QA's Python head lands with its own task
