"""adb backend pieces that need no device: output parsers, the device row, core masks, the sandbox."""

from __future__ import annotations

import pytest

from mobilecomp.profile.adb.device import (DEVICE_SCRIPT, big_core_count, big_cores, cpu_summary, hottest,
                                           mask, parse_state)
from mobilecomp.profile.adb.parsers import (ParseError, parse_benchmark_model, parse_executor_runner, parse_perf_test,
                                            without_warmup)

BENCHMARK_MODEL = """\
STARTING!
Log parameter values verbosely: [0]
Graph: [/data/local/tmp/mobilecomp/abc/model.tflite]
Loaded model /data/local/tmp/mobilecomp/abc/model.tflite
The input model file size (MB): 22.4
Initialized session in 48.123ms.
Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
count=1 curr=2950340

Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
count=50 first=2.95034e+06 curr=2.91e+06 min=2.88612e+06 max=3.01e+06 avg=2.95034e+06 std=21345 p5=2.89e+06 median=2.94e+06 p95=3.0e+06

Inference timings in us: Init: 48123, First inference: 2950340, Warmup (avg): 2.95034e+06, Inference (avg): 2.95034e+06
Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
Memory footprint delta from the start of the tool (MB): init=31.5 overall=58.25
Peak memory footprint (MB): 61.2
"""

BENCHMARK_MODEL_PLAIN = """\
count=3 first=9000 curr=8100 min=8000 max=9000 avg=8400 std=400
count=30 first=8123 curr=7012 min=6950 max=8123 avg=7123.5 std=120
Inference timings in us: Init: 1500, First inference: 9000, Warmup (avg): 8400, Inference (avg): 7123.5
"""

# ExecuTorch 1.4.1's executor_runner (scripts/build_executor_runner.sh, linux-aarch64) under qemu-aarch64
EXECUTOR_RUNNER = """\
I 00:00:00.023652 executorch:cpuinfo_utils.cpp:109] Failed to open midr file /sys/devices/system/cpu/cpu0/regs/identification/midr_el1
I 00:00:00.029871 executorch:threadpool.cpp:66] Resetting threadpool to 1 threads.
I 00:00:00.163325 executorch:executor_runner.cpp:476] Model file /tmp/model-int8-dynamic.pte is loaded.
I 00:00:00.163570 executorch:executor_runner.cpp:486] Using method seq32
I 00:00:00.164399 executorch:executor_runner.cpp:556] Setting up CPU planned buffer 0, size 246208.
I 00:00:00.358565 executorch:executor_runner.cpp:624] Model loaded in 322.291351 ms.
I 00:00:00.750787 executorch:executor_runner.cpp:779] Iteration 1 of 3: 389.567997 ms
I 00:00:01.121114 executorch:executor_runner.cpp:779] Iteration 2 of 3: 369.995748 ms
I 00:00:01.478349 executorch:executor_runner.cpp:779] Iteration 3 of 3: 357.068412 ms
I 00:00:01.478811 executorch:executor_runner.cpp:789] Model executed successfully 3 time(s) in 1116.632157 ms.
I 00:00:01.479134 executorch:executor_runner.cpp:798] 2 outputs: 
"""

PERF_TEST_NEW = """\
Setting intra_op_num_threads to 4
Session creation time cost: 0.0567 s
First inference time cost: 22 ms
Total inference time cost: 1.234 s
Total inference requests: 200
Average inference time cost total: 6.17 ms
Total inference run time: 1.24 s
Number of inferences per second: 161.2
Avg CPU usage: 98 %
Peak working set size: 123731968 bytes
Min Latency: 5.89e-03 s
Max Latency: 0.0081 s
P50 Latency: 0.0061 s
P90 Latency: 0.0066 s
P95 Latency: 0.0069 s
P99 Latency: 0.0078 s
P999 Latency: 0.0081 s
"""

PERF_TEST_OLD = """\
Session creation time cost: 1.2e-01 s
Total inference time cost: 0.62 s
Total inference requests: 100
Average time cost: 6.2 ms
Total inference run time: 0.63 s
Avg CPU usage: 50 %
Peak working set size: 104857600 bytes
"""

PERF_TEST_PLAIN = "Total inference requests: 10\nAverage inference time cost: 12.5 ms\n"

ORT_RUNNER = """\
onnxruntime version: 1.32.0
Session creation time cost: 0.129506 s
First inference time cost: 15 ms
Total inference time cost: 0.039 s
Total inference requests: 3
Average inference time cost: 13.0 ms
Total inference run time: 0.040 s
Number of inferences per second: 75.0
Peak working set size: 139288576 bytes
mobilecomp latencies (ms): 13.0842 12.6972 13.2186
Min Latency: 0.012697200 s
Max Latency: 0.013218600 s
P50 Latency: 0.013084200 s
P90 Latency: 0.013191720 s
P95 Latency: 0.013205160 s
P99 Latency: 0.013215912 s
P999 Latency: 0.013218331 s
"""


def test_benchmark_model_scientific_notation_and_last_count_line():
    s = parse_benchmark_model(BENCHMARK_MODEL)
    assert s["n"] == 50  # the timed run, not the warm-up count=1
    assert s["mean"] == pytest.approx(2950.34)  # avg=2.95034e+06 us
    assert s["min"] == pytest.approx(2886.12) and s["max"] == pytest.approx(3010.0)
    assert s["std"] == pytest.approx(21.345)
    assert s["p5"] == pytest.approx(2890.0) and s["p50"] == pytest.approx(2940.0) and s["p95"] == pytest.approx(3000.0)
    assert s["init"] == pytest.approx(48.123) and s["first"] == pytest.approx(2950.34)
    assert s["warmup"] == pytest.approx(2950.34)
    assert s["mem_init_mb"] == 31.5 and s["mem_overall_mb"] == 58.25 and s["peak_mb"] == 61.2


def test_benchmark_model_without_percentiles():
    s = parse_benchmark_model(BENCHMARK_MODEL_PLAIN)
    assert s["n"] == 30 and s["mean"] == pytest.approx(7.1235) and "p50" not in s
    assert s["warmup_n"] == 3 and s["init"] == pytest.approx(1.5)


def test_perf_test_newer_average_total_spelling_and_latencies():
    s = parse_perf_test(PERF_TEST_NEW)
    assert s["mean"] == pytest.approx(6.17) and s["n"] == 200
    assert s["init"] == pytest.approx(56.7) and s["first"] == 22
    assert s["min"] == pytest.approx(5.89) and s["p50"] == pytest.approx(6.1)  # seconds -> ms
    assert s["p90"] == pytest.approx(6.6) and s["p95"] == pytest.approx(6.9) and s["p99"] == pytest.approx(7.8)
    assert s["p999"] == pytest.approx(8.1) and s["max"] == pytest.approx(8.1)
    assert s["peak_mb"] == pytest.approx(118.0, abs=0.01)


def test_perf_test_older_average_time_cost_spelling():
    s = parse_perf_test(PERF_TEST_OLD)
    assert s["mean"] == pytest.approx(6.2) and s["n"] == 100 and s["init"] == pytest.approx(120.0)
    assert s["peak_mb"] == pytest.approx(100.0)


def test_perf_test_plain_average_spelling():
    assert parse_perf_test(PERF_TEST_PLAIN)["mean"] == 12.5


def test_ort_runner_output_is_perf_test_plus_samples():
    s = parse_perf_test(ORT_RUNNER)
    assert s["samples"] == [13.0842, 12.6972, 13.2186] and s["version"] == "1.32.0"
    assert s["p50"] == pytest.approx(13.0842)


@pytest.mark.parametrize("parser", [parse_benchmark_model, parse_perf_test])
def test_parsers_reject_text_without_timings(parser):
    with pytest.raises(ParseError):
        parser("Segmentation fault\n")


PHONE = """\
@@props
[ro.product.model]: [Pixel 6]
[ro.product.manufacturer]: [Google]
[ro.soc.manufacturer]: [Google]
[ro.soc.model]: [Tensor]
[ro.board.platform]: [gs101]
[ro.hardware]: [oriole]
[ro.product.cpu.abi]: [arm64-v8a]
[ro.build.version.release]: [14]
[ro.build.version.sdk]: [34]
[ro.build.fingerprint]: [google/oriole/oriole:14/AP1A/1:user/release-keys]
@@uname
aarch64
@@android
yes
@@cpuinfo
""" + "".join(f"processor\t: {i}\nCPU implementer\t: 0x41\nCPU part\t: {p}\n\n"
               for i, p in enumerate(["0xd05"] * 4 + ["0xd0b"] * 2 + ["0xd44"] * 2)) + """\
@@cpus
0 1 1803000 1197000 sched_pixel
1 1 1803000 300000 sched_pixel
2 1 1803000 300000 sched_pixel
3 1 1803000 300000 sched_pixel
4 1 2253000 2253000 sched_pixel
5 0 2253000 - -
6 1 2802000 2802000 sched_pixel
7 1 2802000 2802000 sched_pixel
@@thermal
thermal_zone0 BIG 41234
thermal_zone1 battery 29800
thermal_zone9 LITTLE 38000
@@battery
Current Battery Service state:
  AC powered: false
  USB powered: true
  status: 2
  level: 87
  temperature: 298
@@df
/dev/block/dm-8 115659316 60322228 55206288 53% /data
@@end
"""


def test_device_row_parses_every_section():
    state = parse_state(PHONE)
    info = state.info("ABC123")
    assert (info.manufacturer, info.model, info.soc) == ("Google", "Pixel 6", "Google Tensor")
    assert info.cpu == "4x Cortex-A55 + 2x Cortex-A76 + 2x Cortex-X1" and info.cores == 8
    assert info.os == "Android 14 (SDK 34)" and info.extra["abi"] == "arm64-v8a"
    assert state.android and state.arch == "aarch64"
    assert info.extra["battery"]["level"] == "87" and info.extra["battery"]["usb powered"] == "true"
    assert state.data_free_kb == 55206288
    assert state.thermal_c["thermal_zone0:BIG"] == pytest.approx(41.234)
    assert hottest(state.thermal_c) == pytest.approx(41.234)  # CPU zones only, not the battery
    assert not state.cores[5].online and state.cores[6].part == "Cortex-X1"


def test_big_core_mask_from_cpufreq_max():
    cores = parse_state(PHONE).cores
    assert big_cores(cores, 1) == [6, 7]  # the prime tier, whole
    assert big_cores(cores, 3) == [4, 6, 7]  # core 5 is offline
    assert mask(big_cores(cores, 3)) == "d0"
    assert big_core_count(cores) == 3
    assert big_cores([], 2) == []  # no cpufreq: nothing pinned


def test_device_script_is_one_shell_line_with_every_section():
    for name in ("props", "cpuinfo", "cpus", "thermal", "battery", "df", "end"):
        assert f"echo @@{name}" in DEVICE_SCRIPT
    assert "\n" not in DEVICE_SCRIPT
    assert cpu_summary(["A", "A", "B"]) == "2x A + 1x B"


def test_sandbox_maps_phone_paths_and_wraps_aarch64(tmp_path):
    from mobilecomp.testdevice import Sandbox

    props = tmp_path / "props"
    props.write_text("ro.product.model=X\n")
    box = Sandbox(tmp_path / "root", props, qemu_sysroot=tmp_path / "sysroot")
    elf = box.root / "data/local/tmp/arm"
    elf.write_bytes(b"\x7fELF" + bytes(14) + (0xB7).to_bytes(2, "little"))
    cmd = box.command("cat /data/local/tmp/x /proc/cpuinfo; taskset 2 /data/local/tmp/arm -r 1")
    assert f"cat {box.root}/data/local/tmp/x /proc/cpuinfo" in cmd  # no cpuinfo overlay: the host's
    assert f"taskset 2 qemu-aarch64 -cpu cortex-a76 -L {tmp_path}/sysroot {box.root}/data/local/tmp/arm -r 1" in cmd
    assert box.host_path("/system/etc/hosts", for_write=True) is None


def test_executor_runner_every_run_then_warmup_dropped():
    stats = parse_executor_runner(EXECUTOR_RUNNER)
    assert stats["samples"] == [389.567997, 369.995748, 357.068412] and stats["signature_used"] == "seq32"
    timed = without_warmup(stats, 1)  # the runner has no warm-up flag: mobilecomp asks for warm-up + runs
    assert timed["n"] == 2 and timed["samples"] == [369.995748, 357.068412]
    assert timed["mean"] == pytest.approx((369.995748 + 357.068412) / 2) and timed["first"] == 389.567997
    assert timed["warmup_n"] == 1 and timed["min"] == 357.068412 and timed["signature_used"] == "seq32"
    assert without_warmup(stats, 0) == stats
    with pytest.raises(ParseError, match="EXECUTORCH_ENABLE_LOGGING"):
        parse_executor_runner(EXECUTOR_RUNNER.replace("Iteration", "Run"))
