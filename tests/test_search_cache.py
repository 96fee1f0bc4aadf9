"""The int8-accurate sweep's shortcuts (issue 24): cached results, one quantisation for every
trial, trials on every core. Each must leave the result exactly as the plain sweep gives it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mobilecomp.quantise import cache
from mobilecomp.quantise.search import search, sensitivity


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MOBILECOMP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


# ---- the cache on its own ------------------------------------------------------------------

KEY = {"variant": "onnx-int8-accurate", "checkpoint_sha256": "a" * 64, "fp32_sha256": "b" * 64}


def test_cache_miss_then_hit(cache_dir):
    assert cache.load(KEY) is None
    path = cache.save(KEY, {"kept_fp32": ["n1"]})
    assert path is not None and path.parent == cache_dir / "searches"
    assert cache.load(KEY) == {"kept_fp32": ["n1"]}


def test_key_changes_with_the_checkpoint_hash(cache_dir):
    cache.save(KEY, {"kept_fp32": ["n1"]})
    other = {**KEY, "checkpoint_sha256": "c" * 64}
    assert cache.entry_path(other) != cache.entry_path(KEY)
    assert cache.load(other) is None


@pytest.mark.parametrize("damage", [
    lambda text: text[: len(text) // 2],  # half-written
    lambda text: "\x00\xff not json",
    lambda text: json.dumps([1, 2, 3]),  # JSON of the wrong shape
    lambda text: text.replace('"format": 1', '"format": 0'),  # an older layout
    lambda text: text.replace("a" * 64, "d" * 64),  # a file under this name that holds another key
])
def test_a_damaged_entry_is_ignored_and_rewritten(cache_dir, damage):
    path = cache.save(KEY, {"kept_fp32": ["n1"]})
    path.write_text(damage(path.read_text()))
    assert cache.load(KEY) is None
    cache.save(KEY, {"kept_fp32": ["n2"]})
    assert cache.load(KEY) == {"kept_fp32": ["n2"]}


def test_an_entry_failing_the_callers_check_is_ignored(cache_dir):
    cache.save(KEY, {"kept_fp32": ["gone"]})
    assert cache.load(KEY, lambda r: set(r["kept_fp32"]) <= {"n1"}) is None
    assert cache.load(KEY, lambda r: r["missing"]) is None  # a check that meets a missing field


def test_an_unwritable_cache_costs_speed_not_the_export(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("MOBILECOMP_CACHE", str(blocker))
    assert cache.save(KEY, {"kept_fp32": []}) is None
    assert cache.load(KEY) is None


def test_feeds_hash_sees_every_token():
    feeds = [{"input_ids": np.arange(6, dtype=np.int64).reshape(2, 3)}]
    changed = [{"input_ids": feeds[0]["input_ids"].copy()}]
    changed[0]["input_ids"][1, 2] = 99
    assert cache.feeds_sha256(feeds) == cache.feeds_sha256([dict(feeds[0])])
    assert cache.feeds_sha256(feeds) != cache.feeds_sha256(changed)


# ---- the search on a toy score -------------------------------------------------------------

GAINS = {"a": 0.004, "b": 0.010, "c": -0.001, "d": 0.002}


def toy_score(kept: frozenset[str]) -> float:
    return 0.980 + sum(GAINS[u] for u in kept)


def test_parallel_sensitivity_equals_the_sequential_one():
    calls = []
    sequential = sensitivity(list(GAINS), toy_score)
    parallel = sensitivity(list(GAINS), toy_score, workers=3, progress=lambda: calls.append(1))
    assert parallel == sequential and len(calls) == len(GAINS) + 1
    assert parallel[1] == pytest.approx(GAINS)


def test_search_keeps_the_highest_gain_first_until_the_target():
    base, gains = sensitivity(list(GAINS), toy_score)
    result = search(list(GAINS), toy_score, 0.993, {u: 1.0 for u in GAINS}, gains=gains, base=base,
                    rank_by_gain=True, give_back=False)
    assert result.kept == ["b", "a"] and result.met and result.trials == 2
    unmet = search(list(GAINS), toy_score, 0.999, {u: 1.0 for u in GAINS}, gains=gains, base=base,
                   rank_by_gain=True, give_back=False)
    assert not unmet.met and "c" not in unmet.kept  # a unit that costs parity is never kept


# ---- int8-accurate on a tiny model: shortcut, cache hit, bad entries -----------------------

@pytest.fixture(scope="module")
def tiny_fp32(tmp_path_factory, tiny_recipe):
    from mobilecomp.export import export
    from mobilecomp.inputs import encode
    from mobilecomp.load import load_model
    from mobilecomp.text import calibration_corpus

    model = load_model(tiny_recipe)
    model.checkpoint = {**model.checkpoint, "sha256": "f" * 64}  # random weights have none: cache them anyway
    path = tmp_path_factory.mktemp("acc") / "model-fp32.onnx"
    export(model, tiny_recipe, "onnx", path)
    sentences = calibration_corpus().sentences[:40]
    tuning = encode(model.tokenizer, sentences, model.input_names, tiny_recipe.seq_len)
    return model, path, tuning


def _context(tiny_fp32, work: Path, lines: list[str]):
    from mobilecomp.load.heads import HEADS
    from mobilecomp.quantise import VARIANTS, QuantContext

    model, _, tuning = tiny_fp32
    # a tight budget, so the search keeps some MatMuls fp32 even on random weights
    budget = replace(VARIANTS["onnx"]["int8-accurate"].budget, cos_min=0.99995)
    work.mkdir(exist_ok=True)
    return QuantContext(calibration=tuning, tuning=tuning, primary_output="sentence_embedding", budget=budget,
                        work_dir=work, model=model, log=lines.append, head=HEADS["encoder"])


def test_keep_float_gives_quantize_dynamic_exclude_bit_for_bit(tiny_fp32, tmp_path):
    import onnx

    from mobilecomp.quantise.onnxruntime import dynamic_int8, keep_float, weight_matmuls
    from mobilecomp.runtime.ort import onnx_session, run_onnx

    _, src, tuning = tiny_fp32
    names = weight_matmuls(src)
    dynamic_int8(src, tmp_path / "all.onnx")
    every = onnx.load(str(tmp_path / "all.onnx"))
    for kept in ([], names[:1], [names[-1], names[2]]):
        dynamic_int8(src, tmp_path / "real.onnx", exclude=kept)
        real = run_onnx(onnx_session(tmp_path / "real.onnx"), tuning, "sentence_embedding")
        quick = run_onnx(onnx_session(keep_float(every, onnx.load(str(src)), kept)), tuning, "sentence_embedding")
        assert np.array_equal(real, quick), kept
    with pytest.raises(ValueError, match="quantize_dynamic"):  # a graph it was not written for
        keep_float(onnx.load(str(src)), onnx.load(str(src)), names[:1])


def test_sweep_shortcut_and_cache_give_the_plain_sweeps_result(tiny_fp32, tmp_path, cache_dir):
    from mobilecomp.quantise.onnxruntime import _sweep, _sweep_key, int8_accurate, tuning_outputs, weight_matmuls
    from mobilecomp.runtime.ort import onnx_session

    _, src, tuning = tiny_fp32
    lines: list[str] = []
    ctx = _context(tiny_fp32, tmp_path / "w", lines)
    reference = tuning_outputs(onnx_session(src), ctx)
    names = weight_matmuls(src)
    target = ctx.budget.cos_min + 0.003
    plain = _sweep(src, ctx, reference, names, target, len(names) // 3, shortcut=False)

    cold = int8_accurate(src, tmp_path / "cold.onnx", ctx)
    assert cold["kept_fp32"] == plain["kept_fp32"] and cold["kept_fp32"]
    assert cold["sweep"]["gain_by_node"] == plain["sweep"]["gain_by_node"]
    assert "stored" in cold["search_cache"]

    warm = int8_accurate(src, tmp_path / "warm.onnx", ctx)
    assert "reused" in warm["search_cache"] and warm["kept_fp32"] == cold["kept_fp32"]
    assert (tmp_path / "warm.onnx").read_bytes() == (tmp_path / "cold.onnx").read_bytes()

    key = _sweep_key(src, ctx, target, len(names) // 3)
    entry = cache.entry_path(key)
    stored = json.loads(entry.read_text())
    stored["result"]["sweep"]["reached_cos_min"] -= 0.01  # an entry that does not reproduce
    entry.write_text(json.dumps(stored))
    lines.clear()
    again = int8_accurate(src, tmp_path / "again.onnx", ctx)
    assert any("does not reproduce" in line for line in lines) and "stored" in again["search_cache"]
    assert again["kept_fp32"] == cold["kept_fp32"]

    stored["result"]["kept_fp32"] = ["no-such-node"]  # names a node the graph does not have
    entry.write_text(json.dumps(stored))
    assert "stored" in int8_accurate(src, tmp_path / "named.onnx", ctx)["search_cache"]

    entry.write_text("{ truncated")
    assert "stored" in int8_accurate(src, tmp_path / "garbage.onnx", ctx)["search_cache"]
    assert "reused" in int8_accurate(src, tmp_path / "healed.onnx", ctx)["search_cache"]


def test_the_key_holds_what_the_sweep_read(tiny_fp32, tmp_path):
    from mobilecomp.quantise.onnxruntime import _sweep_key

    model, src, tuning = tiny_fp32
    ctx = _context(tiny_fp32, tmp_path / "w", [])
    key = _sweep_key(src, ctx, 0.99, 4)
    assert key["checkpoint_sha256"] == "f" * 64 and key["tuning_tokens_sha256"] == cache.feeds_sha256(tuning)
    assert {"onnxruntime", "onnx", "mobilecomp"} <= set(key["versions"]) and "exact_mode" in key["host_int8"]
    assert _sweep_key(src, replace(ctx, tuning=tuning[:1]), 0.99, 4) != key
    unhashed = replace(model, checkpoint={**model.checkpoint, "sha256": None})
    assert _sweep_key(src, replace(ctx, model=unhashed), 0.99, 4) is None  # random test weights: not cached


def test_steps_scored_at_once_give_the_one_at_a_time_search():
    gains = {f"u{i}": 0.001 * (10 - i) for i in range(10)}

    def score(kept: frozenset[str]) -> float:
        return 0.97 + sum(gains[u] for u in kept)

    for target in (0.985, 0.99, 0.9999):
        for max_kept in (3, 10):
            one = search(list(gains), score, target, {}, gains=gains, base=0.97, max_kept=max_kept,
                         rank_by_gain=True, give_back=False)
            many = search(list(gains), score, target, {}, gains=gains, base=0.97, max_kept=max_kept,
                          rank_by_gain=True, give_back=False, workers=3)
            assert (many.kept, many.reached, many.trials, many.steps, many.met) == \
                   (one.kept, one.reached, one.trials, one.steps, one.met), (target, max_kept)
