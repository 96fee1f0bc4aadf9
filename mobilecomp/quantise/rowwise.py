"""Per-row (per-token) int8 MatMuls in standard ONNX ops: the LiteRT-style activation scales ORT lacks.

onnxruntime's dynamic quantisation gives a whole activation tensor one scale; a single outlier
token then coarsens every other token. Here each row of the activation (one token, max/min over
the hidden axis) gets its own asymmetric uint8 scale and zero point, the weights are int8 with
one symmetric scale per output column, and the product runs in ``MatMulInteger``:

    s_row = max((max_row - min_row) / 255, 1e-8)
    q     = round((x - min_row) / s_row)                         (uint8: 0..255 by construction)
    acc   = MatMulInteger(q, Wq)                                 (int32, exact)
    y     = (float(acc) * s_row + min_row * colsum(Wq)) * s_col  (float32)

The zero point is the row minimum itself, kept in float: the correction term is computed in
float anyway, so it need not be an integer, and no clip is needed (every value lies in
[0, 255] before rounding). That is fewer passes over the activation than round/add/clip.

Rows that feed several MatMuls (Q, K and V share their input) are quantised once. Only standard
ops are used, so any ONNX runtime runs the result. ``reference`` is the same arithmetic in numpy,
operation for operation, which the tests compare bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

LEVELS = 255.0  # uint8 activations
MIN_SCALE = 1e-8  # an all-zero row would otherwise divide by zero


def quantise_weights(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Int8 weights [K, N] with one symmetric scale per column; also the columns' sums."""
    scale = (np.maximum(np.abs(weights).max(axis=0), 1e-12) / 127.0).astype(np.float32)
    quantised = np.clip(np.round(weights / scale), -127, 127).astype(np.int8)
    return quantised, scale, quantised.astype(np.int64).sum(axis=0).astype(np.float32)


def reference(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """numpy of exactly what the rewritten graph computes for ``x @ weights`` (float32 throughout)."""
    wq, wscale, colsum = quantise_weights(weights)
    x = x.astype(np.float32)
    hi = x.max(axis=-1, keepdims=True)
    lo = x.min(axis=-1, keepdims=True)
    scale = np.maximum((hi - lo) * np.float32(1 / LEVELS), np.float32(MIN_SCALE))
    q = np.round((x - lo) / scale).astype(np.uint8)
    acc = np.matmul(q.astype(np.int32), wq.astype(np.int32)).astype(np.float32)
    return (acc * scale + lo * colsum) * wscale


def _opset(model) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 17)


def weight_matmuls(model) -> list:
    """MatMul nodes whose second input is a 2-D float initializer."""
    import onnx

    inits = {i.name: i for i in model.graph.initializer}
    return [n for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in inits
            and len(inits[n.input[1]].dims) == 2 and inits[n.input[1]].data_type == onnx.TensorProto.FLOAT]


def rewrite(model, nodes: list[str] | None = None) -> list[str]:
    """Replace the named weight MatMuls (all of them when ``nodes`` is None) in ``model`` in place."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    chosen = {n.name for n in weight_matmuls(model) if nodes is None or n.name in nodes}
    reduce_axes_as_input = _opset(model) >= 18
    consts = {"inv_levels": np.float32(1 / LEVELS), "min_scale": MIN_SCALE}
    graph.initializer.extend(numpy_helper.from_array(np.array(v, np.float32), f"rowq_{k}")
                             for k, v in consts.items())
    if reduce_axes_as_input:
        graph.initializer.append(numpy_helper.from_array(np.array([-1], np.int64), "rowq_axes"))
    quantised: dict[str, tuple[str, str, str]] = {}  # activation name -> (uint8, scale, zero point)
    new_nodes, done = [], []

    def node(op, inputs, name, **attrs):
        out = f"{name}_out"
        new_nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def quantise_rows(x: str, base: str) -> tuple[str, str, str]:
        if x in quantised:
            return quantised[x]
        axes = dict(inputs=[x, "rowq_axes"], attrs={}) if reduce_axes_as_input else dict(inputs=[x], attrs={"axes": [-1]})
        hi = node("ReduceMax", axes["inputs"], f"{base}_rowmax", keepdims=1, **axes["attrs"])
        lo = node("ReduceMin", axes["inputs"], f"{base}_rowmin", keepdims=1, **axes["attrs"])
        span = node("Mul", [node("Sub", [hi, lo], f"{base}_span0"), "rowq_inv_levels"], f"{base}_span")
        scale = node("Max", [span, "rowq_min_scale"], f"{base}_scale")
        q = node("Div", [node("Sub", [x, lo], f"{base}_xshift"), scale], f"{base}_xdiv")
        q = node("Cast", [node("Round", [q], f"{base}_xround")], f"{base}_u8", to=TensorProto.UINT8)
        zero = lo
        quantised[x] = (q, scale, zero)
        return quantised[x]

    for n in list(graph.node):
        if n.name not in chosen:
            new_nodes.append(n)
            continue
        base = n.name.strip("/").replace("/", "_") or f"matmul{len(done)}"
        wq, wscale, colsum = quantise_weights(numpy_helper.to_array(inits[n.input[1]]))
        graph.initializer.extend([numpy_helper.from_array(wq, f"{base}_wq"),
                                  numpy_helper.from_array(wscale, f"{base}_wscale"),
                                  numpy_helper.from_array(colsum, f"{base}_colsum")])
        q, scale, zero = quantise_rows(n.input[0], f"rowq_{base}")
        acc = node("Cast", [node("MatMulInteger", [q, f"{base}_wq"], f"{base}_mmi")], f"{base}_accf",
                   to=TensorProto.FLOAT)
        acc = node("Add", [node("Mul", [acc, scale], f"{base}_rowscaled"),
                           node("Mul", [zero, f"{base}_colsum"], f"{base}_zcol")], f"{base}_shifted")
        new_nodes.append(helper.make_node("Mul", [acc, f"{base}_wscale"], list(n.output), name=f"{base}_colscaled"))
        done.append(n.name)
    used = {i for n in new_nodes for i in n.input}
    keep = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    del graph.node[:]
    graph.node.extend(new_nodes)
    return done


def rewrite_file(src: Path, dst: Path, nodes: list[str] | None = None) -> list[str]:
    import onnx

    model = onnx.load(str(src))
    done = rewrite(model, nodes)
    onnx.save(model, str(dst))
    return done
