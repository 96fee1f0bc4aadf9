"""Runs inside the aarch64 guest (sysroot python 3.11 under qemu): parity outputs, then marked inferences.

Standard library, numpy and onnxruntime only: it must not import mobilecomp. Usage:
    guest.py JOB.json
JOB: model, parity (npz), indices, primary, profile (npz), warmup, runs, out (npz), result (json).
Each counted run sits between two markers (lseek(-1, MARKER | code)) that the plugin watches.
"""

import json
import os
import sys
import time

MARKER = 0x6D6300000000


def marker(code):
    try:
        os.lseek(-1, MARKER | code, 0)
    except OSError:  # EBADF by design: the plugin saw the syscall
        pass


def main(job_path):
    import numpy as np
    import onnxruntime as ort

    with open(job_path) as fh:
        job = json.load(fh)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    session = ort.InferenceSession(job["model"], opts, providers=["CPUExecutionProvider"])
    wanted = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    result = {"onnxruntime": ort.__version__, "numpy": np.__version__, "inputs": wanted,
              "outputs": outputs}
    saved = {}
    if job.get("parity"):
        if job["primary"] not in outputs:
            raise SystemExit(f"model has no output '{job['primary']}' (it has {outputs})")
        with np.load(job["parity"]) as data:
            feeds = {k: data[k] for k in data.files if k in wanted}
        rows = []
        t0 = time.perf_counter()
        for i in job["indices"]:
            length = int(feeds["attention_mask"][i].nonzero()[0].max()) + 1 if "attention_mask" in feeds else None
            feed = {k: v[i:i + 1, :length] for k, v in feeds.items()}
            rows.append(session.run([job["primary"]], feed)[0].astype(np.float32))
        saved["primary"] = np.concatenate(rows)
        result["parity_seconds"] = time.perf_counter() - t0
    with np.load(job["profile"]) as data:
        feed = {k: data[k] for k in data.files if k in wanted}
    for _ in range(job["warmup"]):
        session.run(None, feed)
    guest_ms = []
    for _ in range(job["runs"]):
        t0 = time.perf_counter()
        marker(1)
        session.run(None, feed)
        marker(2)
        guest_ms.append((time.perf_counter() - t0) * 1e3)
    result["emulated_wall_ms"] = guest_ms
    np.savez(job["out"], **saved)
    with open(job["result"], "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main(sys.argv[1])
