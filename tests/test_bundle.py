"""The bundle contract: manifest fields, hashes, refusal to overwrite, no valid-looking leftovers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mobilecomp.bundle import PARTIAL_PREFIX
from mobilecomp.cli import main
from mobilecomp.load.checkpoints import sha256_file

DATA = Path(__file__).parent / "data"


def test_manifest_describes_every_artefact(tiny_bundle):
    manifest = json.loads((tiny_bundle / "manifest.json").read_text())
    assert manifest["recipe"]["name"] == "tiny-bert"
    assert manifest["checkpoint"]["trained"] is False
    assert manifest["checkpoint"]["label"] == "untrained: size and latency only"
    assert {a["name"] for a in manifest["artefacts"]} == {"onnx-fp32", "onnx-int8-dynamic"}
    for art in manifest["artefacts"]:
        path = tiny_bundle / art["file"]
        assert sha256_file(path) == art["sha256"]
        assert path.stat().st_size == art["size_bytes"]
        assert art["opset"] >= 17
        assert art["parity"]["sentences"] >= 200
        assert art["passed"] is True
    int8 = next(a for a in manifest["artefacts"] if a["variant"] == "int8-dynamic")
    assert int8["op_types"].get("MatMulInteger", 0) > 0 and "DynamicQuantizeLinear" in int8["op_types"]
    vocab = tiny_bundle / manifest["tokenizer"]["vocab_file"]
    assert sha256_file(vocab) == manifest["tokenizer"]["vocab_sha256"]
    for key in ("torch", "transformers", "onnx", "onnxruntime"):
        assert manifest["versions"][key]
    assert not [p for p in tiny_bundle.parent.iterdir() if p.name.startswith(PARTIAL_PREFIX)]


def test_existing_bundle_is_refused_without_force(tiny_bundle):
    before = (tiny_bundle / "manifest.json").read_bytes()
    result = CliRunner().invoke(main, ["export", "--recipe", str(DATA / "tiny-bert.yaml"),
                                       "--out", str(tiny_bundle)])
    assert result.exit_code == 5
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert (tiny_bundle / "manifest.json").read_bytes() == before


def test_failure_mid_export_leaves_nothing(tmp_path, tiny_recipe, monkeypatch):
    from mobilecomp import quantise
    from mobilecomp.pipeline import export_bundle

    def broken(src, dst, ctx):
        dst.write_bytes(b"half a model")
        raise RuntimeError("quantiser crashed")

    variant = quantise.VARIANTS["onnx"]["int8-dynamic"]
    monkeypatch.setitem(quantise.VARIANTS["onnx"], "int8-dynamic",
                        quantise.Variant(variant.name, variant.format, variant.budget, variant.summary, broken))
    with pytest.raises(RuntimeError):
        export_bundle(tiny_recipe, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_killed_export_leaves_no_valid_looking_bundle(tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "mobilecomp", "export", "--recipe",
                             str(DATA / "tiny-bert.yaml"), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp_path.glob(f"{PARTIAL_PREFIX}*/model-fp32.onnx")):
        time.sleep(0.05)
    assert list(tmp_path.glob(f"{PARTIAL_PREFIX}*")), "export never started writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    for partial in tmp_path.glob(f"{PARTIAL_PREFIX}*"):
        assert not (partial / "manifest.json").exists()


def test_force_replaces_a_bundle_and_nothing_else(tmp_path, tiny_recipe, tiny_bundle):
    import shutil

    from mobilecomp.errors import BundleError
    from mobilecomp.pipeline import export_bundle

    out = tmp_path / "b"
    shutil.copytree(tiny_bundle, out)
    (out / "stale.txt").write_text("old")
    export_bundle(tiny_recipe, out, force=True)  # a bundle mobilecomp wrote: replaced whole
    assert (out / "manifest.json").exists() and not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's")
    with pytest.raises(BundleError, match="not a mobilecomp bundle"):
        export_bundle(tiny_recipe, mine, force=True)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
