"""Mobile-readiness lint of a .tflite: its ops, Flex ops (fail), ops XNNPACK leaves on the CPU, dynamic tensors."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _builtin_names() -> dict[int, str]:
    from ai_edge_litert import schema_py_generated as schema

    return {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


def read_ops(path: Path) -> dict[str, Any]:
    """Op counts, custom ops and dynamic tensors of every subgraph, read from the flatbuffer."""
    from ai_edge_litert import schema_py_generated as schema

    buf = Path(path).read_bytes()
    model = schema.Model.GetRootAs(buf, 0)
    names = _builtin_names()
    codes = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == schema.BuiltinOperator.CUSTOM:
            codes.append((code.CustomCode() or b"?").decode())
        else:
            codes.append(names.get(builtin, f"BUILTIN_{builtin}"))
    custom = {c for c in codes if c not in names.values()}
    op_types: dict[str, int] = {}
    dynamic: list[str] = []
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for o in range(graph.OperatorsLength()):
            name = codes[graph.Operators(o).OpcodeIndex()]
            op_types[name] = op_types.get(name, 0) + 1
        for t in range(graph.TensorsLength()):
            tensor = graph.Tensors(t)
            sig = [tensor.ShapeSignature(k) for k in range(tensor.ShapeSignatureLength())]
            if any(d < 0 for d in sig):
                dynamic.append((tensor.Name() or b"?").decode())
    signatures = {}
    for i in range(model.SignatureDefsLength()):
        sig = model.SignatureDefs(i)
        signatures[sig.SignatureKey().decode()] = sig.SubgraphIndex()
    return {"op_types": dict(sorted(op_types.items())), "custom_ops": sorted(custom),
            "dynamic_tensors": dynamic, "subgraphs": model.SubgraphsLength(), "signatures": signatures}


def xnnpack_leftovers(path: Path) -> dict[str, int]:
    """Ops of the first subgraph that the XNNPACK delegate did not take, measured by loading the
    model with LiteRT's default delegate and walking back from each DELEGATE node's outputs."""
    from ai_edge_litert.interpreter import Interpreter

    from ..runtime.litert import quiet

    with quiet():  # allocating applies the delegate, which prints an INFO line
        interpreter = Interpreter(model_path=str(path), num_threads=1)
        interpreter.allocate_tensors()
    ops = interpreter._get_ops_details()  # every node: the originals, then the DELEGATE nodes
    delegates = [op for op in ops if op["op_name"] == "DELEGATE"]
    originals = [op for op in ops if op["op_name"] != "DELEGATE"]
    producer = {int(t): op["index"] for op in originals for t in op["outputs"]}
    taken: set[int] = set()
    for node in delegates:
        boundary = {int(t) for t in node["inputs"]}
        stack = [int(t) for t in node["outputs"]]
        while stack:
            tensor = stack.pop()
            index = producer.get(tensor)
            if index is None or index in taken:
                continue
            taken.add(index)
            stack.extend(int(t) for t in ops[index]["inputs"] if int(t) >= 0 and int(t) not in boundary)
    left: dict[str, int] = {}
    for op in originals:
        if op["index"] not in taken:
            left[op["op_name"]] = left.get(op["op_name"], 0) + 1
    return dict(sorted(left.items()))


def lint_tflite(path: Path) -> dict[str, Any]:
    """The lint result stored in the artefact's details; ``passed`` is False on any Flex op."""
    info = read_ops(path)
    flex = [c for c in info["custom_ops"] if c.startswith("Flex")]
    failures = [f"needs the Flex delegate (TensorFlow ops): {', '.join(flex)}"] if flex else []
    warnings = []
    other_custom = [c for c in info["custom_ops"] if not c.startswith("Flex")]
    if other_custom:
        warnings.append(f"custom ops need their own kernels: {', '.join(other_custom)}")
    if info["dynamic_tensors"]:
        warnings.append(f"{len(info['dynamic_tensors'])} tensors with dynamic shape")
    try:
        leftovers = xnnpack_leftovers(path)
    except Exception as exc:  # a model that does not load at all is a lint failure
        leftovers = None
        failures.append(f"does not load in ai-edge-litert: {str(exc).splitlines()[0][:200]}")
    if leftovers:
        warnings.append("not taken by XNNPACK: " + ", ".join(f"{k} x{v}" for k, v in leftovers.items()))
    return {"passed": not failures, "failures": failures, "warnings": warnings,
            "op_types": info["op_types"], "custom_ops": info["custom_ops"], "flex_ops": flex,
            "xnnpack_not_taken": leftovers, "xnnpack_measured_on": "first subgraph, default delegate",
            "dynamic_tensors": info["dynamic_tensors"][:20], "signatures": info["signatures"]}
