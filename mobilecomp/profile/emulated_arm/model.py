"""The per-core latency model: instruction counts, weight traffic, runtime and threads to milliseconds.

    compute_ms = stall[core] * sum(count[c] * cpi[core][c]) / (f1 + thread_efficiency * (f2 + ... + fN))
    memory_ms  = weight_bytes / dram_bandwidth          # weights stream from DRAM once per inference;
                                                         # shared by all threads, so it does not scale
    ms         = runtime_factor[runtime] * (compute_ms + memory_ms)

``cpi`` per core type comes from Arm's optimisation guides (throughput bound); ``stall`` per core
type and ``runtime_factor`` per runtime are fitted on published figures by bench/calibrate_arm.py,
which writes them to devices/latency_fit.json for the profile backend (``fitted_params``).
fp16 runs 8 lanes per 128-bit vector instead of 4: its multiply and load/store counts and its
weight bytes are half the fp32 ones; the rest of the instructions stay.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ...devices import DEVICES_DIR, DeviceProfile
from ...errors import ConfigError

FIT_FILE = DEVICES_DIR / "latency_fit.json"
# The runtime factor a bundle's artefacts are estimated with. No published phone figure names
# onnxruntime or LiteRT 2.x, so they take TFLite's from the BERT QA page: a stock TFLite build on
# a stock phone, the nearest to what an app ships (the MobileBERT paper's factor is 2.6x slower).
PHONE_RUNTIME = "tflite (BERT QA page)"

# core type -> cycles per instruction of each class (throughput bound), with where it comes from
CORES: dict[str, tuple[dict[str, float], str]] = {
    "cortex-a76": ({"simd_mac": 0.5, "dot": 0.5, "load_store": 0.5, "other": 0.33},
                   "Arm Cortex-A76 Software Optimization Guide: two 128-bit ASIMD pipes, two load/store pipes, "
                   "three integer ALUs"),
    "cortex-a75": ({"simd_mac": 1.0, "dot": 1.0, "load_store": 0.5, "other": 0.33},
                   "Arm Cortex-A75 Software Optimization Guide: 64-bit-wide ASIMD pipes (a Q-form FMLA per cycle), "
                   "two load/store pipes"),
    "cortex-a55": ({"simd_mac": 1.0, "dot": 1.0, "load_store": 1.0, "other": 0.5},
                   "Arm Cortex-A55 Software Optimization Guide: in-order dual issue, Q-form FMLA/SDOT about one "
                   "per cycle, one load/store pipe"),
    "cortex-a53": ({"simd_mac": 2.0, "dot": 2.0, "load_store": 1.0, "other": 0.5},
                   "Arm Cortex-A53 TRM: 64-bit ASIMD datapath (a Q-form FMLA takes two cycles), one load/store pipe"),
}
PRECISIONS = ("fp32", "fp16")


@dataclass(frozen=True)
class Workload:
    """What one single-threaded inference executes (qemu counts) and how many weight bytes it reads."""

    classes: dict[str, float]
    weight_bytes: float

    def at(self, precision: str) -> Workload:
        if precision not in PRECISIONS:
            raise ConfigError(f"precision '{precision}' is not modelled (known: {', '.join(PRECISIONS)})")
        if precision == "fp32":
            return self
        halved = {c: n / 2 if c in ("simd_mac", "load_store") else n for c, n in self.classes.items()}
        return replace(self, classes=halved, weight_bytes=self.weight_bytes / 2)


@dataclass(frozen=True)
class Params:
    """The fitted part: a stall factor per core type, a factor per runtime, and the thread assumption."""

    stall: dict[str, float]
    runtime: dict[str, float]
    thread_efficiency: float = 0.8  # an assumption: no anchor pair isolates thread scaling
    sources: dict[str, str] = field(default_factory=dict)  # parameter -> the anchor it was fitted on

    def save(self, path: Path = FIT_FILE, **meta) -> None:
        path.write_text(json.dumps({**meta, **asdict(self)}, indent=1) + "\n")


def fitted_params(path: Path = FIT_FILE) -> Params:
    """The per-core fit bench/calibrate_arm.py wrote."""
    if not path.exists():
        raise ConfigError(f"{path}: no latency fit; run `.venv/bin/python bench/calibrate_arm.py` to make it")
    data = json.loads(path.read_text())
    return Params(stall=data["stall"], runtime=data["runtime"], thread_efficiency=data["thread_efficiency"],
                  sources=data.get("sources", {}))


def core_ghz(profile: DeviceProfile, core: str, threads: int) -> list[float]:
    """The clocks of the ``threads`` fastest cores of type ``core`` on the phone."""
    ghz = sorted((c.max_ghz for c in profile.clusters if c.core == core for _ in range(c.count)), reverse=True)
    if len(ghz) < threads:
        raise ConfigError(f"{profile.name} has {len(ghz)} {core} core(s), not {threads}; "
                          f"its clusters: {', '.join(f'{c.count}x {c.core}' for c in profile.clusters)}")
    return ghz[:threads]


def parts_ms(work: Workload, profile: DeviceProfile, core: str, threads: int, stall: float,
             thread_efficiency: float) -> tuple[float, float]:
    """(compute ms, memory ms) before the runtime factor."""
    if core not in CORES:
        raise ConfigError(f"no latency model for core '{core}' (known: {', '.join(CORES)})")
    cpi = CORES[core][0]
    ghz = core_ghz(profile, core, threads)
    effective = ghz[0] + thread_efficiency * sum(ghz[1:])
    compute = stall * sum(work.classes[c] * cpi[c] for c in cpi) / (effective * 1e9) * 1e3
    memory = work.weight_bytes / (profile.dram_gbps * 1e9) * 1e3 if profile.dram_gbps else 0.0
    return compute, memory


def estimate_ms(work: Workload, profile: DeviceProfile, core: str, threads: int, runtime: str, params: Params) -> float:
    if core not in params.stall:
        raise ConfigError(f"no fitted stall factor for {core} (fitted: {', '.join(params.stall)})")
    if runtime not in params.runtime:
        raise ConfigError(f"no fitted factor for runtime '{runtime}' (fitted: {', '.join(params.runtime)})")
    compute, memory = parts_ms(work, profile, core, threads, params.stall[core], params.thread_efficiency)
    return params.runtime[runtime] * (compute + memory)


GEMM_OPS = {"MatMul", "Gemm", "MatMulInteger", "DynamicQuantizeMatMul", "QLinearMatMul", "MatMulNBits", "FusedMatMul",
            "FULLY_CONNECTED", "BATCH_MATMUL", "XNNFullyConnected", "XNNBatchMatrixMultiply"}
PASS_THROUGH = {"DequantizeLinear", "Transpose", "Cast", "Identity", "Reshape", "DEQUANTIZE", "TRANSPOSE", "RESHAPE"}


def gemm_weight_bytes(path: Path, fmt: str) -> int:
    """Bytes of the constant weights the matrix multiplies of an artefact read (each once): the
    memory term's ``weight_bytes``. Embedding tables are gathered a row at a time, so they are not
    counted, as in the calibration (encoder layers only)."""
    nodes, sizes = {"onnx": _onnx_graph, "tflite": _tflite_graph, "executorch": _pte_graph}[fmt](path)
    producer = {out: (op, inputs) for op, inputs, outputs in nodes for out in outputs}

    def weight(name, hops=4):
        if name in sizes:
            return name
        op, inputs = producer.get(name, (None, ()))
        return weight(inputs[0], hops - 1) if op in PASS_THROUGH and inputs and hops else None

    weights = set()
    for op, inputs, _ in nodes:
        constants = [w for w in map(weight, inputs) if w is not None] if op in GEMM_OPS else []
        if constants:  # the matrix itself, not its bias, scale or zero point
            weights.add(max(constants, key=sizes.__getitem__))
    return sum(sizes[w] for w in weights)


def _onnx_graph(path: Path):
    import numpy as np
    import onnx

    graph = onnx.load(str(path)).graph
    sizes = {t.name: int(np.prod(t.dims)) * np.dtype(onnx.helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize
             for t in graph.initializer}
    return [(n.op_type, list(n.input), list(n.output)) for n in graph.node], sizes


def _tflite_graph(path: Path):
    import numpy as np

    from ai_edge_litert.interpreter import Interpreter

    from ...runtime.litert import quiet

    with quiet():
        interpreter = Interpreter(model_path=str(path))
    ops = interpreter._get_ops_details()  # noqa: SLF001 (LiteRT's only op-level view of a model)
    produced = {t for op in ops for t in op["outputs"]} | {d["index"] for d in interpreter.get_input_details()}
    sizes = {d["index"]: int(np.prod(d["shape"])) * np.dtype(d["dtype"]).itemsize
             for d in interpreter.get_tensor_details() if d["index"] not in produced}
    return [(op["op_name"], list(op["inputs"]), list(op["outputs"])) for op in ops], sizes


# XNNPACK datatype -> bytes per element (4-bit types pack two to a byte)
XNN_BYTES = {"fp32": 4, "pfp32": 4, "fp16": 2, "bf16": 2, "qint8": 1, "quint8": 1, "qcint8": 1, "qdint8": 1, "qpint8": 1,
             "qint32": 4, "qcint32": 4, "int32": 4, "qcint4": 0.5, "qbint4": 0.5}


def _pte_graph(path: Path):
    """The XNNPACK subgraphs of a .pte: node inputs and constant tensors by value id (prefixed by the
    subgraph's index, as ids restart in each)."""
    import numpy as np

    from ...runtime.pte import xnnpack_subgraphs

    nodes, sizes = [], {}
    for k, graph in enumerate(xnnpack_subgraphs(path)):
        for value in graph["xvalues"]:
            tensor = value["xvalue_union"].get("tensor_value", value["xvalue_union"])
            if tensor["constant_buffer_idx"]:
                dtype = tensor["datatype"].removeprefix("xnn_datatype_")
                sizes[f"{k}:{tensor['id_out']}"] = int(np.prod(tensor["dims"]) * XNN_BYTES[dtype])
        for node in graph["xnodes"]:
            args = node["xnode_union"]
            inputs = [f"{k}:{v}" for key, v in args.items() if key.endswith("_id") and key != "output_id"]
            nodes.append((node["xnode_union_type"], inputs, [f"{k}:{args.get('output_id')}"]))
    return nodes, sizes
