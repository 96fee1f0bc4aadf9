"""Host profiling appends provenance-carrying rows to the bundle's results."""

from __future__ import annotations

import csv
import json
import shutil

from click.testing import CliRunner

from mobilecomp.cli import main


def test_profile_host_appends_rows(tiny_bundle, tmp_path):
    bundle = tmp_path / "b"
    shutil.copytree(tiny_bundle, bundle)
    result = CliRunner().invoke(main, ["profile", "--device", "host", "--runs", "20", str(bundle)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (bundle / "results.jsonl").read_text().splitlines()]
    assert {(r["artefact"], r["threads"]) for r in rows} >= {("onnx-fp32", 1), ("onnx-int8-dynamic", 1)}
    for row in rows:
        assert row["provenance"] == "measured-host" and row["device"] == "host"
        assert row["latency_ms"]["n"] == 20 and 0 < row["latency_ms"]["p50"] <= row["latency_ms"]["p90"]
        assert row["cpu_ms"]["p50"] > 0
        assert row["device_info"]["cpu"] and row["device_info"]["cores"] >= 1
        assert row["runner"]["name"] == "onnxruntime" and row["runner"]["version"]
        assert row["seq_len"] == 32 and row["batch"] == 1
        assert row["label"] == "untrained: size and latency only"
    with open(bundle / "results.csv") as fh:
        assert len(list(csv.DictReader(fh))) == len(rows)
    assert "host 1t p50 ms" in result.output and "untrained" in result.output
    again = CliRunner().invoke(main, ["profile", "--runs", "20", "--threads", "1", "--json", str(bundle)])
    assert again.exit_code == 0
    assert len(json.loads(again.output)) == 2
    assert len((bundle / "results.jsonl").read_text().splitlines()) == len(rows) + 2


def test_profile_refuses_what_is_not_a_bundle(tmp_path):
    result = CliRunner().invoke(main, ["profile", str(tmp_path)])
    assert result.exit_code == 5 and "manifest.json: missing" in result.stderr


def test_profile_unknown_device_lists_known(tiny_bundle):
    result = CliRunner().invoke(main, ["profile", "--device", "toaster", str(tiny_bundle)])
    assert result.exit_code == 7 and "host" in result.stderr


def test_profile_unknown_artefact_lists_known(tiny_bundle):
    result = CliRunner().invoke(main, ["profile", "--artefact", "onnx-int2", str(tiny_bundle)])
    assert result.exit_code == 7 and "onnx-fp32" in result.stderr
