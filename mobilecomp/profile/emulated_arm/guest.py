"""Runs inside the aarch64 guest (a sysroot's python under qemu): parity outputs, then marked inferences.

Standard library, numpy and the guest's runtime (onnxruntime and ai-edge-litert under Python 3.11,
executorch-numpy-runtime under 3.13) only: it must not import mobilecomp. Usage:
    guest.py JOB.json
JOB: format ("onnx", "tflite" or "executorch"), model, parity (npz), primary, profile (npz), warmup,
runs, out (npz), result (json); onnx: indices (rows of the bundle's parity.npz, cut here to their
real tokens); tflite: parity_rows ([signature, length] per row, inputs already padded by the host
under "ROW.INPUT" keys) and profile_signature; executorch: parity_rows ([method, length], padded
likewise), profile_method, inputs and outputs (the manifest's names, in the program's order).
Single-threaded. Each counted run sits between two markers (lseek(-1, MARKER | code)) that the
plugin watches.
"""

import json
import os
import platform
import sys
import time

MARKER = 0x6D6300000000


def marker(code):
    try:
        os.lseek(-1, MARKER | code, 0)
    except OSError:  # EBADF by design: the plugin saw the syscall
        pass


class OnnxModel:
    def __init__(self, job):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(job["model"], opts, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.runtime = {"name": "onnxruntime", "version": ort.__version__, "machine": platform.machine(),
                        "provider": "CPUExecutionProvider"}

    def parity_outputs(self, job):
        import numpy as np

        with np.load(job["parity"]) as data:
            feeds = {k: data[k] for k in data.files if k in self.inputs}
        rows = []
        for i in job["indices"]:
            length = int(feeds["attention_mask"][i].nonzero()[0].max()) + 1 if "attention_mask" in feeds else None
            feed = {k: v[i:i + 1, :length] for k, v in feeds.items()}
            rows.append(self.session.run([job["primary"]], feed)[0])
        return rows

    def profile_run(self, job):
        import numpy as np

        with np.load(job["profile"]) as data:
            feed = {k: data[k] for k in data.files if k in self.inputs}
        return lambda: self.session.run(None, feed)


class TFLiteModel:
    def __init__(self, job):
        import ai_edge_litert
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=job["model"], num_threads=1)
        signatures = self.interpreter.get_signature_list()
        first = next(iter(signatures.values()))
        self.inputs, self.outputs = first["inputs"], first["outputs"]
        self.runtime = {"name": "ai-edge-litert", "version": ai_edge_litert.__version__,
                        "machine": platform.machine(), "delegate": "XNNPACK (LiteRT default CPU)"}

    def parity_outputs(self, job):
        import numpy as np

        rows = []
        with np.load(job["parity"]) as data:
            for k, (signature, length) in enumerate(job["parity_rows"]):
                inputs = {name: data[f"{k}.{name}"] for name in self.inputs}
                value = self.interpreter.get_signature_runner(signature)(**inputs)[job["primary"]]
                rows.append(value[:, :length] if job.get("per_token_length") else value)
        return rows

    def profile_run(self, job):
        import numpy as np

        with np.load(job["profile"]) as data:
            feed = {k: data[k] for k in data.files}
        runner = self.interpreter.get_signature_runner(job["profile_signature"])
        return lambda: runner(**feed)


class ExecuTorchModel:
    """ExecuTorch's own C++ runtime and XNNPACK delegate, through executorch-numpy-runtime (no torch).
    It has no thread setting: its one thread pool is sized from cpuinfo, and the sysroot shows one CPU."""

    def __init__(self, job):
        import executorch_numpy_runtime as en

        program = en.Runtime.get().load_program(job["model"])
        self.methods = {name: program.load_method(name) for name in program.method_names}
        self.arity = {name: method.metadata["num_inputs"] for name, method in self.methods.items()}
        self.inputs, self.outputs = job["inputs"], job["outputs"]
        self.runtime = {"name": "executorch-numpy-runtime", "version": en.__version__,
                        "executorch": en.__et_version__, "machine": platform.machine(),
                        "delegate": "XNNPACK (ExecuTorch backend)"}

    def call(self, method, arrays):
        return self.methods[method](arrays[:self.arity[method]])

    def parity_outputs(self, job):
        import numpy as np

        rows, primary = [], self.outputs.index(job["primary"])
        with np.load(job["parity"]) as data:
            for k, (method, length) in enumerate(job["parity_rows"]):
                value = self.call(method, [data[f"{k}.{name}"] for name in self.inputs])[primary]
                rows.append(value[:, :length] if job.get("per_token_length") else value)
        return rows

    def profile_run(self, job):
        import numpy as np

        with np.load(job["profile"]) as data:
            arrays = [data[name] for name in self.inputs]
        return lambda: self.call(job["profile_method"], arrays)


RUNTIMES = {"onnx": OnnxModel, "tflite": TFLiteModel, "executorch": ExecuTorchModel}


def main(job_path):
    import numpy as np

    with open(job_path) as fh:
        job = json.load(fh)
    threads = len(os.listdir("/proc/self/task"))  # the runtime's own threads show as new host threads of qemu
    model = RUNTIMES[job["format"]](job)
    result = {"runtime": model.runtime, "numpy": np.__version__, "inputs": model.inputs,
              "outputs": model.outputs}
    saved = {}
    if job.get("parity"):
        if job["primary"] not in model.outputs:
            raise SystemExit(f"model has no output '{job['primary']}' (it has {model.outputs})")
        t0 = time.perf_counter()
        rows = model.parity_outputs(job)
        width = job.get("per_token_length")
        if width:  # rows ran at their own lengths: zero-padded like the stored reference, so they stack
            rows = [np.pad(row, [(0, 0), (0, width - row.shape[1])] + [(0, 0)] * (row.ndim - 2)) for row in rows]
        saved["primary"] = np.concatenate([row.astype(np.float32) for row in rows])
        result["parity_seconds"] = time.perf_counter() - t0
    run = model.profile_run(job)
    for _ in range(job["warmup"]):
        run()
    guest_ms = []
    for _ in range(job["runs"]):
        t0 = time.perf_counter()
        marker(1)
        run()
        marker(2)
        guest_ms.append((time.perf_counter() - t0) * 1e3)
    result["emulated_wall_ms"] = guest_ms
    result["threads_started"] = len(os.listdir("/proc/self/task")) - threads
    np.savez(job["out"], **saved)
    with open(job["result"], "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main(sys.argv[1])
