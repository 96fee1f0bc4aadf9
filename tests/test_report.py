"""The models x devices report (md, csv, json, Pareto PNG), `compare`, and the GPU column's clean skip."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mobilecomp.cli import main
from mobilecomp.report.plot import pareto_front


def test_pareto_front():
    points = [(10, 0.9), (5, 0.95), (20, 0.99), (6, 0.80), (30, 0.98)]
    assert pareto_front(points) == [1, 2]


@pytest.fixture(scope="module")
def profiled(tiny_bundle):
    from mobilecomp.pipeline import profile_bundle
    from mobilecomp.profile import ProfileOptions

    profile_bundle(tiny_bundle, "host", ProfileOptions(threads=(1,), runs=20, warmup=1))
    return tiny_bundle


def test_report_command_writes_all_four(profiled, tmp_path):
    out = tmp_path / "rep"
    result = CliRunner().invoke(main, ["report", str(profiled), "--out", str(out), "--device-for-pareto", "host"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"report.md", "report.csv", "report.json", "pareto.png",
                                               "pareto-host-1T.png"}  # one plot per device column
    md = (out / "report.md").read_text()
    assert "tiny-bert (untrained)" in md and "(measured-host)" in md and "host 1T" in md
    data = json.loads((out / "report.json").read_text())
    assert {r["variant"] for r in data["rows"]} == {"fp32", "int8-dynamic"}
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    results = CliRunner().invoke(main, ["report", str(profiled / "results.jsonl"), "--out", str(tmp_path / "r2")])
    assert results.exit_code == 0, results.output
    bad = CliRunner().invoke(main, ["report", str(profiled), "--out", str(tmp_path / "r3"),
                                    "--device-for-pareto", "adb"])
    assert bad.exit_code == 2 and "has no rows" in bad.stderr


def test_compare_runs_the_chain_and_reports(tmp_path):
    from pathlib import Path

    recipe = Path(__file__).parent / "data" / "tiny-bert.yaml"
    result = CliRunner().invoke(main, ["compare", "--recipes", str(recipe), "--device", "host",
                                       "--threads", "1", "--runs", "20", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "bundles" / "tiny-bert" / "manifest.json").exists()
    assert "tiny-bert (untrained)" in (tmp_path / "report.md").read_text()


def _has_gpu() -> bool:
    from mobilecomp.errors import DeviceError
    from mobilecomp.profile.cuda import backend

    try:
        backend()
        return True
    except DeviceError:
        return False


def test_cuda_skips_cleanly_without_a_gpu(tiny_bundle):
    if _has_gpu():
        pytest.skip("a GPU is present: test_cuda_measures_on_the_gpu covers it")
    result = CliRunner().invoke(main, ["profile", str(tiny_bundle), "--device", "cuda", "--runs", "20"])
    assert result.exit_code == 7
    assert "no GPU" in result.stderr and "skipped" in result.stderr and "Traceback" not in result.output


@pytest.mark.skipif(not _has_gpu(), reason="no GPU here (onnxruntime CUDA provider or torch.cuda)")
def test_cuda_measures_on_the_gpu(tiny_bundle):
    from mobilecomp.pipeline import profile_bundle
    from mobilecomp.profile import ProfileOptions

    rows = profile_bundle(tiny_bundle, "cuda", ProfileOptions(runs=20, warmup=2))
    assert rows and all(r.provenance == "measured-gpu" and r.device_info.accelerator for r in rows)


def test_accuracy_axis_reads_eval_rows(profiled, tmp_path):
    import shutil

    bundle = tmp_path / "b"
    shutil.copytree(profiled, bundle)
    with open(bundle / "accuracy.jsonl", "w") as fh:
        for art, acc in (("onnx-fp32", 81.9), ("onnx-int8-dynamic", 81.0)):
            fh.write(json.dumps({"artefact": art, "accuracy": acc}) + "\n")
    result = CliRunner().invoke(main, ["report", str(bundle), "--y", "accuracy", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert {r["variant"]: r["accuracy"] for r in data["rows"]} == {"fp32": 81.9, "int8-dynamic": 81.0}
    assert "81.9" in (tmp_path / "r" / "report.md").read_text()
