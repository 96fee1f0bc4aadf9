"""Every registered task head through export and quantisation: each head's own parity metric,
accuracy where the labels are real, and host latency.

Run: .venv/bin/python bench/heads.py [--layers 6] [--only HEAD ...]   (writes docs/heads.md and
bench/results/heads.json; --only re-runs those heads' cases and keeps the other rows)
     .venv/bin/python bench/heads.py --arm pixel-4   (adds emulated-phone rows: bench/results/heads-arm.json)

- encoder: the embedded all-MiniLM-L6-v2 (real weights; no labels: parity only).
- classifier: MiniLM-L6 with a polarity head (examples/finetune_polarity.py --probe; Pang & Lee).
- token-classifier: MiniLM fine-tuned as a POS tagger (examples/finetune_pos.py), every int8
  variant of both formats, scored on held-out OANC sentences (CoNLL).
- question-answering (--qa: this section only, kept in bench/results/heads-qa.json): MiniLM-L6
  fine-tuned on OANC cloze-QA (examples/finetune_qa.py), plain at seq 384 (ONNX and TFLite) and in
  DeFormer's two-graph form at question 64 + passage 320 (ONNX), EM/F1 on held-out questions, host
  latency per query with the passage cached, FLOPs and peak activations.
Models missing under models/ are trained first; --layers 2 uses a 2-layer tagger (linear probe) instead of the
fine-tuned 6-layer one.
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

QA_EVAL = 200  # of the 400 held-out cloze-QA questions: TFLite runs one pair at a time at seq 384
EVAL_SENTENCES = 500  # of the 1,000 held-out POS sentences: TFLite runs one sentence at a time
INT8 = sorted({name for per_format in VARIANTS.values() for name in per_format if "int" in name})


def _train(script: str, out: Path, args: list[str]) -> dict:
    if not (out / "mobilecomp_finetune.json").exists():
        subprocess.run([sys.executable, str(ROOT / "examples" / script), "--out", str(out), *args], check=True)
    return json.loads((out / "mobilecomp_finetune.json").read_text())


def cases(layers: int) -> list[dict]:
    """(head, recipe, checkpoint, eval data, what the weights are) for each registered head."""
    models = ROOT / "models"
    # the polarity teacher every student of docs/students.md is distilled from (full fine-tune, ~80%)
    polarity = _train("finetune_polarity.py", models / "minilm-l6-polarity", ["--split-dir", str(models / "polarity")])
    pos_dir = models / ("minilm-l6-pos" if layers == 6 else f"minilm-l{layers}-pos-probe")
    pos_args = ["--split-dir", str(models / "pos")] + (
        ["--limit", "3000", "--epochs", "3", "--lr", "2e-4"] if layers == 6
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
         "checkpoint": models / "minilm-l6-polarity", "eval": models / "polarity" / "test.tsv",
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
    # 6: all of MiniLM fine-tuned, 3 epochs of 3,000 sentences (15 min on 2 cores); fewer: a cut with a linear probe
    parser.add_argument("--layers", type=int, default=6, help="POS tagger layers: 6 (fine-tuned) or fewer (probe)")
    parser.add_argument("--only", metavar="HEAD", action="append", choices=[h for h in HEADS if h != "question-answering"],
                        help="re-run only this head's case (repeatable), keeping the other heads' rows")
    parser.add_argument("--render-only", action="store_true",
                        help="re-render docs/heads.md from bench/results/heads.json")
    parser.add_argument("--qa", action="store_true", help="run the question-answering section only")
    parser.add_argument("--arm", metavar="PROFILE", help="only add emulated-phone latency (fp32 and int8-dynamic of "
                        "each format) to the bundles this bench made, on a devices/ profile (e.g. pixel-4)")
    args = parser.parse_args()
    if args.arm:
        (ROOT / "bench" / "results" / "heads-arm.json").write_text(json.dumps(run_arm(args.arm), indent=1) + "\n")
        args.render_only = True
    if args.qa:
        (ROOT / "bench" / "results" / "heads-qa.json").write_text(json.dumps(run_qa(), indent=1, default=str) + "\n")
        args.render_only = True
    if args.render_only:
        render(json.loads((ROOT / "bench" / "results" / "heads.json").read_text()))
        return
    results = ROOT / "bench" / "results" / "heads.json"
    rows = [r for r in json.loads(results.read_text()) if r["head"] not in args.only] if args.only else []
    command = " ".join([".venv/bin/python bench/heads.py", *sys.argv[1:]])
    for case in cases(args.layers):
        if args.only and case["head"] not in args.only:
            continue
        name = case["recipe"].name
        print(f"== {case['head']}: {name}", flush=True)
        out = ROOT / "bundles" / f"heads-{name}"
        result = export_bundle(case["recipe"], out, checkpoint=str(case["checkpoint"]) if case["checkpoint"] else None,
                               force=True, eval_data=str(case["eval"]) if case["eval"] else None, log=print)
        latency = {}
        for row in profile_bundle(out, "host", ProfileOptions(threads=(1,), runs=20, warmup=3), log=print):
            latency[row.artefact] = row.latency_ms.percentile(50)
        for art in result.manifest.artefacts:
            rows.append({"head": case["head"], "weights": case["weights"], "recipe": name, "command": command,
                         "eval": result.manifest.eval_data, "artefact": art.name, "size_mb": art.size_bytes / 1e6,
                         "parity": json.loads(json.dumps(art.parity, default=vars)),
                         "passed": art.passed, "accuracy": vars(art.accuracy) if art.accuracy else None,
                         "p50_ms_1_thread": latency.get(art.name), "seq_len": case["recipe"].seq_len,
                         # what a searched variant scored its trials with (the encoder's records leave it out)
                         "search_score": (art.details.get("sweep") or art.details.get("search") or {}).get("score")})
        for unbuilt in result.manifest.unbuilt:
            rows.append({"head": case["head"], "recipe": name, "artefact": unbuilt["name"],
                         "unbuilt": unbuilt["error"]})
    order = list(HEADS)
    rows.sort(key=lambda r: order.index(r["head"]))  # stable: each head's rows stay in export order
    results.write_text(json.dumps(rows, indent=1, default=str) + "\n")
    render(rows)


ARM_VARIANTS = ("fp32", "int8-dynamic")  # per format: what a phone row of each head needs, at affordable qemu time


def run_arm(profile: str) -> dict:
    """Emulated-phone rows (qemu instruction counts, 1 thread, parity on ARM) of each heads bundle's fp32 and
    int8-dynamic artefacts. The plain QA bundle at seq 384: int8 only (fp32 at 384 costs minutes a run under
    qemu); the DeFormer bundle: all, since its speed-up is the undecomposed fp32 against the question graph."""
    device = f"emulated-arm:{profile}"
    out = {"device": device, "started": datetime.now(timezone.utc).isoformat(timespec="minutes"), "bundles": {}}
    for bundle in sorted((ROOT / "bundles").glob("heads-*")):
        manifest = json.loads((bundle / "manifest.json").read_text())
        plain_qa = manifest["model"]["head"] == "question-answering" and "decompose" not in manifest["model"]
        wanted = [a["name"] for a in manifest["artefacts"]
                  if a["variant"].removeprefix("passage-").removeprefix("full-") in ARM_VARIANTS
                  and not (plain_qa and a["variant"] == "fp32")]
        print(f"== {device}: {bundle.name} {', '.join(wanted)}", flush=True)
        # --resume: an artefact already counted on this device (same file) is not counted again; its row is read back
        profile_bundle(bundle, device, ProfileOptions(threads=(1,), artefacts=tuple(wanted), resume=True,
                                                      extra={"arm_parity_sentences": 8}), log=print)
        shas = {a["name"]: a["sha256"] for a in manifest["artefacts"]}
        rows = [json.loads(line) for line in (bundle / "results.jsonl").read_text().splitlines()]
        out["bundles"][manifest["recipe"]["name"]] = {
            r["artefact"]: {"ms": r["latency_ms"]["p50"], "instructions": r["extra"]["instructions"],
                            "parity": None if r["parity"] is None else {k: r["parity"].get(k) for k in
                                                                        ("passed", "cos_min", "top1", "sentences")},
                            "provenance": r["provenance"], "sha256": r["artefact_sha256"]}
            for r in rows if r["device"] == device and r["threads"] == 1 and r["artefact"] in wanted
            and r["artefact_sha256"] == shas[r["artefact"]]}
    return out


def run_qa() -> dict:
    """Both QA bundles exported, scored and profiled in one process (ratios only within this run)."""
    import torch

    from mobilecomp.load import load_model
    from mobilecomp.transform import deformer
    from mobilecomp.verify.qa import encode_deformer, jsonl, read_qa, task_split

    models = ROOT / "models"
    split = ["--split-dir", str(models / "qa")]
    full_card = _train("finetune_qa.py", models / "minilm-qa", ["--steps", "240", "--budget-s", "1800", *split])
    split_card = _train("finetune_qa.py", models / "minilm-qa-deformer",
                        ["--init", str(models / "minilm-qa"), "--deformer", "4", "--upper-only", "--teacher",
                         str(models / "minilm-qa"), "--steps", "600", "--lr", "3e-4", "--budget-s", "2700", *split])
    eval_path = models / "qa" / f"test-{QA_EVAL}.jsonl"
    eval_path.write_text(jsonl(task_split("test").examples[:QA_EVAL]))
    result = {"cards": {"full": full_card, "deformer": split_card}, "load_5min": os.getloadavg()[1], "bundles": {}}
    cases = {"full": (load_recipe("minilm-l6-qa-int8"), models / "minilm-qa"),
             "deformer": (load_recipe("deformer-minilm-qa-int8"), models / "minilm-qa-deformer")}
    for key, (recipe, checkpoint) in cases.items():
        print(f"== question-answering: {recipe.name}", flush=True)
        out = ROOT / "bundles" / f"heads-{recipe.name}"
        made = export_bundle(recipe, out, checkpoint=str(checkpoint), force=True, eval_data=str(eval_path), log=print)
        latency = {row.artefact: row.latency_ms.percentile(50)
                   for row in profile_bundle(out, "host", ProfileOptions(threads=(1,), runs=20, warmup=3), log=print)}
        result["bundles"][key] = {
            "recipe": recipe.name, "model": made.manifest.model, "eval": made.manifest.eval_data,
            "parity_corpus": made.manifest.parity_corpus,
            "artefacts": [{"artefact": a.name, "sha256": a.sha256, "size_mb": a.size_bytes / 1e6, "passed": a.passed,
                           "parity": json.loads(json.dumps(a.parity, default=vars)),
                           "accuracy": vars(a.accuracy) if a.accuracy else None,
                           "p50_ms_1_thread": latency.get(a.name)} for a in made.manifest.artefacts],
            "unbuilt": made.manifest.unbuilt}
    # the split applied to the plain fine-tune without decomposed training (PyTorch, decomposed forward)
    recipe = load_recipe("deformer-minilm-qa-int8")
    model = load_model(recipe, str(models / "minilm-qa"))
    data = read_qa(eval_path)
    feeds, gold = encode_deformer(model.tokenizer, data.examples, recipe.decompose, recipe.seq_len)
    with torch.no_grad():
        outputs = deformer.reference_outputs(model, recipe.decompose, feeds)
    result["split_without_decomposed_training"] = HEADS["question-answering"].score(outputs, gold)
    # the teacher the split is distilled from: the plain fine-tune, undecomposed, on the split's own layout
    hf = model.module.model
    with torch.no_grad():
        runs = [hf(**{n: torch.from_numpy(f[n]) for n in ("input_ids", "attention_mask", "token_type_ids")})
                for f in feeds]
    outputs = {n: [getattr(r, n).numpy() for r in runs] for n in ("start_logits", "end_logits")}
    result["plain_on_split_layout"] = HEADS["question-answering"].score(outputs, gold)
    result["finished"] = datetime.now(timezone.utc).isoformat(timespec="minutes")
    return result


def arm_results() -> dict:
    path = ROOT / "bench" / "results" / "heads-arm.json"
    return json.loads(path.read_text()) if path.exists() else {"device": None, "bundles": {}}


def same_file(row: dict, sha256: str | None) -> bool:
    """Whether an emulated-phone row was counted on this very file (rows without a hash predate the check)."""
    return sha256 is None or row.get("sha256") in (None, sha256)


def arm_cell(arm: dict, recipe: str, artefact: str, sha256: str | None = None) -> str:
    """Estimated ms on the emulated phone, and whether parity held on ARM ('-': not run). A row
    counted on an earlier export of the same graph keeps its ms (instruction counts do not depend
    on the weights' values) but not its parity."""
    row = arm["bundles"].get(recipe, {}).get(artefact)
    if row is None:
        return "-"
    parity = row["parity"]
    if artefact == "onnx-full-fp32":  # the undecomposed baseline: the bundle stores the DeFormer's reference only
        parity = None
    if not same_file(row, sha256):
        return f"{row['ms']:.2f} (counted on this graph with earlier weights; parity not checked on device)"
    said = ("parity not checked on device" if parity is None else
            f"ARM parity {'pass' if parity['passed'] else 'FAIL'} ({parity['sentences']} rows)")
    return f"{row['ms']:.2f} ({said})"


def render_qa(qa: dict) -> list[str]:
    """The question-answering section: both bundles' artefacts, then DeFormer's table."""
    full, split = qa["bundles"]["full"], qa["bundles"]["deformer"]
    arm = arm_results()
    arm_device = arm["device"]
    phone = arm["bundles"].get(split["recipe"])
    wanted = ("onnx-fp32", "onnx-passage-fp32", "onnx-full-fp32", "onnx-int8-dynamic", "onnx-passage-int8-dynamic")
    phone = phone if phone and all(k in phone for k in wanted) else None
    fc, dc = qa["cards"]["full"], qa["cards"]["deformer"]
    decomposed = [r for r in dc.get("runs") or [dc] if r.get("fine_tuned_decomposed")]
    when = qa.get("finished") or datetime.fromtimestamp((ROOT / "bench" / "results" / "heads-qa.json").stat().st_mtime,
                                                        timezone.utc).isoformat(timespec="minutes")
    lines = ["", "## question-answering", "",
             f"Command: `.venv/bin/python bench/heads.py --qa` (finished {when}; load average "
             f"{qa['load_5min']:.1f} over 5 minutes when it started; this section only, bench/results/heads-qa.json).",
             "",
             f"Task: {fc['task']}. No SQuAD is reachable offline; this task is easier than SQuAD (the question "
             "restates its sentence word for word). Split (mobilecomp.verify.qa.cloze_qa_split, seed 0) disjoint "
             "from the parity, calibration and distillation text; parity on the task's own 128 parity pairs, "
             f"accuracy on {full['eval']['examples']} of its 400 held-out test questions ({full['eval']['name']}).",
             "",
             f"Weights: all-MiniLM-L6-v2 fine-tuned as a span reader (examples/finetune_qa.py): {fc['steps']} steps of "
             f"batch {fc['batch']} ({fc['seconds']:.0f} s) in the tokenizer's pair encoding. DeFormer weights: that "
             f"model fine-tuned with the lower {dc['fine_tuned_decomposed']['lower_layers']} layers decomposed "
             "(question padded to 64, passage after it), as the paper fine-tunes decomposed, in "
             + "; then ".join(f"{r['steps']} steps of batch {r['batch']} ({r['mode']}, lr {r['lr']:g}, "
                              f"{r['seconds']:.0f} s" + (f", loss {r['loss_first_last_tenth'][0]} -> "
                                                         f"{r['loss_first_last_tenth'][1]} first to last tenth"
                                                         if r.get("loss_first_last_tenth") else "") + ")"
                              for r in decomposed)
             + (", distilled from the plain fine-tune: (cross-entropy on gold spans + T^2 KL to the plain model's "
                f"undecomposed start/end distributions on the same inputs, T={dc['distilled_from']['temperature']:g}) "
                "/ 2, the paper's knowledge-distillation loss without its layer-wise representation loss"
                if dc.get("distilled_from") else ", on gold spans only")
             + "; the paper starts that from the pre-trained model and trains every layer, this continues from the "
             f"plain fine-tune ({sum(r['steps'] for r in decomposed)} decomposed steps beside the plain model's "
             f"{fc['steps']}).",
             "",
             "Parity columns: top1 = share of parity pairs whose decoded span (best_span, at most 30 tokens, "
             "passage tokens only) equals PyTorch's; span F1 = token-overlap F1 of the two spans. Accuracy: SQuAD "
             "exact match and F1 of the decoded answer text against the gold answer.",
             "",
             "| recipe | artefact | size MB | cos_min | span EM vs PyTorch | span F1 vs PyTorch | EM % | F1 % | "
             f"EM drop | p50 ms (1 thread, batch 1, seq 384) | {arm_device or 'emulated phone'} ms, 1 thread | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for bundle in (full, split):
        for r in bundle["artefacts"]:
            p, a = r["parity"], r["accuracy"]
            failures = p["failures"] + (a["failures"] if a else [])
            ms = f"{r['p50_ms_1_thread']:.1f}" if r["p50_ms_1_thread"] is not None else "-"
            acc = f"{a['accuracy']:.2f} | {a['f1']:.2f} | {a['drop_points']:+.2f}" if a else "- | - | -"
            lines.append(f"| {bundle['recipe']} | {r['artefact']} | {r['size_mb']:.1f} | {p['cos_min']:.4f} | "
                         f"{p['top1']:.4f} | {p.get('span_f1') or 0:.4f} | {acc} | {ms} | "
                         f"{arm_cell(arm, bundle['recipe'], r['artefact'], r.get('sha256'))} | "
                         f"{'pass' if r['passed'] else 'FAIL: ' + '; '.join(failures)} |")
        for u in bundle["unbuilt"]:
            lines.append(f"| {bundle['recipe']} | {u['name']} | not built: {u['error'][:120]} | | | | | | | | | |")
    arts = {r["artefact"]: r for r in split["artefacts"]}
    plain = {r["artefact"]: r for r in full["artefacts"]}
    ms = {k: r["p50_ms_1_thread"] for k, r in arts.items()}
    counts = split["model"]
    detail = counts.get("detail", counts)
    src_full = plain["onnx-fp32"]["accuracy"]
    src_split = arts["onnx-fp32"]["accuracy"]
    without = qa["split_without_decomposed_training"]
    # a gap several times the paper's 1.4 F1 points is this host's training budget, not what the split costs
    undertrained = arts["onnx-fp32"]["accuracy"]["f1"] < plain["onnx-fp32"]["accuracy"]["f1"] - 5
    lines += ["", "### DeFormer at SQuAD's shape: question 64 + passage 320 tokens (seq 384), lower 4 of 6 layers "
              "decomposed", "",
              "Per query with the passage's lower-layer states cached, the question graph runs the lower 4 layers on "
              "the 64 question tokens and the upper 2 over all 384; the passage graph runs once per passage. "
              "Host latencies: measured-host, onnxruntime, 1 thread, batch 1, p50 of 20 runs, in one process on the "
              "shared 2-core machine (other jobs running: absolute ms are inflated, ratios are within this run). "
              + ("Emulated-phone estimates: the table after the host one." if phone else
                 "Emulated-phone estimates were not run for these bundles: at seq 384 each qemu-counted inference of "
                 "MiniLM costs minutes on this shared host, over the time this bench had; the FLOPs ratio below is "
                 "the device-independent part of what a phone would see."), "",
              "| | EM % | F1 % |", "|---|---|---|",
              f"| plain fine-tune, pair encoding (PyTorch) | {src_full['source_accuracy']:.2f} | - |",
              f"| plain fine-tune, onnx-fp32 / onnx-int8-dynamic | {plain['onnx-fp32']['accuracy']['accuracy']:.2f} / "
              f"{plain['onnx-int8-dynamic']['accuracy']['accuracy']:.2f} | {plain['onnx-fp32']['accuracy']['f1']:.2f} / "
              f"{plain['onnx-int8-dynamic']['accuracy']['f1']:.2f} |",
              f"| split applied to the plain fine-tune, no decomposed training (PyTorch) | {without['accuracy']:.2f} | "
              f"{without['f1']:.2f} |",
              f"| DeFormer, fine-tuned decomposed (PyTorch decomposed forward) | {src_split['source_accuracy']:.2f} | - |",
              f"| DeFormer two graphs, fp32 / int8-dynamic | {arts['onnx-fp32']['accuracy']['accuracy']:.2f} / "
              f"{arts['onnx-int8-dynamic']['accuracy']['accuracy']:.2f} | {arts['onnx-fp32']['accuracy']['f1']:.2f} / "
              f"{arts['onnx-int8-dynamic']['accuracy']['f1']:.2f} |", ""]
    q32, p32, full32 = ms.get("onnx-fp32"), ms.get("onnx-passage-fp32"), ms.get("onnx-full-fp32")
    q8, p8 = ms.get("onnx-int8-dynamic"), ms.get("onnx-passage-int8-dynamic")
    if None not in (q32, p32, full32, q8, p8):
        # the undecomposed model is in this bundle in fp32 only: int8 ratios would need another bundle's
        # timing, measured minutes apart under other load, so none is given
        lines += ["| cost at batch 1 (measured-host, ms, all from the DeFormer bundle's one profile run) | fp32 | "
                  "int8-dynamic |", "|---|---|---|",
                  f"| undecomposed model, per query (seq 384, onnx-full-fp32) | {full32:.1f} | - (not in this bundle) |",
                  f"| passage graph, once per passage (320 tokens, lower 4 layers) | {p32:.1f} | {p8:.1f} |",
                  f"| question graph, per query, passage cached | {q32:.1f} | {q8:.1f} |",
                  f"| first query on a new passage (passage + question) | {p32 + q32:.1f} | {p8 + q8:.1f} |",
                  f"| per query, 10 queries on one passage ((passage + 10 x question) / 10) | {(p32 + 10 * q32) / 10:.1f} | "
                  f"{(p8 + 10 * q8) / 10:.1f} |",
                  f"| **speed-up per query, passage cached** (undecomposed / question graph) | **{full32 / q32:.2f}x** | - |",
                  f"| speed-up of the first query on a new passage | {full32 / (p32 + q32):.2f}x | - |",
                  f"| int8-dynamic against fp32 of the same graph | - | question {q32 / q8:.2f}x, passage {p32 / p8:.2f}x |",
                  "",
                  "The two bundles were profiled minutes apart under different load from other jobs (the plain "
                  f"bundle's onnx-fp32 took {plain['onnx-fp32']['p50_ms_1_thread']:.0f} ms, the DeFormer bundle's "
                  f"undecomposed onnx-full-fp32, the same network and shape, {full32:.0f} ms): compare latencies "
                  "within one bundle only.", ""]
    if phone:
        pq32, pp32, pfull, pq8, pp8 = (phone[k]["ms"] for k in ("onnx-fp32", "onnx-passage-fp32", "onnx-full-fp32",
                                                                 "onnx-int8-dynamic", "onnx-passage-int8-dynamic"))
        lines += [f"| cost at batch 1 on {arm_device} (estimated-emulated-arm: qemu instruction counts of the real "
                  "aarch64 onnxruntime, 1 thread, through the latency model; ms) | fp32 | int8-dynamic |",
                  "|---|---|---|",
                  f"| undecomposed model, per query (seq 384, onnx-full-fp32) | {pfull:.1f} | - (not in this bundle) |",
                  f"| passage graph, once per passage | {pp32:.1f} | {pp8:.1f} |",
                  f"| question graph, per query, passage cached | {pq32:.1f} | {pq8:.1f} |",
                  f"| **speed-up per query, passage cached** (undecomposed / question graph) | **{pfull / pq32:.2f}x** | "
                  f"{pfull / pq8:.2f}x (against the fp32 undecomposed) |",
                  f"| speed-up of the first query on a new passage | {pfull / (pp32 + pq32):.2f}x | - |",
                  ""]
        if all(same_file(phone[k], arts[k].get("sha256")) for k in wanted):
            lines += ["Parity on the emulated phone: the question graphs' rows were checked against the stored "
                      f"PyTorch reference ({phone['onnx-fp32']['parity']['sentences']} rows: fp32 "
                      f"{'pass' if phone['onnx-fp32']['parity']['passed'] else 'FAIL'}, int8-dynamic "
                      f"{'pass' if phone['onnx-int8-dynamic']['parity']['passed'] else 'FAIL'}); the passage graphs "
                      "have no output of their own, and the undecomposed baseline's reference is not stored in the "
                      "bundle (it was gated at export).", ""]
        else:
            lines += ["These emulated-phone counts are of the same graphs with the earlier DeFormer weights (bench "
                      "--arm was not re-run after the re-training): instruction counts do not depend on the weights' "
                      "values, so the ms stand, but parity on the emulated phone was not checked for these weights "
                      f"(`.venv/bin/python bench/heads.py --arm {arm_device.split(':')[-1]}` re-counts them).", ""]
    lines += [f"Counted (batch 1, this model): {detail.get('undecomposed_gflops')} GFLOPs undecomposed against "
              f"{counts.get('gflops', counts.get('flops'))} per query with the passage cached: "
              f"**{detail.get('flops_speedup')}x fewer FLOPs**; the passage costs {detail.get('passage_gflops_once')} "
              "GFLOPs once. Peak activation per query: "
              f"{counts.get('peak_activation_mb')} MB against {detail.get('undecomposed_peak_activation_mb')} MB "
              f"undecomposed (no saving: the upper 2 layers' attention over all 384 tokens sets both peaks; passage "
              f"graph {detail.get('passage_peak_activation_mb')} MB, once); the cache a device "
              "keeps per passage is 320 x 384 fp32 states = 0.49 MB.",
              "",
              "Paper (DeFormer, Cao et al. 2020, Table 1/3): Decomp-BERT-base, 9 of 12 layers decomposed, SQuAD: "
              "3.2x faster (OnePlus 6, batch 1: 10.20 s -> 3.28 s). Here 4 of 6 layers are decomposed (the upper third "
              "runs jointly, as there), on a 6-layer, 384-wide model.",
              "",
              ("**The split's accuracy gap here is mostly a short decomposed fine-tune, not DeFormer's cost**"
               if undertrained else "**DeFormer's accuracy cost here**")
              + f": EM {plain['onnx-fp32']['accuracy']['accuracy']:.2f} -> {arts['onnx-fp32']['accuracy']['accuracy']:.2f}, "
              f"F1 {plain['onnx-fp32']['accuracy']['f1']:.2f} -> {arts['onnx-fp32']['accuracy']['f1']:.2f} (onnx-fp32 of "
              f"each bundle, {arts['onnx-fp32']['accuracy']['f1'] - plain['onnx-fp32']['accuracy']['f1']:+.2f} F1 points); "
              "the paper: SQuAD F1 88.5 -> 87.1 (-1.4) with 9 of 12 layers decomposed."
              + (f" The decomposed fine-tune ran {sum(r['steps'] for r in decomposed)} steps "
                 f"({sum(r['seconds'] for r in decomposed):.0f} s on the shared cores), where the paper fine-tunes for "
                 "full SQuAD epochs: with the lower layers cut apart, the upper 2 "
                 "must learn to align question and passage, which the plain model did in its lower layers"
                 + (f"; its loss was still falling ({decomposed[-1]['loss_first_last_tenth'][0]} -> "
                    f"{decomposed[-1]['loss_first_last_tenth'][1]} over its last run)"
                    if decomposed[-1].get("loss_first_last_tenth") else "") + "."
                 if undertrained else "")
              + f" The split needs its decomposed fine-tune: applied to the plain model without it, EM is "
              f"{without['accuracy']:.2f}"
              + (f"; the plain model itself, undecomposed on the split's layout (question padded to 64), scores EM "
                 f"{qa['plain_on_split_layout']['accuracy']:.2f} / F1 {qa['plain_on_split_layout']['f1']:.2f} on the "
                 "same questions" if "plain_on_split_layout" in qa else "")
              + ". The speed-up, memory and parity rows do not depend on the weights.",
              "",
              "Verdicts are against the shipped QA recipes' budgets: int8-dynamic top1 0.8 beside max_accuracy_drop "
              "2, not the variant's default top1 0.97. int8 flips the decoded span between near-equal candidates "
              "while held-out EM moves by at most "
              f"{max(r['accuracy']['drop_points'] for b in (full, split) for r in b['artefacts'] if r['accuracy']):.2f} "
              "points here (the recipes' comments cite these rows)."]
    return lines


def render(rows: list[dict]) -> None:
    device = host_device()
    lines = [
        "# Task heads: parity, accuracy and latency per head and artefact",
        "",
        f"Commands: {', '.join(f'`{c}`' for c in dict.fromkeys(r.get('command', '.venv/bin/python bench/heads.py') for r in rows))} "
        f"(rendered {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC); machine: "
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
    qa_file = ROOT / "bench" / "results" / "heads-qa.json"
    arm = arm_results()
    if arm["device"]:
        lines += ["", f"Emulated-phone column: `.venv/bin/python bench/heads.py --arm {arm['device'].split(':')[1]}` "
                  f"(started {arm['started']}): estimated-emulated-arm, the real aarch64 onnxruntime and LiteRT "
                  "under qemu-user, instruction counts of 1-thread runs through the project's latency model "
                  "(docs/emulated-arm.md); each row's parity was checked on ARM against the stored PyTorch reference "
                  "(8 evenly spaced parity rows). fp32 and int8-dynamic only; the plain QA model at seq 384 int8 only."]
    for head in HEADS:
        mine = [r for r in rows if r["head"] == head]
        if head == "question-answering" and qa_file.exists():
            lines += render_qa(json.loads(qa_file.read_text()))
            continue
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
                  f"p50 ms | {arm['device'] or 'emulated phone'} ms, 1 thread | verdict |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in built:
            p, a = r["parity"], r["accuracy"]
            extra = p["spearman"] if head == "encoder" else p["top1"]
            acc = (f"{a['accuracy']:.2f} | {a['f1']:.2f}" if a and a["f1"] is not None
                   else f"{a['accuracy']:.2f} | -" if a else "- | -")
            drop = f"{a['drop_points']:+.2f}" if a else "-"
            failures = p["failures"] + (a["failures"] if a else [])
            ms = f"{r['p50_ms_1_thread']:.2f}" if r["p50_ms_1_thread"] is not None else "-"
            lines.append(f"| {r['artefact']} | {r['size_mb']:.1f} | {p['cos_min']:.4f} | {p['cos_mean']:.4f} | "
                         f"{extra:.4f} | {acc} | {drop} | {ms} | {arm_cell(arm, r['recipe'], r['artefact'])} | "
                         f"{'pass' if r['passed'] else 'FAIL: ' + '; '.join(failures)} |")
        for r in mine:
            if "unbuilt" in r:
                lines.append(f"| {r['artefact']} | not built: {r['unbuilt'][:120]} | | | | | | | | | |")
        if head == "classifier" and "linear probe" in built[0]["weights"]:
            lines += ["", "These rows use the variants' default budgets (minilm-l6-polarity-int8 relaxes int8 to "
                      "cos_min 0.95, top1 0.95). A linear probe leaves many near-ties between the two classes: int8 flips "
                      "their argmax both ways, so parity fails while accuracy moves by at most the drop shown."]
        searched = [r for r in built if r["artefact"].endswith(("int8-accurate", "int8-mixed"))]
        scored = sorted({r["search_score"] for r in searched if r.get("search_score")})
        stale = [r["artefact"] for r in searched if "search_score" not in r and not r["passed"]]
        if scored:
            lines += ["", f"{', '.join(r['artefact'] for r in searched)}: the sensitivity search scores each trial "
                      f"with the head's own parity numbers on the tuning text ({'; '.join(scored)}); it keeps layers "
                      "in float until they clear the budget with a margin, or records met: false."]
        elif stale:  # rows from before the searches scored the head's numbers
            lines += ["", f"{', '.join(stale)}: measured when the sensitivity search aimed at cos_min only (met with "
                      "every MatMul in int8, so it equals int8-dynamic). The searches now score the head's own parity "
                      "numbers (Head.tuning_score: cos_min held under the budget's by the shortfall of cos_mean and "
                      "top1), so a re-run keeps MatMuls in float until top1 holds on the tuning text, or records that "
                      "it could not; the recipe relaxes top1 only for int8-dynamic and int8-smooth."]
        if head == "token-classifier" and "linear probe" in built[0]["weights"]:
            lines += ["", "The 6-layer fine-tune (2,000 sentences, `--layers 6`) did not fit the shared 2-core host "
                      "while this ran (30 s a step, ETA 29 min, measured): this is the 2-layer cut with a linear "
                      "probe (encoder frozen), real weights throughout."]
        if head == "token-classifier":
            source = built[0]["accuracy"]["source_accuracy"] if built[0]["accuracy"] else None
            if source is not None:
                lines += ["", f"PyTorch source token accuracy on the same data: {source:.2f}% (first subword of each "
                          "word; Penn tags are not BIO, so there is no entity F1)."]
    lines += ["", "Not covered yet: " + ("" if arm["device"] else "emulated-phone latency per head; ") +
              "a trained masked-LM head (fill-mask accuracy)."]
    out = ROOT / "docs" / "heads.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
