"""Emulated ARM: the real aarch64 onnxruntime, LiteRT and ExecuTorch under qemu-user on tiny bundles (no mocks of qemu)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from mobilecomp.devices import INSTRUCTION_CLASSES, all_devices, device_paths, load_device
from mobilecomp.errors import ConfigError, DeviceError
from mobilecomp.profile import ProfileOptions, profile
from mobilecomp.profile.emulated_arm import PROVENANCE, estimate_ms
from mobilecomp.profile.emulated_arm import setup as arm_setup

FAST = {"arm_parity_sentences": 8}
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def arm():
    """The built toolchain; skips (saying why) only where qemu-user cannot be installed."""
    if not os.access(arm_setup.QEMU, os.X_OK) and os.geteuid() != 0:
        pytest.skip(f"{arm_setup.QEMU} is absent and installing qemu-user needs root "
                    "(`sudo apt-get install qemu-user`, then `mobilecomp setup arm`)")
    if not os.access(arm_setup.QEMU, os.X_OK) and shutil.which("apt-get") is None:
        pytest.skip("qemu-user is absent and this system has no apt-get to install it")
    return arm_setup.setup_arm(log=lambda msg: None)


def _run(bundle: Path, device: str, threads: tuple[int, ...] = (1, 4), artefacts: tuple[str, ...] = (),
         **extra) -> dict:
    manifest = json.loads((bundle / "manifest.json").read_text())
    rows = profile(bundle, manifest, device, ProfileOptions(threads=threads, artefacts=artefacts,
                                                            extra={**FAST, **extra}))
    return {(r.artefact, r.threads): r for r in rows}


@pytest.fixture(scope="session")
def a76_rows(arm, tiny_bundle):
    return _run(tiny_bundle, "emulated-arm:pixel-4")


def test_rows_carry_parity_counts_and_estimate(a76_rows):
    rows = a76_rows
    assert {a for a, _ in rows} == {"onnx-fp32", "onnx-int8-dynamic"}
    for (artefact, threads), row in rows.items():
        assert row.provenance == PROVENANCE == "estimated-emulated-arm"
        assert row.parity["passed"], row.parity["failures"]
        assert row.parity["sentences"] == 8
        assert set(row.extra["instruction_classes"]) == set(INSTRUCTION_CLASSES)
        assert row.extra["instructions"] == sum(row.extra["instruction_classes"].values()) > 100_000
        assert len(row.extra["runs"]) >= 3 and row.latency_ms.mean > 0
        assert row.device_info.extra["latency_model"]["stall"] > 0 and row.extra["weight_bytes"] > 0
        assert row.runner["version"] == arm_setup.host_versions()[0]
        assert "cortex-a76" in row.runner["emulator"]
        # a multi-thread row is arithmetic on the 1-thread counts, and says so
        assert row.extra["threads_basis"] == ("counted single-threaded" if threads == 1 else
                                              "extrapolated from 1-thread counts with an assumed thread "
                                              f"efficiency of {row.device_info.extra['latency_model']['thread_efficiency']} "
                                              "(no multi-threaded run was counted)")
        json.dumps(row.to_json())
    assert rows[("onnx-fp32", 4)].latency_ms.mean < rows[("onnx-fp32", 1)].latency_ms.mean


def test_counts_repeat_within_0_1_percent(arm, tmp_path_factory):
    # Not the tiny bundle: its 1.2M instructions are mostly onnxruntime's per-call overhead,
    # which varies by ~0.2%; a model of tens of millions of instructions is what users count.
    from mobilecomp.pipeline import export_bundle
    from mobilecomp.recipe import load_recipe

    bundle = tmp_path_factory.mktemp("small") / "small-bert"
    export_bundle(load_recipe(str(Path(__file__).parent / "data" / "small-bert.yaml")), bundle)
    first = _run(bundle, "emulated-arm:pixel-4", threads=(1,))
    second = _run(bundle, "emulated-arm:pixel-4", threads=(1,))
    for key, row in first.items():
        a, b = row.extra["instructions"], second[key].extra["instructions"]
        assert a > 10_000_000
        assert abs(a - b) / a <= 0.001, (key, a, b)


def test_int8_uses_dot_product_on_a76_and_not_on_a53(arm, tiny_bundle, a76_rows):
    a76 = a76_rows
    assert a76[("onnx-int8-dynamic", 1)].extra["instruction_classes"]["dot"] > 0
    assert a76[("onnx-fp32", 1)].extra["instruction_classes"]["dot"] == 0
    a53 = _run(tiny_bundle, "emulated-arm:moto-g5-plus")
    int8 = a53[("onnx-int8-dynamic", 1)]
    assert "cortex-a53" in int8.runner["emulator"]
    assert int8.extra["instruction_classes"]["dot"] == 0
    assert int8.extra["instruction_classes"]["simd_mac"] > a76[("onnx-int8-dynamic", 1)].extra["instruction_classes"]["simd_mac"]
    assert int8.parity["passed"], int8.parity["failures"]


@pytest.fixture(scope="session")
def tiny_tflite_bundle(tmp_path_factory, tiny_recipe) -> Path:
    """fp32 and int8-dynamic .tflite of the tiny BERT, with a 16-token signature beside seq 32."""
    pytest.importorskip("litert_torch", reason="litert-torch not installed (scripts/setup.d/15-litert.sh)")
    import dataclasses

    from mobilecomp.pipeline import export_bundle

    recipe = dataclasses.replace(tiny_recipe, formats=("tflite",), variants=("fp32", "int8-dynamic"),
                                 tflite_seq_lens=(16,))
    out = tmp_path_factory.mktemp("bundles") / "tiny-tflite"
    export_bundle(recipe, out)
    return out


def test_tflite_runs_on_the_aarch64_litert(arm, tiny_tflite_bundle):
    rows = _run(tiny_tflite_bundle, "emulated-arm:pixel-4", threads=(1,))
    assert {a for a, _ in rows} == {"tflite-fp32", "tflite-int8-dynamic"}
    for row in rows.values():
        assert row.provenance == PROVENANCE
        assert row.runner["name"] == "ai-edge-litert" and row.runner["version"] == arm.litert
        assert row.runner["machine"] == "aarch64" and row.runner["signature"] == "seq32"
        assert "cortex-a76" in row.runner["emulator"]
        assert row.parity["passed"], row.parity["failures"]
        assert row.parity["sentences"] == 8
        assert row.extra["instructions"] == sum(row.extra["instruction_classes"].values()) > 100_000
        assert row.latency_ms.mean > 0
    assert rows[("tflite-fp32", 1)].parity["cos_min"] > 0.9999
    # XNNPACK's int8 kernels take SDOT on a dot-product CPU
    assert rows[("tflite-int8-dynamic", 1)].extra["instruction_classes"]["dot"] > 0
    assert rows[("tflite-fp32", 1)].extra["instruction_classes"]["dot"] == 0


@pytest.fixture(scope="session")
def tiny_pte_bundle(tmp_path_factory, tiny_recipe) -> Path:
    """fp32 and int8-dynamic .pte (XNNPACK) of the tiny BERT, written by this repo's executorch."""
    pytest.importorskip("executorch", reason="executorch not installed (scripts/setup.d/17-executorch.sh)")
    import dataclasses

    from mobilecomp.pipeline import export_bundle

    recipe = dataclasses.replace(tiny_recipe, name="tiny-pte", formats=("executorch",),
                                 variants=("fp32", "int8-dynamic"))
    out = tmp_path_factory.mktemp("bundles") / "tiny-pte"
    export_bundle(recipe, out)
    return out


def test_executorch_runs_on_the_aarch64_runtime(arm, tiny_pte_bundle):
    """A .pte runs in the trixie sysroot's ExecuTorch runtime (executorch-numpy-runtime, no torch) on
    the caller's thread alone, counted, estimated and parity-checked like the other formats."""
    rows = _run(tiny_pte_bundle, "emulated-arm:pixel-4", threads=(1,))
    assert {a for a, _ in rows} == {"executorch-fp32", "executorch-int8-dynamic"}
    guest = arm_setup.toolchain("executorch").guest
    for row in rows.values():
        assert row.provenance == PROVENANCE
        assert row.runner["name"] == "executorch-numpy-runtime"
        assert row.runner["version"] == guest.version("executorch-numpy-runtime")
        assert row.runner["machine"] == "aarch64" and row.runner["method"] == "seq32"
        assert "cortex-a76" in row.runner["emulator"] and "trixie" in row.device_info.os
        assert row.parity["passed"], row.parity["failures"]
        assert row.parity["sentences"] == 8
        assert row.extra["instructions"] == sum(row.extra["instruction_classes"].values()) > 100_000
        assert row.extra["count_spread"] < 0.01 and row.latency_ms.mean > 0
        assert row.extra["guest_threads_started"] == 0  # its thread pool has the one CPU the guest shows
    assert rows[("executorch-fp32", 1)].parity["cos_min"] > 0.9999
    assert rows[("executorch-int8-dynamic", 1)].extra["instruction_classes"]["dot"] > 0
    assert rows[("executorch-fp32", 1)].extra["instruction_classes"]["dot"] == 0
    # the memory term reads the XNNPACK subgraphs' matrices (see the ONNX and TFLite case below)
    assert rows[("executorch-fp32", 1)].extra["weight_bytes"] == 16384 * 4
    assert rows[("executorch-int8-dynamic", 1)].extra["weight_bytes"] == 16384


def test_every_format_has_a_guest():
    from mobilecomp.formats import FORMATS
    from mobilecomp.profile.emulated_arm import GUEST_JOBS
    from mobilecomp.profile.emulated_arm.guest import RUNTIMES

    assert set(GUEST_JOBS) == set(RUNTIMES) == set(FORMATS)
    assert all(arm_setup.guest_for(fmt) in arm_setup.guests() for fmt in FORMATS)


def test_deformer_classifier_profiles_both_graphs(arm, tmp_path):
    """A single-sentence DeFormer on ARM: the question graph is parity-checked against the stored
    logits, the passage graph (no output of its own) is counted without parity."""
    from mobilecomp.pipeline import export_bundle
    from mobilecomp.recipe import load_recipe
    from mobilecomp.text import oanc_sentences

    recipe_text = (DATA / "tiny-bert.yaml").read_text().replace("name: tiny-bert", "name: tiny-deformer-cls") \
        .replace("head: encoder", "head: classifier\nnum_labels: 2\ndecompose: {lower_layers: 1, question_len: 12}")
    (tmp_path / "tiny-deformer-cls.yaml").write_text(recipe_text)
    (tmp_path / "text.txt").write_text("\n".join(oanc_sentences()[:60]) + "\n")
    bundle = tmp_path / "bundle"
    export_bundle(load_recipe(str(tmp_path / "tiny-deformer-cls.yaml")), bundle,
                  parity_text=str(tmp_path / "text.txt"))
    rows = _run(bundle, "emulated-arm:pixel-4", threads=(1,), artefacts=("onnx-int8-dynamic",
                                                                        "onnx-passage-int8-dynamic", "onnx-full-fp32"))
    question, passage = rows[("onnx-int8-dynamic", 1)], rows[("onnx-passage-int8-dynamic", 1)]
    assert question.parity["passed"] and question.parity["top1"] is not None
    assert passage.parity is None and passage.extra["instructions"] > 0 and passage.latency_ms.mean > 0
    assert "no output of its own" in passage.extra["device_parity"]
    # the undecomposed baseline is not judged against the DeFormer's stored reference (it would "fail")
    full = rows[("onnx-full-fp32", 1)]
    assert full.parity is None and "holds the DeFormer's reference" in full.extra["device_parity"]
    assert full.extra["instructions"] > question.extra["instructions"]  # all layers over both segments


@pytest.mark.parametrize("head", ["token-classifier", "question-answering"])
def test_per_token_heads_check_parity_under_emulation(arm, tmp_path, head):
    """Per-token outputs (tag logits, start logits) come back at each parity row's own length: they must
    be padded like the stored reference, not fail to stack (a token-classifier bundle's profile on
    emulated ARM used to end in a numpy concatenate error)."""
    import dataclasses

    from mobilecomp.pipeline import export_bundle
    from mobilecomp.recipe import load_recipe

    recipe = load_recipe(str(DATA / "tiny-bert.yaml"))
    recipe = dataclasses.replace(recipe, name=f"tiny-{head}", head=head,
                                 num_labels=5 if head == "token-classifier" else recipe.num_labels,
                                 formats=("onnx", "tflite"), variants=("fp32",),
                                 # a question and a passage need more than the tiny recipe's 32 tokens
                                 seq_len=128 if head == "question-answering" else recipe.seq_len, tflite_seq_lens=(16,))
    bundle = tmp_path / "bundle"
    export_bundle(recipe, bundle)
    rows = _run(bundle, "emulated-arm:pixel-4", threads=(1,))
    assert {a for a, _ in rows} == {"onnx-fp32", "tflite-fp32"}
    for row in rows.values():
        # untrained: size and latency only; fp32 against its own PyTorch source must still agree
        assert row.parity["passed"], row.parity["failures"]
        assert row.parity["cos_min"] > 0.9999
        # per-token argmax agreement for tags; a device holds only QA's start logits, so no span check there
        assert row.parity["top1"] == (1.0 if head == "token-classifier" else None)
        assert row.parity["max_abs"] < 1e-3  # pads are zero on both sides, real tokens agree


def test_missing_qemu_names_the_fix(monkeypatch, tiny_bundle):
    monkeypatch.setattr(arm_setup, "QEMU", "/nonexistent/qemu-aarch64")
    from mobilecomp.cli import main

    result = CliRunner().invoke(main, ["profile", "--device", "emulated-arm:pixel-4", str(tiny_bundle)])
    assert result.exit_code == DeviceError.exit_code
    assert "qemu-user" in result.output and "Traceback" not in result.output


def _broken_copy(tc, root: Path, drop: str) -> Path:
    """A sysroot of symlinks to the real one, minus ``drop`` (a top-level entry or 'site')."""
    cache = root / "cache"
    sysroot = cache / "arm" / tc.sysroot.name
    sysroot.mkdir(parents=True)
    for entry in tc.sysroot.iterdir():
        if entry.name not in (drop, "opt"):
            (sysroot / entry.name).symlink_to(entry)
    if drop != "site":
        (sysroot / "opt").symlink_to(tc.sysroot / "opt")
    else:
        (sysroot / "opt" / "mobilecomp" / "site-packages").mkdir(parents=True)
    shutil.copy(tc.plugin, cache / "arm" / tc.plugin.name)
    return cache


@pytest.mark.parametrize("drop", ["site", "usr"])
def test_broken_sysroot_names_the_fix(arm, tiny_bundle, tmp_path, monkeypatch, drop):
    cache = _broken_copy(arm, tmp_path, drop)
    monkeypatch.setenv("MOBILECOMP_CACHE", str(cache))
    from mobilecomp.cli import main

    result = CliRunner().invoke(main, ["profile", "--device", "emulated-arm:pixel-4", str(tiny_bundle),
                                       "--artefact", "onnx-fp32"])
    assert result.exit_code == DeviceError.exit_code, result.output
    assert "sysroot" in result.output and "setup arm --force" in result.output
    assert "Traceback" not in result.output


def test_a_crash_under_emulation_is_a_clear_error(arm, tmp_path):
    from mobilecomp.profile.emulated_arm.run import run_guest

    script = tmp_path / "crash.py"
    script.write_text("import ctypes\nctypes.string_at(0)\n")
    with pytest.raises(DeviceError, match=r"crashed under qemu-aarch64 -cpu cortex-a76 .*--artefact"):
        run_guest(arm, "cortex-a76", script, {}, what="crash.py")


# ---- device profiles (no qemu needed) ----------------------------------------------------------


def test_every_profile_loads_with_sources():
    names = set(device_paths())
    assert {"pixel-4", "pixel-3", "oneplus-6", "galaxy-a03-core"} <= names
    for device in all_devices():
        assert device.qemu_cpu in ("cortex-a53", "cortex-a72", "cortex-a76", "cortex-a57", "neoverse-n1")
        for key in ("clusters", "cpuinfo", "taskset_mask", "threads") + (("dram_gbps",) if device.dram_gbps else ()):
            assert device.sources.get(key), f"{device.name}: no source for {key}"
    assert any(c.core == "cortex-a55" for d in all_devices() for c in d.clusters
               if all(x.core == "cortex-a55" for x in d.clusters))


def test_unknown_profile_and_unknown_key(tmp_path):
    with pytest.raises(ConfigError, match="known: .*pixel-4"):
        load_device("pixel-99")
    text = (Path(device_paths()["pixel-4"])).read_text() + "colour: blue\n"
    (tmp_path / "pixel-4.yaml").write_text(text)
    with pytest.raises(ConfigError, match="unknown field 'colour'"):
        load_device("pixel-4", devices_dir=tmp_path)


def test_estimate_scales_with_threads_and_clock():
    p4, p3 = load_device("pixel-4"), load_device("pixel-3")
    counts = {"simd_mac": 10**9, "dot": 0, "load_store": 5 * 10**8, "other": 5 * 10**8}
    one, four = estimate_ms(counts, p4, 1), estimate_ms(counts, p4, 4)
    assert four < one < 4 * four
    assert estimate_ms(counts, p3, 4) > four  # half-width SIMD on the A75


def test_per_core_model_every_core_core_threads_precision_and_memory():
    from mobilecomp.profile.emulated_arm.model import CORES, Params, Workload, estimate_ms as core_ms, parts_ms

    work = Workload({"simd_mac": 6e8, "dot": 0, "load_store": 2e8, "other": 2e8}, weight_bytes=18e6)
    kirin = load_device("kirin-990-phone")
    params = Params({core: 1.0 for core in CORES}, {"bolt": 1.0, "tflite": 2.0})
    a76, a55 = (core_ms(work, kirin, core, 1, "bolt", params) for core in ("cortex-a76", "cortex-a55"))
    assert a55 > 2 * a76  # half the SIMD width, one load/store pipe, a lower clock
    assert core_ms(work, kirin, "cortex-a76", 1, "tflite", params) == pytest.approx(2 * a76)
    compute, memory = parts_ms(work, kirin, "cortex-a76", 1, 1.0, 0.8)
    assert memory == pytest.approx(18e6 / 34.1e9 * 1e3)  # weights once from DRAM at the SoC's peak
    compute4, memory4 = parts_ms(work, kirin, "cortex-a76", 4, 1.0, 0.8)
    assert memory4 == memory and compute4 < compute / 2  # threads share the compute, not the DRAM
    half = work.at("fp16")
    assert (half.classes["simd_mac"], half.classes["load_store"], half.classes["other"], half.weight_bytes) \
        == (3e8, 1e8, 2e8, 9e6)
    with pytest.raises(ConfigError, match="kirin-990-phone has 4 cortex-a55 core"):
        core_ms(work, kirin, "cortex-a55", 5, "bolt", params)
    with pytest.raises(ConfigError, match="runtime 'tensorflow' .*fitted: bolt, tflite"):
        core_ms(work, kirin, "cortex-a76", 1, "tensorflow", params)
    with pytest.raises(ConfigError, match="precision 'int4' is not modelled"):
        work.at("int4")


def test_every_profile_core_has_a_latency_model():
    from mobilecomp.profile.emulated_arm.model import CORES, PHONE_RUNTIME, fitted_params

    assert {c.core for d in all_devices() for c in d.clusters} <= set(CORES)
    params = fitted_params()  # what bench/calibrate_arm.py wrote: every big core has a fitted stall
    assert {d.clusters[0].core for d in all_devices()} <= set(params.stall)
    assert PHONE_RUNTIME in params.runtime and params.sources[f"runtime {PHONE_RUNTIME}"]


def test_weight_bytes_are_each_artefacts_matrix_weights(tiny_bundle, tiny_tflite_bundle):
    """The memory term reads what the file holds: 2 layers x (four 32x32 attention and two 32x64 FFN
    matrices) = 16,384 weights, 4 bytes each in fp32 and 1 in int8; embeddings are not streamed."""
    from mobilecomp.profile.emulated_arm.model import gemm_weight_bytes

    assert gemm_weight_bytes(tiny_bundle / "model-fp32.onnx", "onnx") == 16384 * 4
    assert gemm_weight_bytes(tiny_bundle / "model-int8-dynamic.onnx", "onnx") == 16384
    assert gemm_weight_bytes(tiny_tflite_bundle / "model-fp32.tflite", "tflite") == 16384 * 4
    assert gemm_weight_bytes(tiny_tflite_bundle / "model-int8-dynamic.tflite", "tflite") == 16384


def test_devices_command_lists_profiles():
    from mobilecomp.cli import main

    result = CliRunner().invoke(main, ["devices", "--json"])
    assert result.exit_code == 0
    assert {d["name"] for d in json.loads(result.output)} == set(device_paths())
    text = CliRunner().invoke(main, ["devices"]).output
    assert "emulated-arm:pixel-4" in text


def test_target_runs_only_candidates_under_emulation(arm, tiny_bundle, tmp_path):
    """export --target PHONE: artefacts that failed their gate are not emulated (a failed static
    int16x8 file alone takes an hour under qemu) and cannot be chosen."""
    import json

    from mobilecomp.choice import choose_for_target

    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    failed = next(a for a in manifest["artefacts"] if a["name"] == "onnx-int8-dynamic")
    failed["passed"] = False  # as a parity failure leaves it
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    choice = choose_for_target(bundle, "pixel-4")
    assert choice["artefact"] == "onnx-fp32" and set(choice["costs"]) == {"onnx-fp32"}
    assert choice["rejected_failed_parity"] == ["onnx-int8-dynamic"]


def test_a_second_cpu_model_waits_for_the_first(tmp_path):
    """Two emulated profiles share one sysroot: the second CPU model's cpuinfo is written only after
    the first profile's runs end, never under them (a Cortex-A76 cpuinfo under an A53 guest made
    onnxruntime pick dot-product kernels the A53 lacks: SIGILL)."""
    import subprocess
    import sys
    import time

    from mobilecomp.profile.emulated_arm.setup import emulated_cpu

    cpuinfo = tmp_path / "proc" / "cpuinfo"
    second = ("from pathlib import Path; from mobilecomp.profile.emulated_arm.setup import emulated_cpu\n"
              f"with emulated_cpu(Path({str(tmp_path)!r}), part=0xD03, variant=0, cores=4, dotprod=False):\n"
              "    print('entered', flush=True)\n")
    with emulated_cpu(tmp_path, part=0xD0B, variant=4, cores=4):
        first = cpuinfo.read_text()
        proc = subprocess.Popen([sys.executable, "-c", second], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        time.sleep(3)
        assert proc.poll() is None, proc.communicate()  # still waiting
        assert cpuinfo.read_text() == first and "asimddp" in first
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.strip() == "entered", err
    assert "waiting for it" in err and "asimddp" not in cpuinfo.read_text()
