"""SmoothQuant on an ONNX graph: moves per-channel activation range from a LayerNorm into the MatMuls it feeds.

For a LayerNorm whose output feeds a group of weight MatMuls (Q, K and V), channel j of the
activation is divided by s_j and row j of every weight in the group multiplied by it, with
s_j = max|x_j|^alpha / max|W_j|^(1 - alpha) from calibration text. The division is folded into a
*duplicate* of the LayerNorm (gamma / s, beta / s) that only the group reads: the original
still feeds the residual, which must not change. In fp32 the result equals the original up to
rounding; the point is that the smoothed activation quantises with less error.
"""

from __future__ import annotations

import numpy as np

from ..inputs import Feed

SMOOTH_ALPHA = 0.5  # measured on MiniLM (both formats): 0.5 helps on Q/K/V; well below it wrecks the model


def smoothing_scales(x_peak: np.ndarray, w_peak: np.ndarray, alpha: float) -> np.ndarray:
    """s_j = max|x_j|^alpha / max|W_j|^(1 - alpha), clipped so that no channel is scaled wildly."""
    s = np.power(np.maximum(x_peak, 1e-5), alpha) / np.power(np.maximum(w_peak, 1e-5), 1 - alpha)
    return np.clip(s, 1e-2, 1e2).astype(np.float32)


def groups(model, min_consumers: int = 2) -> dict[str, list]:
    """LayerNorm nodes whose output feeds at least ``min_consumers`` weight MatMuls -> those MatMuls.

    With 2 (the default) these are the Q/K/V groups; 1 adds the feed-forward input groups
    (measured on MiniLM: smoothing those too hurts)."""
    from .rowwise import weight_matmuls

    matmuls = weight_matmuls(model)
    found = {}
    for ln in model.graph.node:
        if ln.op_type != "LayerNormalization":
            continue
        group = [m for m in matmuls if m.input[0] == ln.output[0]]
        if len(group) >= min_consumers:
            found[ln.name] = group
    return found


def activation_ranges(model, names: list[str], feeds: list[Feed], threads: int = 0) -> dict[str, np.ndarray]:
    """Per-channel max |x| of the named tensors over the real (unpadded) tokens of ``feeds``
    (``threads``: the session's; the ranges are the same whatever the count)."""
    import onnx

    from ..runtime.ort import onnx_session

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    have = {o.name for o in probe.graph.output}
    probe.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in names if n not in have)
    session = onnx_session_from_proto(probe, onnx_session, threads)
    wanted = {i.name for i in session.get_inputs()}
    ranges: dict[str, np.ndarray] = {}
    for feed in feeds:
        values = session.run(names, {k: v for k, v in feed.items() if k in wanted})
        mask = feed["attention_mask"].astype(bool) if "attention_mask" in feed else None
        for name, value in zip(names, values):
            rows = value[mask] if mask is not None and value.shape[:2] == mask.shape else value.reshape(-1, value.shape[-1])
            peak = np.abs(rows).max(axis=0)
            ranges[name] = np.maximum(ranges[name], peak) if name in ranges else peak
    return ranges


def onnx_session_from_proto(model, make_session, threads: int = 0):
    import tempfile
    from pathlib import Path

    import onnx

    with tempfile.TemporaryDirectory(prefix="mobilecomp-smooth-") as tmp:
        path = Path(tmp) / "probe.onnx"
        onnx.save(model, str(path))
        return make_session(path, threads=threads)


def _constant(graph, inits: dict, name: str) -> np.ndarray:
    """An initializer's value, following Identity nodes (exporters alias shared constants)."""
    from onnx import numpy_helper

    aliases = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "Identity"}
    while name not in inits and name in aliases:
        name = aliases[name]
    return numpy_helper.to_array(inits[name])


def smooth(model, feeds: list[Feed], alpha: float = 0.5, min_consumers: int = 2, threads: int = 0) -> dict:
    """Smooth every LayerNorm -> MatMul group of ``model`` in place; returns what was done."""
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    readers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    # a weight read by several MatMuls (ALBERT's shared layer, at each application) would be rescaled
    # once per group: one smoothing scale cannot serve every application, so such groups stay as they are
    found = {ln: group for ln, group in groups(model, min_consumers).items()
             if all(readers.get(m.input[1], 0) == 1 for m in group)}
    if not found:
        return {"groups": 0}
    lns = {n.name: n for n in graph.node if n.name in found}
    ranges = activation_ranges(model, [lns[name].output[0] for name in found], feeds, threads)
    scales_used = []
    new_nodes = []
    for n in graph.node:
        new_nodes.append(n)
        if n.name not in found:
            continue
        group = found[n.name]
        weights = [numpy_helper.to_array(inits[m.input[1]]) for m in group]
        w_peak = np.max([np.abs(w).max(axis=1) for w in weights], axis=0)
        s = smoothing_scales(ranges[n.output[0]], w_peak, alpha)
        scales_used.append(s)
        base = n.name.strip("/").replace("/", "_")
        gamma = _constant(graph, inits, n.input[1]) / s
        new_inputs = [n.input[0], f"{base}_smooth_gamma"]
        graph.initializer.append(numpy_helper.from_array(gamma.astype(np.float32), f"{base}_smooth_gamma"))
        if len(n.input) > 2 and n.input[2]:
            beta = _constant(graph, inits, n.input[2]) / s
            graph.initializer.append(numpy_helper.from_array(beta.astype(np.float32), f"{base}_smooth_beta"))
            new_inputs.append(f"{base}_smooth_beta")
        out = f"{n.output[0]}_smoothed"
        dup = helper.make_node("LayerNormalization", new_inputs, [out], name=f"{n.name}_smoothed")
        dup.attribute.extend(n.attribute)
        new_nodes.append(dup)
        for m, w in zip(group, weights):
            init = inits[m.input[1]]
            init.CopyFrom(numpy_helper.from_array((w * s[:, None]).astype(np.float32), init.name))
            m.input[0] = out
    del graph.node[:]
    graph.node.extend(new_nodes)
    every = np.concatenate(scales_used)
    return {"alpha": alpha, "groups": len(found), "matmuls": sum(len(g) for g in found.values()),
            "calibration_sentences": sum(len(f["input_ids"]) for f in feeds),
            "scale_range": [float(every.min()), float(every.max())]}
