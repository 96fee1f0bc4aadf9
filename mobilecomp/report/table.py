"""The bundle summary: one line per artefact with size, parity verdict and latency by device."""

from __future__ import annotations

from typing import Any


def latest_rows(rows: list[dict[str, Any]]) -> dict[tuple[str, str, int], dict[str, Any]]:
    """The newest row per (artefact, device, threads); older measurements stay in results.jsonl."""
    latest: dict[tuple[str, str, int], dict[str, Any]] = {}
    for row in rows:
        latest[(row["artefact"], row["device"], row["threads"])] = row
    return latest


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def markdown(rows: list[list[str]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def gate_failures(art: dict[str, Any]) -> list[str]:
    """Why an artefact failed: parity, task accuracy and mobile-readiness lint together."""
    failures = list((art.get("parity") or {}).get("failures", []))
    failures += (art.get("accuracy") or {}).get("failures", [])
    lint = art.get("details", {}).get("lint")
    if lint and not lint.get("passed", True):
        failures.append("lint: " + "; ".join(lint.get("failures", [])) if lint.get("failures") else "lint failed")
    return failures


def bundle_table(manifest: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    latest = latest_rows(rows)
    configs = sorted({(dev, thr) for (_, dev, thr) in latest}, key=lambda k: (k[0], k[1]))
    by_key = {(a, d, t): r for (a, d, t), r in latest.items()}
    header = ["artefact", "size MB", "cos_min", "cos_mean", "spearman/top1", "parity"]
    for dev, thr in configs:
        header.append(f"{dev} {thr}t p50 ms")
    for dev, thr in configs:
        header.append(f"{dev} {thr}t speed-up")
    # Devices that re-check parity themselves (emulated ARM) get their own cos_min column.
    checked = sorted({dev for (_, dev, _), r in latest.items() if r.get("parity")})
    header += [f"{dev} cos_min" for dev in checked]
    body = []
    for art in manifest["artefacts"]:
        par = art.get("parity") or {}
        rank = par.get("spearman") if par.get("spearman") is not None else par.get("top1")
        verdict = "pass" if art.get("passed") else "FAIL: " + "; ".join(gate_failures(art))
        line = [art["name"], f"{art['size_bytes'] / 1e6:.1f}", _fmt(par.get("cos_min"), ".4f"),
                _fmt(par.get("cos_mean"), ".4f"), _fmt(rank, ".4f"), verdict]
        base = f"{art['format']}-fp32"
        for dev, thr in configs:
            row = by_key.get((art["name"], dev, thr))
            line.append(_fmt(row["latency_ms"]["p50"] if row else None, ".2f"))
        for dev, thr in configs:
            row, ref = by_key.get((art["name"], dev, thr)), by_key.get((base, dev, thr))
            ratio = ref["latency_ms"]["p50"] / row["latency_ms"]["p50"] if row and ref else None
            line.append(_fmt(ratio, ".2f") + ("x" if ratio else ""))
        for dev in checked:
            device_rows = [r for (a, d, _), r in latest.items() if a == art["name"] and d == dev and r.get("parity")]
            line.append(_fmt(device_rows[-1]["parity"].get("cos_min") if device_rows else None, ".4f"))
        body.append(line)
    for missing in manifest.get("unbuilt", []):
        body.append([missing["name"], "-", "-", "-", "-", f"NOT BUILT: {missing['error'][:120]}"]
                    + ["-"] * (2 * len(configs)))
    out = [f"{manifest['recipe']['name']}: {manifest['model']['architecture']} "
           f"({manifest['model']['params'] / 1e6:.1f}M params), seq {manifest['model']['seq_len']}, "
           f"parity on {manifest['parity_corpus']['sentences']} sentences of {manifest['parity_corpus']['name']}"]
    if manifest["checkpoint"].get("label"):  # untrained, or a distilled student (trained weights)
        out.append(f"** {manifest['checkpoint']['label']} **" + (
            " (trained by distillation from a teacher)" if manifest["checkpoint"].get("trained") else
            " (random weights: parity shows the export is right, not how quantisation treats real weights)"))
    out.append(markdown(body, header))
    provenances = sorted({(r["device"], r["provenance"], r["device_info"]["cpu"], r["runner"]["name"],
                           r["runner"]["version"], int8_path(r)) for r in latest.values()})
    for dev, prov, cpu, runner, version, int8 in provenances:
        out.append(f"latency on {dev}: {prov}, {cpu}, {runner} {version}{f' ({int8})' if int8 else ''}, "
                   "batch 1, median of the runs")
    out += [_default_session_line(r) for r in latest.values() if r.get("extra", {}).get("default_session")]
    return "\n".join(out)


def int8_path(row: dict[str, Any]) -> str:
    """The int8 kernel and session mode behind a host onnxruntime row, and the CPU flags that chose it."""
    kernel = row["runner"].get("int8_kernel")
    if not kernel:
        return ""
    extra = row["device_info"].get("extra", {})
    flags = ", ".join(extra.get("isa", [])) or "none"
    mode = "exact mode (session.x64quantprecision=1)" if row["runner"].get("session_config") else "default session"
    view = extra.get("int8", {}).get("cpu_view")  # a masked CPU says so wherever its rows are shown
    return f"int8: {kernel}, {mode}; flags: {flags}" + (f" ({view})" if view else "")


def _default_session_line(row: dict[str, Any]) -> str:
    default = row["extra"]["default_session"]
    check = default["parity"]
    if check is None:
        judged = "no output of its own (a DeFormer passage graph)"
    else:
        verdict = "pass" if check["passed"] else "FAIL: " + "; ".join(check["failures"])
        judged = f"cos_min {check['cos_min']:.4f} ({verdict})"
    return (f"{row['artefact']} on {row['device']} {row['threads']}t with onnxruntime's default session: "
            f"{judged}, p50 {default['latency_ms']['p50']:.2f} ms; "
            f"the table times exact mode: the default int8 kernel here, {row['runner']['int8_kernel']}, is not exact")
