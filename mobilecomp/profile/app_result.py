"""Parses the Android demo app's benchmark result (schema mobilecomp-app-result/1) for `--runner app`.

The schema is defined in android_demo/README.md and written by android_demo/core's AppResult.
Anything malformed, or a result whose status is "error", is a DeviceError naming the field.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ..errors import DeviceError
from ..types import DeviceInfo, Latency

SCHEMA = "mobilecomp-app-result/1"
DEVICE_FIELDS = ("manufacturer", "model", "soc", "abi", "android", "sdk", "cores", "fingerprint")


def _require(data: dict, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        names = "/".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise DeviceError(f"app result: {where}{key} must be {names} (got {value!r:.60})")
    return value


def parse_app_result(text: str) -> dict[str, Any]:
    """The app's JSON as a checked dict: latency values (ms), device, runner, artefact, settings.

    Returns ``{"latency_ms": [...], "summary": {...}, "device": {...}, "runner": {...},
    "artefact": {...}, "bundle": {...}, "app": {...}, "threads", "seq_len", "batch", "tokens",
    "warmup", "runs", "timestamp"}``; the statistics in "summary" are the app's own, checked
    against its values.
    """
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise DeviceError(f"app result: not JSON ({exc}); was the benchmark interrupted?") from None
    if not isinstance(data, dict):
        raise DeviceError("app result: not a JSON object")
    if data.get("schema") != SCHEMA:
        raise DeviceError(f"app result: schema {data.get('schema')!r}, expected {SCHEMA!r}; "
                          "install the app built from this mobilecomp's android_demo")
    if data.get("status") == "error":
        raise DeviceError(f"app reported an error: {data.get('error') or 'no message'}")
    if data.get("status") != "ok":
        raise DeviceError(f"app result: status {data.get('status')!r}, expected 'ok' or 'error'")

    device = _require(data, "device", dict, "")
    for key in ("manufacturer", "model"):
        _require(device, key, str, "device.")
    runner = _require(data, "runner", dict, "")
    _require(runner, "name", str, "runner.")
    artefact = _require(data, "artefact", dict, "")
    for key in ("name", "format", "variant"):
        _require(artefact, key, str, "artefact.")
    latency = _require(data, "latency_ms", dict, "")
    values = _require(latency, "values", list, "latency_ms.")
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                             and math.isfinite(v) and v >= 0 for v in values):
        raise DeviceError("app result: latency_ms.values must be a non-empty list of non-negative numbers")
    values = [float(v) for v in values]
    ints = {key: _require(data, key, int, "") for key in ("threads", "seq_len", "batch", "warmup", "runs")}
    if ints["runs"] != len(values):
        raise DeviceError(f"app result: runs is {ints['runs']} but latency_ms has {len(values)} values")
    check = Latency(values)
    for key, expected in (("mean", check.mean), ("p50", check.percentile(50)), ("p90", check.percentile(90))):
        reported = latency.get(key)
        if not isinstance(reported, (int, float)) or not math.isclose(reported, expected, rel_tol=1e-6, abs_tol=1e-9):
            raise DeviceError(f"app result: latency_ms.{key} is {reported!r} but its values give {expected:.6g}")
    summary = {k: v for k, v in latency.items() if k != "values"}
    parity = data.get("parity")
    if parity is not None:  # the app's outputs on the parity sentences (core DeviceParity)
        _require(data, "parity", dict, "")
        if parity.get("checked"):
            for key in ("cos_min", "cos_mean", "max_abs"):
                _require(parity, key, (int, float), "parity.")
            _require(parity, "sentences", int, "parity.")
            _require(parity, "passed", bool, "parity.")
    return {"parity": parity, "latency_ms": values, "summary": summary, "device": device, "runner": runner,
            "artefact": artefact, "bundle": data.get("bundle") or {}, "app": data.get("app") or {},
            "tokens": data.get("tokens"), "timestamp": _require(data, "timestamp", str, ""), **ints}


def latency(result: dict[str, Any]) -> Latency:
    """The parsed result's samples as mobilecomp's Latency."""
    return Latency(list(result["latency_ms"]))


def device_info(result: dict[str, Any], name: str) -> DeviceInfo:
    """DeviceInfo for a parsed result; ``name`` is the --device string (e.g. ``adb:SERIAL``)."""
    dev = result["device"]
    return DeviceInfo(
        name=name, kind="adb", cpu=str(dev.get("soc") or dev.get("hardware") or "unknown"),
        cores=int(dev.get("cores") or 0), os=f"Android {dev.get('android', '?')} (API {dev.get('sdk', '?')})",
        manufacturer=dev.get("manufacturer"), model=dev.get("model"), soc=dev.get("soc"),
        accelerator=result["runner"].get("accelerator"),
        extra={k: v for k, v in dev.items() if k not in ("manufacturer", "model", "soc", "cores")})
