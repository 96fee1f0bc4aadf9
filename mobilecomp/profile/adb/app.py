"""`--runner app`: the Android demo app's benchmark activity measures, mobilecomp reads its JSON.

The app (android_demo/) loads the bundle itself, so this measures what an app would see: its
own tokenizer-free input, its runtime build, its threads. The activity writes a result file
(schema mobilecomp-app-result/1) that this module pulls and turns into ordinary adb rows.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from ...errors import DeviceError
from ...types import ProfileRow
from ..app_result import device_info, latency, parse_app_result
from .runners import Runner
from .transport import Adb

PACKAGE = "io.mobilecomp.demo"
ACTIVITY = f"{PACKAGE}/.BenchmarkActivity"
RESULTS_DIR = f"/sdcard/Android/data/{PACKAGE}/files"
BUNDLE_FILES = ("manifest.json", "tokenizer", "inputs")


def profile_app(adb: Adb, bundle: Path, manifest: dict, artefacts: list[dict], threads_list, options,
                android: bool, remote_root: str, say) -> list[ProfileRow]:
    from ...android import DEFORMER_REFUSAL

    if manifest["model"].get("decompose") is not None:
        raise DeviceError(f"--runner app: {DEFORMER_REFUSAL}; time its graphs with --runner ort-runner")
    if not android:
        raise DeviceError(f"{adb.serial} is not Android: --runner app needs the demo app "
                          "(android_demo/) installed on a phone; use --runner ort-runner here")
    if "package:" not in adb.shell(f"pm path {PACKAGE}", timeout=30).out:
        raise DeviceError(f"{adb.serial}: the demo app {PACKAGE} is not installed; build android_demo/ "
                          "in Android Studio and `adb install` it (android_demo/README.md)")
    remote = f"{remote_root}/bundles/{manifest['artefacts'][0]['sha256'][:16]}"
    adb.shell(f"mkdir -p {remote}", timeout=30, check=True)
    for name in BUNDLE_FILES + tuple(a["file"] for a in artefacts):
        adb.push(bundle / name, f"{remote}/{name}")
    rows = []
    for threads in threads_list:
        for art in artefacts:
            out = f"{art['name']}-{threads}t-{int(time.time())}.json"
            adb.shell(f"am start -W -n {ACTIVITY} --es bundle {remote} --es artefact {art['name']} "
                      f"--es threads {threads} --es runs {options.runs} --es warmup {options.warmup} "
                      f"--es out {out}", timeout=60, check=True)
            result = parse_app_result(_wait_for(adb, f"{RESULTS_DIR}/{out}", 120 + options.runs * 30))
            if art["format"] in ("tflite", "executorch"):
                _check_app_signature(bundle, art, result)
            report, words = app_parity(manifest, art, result.get("parity"))
            say(f"{art['name']} {threads}t via the app: p50 {result['summary']['p50']:.2f} ms; {words}")
            rows.append(ProfileRow(
                artefact=art["name"], artefact_sha256=art["sha256"], model=manifest["recipe"]["name"],
                variant=art["variant"], device=f"adb:{adb.serial}", provenance="measured-adb", threads=threads,
                seq_len=result["seq_len"], batch=result["batch"], latency_ms=latency(result), cpu_ms=None,
                device_info=device_info(result, f"adb:{adb.serial}"), runner={**result["runner"], "via": "app"},
                label=manifest["checkpoint"].get("label"),
                timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"), parity=report,
                extra={"measured_by": "app", "app": result["app"], "remote_result": f"{RESULTS_DIR}/{out}",
                       "device_parity": words}))
    return rows


def _check_app_signature(bundle: Path, art: dict, result: dict) -> None:
    """The app timed the signature (.tflite) or method (.pte) of the row's sequence length; it names
    it in runner.signature or runner.method."""
    from . import check_signature, timed_signature

    asked = timed_signature(bundle, art, result["seq_len"])[0]
    ran = result["runner"].get("method" if art["format"] == "executorch" else "signature")
    check_signature({"signature": ran} if ran else {}, asked, Runner("app", art["format"], bundle), art)


def app_parity(manifest: dict, art: dict, parity: dict | None) -> tuple[dict | None, str]:
    """(row parity, words) from the app's own check of its outputs against reference.npz."""
    if not parity or not parity.get("checked"):
        why = (parity or {}).get("reason") or "the app result has no parity (an app built before the check)"
        return None, f"parity not checked on device: {why}"
    corpus = manifest["parity_corpus"]
    report = {"corpus": f"{corpus['name']} ({parity['sentences']} of {corpus['sentences']}, "
                        f"{parity.get('subset', 'evenly spaced')}, run by the app on the device)",
              "sentences": parity["sentences"], "output": parity.get("output"), "cos_min": parity["cos_min"],
              "cos_mean": parity["cos_mean"], "max_abs": parity["max_abs"], "spearman": None, "top1": None,
              "budget": {"cos_min": parity.get("budget_cos_min")}, "failures": parity.get("failures", []),
              "passed": parity["passed"], "reference": "PyTorch (inputs/reference.npz)"}
    verdict = "within" if parity["passed"] else "OUTSIDE"
    return report, (f"parity checked on device: the app's outputs on {parity['sentences']} of the parity sentences, "
                    f"cos_min {parity['cos_min']:.4f}, {verdict} the artefact's budget")


def _wait_for(adb: Adb, path: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        res = adb.shell(f"cat {path} 2>/dev/null", timeout=30)
        if res.rc == 0 and res.out.strip():
            return res.out
        time.sleep(2)
    raise DeviceError(f"the demo app wrote no result to {path} in {timeout_s:.0f} s; "
                      f"see `adb logcat -s mobilecomp`")
