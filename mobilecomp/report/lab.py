"""Per-device columns for a lab run: one column per device, each cell naming provenance and device."""

from __future__ import annotations

from typing import Any

from .table import latest_rows, markdown


def device_label(row: dict[str, Any]) -> str:
    """'Pixel 7, Google Tensor G2, Android 14 (SDK 34)': the props a reader needs to trust the cell."""
    info = row["device_info"]
    return ", ".join(str(v) for v in (info.get("model"), info.get("soc"), info.get("os")) if v)


def lab_table(rows: list[dict[str, Any]]) -> str:
    """Artefact x threads down, devices across (newest row per cell), then one line per device's props."""
    latest = latest_rows(rows)
    devices = sorted({d for (_, d, _) in latest})
    configs = sorted({(a, t) for (a, _, t) in latest})
    body = []
    for art, threads in configs:
        line = [art, str(threads)]
        for dev in devices:
            row = latest.get((art, dev, threads))
            line.append("-" if row is None else
                        f"{row['latency_ms']['p50']:.2f} ms ({row['provenance']}; {device_label(row)})")
        body.append(line)
    legend = []
    for dev in devices:
        row = next(r for (_, d, _), r in latest.items() if d == dev)
        info, runner, extra = row["device_info"], row["runner"], row["device_info"].get("extra", {})
        legend.append([dev, row["provenance"], f"{info.get('manufacturer') or '?'} {info.get('model') or '?'}",
                       info.get("soc") or "?", info["cpu"], info["os"], str(extra.get("abi", "-")),
                       f"{runner.get('name')} {runner.get('version')} ({runner.get('platform', '-')})",
                       str(extra.get("adb_server", "-")), str(extra.get("testdevice", "-"))])
    return "\n\n".join([
        markdown(body, ["artefact", "threads"] + [f"{d} p50" for d in devices]),
        markdown(legend, ["device", "provenance", "phone", "SoC", "CPU", "OS", "ABI", "runner", "adb server",
                          "note"])])
