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


def test_thread_counts_are_timed_in_one_loop_without_spinning_pools(tiny_bundle):
    """1- and 2-thread rows come from one interleaved loop; a multi-thread onnxruntime session really
    has spinning off (its pool would take a core from the session timed next: docs/threads.md)."""
    from mobilecomp.bundle import read_inputs, read_manifest
    from mobilecomp.profile import ProfileOptions
    from mobilecomp.profile.host import OnnxRuntimeRunner, profile_host

    rows = profile_host(tiny_bundle, read_manifest(tiny_bundle), ProfileOptions(threads=(1, 2), runs=3, warmup=1))
    assert sorted((r.artefact, r.threads) for r in rows) == [("onnx-fp32", 1), ("onnx-fp32", 2),
                                                             ("onnx-int8-dynamic", 1), ("onnx-int8-dynamic", 2)]
    for row in rows:
        assert row.extra["timing"]["threads_interleaved"] == [1, 2]
        spinning = row.runner["session_config"].get("session.intra_op.allow_spinning")
        assert spinning == ("0" if row.threads > 1 else None)
    feed = read_inputs(tiny_bundle, "profile.npz")
    art = tiny_bundle / "model-fp32.onnx"
    two, one = OnnxRuntimeRunner(art, 2, feed), OnnxRuntimeRunner(art, 1, feed)
    options = two.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.intra_op_num_threads == 2
    assert one.session.get_session_options().intra_op_num_threads == 1


def test_gpu_source_row_loads_the_bundles_own_checkpoint_and_pruning(tiny_bundle, tmp_path):
    """`--device cuda`'s PyTorch row: the model comes from the manifest's recorded recipe, checkpoint
    (sha256-checked) and pruning, not a recipe looked up by name (tiny-bert is no named recipe). Checked
    on the CPU: its outputs reproduce reference.npz, and the recorded pruning changes them."""
    import numpy as np

    from mobilecomp.bundle import read_manifest
    from mobilecomp.profile.cuda import source_model
    from mobilecomp.verify import reference_outputs, stored_feeds

    manifest = read_manifest(tiny_bundle)
    primary = manifest["model"]["primary_output"]
    feeds = stored_feeds(tiny_bundle)[:1]
    with np.load(tiny_bundle / "inputs" / "reference.npz") as data:
        reference = data[primary][:len(feeds[0]["input_ids"])]
    got = reference_outputs(source_model(tiny_bundle, manifest), feeds)[primary][0]
    np.testing.assert_allclose(got, reference, atol=1e-5)
    pruned = {**manifest, "recipe": {**manifest["recipe"], "prune": {"sparsity": 0.5, "method": "magnitude"}}}
    changed = reference_outputs(source_model(tiny_bundle, pruned), feeds)[primary][0]
    assert np.abs(changed - reference).max() > 1e-3
