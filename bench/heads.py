"""Every registered task head through export and quantisation: each head's own parity metric,
accuracy where the labels are real, and host latency.

Run: .venv/bin/python bench/heads.py [--layers 2]   (writes docs/heads.md and bench/results/heads.json)

- encoder: the embedded all-MiniLM-L6-v2 (real weights; no labels: parity only).
- classifier: MiniLM-L6 with a polarity head (examples/finetune_polarity.py --probe; Pang & Lee).
- token-classifier: MiniLM fine-tuned as a POS tagger (examples/finetune_pos.py), every int8
  variant of both formats, scored on held-out OANC sentences (CoNLL).
Models missing under models/ are trained first; --layers 2 uses a 2-layer tagger (linear probe).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mobilecomp.load.heads import HEADS  # noqa: E402
from mobilecomp.pipeline import export_bundle, profile_bundle  # noqa: E402
from mobilecomp.profile import ProfileOptions  # noqa: E402
from mobilecomp.profile.host import host_device  # noqa: E402
from mobilecomp.quantise import VARIANTS  # noqa: E402
from mobilecomp.recipe import load_recipe  # noqa: E402

EVAL_SENTENCES = 500  # of the 1,000 held-out POS sentences: TFLite runs one sentence at a time
INT8 = sorted({name for per_format in VARIANTS.values() for name in per_format if "int" in name})


def _train(script: str, out: Path, args: list[str]) -> dict:
    if not (out / "mobilecomp_finetune.json").exists():
        subprocess.run([sys.executable, str(ROOT / "examples" / script), "--out", str(out), *args], check=True)
    return json.loads((out / "mobilecomp_finetune.json").read_text())


def cases(layers: int) -> list[dict]:
    """(head, recipe, checkpoint, eval data, what the weights are) for each registered head."""
    models = ROOT / "models"
    polarity = _train("finetune_polarity.py", models / "minilm-l6-polarity-probe",
                      ["--probe", "--epochs", "4", "--limit", "1600", "--split-dir", str(models / "polarity")])
    pos_dir = models / ("minilm-l6-pos" if layers == 6 else f"minilm-l{layers}-pos-probe")
    pos_args = ["--split-dir", str(models / "pos")] + (
        ["--limit", "2000", "--lr", "2e-4"] if layers == 6
        else ["--keep-layers", str(layers), "--probe", "--limit", "3000"])
    pos = _train("finetune_pos.py", pos_dir, pos_args)
    held_out = (models / "pos" / "test.conll").read_text().split("\n\n")
    eval_conll = models / "pos" / f"test-{EVAL_SENTENCES}.conll"
    eval_conll.write_text("\n\n".join(held_out[:EVAL_SENTENCES]) + "\n")
    mlm = models / "minilm-l6-random-mlm-head"
    if not (mlm / "model.safetensors").exists():  # MiniLM's encoder, a masked-LM head initialised at random
        from transformers import BertForMaskedLM

        from mobilecomp.load import quiet_transformers
        from mobilecomp.load.checkpoints import embedded_dir

        quiet_transformers()
        import torch

        torch.manual_seed(0)
        source = embedded_dir("all-minilm-l6-v2")
        BertForMaskedLM.from_pretrained(source, local_files_only=True).save_pretrained(mlm)
        for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            (mlm / name).write_bytes((source / name).read_bytes())
    both = ("onnx", "tflite")
    return [
        {"head": "encoder", "recipe": replace(load_recipe("minilm-l6-int8"), formats=both,
                                              variants=("fp32", "int8-dynamic", "int8-smooth")),
         "checkpoint": None, "eval": None, "weights": "all-MiniLM-L6-v2, embedded (real weights; no labels)"},
        {"head": "classifier", "recipe": replace(load_recipe("minilm-l6-polarity-int8"), formats=both,
                                                 variants=("fp32", "int8-dynamic", "int8-smooth"), parity={}),
         "checkpoint": models / "minilm-l6-polarity-probe", "eval": models / "polarity" / "test.tsv",
         "weights": f"MiniLM-L6 + polarity head, {polarity['mode']} (Pang & Lee, not SST-2), "
                    f"{polarity['test_accuracy']:.1f}% at training"},
        {"head": "token-classifier", "recipe": replace(load_recipe("minilm-l6-pos-int8"),
                                                       variants=("fp32", *INT8)),
         "checkpoint": pos_dir, "eval": eval_conll,
         "weights": f"MiniLM-L{pos['layers']} POS tagger ({pos['mode']}, {pos['train_sentences']} OANC sentences, "
                    f"{pos['tags']} Penn tags), {pos['test_token_accuracy']:.2f}% on 1,000 held-out at training"},
        {"head": "fill-mask", "recipe": replace(load_recipe("minilm-l6-int8"), name="minilm-l6-fill-mask", formats=both,
                                                head="fill-mask", variants=("fp32", "int8-dynamic", "int8-smooth")),
         "checkpoint": mlm, "eval": None,
         "weights": "all-MiniLM-L6-v2's encoder with a masked-LM head initialised at random (seed 0): "
                    "**untrained head** (no trained MLM head is available offline), so parity only and "
                    "no accuracy; the int8 error is the real encoder's plus a random head's"},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 6 (fine-tuned on 2,000 sentences) did not fit the shared 2-core host: 30 s a step, ETA 29 min
    parser.add_argument("--layers", type=int, default=2, help="POS tagger layers: 6 (fine-tuned) or fewer (probe)")
    parser.add_argument("--render-only", action="store_true",
                        help="re-render docs/heads.md from bench/results/heads.json")
    args = parser.parse_args()
    if args.render_only:
        render(json.loads((ROOT / "bench" / "results" / "heads.json").read_text()))
        return
    rows = []
    for case in cases(args.layers):
        name = case["recipe"].name
        print(f"== {case['head']}: {name}", flush=True)
        out = ROOT / "bundles" / f"heads-{name}"
        result = export_bundle(case["recipe"], out, checkpoint=str(case["checkpoint"]) if case["checkpoint"] else None,
                               force=True, eval_data=str(case["eval"]) if case["eval"] else None, log=print)
        latency = {}
        for row in profile_bundle(out, "host", ProfileOptions(threads=(1,), runs=20, warmup=3), log=print):
            latency[row.artefact] = row.latency_ms.percentile(50)
        for art in result.manifest.artefacts:
            rows.append({"head": case["head"], "weights": case["weights"], "recipe": name,
                         "eval": result.manifest.eval_data, "artefact": art.name, "size_mb": art.size_bytes / 1e6,
                         "parity": json.loads(json.dumps(art.parity, default=vars)),
                         "passed": art.passed, "accuracy": vars(art.accuracy) if art.accuracy else None,
                         "p50_ms_1_thread": latency.get(art.name), "seq_len": case["recipe"].seq_len})
        for unbuilt in result.manifest.unbuilt:
            rows.append({"head": case["head"], "recipe": name, "artefact": unbuilt["name"],
                         "unbuilt": unbuilt["error"]})
    (ROOT / "bench" / "results" / "heads.json").write_text(json.dumps(rows, indent=1, default=str) + "\n")
    render(rows)


def render(rows: list[dict]) -> None:
    device = host_device()
    lines = [
        "# Task heads: parity, accuracy and latency per head and artefact",
        "",
        f"Command: `.venv/bin/python bench/heads.py` ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC); machine: "
        f"{device.cpu}, {device.cores} cores, {platform.platform()}; the cores were shared with other jobs "
        f"(load average {os.getloadavg()[1]:.1f} over the last 5 minutes when this was written), so latencies are "
        "inflated and comparable only within this page. "
        "Parity: the 258 OANC parity sentences against the PyTorch source, each head judged by its own metric. "
        "Latency: host p50 of 20 runs, 1 thread, batch 1, padded to the recipe's seq_len. Accuracy: measured on the "
        "host with onnxruntime / ai-edge-litert on labelled data the models never trained on.",
        "",
        "| head | parity metric | accuracy metric |",
        "|---|---|---|",
    ]
    lines += [f"| {h.name} | {h.parity_metric} | {h.accuracy_metric or '- (no labels)'} |" for h in HEADS.values()]
    for head in HEADS:
        mine = [r for r in rows if r["head"] == head]
        if not mine:
            lines += ["", f"## {head}", "", "No end-to-end run in this bench yet."]
            continue
        built = [r for r in mine if "unbuilt" not in r]
        lines += ["", f"## {head}", "", f"Weights: {built[0]['weights']}. Recipe `{built[0]['recipe']}`, "
                  f"seq_len {built[0]['seq_len']}."]
        if built[0]["eval"]:
            data = built[0]["eval"]
            lines.append(f"Labelled data: {data['name']}, {data['examples']} examples.")
        second = {"token-classifier": "top-1 agreement (tokens)", "encoder": "spearman",
                  "fill-mask": "top-1 agreement (masks)"}.get(head, "top-1 agreement")
        lines += ["", f"| artefact | size MB | cos_min | cos_mean | {second} | accuracy % | F1 % | drop (points) | "
                  "p50 ms | verdict |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in built:
            p, a = r["parity"], r["accuracy"]
            extra = p["spearman"] if head == "encoder" else p["top1"]
            acc = (f"{a['accuracy']:.2f} | {a['f1']:.2f}" if a and a["f1"] is not None
                   else f"{a['accuracy']:.2f} | -" if a else "- | -")
            drop = f"{a['drop_points']:+.2f}" if a else "-"
            failures = p["failures"] + (a["failures"] if a else [])
            ms = f"{r['p50_ms_1_thread']:.2f}" if r["p50_ms_1_thread"] is not None else "-"
            lines.append(f"| {r['artefact']} | {r['size_mb']:.1f} | {p['cos_min']:.4f} | {p['cos_mean']:.4f} | "
                         f"{extra:.4f} | {acc} | {drop} | {ms} | "
                         f"{'pass' if r['passed'] else 'FAIL: ' + '; '.join(failures)} |")
        for r in mine:
            if "unbuilt" in r:
                lines.append(f"| {r['artefact']} | not built: {r['unbuilt'][:120]} | | | | | | | | |")
        if head == "classifier":
            lines += ["", "These rows use the variants' default budgets (minilm-l6-polarity-int8 relaxes int8 to "
                      "cos_min 0.95, top1 0.95). A linear probe leaves many near-ties between the two classes: int8 flips "
                      "their argmax both ways, so parity fails while accuracy moves by at most the drop shown."]
        searched = [r["artefact"] for r in built if r["artefact"].endswith("int8-accurate") and not r["passed"]]
        if searched:
            lines += ["", f"{', '.join(searched)}: its sensitivity search aims at cos_min only (met with every MatMul "
                      "in int8, so it equals int8-dynamic); the head's top-1 agreement is not yet part of the search's "
                      "objective, and the recipe relaxes top1 only for int8-dynamic and int8-smooth."]
        if head == "token-classifier" and "linear probe" in built[0]["weights"]:
            lines += ["", "The 6-layer fine-tune (2,000 sentences, `--layers 6`) did not fit the shared 2-core host "
                      "while this ran (30 s a step, ETA 29 min, measured): this is the 2-layer cut with a linear "
                      "probe (encoder frozen), real weights throughout."]
        if head == "token-classifier":
            source = built[0]["accuracy"]["source_accuracy"] if built[0]["accuracy"] else None
            if source is not None:
                lines += ["", f"PyTorch source token accuracy on the same data: {source:.2f}% (first subword of each "
                          "word; Penn tags are not BIO, so there is no entity F1)."]
    lines += ["", "Not covered yet: the question-answering head (DeFormer form); emulated-phone latency per head; "
              "a trained masked-LM head (fill-mask accuracy)."]
    out = ROOT / "docs" / "heads.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
