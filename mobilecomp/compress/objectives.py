"""Per recipe head, what a student learns and how it is judged: the task's data, the teacher's
targets on it, the distillation loss and the held-out metric. One registered class per head that
compress trains; fill-mask has none (no trained masked-LM teacher exists here).

- classifier: Pang & Lee polarity; KD on the sequence logits + CE; held-out accuracy.
- token-classifier: the OANC POS split (mobilecomp.tasks), labels on each word's first subword;
  per-token KD over the labelled positions + CE; held-out token accuracy.
- question-answering: OANC cloze-QA (mobilecomp.tasks), pair encoding; KD on the start and end
  distributions over real tokens + CE on the gold positions; held-out EM/F1.
- encoder: the unlabelled OANC distillation text; 1 - cosine to the teacher's sentence embedding
  (the recipe's pooling); held-out mean cosine to the teacher.

Token-level targets are per teacher token, so these heads need a student that reads the teacher's
tokenizer (the methods that keep it list them in their HEADS).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from .data import Batch, TaskData, TeacherOutputs, accuracy, batches, cached_outputs, layer_states, task_data
from .train import distill_loss

IGNORED = -100  # cross-entropy's ignore_index: the label of unscored positions (as verify.tagging writes them)
# training questions: about what a 3-layer student gets through once in 300 s on two shared cores (~4 s a
# step of 16 pairs), and the teacher's outputs on them take minutes, not the quarter hour all 6,000 would
QA_TRAIN = 1000
ENCODER_TEST = 400  # held-out sentences after the distilled ones
HELD = ("oanc-parity-258", "oanc-calibration-129", "the 4,000 distilled OANC sentences")  # what the tasks leave out


@dataclass(frozen=True)
class Objective:
    head: str
    metric: str  # the held-out metric in words (the card's "metric")
    eval_data: str | None  # what export's --eval-data takes for this task (the CLI's next step)

    def data(self, limit: int) -> TaskData:
        raise NotImplementedError

    def batches(self, ctx, tokenizer):
        """A function of the epoch yielding shuffled training Batches for ``tokenizer``."""
        raise NotImplementedError

    def loss(self, out, batch: Batch, ctx):
        """(loss, named float parts) of the student's transformers output ``out`` on ``batch``."""
        raise NotImplementedError

    def evaluate(self, model, tokenizer, ctx, forward=None) -> dict[str, float]:
        """The held-out metric of ``model`` (the student or the teacher) on ctx.data.test."""
        raise NotImplementedError


@dataclass(frozen=True)
class Polarity(Objective):
    def data(self, limit):
        return task_data(limit)

    def batches(self, ctx, tokenizer):
        return batches([t for t, _ in ctx.data.train], [y for _, y in ctx.data.train], ctx.train_targets,
                       tokenizer, ctx.spec.batch, ctx.spec.max_len, ctx.spec.seed)

    def loss(self, out, batch, ctx):
        return distill_loss(out.logits, batch.teacher_logits, batch.labels, ctx.spec.temperature, ctx.spec.alpha)

    def evaluate(self, model, tokenizer, ctx, forward=None):
        return {"accuracy": accuracy(model, tokenizer, ctx.data.test, ctx.spec.max_len, forward)}


@dataclass
class Encoded:
    """Rows tokenised once by the teacher's tokenizer, padded to the longest; the gold per row."""

    arrays: dict[str, np.ndarray]  # input name -> (rows, length) int64
    gold: np.ndarray | None  # token-classifier: (rows, length) tag ids; question answering: (rows, 2) positions


@dataclass
class Targets:
    encoded: Encoded
    teacher: TeacherOutputs  # logits: the head's output per row (per token: (rows, length, ...))


@dataclass(frozen=True)
class Distilled(Objective):
    """The heads whose rows are tokenised once and whose teacher targets are the head's own outputs."""

    per_token: bool = True  # the target has a sequence axis (axis 1), cut with the batch
    labels_per_token = False  # the gold has one (cut with the batch too)

    def head_of(self, ctx):
        from ..load.heads import head_for

        return head_for(self.head, ctx.recipe.pooling)

    def encode(self, ctx, rows) -> Encoded:
        raise NotImplementedError

    def target(self, outputs: dict[str, Any]):
        """The teacher target from the head's outputs (torch tensors, by name)."""
        raise NotImplementedError

    def targets(self, ctx) -> Targets:
        """The training rows encoded and the teacher's outputs on them (cached on disk per teacher)."""
        import torch

        encoded = self.encode(ctx, ctx.data.train)
        head = self.head_of(ctx)
        digest = hashlib.sha256(b"".join(a.tobytes() for a in encoded.arrays.values())).hexdigest()

        def compute() -> TeacherOutputs:
            logits, cls, mean = [], [], []
            with torch.no_grad():
                for enc in _chunks(encoded.arrays, range(len(encoded.arrays["input_ids"])), 64):
                    out = ctx.teacher(**enc, output_hidden_states=True)
                    value = self.target(head.select(out, enc["attention_mask"])).float().numpy()
                    if self.per_token:  # back to the common length: batches cut it again
                        pad = [(0, 0)] * value.ndim
                        pad[1] = (0, encoded.arrays["input_ids"].shape[1] - value.shape[1])
                        value = np.pad(value, pad)
                    logits.append(value.astype(np.float16))
                    c, m = layer_states(out, enc["attention_mask"])
                    cls.append(c)
                    mean.append(m)
            return TeacherOutputs(np.concatenate(logits), np.concatenate(cls), np.concatenate(mean))

        teacher = cached_outputs([ctx.teacher_sha, repr(head), digest], compute, ctx.log,
                                 f"teacher outputs on {len(ctx.data.train)} {head.rows}")
        return Targets(encoded, teacher)

    def batches(self, ctx, tokenizer):
        """Batches of the rows as the teacher's tokenizer encoded them (the methods that train these heads
        keep it, so ``tokenizer`` is the same)."""
        import torch

        targets = ctx.task_targets
        arrays, gold, teacher = targets.encoded.arrays, targets.encoded.gold, targets.teacher
        spec = ctx.spec

        def epoch_batches(epoch: int):
            order = list(range(len(arrays["input_ids"])))
            random.Random(spec.seed * 1000 + epoch).shuffle(order)
            for start in range(0, len(order), spec.batch):
                idx = order[start:start + spec.batch]
                enc = next(_chunks(arrays, idx, len(idx)))
                width = enc["input_ids"].shape[1]
                labels = gold[idx] if gold is not None else None
                if self.labels_per_token:
                    labels = labels[:, :width]
                logits = teacher.logits[idx][:, :width] if self.per_token else teacher.logits[idx]
                yield Batch(enc, torch.from_numpy(labels) if labels is not None else None,
                            torch.from_numpy(logits).float(), torch.from_numpy(teacher.cls[idx]).float(),
                            torch.from_numpy(teacher.mean[idx]).float())

        return epoch_batches

    def outputs_of(self, model, ctx):
        """``feed`` (numpy arrays) -> the head's outputs as numpy arrays, from ``model`` in eval mode."""
        import torch

        head = self.head_of(ctx)
        model.eval()

        def run(feed):
            with torch.no_grad():
                enc = {k: torch.from_numpy(v) for k, v in feed.items()}
                return {k: v.float().numpy() for k, v in head.forward(model, enc, enc["attention_mask"]).items()}

        return run


@dataclass(frozen=True)
class Labelled(Distilled):
    """Heads with labelled rows, encoded and scored by the head as export's --eval-data is."""

    def labelled(self, ctx, tokenizer, rows, batch_size: int = 32):
        return self.head_of(ctx).labelled_feeds(tokenizer, ctx.teacher.config, rows, ctx.spec.max_len, batch_size)

    def encode(self, ctx, rows):
        feeds, gold = self.labelled(ctx, ctx.teacher_tokenizer, rows, batch_size=max(1, len(rows)))
        return Encoded(feeds[0], self.gold_of(rows, gold))

    def gold_of(self, rows, gold) -> np.ndarray:
        """The training labels of ``rows`` from the head's gold."""
        raise NotImplementedError

    def evaluate(self, model, tokenizer, ctx, forward=None):
        head = self.head_of(ctx)
        feeds, gold = self.labelled(ctx, tokenizer, ctx.data.test)
        run = self.outputs_of(model, ctx)
        outputs = [run(feed) for feed in feeds]
        return head.score({name: [o[name] for o in outputs] for name in head.outputs}, gold)


@dataclass(frozen=True)
class Tagging(Labelled):
    labels_per_token = True

    def data(self, limit):
        from ..tasks import oanc_pos_split

        train, test = oanc_pos_split()
        if limit:
            train, test = train[:limit], test[:limit]
        return TaskData(train, test, [], "OANC part-of-speech tagging, Penn tags (mobilecomp.tasks.oanc_pos_split)",
                        (*HELD, "POS test split"))

    def gold_of(self, rows, gold):
        return gold.label_ids[0]

    def target(self, outputs):
        return outputs["logits"]

    def loss(self, out, batch, ctx):
        scored = batch.labels != IGNORED
        return distill_loss(out.logits[scored], batch.teacher_logits[scored], batch.labels[scored],
                            ctx.spec.temperature, ctx.spec.alpha)


@dataclass(frozen=True)
class ClozeQA(Labelled):
    def data(self, limit):
        from ..tasks import cloze_qa_split

        split = cloze_qa_split()
        train, test = list(split["train"][:QA_TRAIN]), list(split["test"])
        if limit:
            train, test = train[:limit], test[:limit]
        return TaskData(train, test, [], "OANC cloze-QA (mobilecomp.tasks.cloze_qa_split; first "
                                         f"{QA_TRAIN} training questions)",
                        (*HELD, "cloze-QA test, parity and calibration pairs"))

    def gold_of(self, rows, gold):
        return answer_positions(rows, gold.offsets)

    def target(self, outputs):
        import torch

        return torch.stack([outputs["start_logits"], outputs["end_logits"]], -1)

    def loss(self, out, batch, ctx):
        real = batch.enc["attention_mask"].bool()
        total, parts = 0.0, {}
        for i, (name, logits) in enumerate((("start", out.start_logits), ("end", out.end_logits))):
            # padding gets no probability from either side: the distributions are over real tokens
            student = logits.masked_fill(~real, -1e4)
            teacher = batch.teacher_logits[..., i].masked_fill(~real, -1e4)
            loss, named = distill_loss(student, teacher, batch.labels[:, i], ctx.spec.temperature, ctx.spec.alpha)
            total = total + loss / 2
            parts.update({f"{name}_{k}": v for k, v in named.items()})
        return total, parts


def answer_positions(rows, offsets) -> np.ndarray:
    """(rows, 2): the tokens holding each example's first answer's first and last character (0, 0:
    [CLS], where truncation cut the answer off)."""
    positions = np.zeros((len(rows), 2), dtype=np.int64)
    for row, (example, where) in enumerate(zip(rows, offsets)):
        first, last = example.answer_start, example.answer_start + len(example.answers[0]) - 1
        starts = np.flatnonzero((where[:, 0] <= first) & (first < where[:, 1]))
        ends = np.flatnonzero((where[:, 0] <= last) & (last < where[:, 1]))
        if len(starts) and len(ends):
            positions[row] = starts[0], ends[0]
    return positions


@dataclass(frozen=True)
class Embedding(Distilled):
    per_token: bool = False

    def data(self, limit):
        from ..text import DISTILLED, distilled_sentences

        train = distilled_sentences(limit or DISTILLED)
        test = distilled_sentences(DISTILLED + ENCODER_TEST)[DISTILLED:]
        return TaskData(train, test[:limit] if limit else test, [],
                        "the teacher's sentence embeddings on unlabelled OANC text (no labels); test: the "
                        f"{ENCODER_TEST} distillation-corpus sentences after the {DISTILLED} distilled on",
                        ("oanc-parity-258", "oanc-calibration-129"))

    def encode(self, ctx, rows):
        enc = ctx.teacher_tokenizer(list(rows), padding=True, truncation=True, max_length=ctx.spec.max_len,
                                    return_tensors="np")
        return Encoded({name: np.asarray(enc[name], dtype=np.int64) for name in enc}, None)

    def target(self, outputs):
        return outputs["sentence_embedding"]

    def loss(self, out, batch, ctx):
        import torch.nn.functional as F

        student = self.head_of(ctx).select(out, batch.enc["attention_mask"])["sentence_embedding"]
        cosine = F.cosine_similarity(student, batch.teacher_logits, dim=-1).mean()
        return 1 - cosine, {"cosine": float(cosine.detach())}

    def evaluate(self, model, tokenizer, ctx, forward=None):
        from ..metrics import row_cosines

        encoded = self.encode(ctx, ctx.data.test)
        rows = range(len(ctx.data.test))
        student, teacher = self.outputs_of(model, ctx), self.outputs_of(ctx.teacher, ctx)
        cosines = [row_cosines(student(f)["sentence_embedding"], teacher(f)["sentence_embedding"])
                   for f in _chunks(encoded.arrays, rows, 64, numpy=True)]
        return {"cosine_to_teacher": float(np.concatenate(cosines).mean())}


def _chunks(arrays: dict[str, np.ndarray], rows, size: int, numpy: bool = False):
    """The ``rows`` of ``arrays`` in chunks of ``size``, each cut to its longest real row (torch
    tensors, or numpy arrays)."""
    import torch

    rows = list(rows)
    for start in range(0, len(rows), size):
        idx = rows[start:start + size]
        width = max(1, int(arrays["attention_mask"][idx].sum(1).max()))
        chunk = {name: a[idx][:, :width] for name, a in arrays.items()}
        yield chunk if numpy else {name: torch.from_numpy(np.ascontiguousarray(a)) for name, a in chunk.items()}


OBJECTIVES: dict[str, Objective] = {o.head: o for o in (
    Polarity("classifier", "held-out accuracy (Pang & Lee polarity test split)", "models/polarity/test.tsv"),
    Tagging("token-classifier", "held-out token accuracy on first subwords (OANC POS, Penn tags)",
            "models/pos/test.conll"),
    ClozeQA("question-answering", "held-out SQuAD exact match (accuracy) and F1 of the decoded answer "
                                  "(OANC cloze-QA)", "models/qa/test.jsonl"),
    Embedding("encoder", "held-out mean cosine of the sentence embedding to the teacher's (no labels)", None),
)}
NO_OBJECTIVE = {"fill-mask": "no trained masked-LM teacher exists here (the only masked-LM head, "
                             "models/minilm-l6-random-mlm-head, is random)"}


def objective_for(head: str, where: str) -> Objective:
    if head not in OBJECTIVES:
        why = NO_OBJECTIVE.get(head, "it has no task here")
        raise ConfigError(f"{where}: compress cannot train a head: {head} student: {why}; heads compress trains: "
                          f"{', '.join(OBJECTIVES)}")
    return OBJECTIVES[head]
