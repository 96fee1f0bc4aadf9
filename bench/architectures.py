"""Every registered architecture side by side: params and FLOPs of its published config against the
paper, and on real weights (all-MiniLM-L6-v2, its transplants, students distilled from the polarity
teacher) cos_min of ONNX and TFLite fp32 and best int8, the TFLite lint verdict, emulated cortex-a76
latency and what could not be built: docs/architectures.md.

    .venv/bin/python bench/architectures.py [--stage all|weights|export|arm|doc] [--seq-len 32]
        [--students shipped|small] [--layers 2] [--budget-s 90] [--arm pixel-4]

Stages: weights (`mobilecomp transplant` for DistilBERT, RoBERTa, XLM-R and ELECTRA; students of ALBERT,
DeBERTa-v2/v3 and ModernBERT distilled from models/minilm-l6-polarity by `mobilecomp compress`:
--students shipped (default) takes the shipped recipes' students, those bench/students.py trains and
reports, training any that is missing with its recipe's budget; --students small distils --layers deep,
128 wide ones here for --budget-s each), export (ONNX and TFLite, fp32 and the int8 variants below, parity and lint;
what a toolchain cannot build is the bundle's `unbuilt`), arm (onnx-int8-dynamic on emulated
cortex-a76, qemu instruction counts), doc. Each stage keeps what it made under bundles/architectures/,
so a later one can run alone. MobileBERT has no reachable weights: size and FLOPs only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mobilecomp.load.architectures import ARCHITECTURES  # noqa: E402
from mobilecomp.recipe import load_recipe  # noqa: E402

WORK = ROOT / "bundles" / "architectures"
DOC = ROOT / "docs" / "architectures.md"
RESULTS = ROOT / "bench" / "results" / "architectures.json"
TRANSPLANTS = ("distilbert", "roberta", "xlm-roberta", "electra")
# the students docs/students.md reports (trained into their recipes' checkpoint.path), so both docs
# judge the same weights
STUDENTS = {"albert": "albert-6-256-shared-polarity-int8", "deberta-v2": "deberta-v3-4-256-polarity-int8",
            "modernbert": "modernbert-4-256-polarity-int8"}
# --students small: these recipes' shape at --layers deep, distilled here for --budget-s (minutes in all)
SMALL_STUDENTS = {"albert": "albert-4-128-polarity-int8", "deberta-v2": "deberta-v3-2-128-polarity-int8",
                  "modernbert": "modernbert-2-128-polarity-int8"}
NO_WEIGHTS = ("mobilebert", "mobilebert-table1")
VARIANTS = ("fp32", "int8-dynamic", "int8-rowwise-ffn", "int8-smooth")  # TFLite has no int8-rowwise-ffn
# Each paper's (or model card's) parameter count for the published config, with where it says so.
PAPER = {
    "bert": (110e6, "BERT paper, BERT-base"),
    "mobilebert": (25.3e6, "MobileBERT paper, Table 1"),
    "mobilebert-table1": (25.3e6, "MobileBERT paper, Table 1"),
    "distilbert": (66e6, "DistilBERT paper"),
    "roberta": (125e6, "RoBERTa-base model card"),
    "xlm-roberta": (270e6, "XLM-R paper (base)"),
    "electra": (14e6, "ELECTRA paper, Table 1 (Small)"),
    "albert": (12e6, "ALBERT paper, Table 1 (base)"),
    "deberta-v2": (70e6, "DeBERTa-v3-xsmall model card: 22M backbone + 48M embedding"),
    "modernbert": (149e6, "ModernBERT paper (base)"),
}
FLOPS_SEQ = 128


def log(msg: str) -> None:
    print(f"  {msg}", file=sys.stderr, flush=True)


def weights_dir(name: str, students: str = "shipped") -> Path:
    if name in STUDENTS and students == "shipped":
        return Path(load_recipe(STUDENTS[name]).checkpoint.path)
    return WORK / "weights" / name


def student_recipe(name: str, layers: int, seq_len: int, students: str):
    recipe = load_recipe((STUDENTS if students == "shipped" else SMALL_STUDENTS)[name])
    options = recipe.compress.options if students == "shipped" else {**recipe.compress.options, "layers": layers}
    spec = dataclasses.replace(recipe.compress, options=options)
    return dataclasses.replace(recipe, compress=spec, seq_len=seq_len, formats=("onnx", "tflite"),
                               variants=VARIANTS, checkpoint=dataclasses.replace(
                                   recipe.checkpoint, path=str(weights_dir(name, students))))


def make_weights(layers: int, budget_s: float, seq_len: int, students: str) -> None:
    from mobilecomp.compress import CARD, compress
    from mobilecomp.load.transplant import transplant

    for name in TRANSPLANTS:
        if not (weights_dir(name) / "config.json").exists():
            log(f"transplant all-MiniLM-L6-v2 -> {name}")
            transplant(name, weights_dir(name))
    for i, name in enumerate(STUDENTS):
        if (weights_dir(name, students) / CARD).exists():
            continue
        recipe = student_recipe(name, layers, seq_len, students)
        log(f"[{i + 1}/{len(STUDENTS)}] distil {recipe.name} ({recipe.compress.options})")
        compress(recipe, out=weights_dir(name, students), budget_s=None if students == "shipped" else budget_s,
                 log=lambda m, n=name: log(f"{n}: {m}"))


def encoder_recipe(seq_len: int):
    return dataclasses.replace(load_recipe("minilm-l6-int8"), seq_len=seq_len, tflite_seq_lens=(),
                               formats=("onnx", "tflite"), variants=VARIANTS)


def export(layers: int, seq_len: int, students: str) -> None:
    from mobilecomp.load.checkpoints import weights_sha256
    from mobilecomp.pipeline import export_bundle

    jobs = [("bert", encoder_recipe(seq_len), None)]
    jobs += [(n, encoder_recipe(seq_len), str(weights_dir(n))) for n in TRANSPLANTS]
    jobs += [(n, student_recipe(n, layers, seq_len, students), str(weights_dir(n, students))) for n in STUDENTS]
    started = time.monotonic()
    for i, (name, recipe, checkpoint) in enumerate(jobs):
        manifest = WORK / name / "manifest.json"
        # kept unless it was made from other weights (a student re-made from a new teacher, or the other --students)
        if manifest.exists() and (checkpoint is None or json.loads(manifest.read_text())["checkpoint"].get("sha256")
                                  == weights_sha256(Path(checkpoint))):
            continue
        command = (f".venv/bin/mobilecomp export --recipe {recipe.name}"
                   + (f" --checkpoint {checkpoint}" if checkpoint else ""))
        export_bundle(recipe, WORK / name, checkpoint=checkpoint, force=True, command=command,
                      log=lambda m, n=name: log(f"{n}: {m}"))
        eta = (time.monotonic() - started) / (i + 1) * (len(jobs) - i - 1)
        log(f"export: {i + 1}/{len(jobs)} bundles, ETA {eta / 60:.1f} min")


def arm(device: str) -> None:
    from mobilecomp.pipeline import profile_bundle
    from mobilecomp.profile import ProfileOptions

    names = [n for n in ARCHITECTURES if (WORK / n / "manifest.json").exists()]
    started = time.monotonic()
    for i, name in enumerate(names):
        profile_bundle(WORK / name, f"emulated-arm:{device}",
                       ProfileOptions(threads=(1,), runs=3, warmup=1, artefacts=("onnx-int8-dynamic",), resume=True),
                       log=lambda m, n=name: log(f"{n}: {m}"))
        eta = (time.monotonic() - started) / (i + 1) * (len(names) - i - 1)
        log(f"emulated-arm:{device}: {i + 1}/{len(names)} bundles, ETA {eta / 60:.1f} min")


def closed_form_flops(name: str, config, s: int) -> int | None:
    """2 x multiply-accumulates from the shapes alone (batch 1, ``s`` tokens), where written down."""
    if name == "distilbert":  # no pooler
        h, i, L = config.dim, config.hidden_dim, config.n_layers
        return 2 * L * (s * (4 * h * h + 2 * h * i) + 2 * s * s * h)
    if name in ("albert", "bert", "roberta", "xlm-roberta", "electra"):
        h, i, L = config.hidden_size, config.intermediate_size, config.num_hidden_layers
        e = getattr(config, "embedding_size", h)
        mapping = s * e * h if e != h else 0  # ALBERT's and ELECTRA's embedding projection
        pooler = 0 if name == "electra" else h * h
        return 2 * (L * (s * (4 * h * h + 2 * h * i) + 2 * s * s * h) + mapping + pooler)
    if name == "modernbert":
        h, i, L = config.hidden_size, config.intermediate_size, config.num_hidden_layers
        return 2 * L * (s * (4 * h * h + 3 * h * i) + 2 * s * s * h)
    if name == "deberta-v2":
        h, i, L, k = config.hidden_size, config.intermediate_size, config.num_hidden_layers, config.position_buckets
        return 2 * L * (s * (4 * h * h + 2 * h * i) + 2 * s * s * h + 4 * k * h * h + 4 * s * k * h)
    return None


def sizes() -> dict[str, dict]:
    """Params (base model, as published) and FLOPs at FLOPS_SEQ tokens, from the project's counter."""
    import torch

    from mobilecomp.load import quiet_transformers
    from mobilecomp.load.inspect import count_model

    quiet_transformers()
    out = {}
    for name, arch in ARCHITECTURES.items():
        config = arch.build_config({})
        config._attn_implementation = "eager"
        with torch.device("meta" if arch.counts_on_meta else "cpu"):
            model = arch.build(config, classifier=False)
        counts = count_model(model, FLOPS_SEQ, arch.inputs)
        out[name] = {"params": counts.params, "flops": counts.flops, "paper_params": PAPER[name][0],
                     "paper_source": PAPER[name][1], "config_source": arch.source,
                     "closed_form_flops": closed_form_flops(name, model.config, FLOPS_SEQ),
                     "embedding_params": model.get_input_embeddings().weight.numel(),
                     "counted_on": "meta device" if arch.counts_on_meta else "CPU (its forward calls .item())"}
        log(f"{name}: {counts.params / 1e6:.1f}M params, {counts.flops / 1e9:.2f} GFLOPs")
    return out


def bundle_summary(name: str) -> dict | None:
    from mobilecomp.bundle import read_results

    path = WORK / name / "manifest.json"
    if not path.exists():
        return None
    manifest = json.loads(path.read_text())
    arts = {a["name"]: a for a in manifest["artefacts"]}

    def cos(names):
        found = [(arts[n]["parity"]["cos_min"], n, arts[n]["parity"]["max_abs"], arts[n]["parity"].get("top1"))
                 for n in names if n in arts]
        return max(found) if found else None

    tflite = [a for a in arts.values() if a["format"] == "tflite"]
    lints = [a["details"].get("lint", {}) for a in tflite]
    arm_rows = [r for r in read_results(WORK / name) if r["device"].startswith("emulated-arm")]
    card_path = Path(manifest["checkpoint"]["path"]) / "mobilecomp_compress.json"  # the weights it was made from
    card = json.loads(card_path.read_text()) if card_path.exists() else None
    return {
        "student": card and {"test_accuracy": card["test_accuracy"], "recipe": card["recipe"],
                             "shape": card["details"].get("shape"), "budget_s": card["compress"]["budget_s"],
                             "teacher_accuracy": card["teacher"]["test_accuracy"],
                             "steps": sum(p["steps"] for p in card["phases"]), "seconds": card["train_seconds"],
                             "phases": card["phases"]},
        "weights": ("MiniLM-L6 (real)" if name == "bert" else
                    "MiniLM-L6 transplanted (exact)" if name in TRANSPLANTS else
                    f"{manifest['model']['params'] / 1e6:.1f}M student"),
        "label": manifest["checkpoint"].get("label"), "output": manifest["model"]["primary_output"],
        "seq_len": manifest["model"]["seq_len"], "params": manifest["model"]["params"],
        "onnx_fp32": cos(["onnx-fp32"]), "tflite_fp32": cos(["tflite-fp32"]),
        "onnx_int8": cos([n for n in arts if n.startswith("onnx-int8")]),
        "tflite_int8": cos([n for n in arts if n.startswith("tflite-int8")]),
        "passed": {n: a["parity"]["passed"] for n, a in arts.items()},
        "lint": {"passed": all(x.get("passed") for x in lints) if lints else None,
                 "flex_ops": sorted({op for x in lints for op in x.get("flex_ops", [])}),
                 "xnnpack_not_taken": sum((lints[0].get("xnnpack_not_taken") or {}).values()) if lints else None},
        "unbuilt": [(u["name"], u["error"]) for u in manifest["unbuilt"]],
        "arm": [{"artefact": r["artefact"], "device": r["device"], "p50_ms": r["latency_ms"].get("p50"),
                 "seq_len": r["seq_len"]} for r in arm_rows],
    }


def doc(argv: list[str], arm_device: str) -> None:
    sized = sizes()
    bundles = {n: bundle_summary(n) for n in ARCHITECTURES}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"sizes": sized, "bundles": bundles}, indent=1, default=str) + "\n")
    lines = ["# Every registered architecture, end to end",
             "",
             f"Rendered by `{shlex.join(['.venv/bin/python', 'bench/architectures.py', *argv])}` on "
             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC (this 2-core host, shared with other agents' jobs "
             "while the stages ran: the emulated latencies count instructions and do not depend on that load) "
             "from the weights and bundles the earlier stages left under bundles/architectures/ (each manifest "
             "names its command). Raw numbers: `bench/results/architectures.json`.",
             "",
             "## Size of each published config against its paper",
             "",
             f"Params of the base model (no head) as `load/architectures.py` publishes it; FLOPs = 2 x "
             f"multiply-accumulates at batch 1, {FLOPS_SEQ} tokens, from the project's counter "
             "(`load/inspect.count_model`, torch's FlopCounterMode). None of these papers tables inference FLOPs "
             "for these configs, so the counter is checked against a closed form from the shapes instead "
             "(`tests/test_architectures.py` pins both for ALBERT, DeBERTa-v2 and ModernBERT).",
             "",
             "| architecture | published config | params | paper | diff | GFLOPs | closed form | counted on |",
             "|---|---|---|---|---|---|---|---|"]
    for name, s in sized.items():
        closed = s["closed_form_flops"]
        check = "-" if closed is None else ("equal" if closed == s["flops"] else f"{closed / 1e9:.3f}")
        params = f"{s['params'] / 1e6:.2f}M"
        if name == "deberta-v2":
            params += (f" ({(s['params'] - s['embedding_params']) / 1e6:.1f}M backbone + "
                       f"{s['embedding_params'] / 1e6:.1f}M embedding)")
        lines.append(f"| {name} | {s['config_source']} | {params} | {s['paper_params'] / 1e6:g}M "
                     f"({s['paper_source']}) | {100 * (s['params'] / s['paper_params'] - 1):+.1f}% | "
                     f"{s['flops'] / 1e9:.2f} | {check} | {s['counted_on']} |")
    lines += ["",
              "## Real weights through both exporters",
              "",
              "cos_min: the lowest per-sentence cosine to the PyTorch output over the 258 parity sentences "
              "(oanc-parity-258): the sentence embedding for MiniLM and its transplants, the two polarity logits "
              "for the distilled students (a 2-vector cosine: 6 decimals, with max_abs and the top-1 agreement). "
              "Best int8: the highest cos_min among the int8 variants built (ONNX: int8-dynamic, int8-rowwise-ffn, "
              "int8-smooth; TFLite: int8-dynamic, int8-smooth). Lint: the TFLite mobile lint (Flex ops fail it); "
              "ops off XNNPACK are counted, not failed.",
              "",
              "| architecture | weights | seq | ONNX fp32 | best ONNX int8 | TFLite fp32 | best TFLite int8 | lint | "
              f"emulated cortex-a76 ({arm_device}) onnx-int8-dynamic, 1 thread, p50 (estimated from qemu "
              "instruction counts, docs/emulated-arm.md) | not built |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for name in ARCHITECTURES:
        b = bundles[name]
        if b is None:
            why = ("no reachable weights (untrained: size and latency only); not exported here"
                   if name in NO_WEIGHTS else "not exported yet (run --stage export)")
            lines.append(f"| {name} | {why} | | | | | | | | |")
            continue

        def c(value):
            if value is None:
                return "-"
            cos_min, art, max_abs, top1 = value
            digits = 6 if b["output"] == "logits" else 4  # two logits: the cosine alone says little
            extra = f"; max_abs {max_abs:.1e}" + (f", top-1 {top1:.3f}" if top1 is not None else "")
            return f"{cos_min:.{digits}f} ({art.split('-', 1)[1]}{extra})"

        lint = b["lint"]
        verdict = ("-" if lint["passed"] is None else
                   f"{'pass' if lint['passed'] else 'FAIL'} ({len(lint['flex_ops'])} Flex ops; "
                   f"{lint['xnnpack_not_taken']} ops off XNNPACK)")
        arm_cell = "; ".join(f"{r['p50_ms']:.1f} ms" for r in b["arm"]) or (
            "not run: qemu emulation (~1.1G guest instructions of Python and onnxruntime start-up a run, minutes "
            "per bundle on this shared 2-core host) did not fit this render; `--stage arm` adds it")
        unbuilt = "<br>".join(f"{n}: {e}" for n, e in b["unbuilt"]) or "-"
        weights = b["weights"] + (f" ({b['label']})" if b["label"] else "")
        if b["student"]:
            st = b["student"]
            weights += (f", {st['recipe']} ({st['shape']}): {st['steps']} steps in {st['seconds']:.0f} s "
                        f"({st['budget_s']:.0f} s budget), held-out accuracy {st['test_accuracy']:.1f}% "
                        f"(teacher {st['teacher_accuracy']:.1f}%)")
        lines.append(f"| {name} | {weights} | {b['seq_len']} | {c(b['onnx_fp32'])} | {c(b['onnx_int8'])} | "
                     f"{c(b['tflite_fp32'])} | {c(b['tflite_int8'])} | {verdict} | {arm_cell} | {unbuilt} |")
    teachers = {b["student"]["teacher_accuracy"] for b in bundles.values() if b and b["student"]}
    if teachers and min(teachers) < 60:  # chance is 50%: the students learnt from a head that barely classifies
        lines += ["", f"**The teacher was weak at this render**: models/minilm-l6-polarity measured "
                      f"{min(teachers):.1f}% held-out (its mobilecomp_finetune.json: how it was made). The students' "
                      "logits follow its head; their encoders follow its (real MiniLM) sentence states. Re-make the "
                      "teacher with examples/finetune_polarity.py (no --limit) and re-run the weights stage."]
    failed = {n: [a for a, ok in b["passed"].items() if not ok] for n, b in bundles.items() if b}
    failed = {n: a for n, a in failed.items() if a}
    lines += ["",
              "Parity gate misses: " + ("; ".join(f"{n}: {', '.join(a)}" for n, a in failed.items()) or "none") + ".",
              "",
              "## Notes",
              "",
              "- ALBERT, DeBERTa-v2/v3 and ModernBERT cannot hold BERT's weights: their rows are students distilled "
              "from the polarity teacher (models/minilm-l6-polarity) by `mobilecomp compress` (method wrs with "
              "`architecture`), keeping the teacher's WordPiece tokenizer, the word embeddings projected from the "
              "teacher's, labelled `distilled` in the manifest. By default they are the students docs/students.md "
              "reports (recipe and shape in the weights column; their accuracy, size and latency there), trained "
              "for minutes from random layers: their int8 numbers say the toolchains handle the layouts, not how a "
              "published checkpoint quantises.",
              "- SmoothQuant is unbuilt for ALBERT (one smoothing scale would have to serve every application of the "
              "shared layer, and its Q/K/V input also feeds the residual), ModernBERT (Q, K and V are one fused "
              "Linear, Wqkv) and DeBERTa-v2/v3 (with share_att_key, Q and K also project the relative-position "
              "embeddings, which no smoothing scale divides: on the 4x256 student the TFLite int8-smooth built "
              "before this was refused missed the top-1 gate, 0.849, max_abs 0.13 against int8-dynamic's "
              "0.002). The ONNX exporter reaches ALBERT's shared weights through Identity nodes after their "
              "first application; export drops those Identities (`weight_aliases_inlined` in the fp32 artefact's "
              "details), so the int8 variants quantise the shared layer at every application.",
              "- fp16 (ONNX: onnxruntime's float16 converter, fp32 I/O; TFLite: litert-torch's full_fp16_recipe) "
              "is not in this render's variants; `tests/test_architectures.py::test_distilled_end_to_end` builds "
              "both for a distilled ALBERT, DeBERTa-v2 and ModernBERT student and gates them on parity (cos_min "
              "0.999) and the lint: all six build, none is unbuilt (the test fails if one appears without a pinned "
              "reason).",
              "- DeBERTa's relative attention converts to TFLite with builtin ops only (no Flex), and so do "
              "ALBERT's shared layers and ModernBERT's rotary GeGLU layers: of these, only SmoothQuant is unbuilt.",
              "- DeBERTa's and ModernBERT's TFLite wrappers pass the 0/1 mask as given (`tflite_mask: as-given`): "
              "DeBERTa builds its own mask from it and would read an additive -10000 mask as 'keep'; ModernBERT's "
              "sliding-window layers (128 wide) build their local mask from it, and an additive 4-D mask made them "
              "global: at 53-80 real tokens in a seq-160 signature the distilled student's logits moved by 2.7e-4 "
              "that way, 3e-7 with the mask as given (measured 2026-12-05; both lint clean). The ONNX graphs keep "
              "transformers' own masks and matched PyTorch at 8 to 200 tokens (max |diff| <= 3e-7).",
              "- DeFormer (decompose) splits every registered architecture but MobileBERT through the class: its "
              "layers by `layer_prefix` (ALBERT's shared group once per layer index), `embedding_projection`, "
              "position ids from `pad_token_id + 1` where `positions_from_pad`, token types only where the class "
              "takes them (the graphs' and the manifest's inputs drop them for DistilBERT, RoBERTa, DeBERTa-v3 and "
              "ModernBERT), each task model's own head (`classifier_head`), and `deformer_layers` where the encoder"
              " builds per-layer inputs (DeBERTa: relative positions over each segment and a 0/1 mask; ModernBERT: "
              "rotary tables and global or sliding-window masks per segment, its final norm after the upper "
              "layers). tests/test_deformer.py: the DistilBERT, RoBERTa and ELECTRA transplants of MiniLM pass "
              "parity in both graphs (fp32, int8-dynamic) and split exactly as MiniLM does; DeBERTa-v3 and "
              "ModernBERT students distilled from the real teacher pass parity in both graphs; with no layer split "
              "each reference equals the task model's own forward. MobileBERT is refused in one line naming "
              "`checkpoint.architecture` (its trigram embeddings mix neighbouring tokens across the "
              "question/passage boundary), as is a DeBERTa config with `conv_kernel_size` (a convolution that does "
              "the same). Pruning finds each architecture's layers through its `layer_prefix`; the per-row int8 "
              "variants find feed-forward MatMuls through its `ffn` pattern."]
    DOC.write_text("\n".join(lines) + "\n")
    log(f"wrote {DOC.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="all", choices=["all", "weights", "export", "arm", "doc"])
    parser.add_argument("--seq-len", type=int, default=32)
    parser.add_argument("--students", default="shipped", choices=["shipped", "small"],
                        help="shipped: the students docs/students.md reports; small: --layers x 128 ones made here")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--budget-s", type=float, default=90.0)
    parser.add_argument("--arm", default="pixel-4", help="a devices/ profile with qemu_cpu cortex-a76")
    parser.add_argument("--no-arm", action="store_true", help="leave the emulated-ARM column 'not run'")
    args = parser.parse_args()
    if args.stage in ("all", "weights"):
        make_weights(args.layers, args.budget_s, args.seq_len, args.students)
    if args.stage in ("all", "export"):
        export(args.layers, args.seq_len, args.students)
    if args.stage == "arm" or (args.stage == "all" and not args.no_arm):
        arm(args.arm)
    if args.stage in ("all", "doc"):
        doc(sys.argv[1:], args.arm)


if __name__ == "__main__":
    main()
