"""Fine-tunes the embedded all-MiniLM-L6-v2 for extractive question answering on OANC cloze-QA
(mobilecomp.verify.qa: passages of consecutive OANC sentences; the question is one of them with a
noun phrase, found from the corpus's POS tags, replaced by "what"; the answer is that phrase in the
passage). No SQuAD is reachable offline; this task is easier than SQuAD (the question restates its
sentence).

    .venv/bin/python examples/finetune_qa.py --steps 240 --budget-s 1800 [--keep-layers K] [--out models/minilm-qa]
    .venv/bin/python examples/finetune_qa.py --init models/minilm-qa --deformer 4 --upper-only \
        --teacher models/minilm-qa --steps 600 --lr 3e-4 --budget-s 2700 --out models/minilm-qa-deformer

The split (mobilecomp.verify.qa.cloze_qa_split, deterministic) is disjoint from the parity,
calibration and distillation text; the held-out test split is written as QA JSONL
(models/qa/test.jsonl, the recipes' --eval-data). Writes a Hugging Face directory
(BertForQuestionAnswering, safetensors + tokenizer) with mobilecomp_finetune.json: steps, seconds,
held-out EM/F1 of the full model and of the DeFormer split.

--deformer L fine-tunes with the lower L layers decomposed (DeFormer, Cao et al. 2020: question
padded to 64 tokens, passage after it; the lower layers attend within each, the upper over both),
as the paper fine-tunes; with --init it continues from an already fine-tuned QA model, and with
--teacher it adds the paper's knowledge-distillation loss (KL to the teacher's undecomposed span
distributions on the same inputs; not its layer-wise representation loss). --upper-only trains
only the joint upper layers and the head, in steps about 2.5x cheaper: on this host the decomposed
loss stayed flat (about 3.5) for the 100 steps each all-layer try got, and with the lower layers
frozen it began to fall after about 200 steps (docs/heads.md has the runs).
--head-only trains only qa_outputs on frozen states (seconds: for tests).

Cost on the 2 cores of the machine that made models/ (docs/heads.md has each run's steps and
seconds): a plain step of batch 16 at seq 384 takes about 1.5 s with the machine to itself and
10-14 s with other jobs running; a decomposed step with its teacher about twice that.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = 0
QUESTION_LEN = 64
SEQ_LEN = 384  # SQuAD's shape: question 64 + passage 320


RUN_FIELDS = ("init", "mode", "fine_tuned_decomposed", "distilled_from", "steps", "batch", "lr", "seconds",
              "loss_first_last_tenth", "machine")


def runs_of(directory: Path) -> list[dict]:
    """The training runs that made a fine-tuned directory (its card's ``runs``), oldest first."""
    path = directory / "mobilecomp_finetune.json"
    if not path.exists():
        return []
    card = json.loads(path.read_text())
    return card.get("runs") or [{k: card.get(k) for k in RUN_FIELDS}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "models" / "minilm-qa"))
    parser.add_argument("--split-dir", default=str(ROOT / "models" / "qa"))
    parser.add_argument("--init", default="", help="start from this fine-tuned QA directory")
    parser.add_argument("--keep-layers", type=int, default=0, help="truncate the encoder to K layers first")
    parser.add_argument("--deformer", type=int, default=0, help="fine-tune with the lower L layers decomposed")
    parser.add_argument("--steps", type=int, default=240, help="the learning rate decays to 0 over these")
    parser.add_argument("--budget-s", type=float, default=1800, help="stop training after this many seconds")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--limit", type=int, default=0, help="train on the first N questions only")
    parser.add_argument("--test-limit", type=int, default=0, help="score on the first N held-out questions only")
    parser.add_argument("--head-only", action="store_true", help="train only qa_outputs (frozen encoder)")
    parser.add_argument("--teacher", default="", help="distil from this QA directory's undecomposed logits "
                        "on the same inputs (with --deformer: the paper's knowledge-distillation loss)")
    parser.add_argument("--upper-only", action="store_true", help="with --deformer: train only the upper (joint) "
                        "layers and the head; the lower layers and embeddings stay as --init has them")
    parser.add_argument("--temperature", type=float, default=2.0, help="softmax temperature of the distillation")
    args = parser.parse_args()

    import torch

    from mobilecomp.compress.objectives import answer_positions
    from mobilecomp.compress.train import distill_loss
    from mobilecomp.load import quiet_transformers
    from mobilecomp.load.checkpoints import embedded_dir
    from mobilecomp.transform.deformer import decomposed_modules, task_head
    from mobilecomp.types import DecomposeSpec
    from mobilecomp.verify.qa import TASK, cloze_qa_split, encode_deformer, encode_pairs, jsonl, scores

    quiet_transformers()
    from transformers import AutoTokenizer, BertForQuestionAnswering

    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    split = cloze_qa_split(SEED)
    directory = Path(args.split_dir)
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("test", "train"):
        (directory / f"{name}.jsonl").write_text(jsonl(split[name]))
    train = list(split["train"][: args.limit or None])
    test = list(split["test"][: args.test_limit or None])
    source = Path(args.init) if args.init else embedded_dir("all-minilm-l6-v2")
    tokenizer = AutoTokenizer.from_pretrained(embedded_dir("all-minilm-l6-v2"), local_files_only=True)
    model = BertForQuestionAnswering.from_pretrained(source, local_files_only=True, attn_implementation="eager")
    if args.keep_layers:
        model.bert.encoder.layer = model.bert.encoder.layer[: args.keep_layers]
        model.config.num_hidden_layers = args.keep_layers
    spec = DecomposeSpec(lower_layers=args.deformer, question_len=QUESTION_LEN) if args.deformer else None
    teacher = (BertForQuestionAnswering.from_pretrained(args.teacher, local_files_only=True, attn_implementation="eager")
               .eval() if args.teacher else None)

    def distillation(student, feed, keep):
        """Temperature-scaled KL from the teacher's span distributions (Hinton et al.), over real tokens."""
        with torch.no_grad():
            out = teacher(*(torch.from_numpy(feed[n]) for n in ("input_ids", "attention_mask")),
                          token_type_ids=torch.from_numpy(feed["token_type_ids"]))
        loss = 0.0
        for s, g in zip(student, (out.start_logits, out.end_logits)):
            soft, _ = distill_loss(s.masked_fill(~keep, -1e4), g.masked_fill(~keep, -1e4), None, args.temperature, 1.0)
            loss = loss + soft / 2
        return loss

    def forward(feed, decomposed: bool):
        inputs = [torch.from_numpy(feed[n]) for n in ("input_ids", "attention_mask", "token_type_ids")]
        if decomposed:
            return decomposed_modules(model.bert, decomposed, task_head(model))[2](*inputs)
        out = model(*inputs[:2], token_type_ids=inputs[2])
        return out.start_logits, out.end_logits

    def encode(examples, decomposed, batch):
        if not decomposed:
            return encode_pairs(tokenizer, examples, ("input_ids", "attention_mask", "token_type_ids"), SEQ_LEN,
                                batch_size=batch)
        longest = max(len(tokenizer(e.context, add_special_tokens=False)["input_ids"]) for e in examples)
        return encode_deformer(tokenizer, examples, decomposed, min(SEQ_LEN, QUESTION_LEN + longest + 1),
                               batch_size=batch)

    rng = random.Random(SEED)
    start_time, step = time.time(), 0
    if args.head_only:  # the encoder's states of the training questions, computed once
        model.eval()
        with torch.no_grad():
            cached = []
            for begin in range(0, len(train), args.batch):
                chunk = train[begin:begin + args.batch]
                feeds, gold = encode(chunk, spec, args.batch)
                states = model.bert(**{k: torch.from_numpy(v) for k, v in feeds[0].items()
                                       if k in ("input_ids", "attention_mask", "token_type_ids")}).last_hidden_state
                cached.append((states, torch.from_numpy(feeds[0]["attention_mask"]).bool(),
                               torch.from_numpy(answer_positions(chunk, gold.offsets))))
        optimiser = torch.optim.Adam(model.qa_outputs.parameters(), lr=1e-2)
        for step in range(1, args.steps + 1):  # a pass over the cached batches per step: milliseconds each
            loss = 0.0
            for states, keep, target in cached:
                start_logits, end_logits = task_head(model)(states)
                start_logits, end_logits = (x.masked_fill(~keep, -1e4) for x in (start_logits, end_logits))
                loss = loss + (torch.nn.functional.cross_entropy(start_logits, target[:, 0])
                               + torch.nn.functional.cross_entropy(end_logits, target[:, 1])) / 2
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        args.steps = 0  # the encoder stays as it is: the loop below does not run
    if args.upper_only:  # the upper layers learn to align question and passage; backward stops below them
        for name, param in model.named_parameters():
            layer = name.split("encoder.layer.")[1].split(".")[0] if "encoder.layer." in name else None
            param.requires_grad_(name.startswith("qa_outputs") or (layer is not None and int(layer) >= args.deformer))
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: max(0.0, 1 - s / max(args.steps, 1)))
    model.train()
    order, losses = [], []
    while step < args.steps and time.time() - start_time < args.budget_s:
        if len(order) < args.batch:
            order = list(range(len(train)))
            rng.shuffle(order)
        chunk = [train[i] for i in order[: args.batch]]
        order = order[args.batch:]
        feeds, gold = encode(chunk, spec, args.batch)
        target = torch.from_numpy(answer_positions(chunk, gold.offsets))
        start_logits, end_logits = forward(feeds[0], spec)
        loss = (torch.nn.functional.cross_entropy(start_logits, target[:, 0])
                + torch.nn.functional.cross_entropy(end_logits, target[:, 1])) / 2
        if teacher is not None:  # half gold spans, half the teacher's distributions
            keep = torch.from_numpy(feeds[0]["attention_mask"]).bool()
            loss = (loss + distillation((start_logits, end_logits), feeds[0], keep)) / 2
        loss.backward()
        losses.append(loss.item())
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        step += 1
        if step % 20 == 0 or step == args.steps:
            spent = time.time() - start_time
            print(f"step {step}/{args.steps} loss {loss.item():.3f} {spent:.0f} s", file=sys.stderr, flush=True)
    seconds = time.time() - start_time
    model.eval()

    def evaluate(decomposed):
        with torch.no_grad():
            feeds, gold = (encode_deformer(tokenizer, test, decomposed, SEQ_LEN) if decomposed
                           else encode_pairs(tokenizer, test, ("input_ids", "attention_mask", "token_type_ids"),
                                             SEQ_LEN))
            outs = [forward(f, decomposed) for f in feeds]
        return {k: round(v, 2) for k, v in scores([o[0].numpy() for o in outs], [o[1].numpy() for o in outs],
                                                   gold).items()}

    full = evaluate(None)
    lower = args.deformer or min(4, model.config.num_hidden_layers - 1)  # the recipes' split: 4 of 6
    split_scores = {lower: evaluate(DecomposeSpec(lower_layers=lower, question_len=QUESTION_LEN))}
    out = Path(args.out)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    source_tok = embedded_dir("all-minilm-l6-v2")
    for name in ("vocab.txt", "special_tokens_map.json"):  # transformers 5 writes only tokenizer.json
        if not (out / name).exists() and (source_tok / name).exists():
            (out / name).write_bytes((source_tok / name).read_bytes())
    card = {"task": TASK, "train_questions": len(train), "test_questions": len(test), "seed": SEED,
            "disjoint_from": ["oanc-parity-258", "oanc-calibration-129", "compress distillation text",
                              "the task's own parity and calibration pairs"],
            "init": str(args.init) if args.init else "all-MiniLM-L6-v2 (embedded)",
            "mode": ("qa_outputs only (encoder frozen)" if args.head_only else
                     f"layers {args.deformer}+ and qa_outputs (lower layers frozen)" if args.upper_only else "full fine-tune"),
            "fine_tuned_decomposed": ({"lower_layers": args.deformer, "question_len": QUESTION_LEN}
                                      if args.deformer else None),
            "distilled_from": ({"teacher": str(args.teacher), "temperature": args.temperature,
                                "loss": "(cross-entropy on gold spans + T^2 KL to the teacher's undecomposed "
                                        "start/end distributions on the same inputs) / 2"}
                               if args.teacher else None),
            "steps": step, "batch": args.batch, "lr": args.lr, "layers": model.config.num_hidden_layers,
            "seconds": round(seconds, 1),
            "loss_first_last_tenth": ([round(sum(part) / len(part), 3) for part in
                                       (losses[:max(1, len(losses) // 10)], losses[-max(1, len(losses) // 10):])]
                                      if losses else None),
            "machine": f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[1]:.1f} over 5 minutes at the end",
            "test_full": full, "test_deformer_split": {str(k): v for k, v in split_scores.items()}}
    card["runs"] = [*runs_of(Path(args.init)), {k: card[k] for k in RUN_FIELDS}] if args.init else [
        {k: card[k] for k in RUN_FIELDS}]
    (out / "mobilecomp_finetune.json").write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(card))


if __name__ == "__main__":
    main()
