"""Extractive question answering: splits of the OANC cloze-QA task (built in mobilecomp.tasks), the
--eval-data JSONL reader, (question, passage) encoding with each token's characters in the passage,
and EM/F1 of decoded spans against gold answers.

The task is extractive QA on real text, but easier than SQuAD: the question restates its sentence
word for word.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..files import read_bytes, read_jsonl, DATA_LIMIT
from ..inputs import Feed
from ..text import plain
from .decode import answer_f1, best_span, exact_match, passage_tokens
# the built task lives with the data compress trains on; imported here for verify's and the examples' callers
from ..tasks import SPLIT, TASK, QAExample, cloze_qa_split, noun_phrases  # noqa: F401

MAX_ANSWER_LEN = 30  # tokens: SQuAD's usual decoding bound


@dataclass(frozen=True)
class QAData:
    """Labelled (question, passage) pairs: --eval-data, or a split of the built task."""

    name: str
    sha256: str
    examples: tuple[QAExample, ...]

    @property
    def sentences(self) -> tuple[str, ...]:  # the first texts of each pair (check_tokens screens both)
        return tuple(e.question for e in self.examples)

    @property
    def pairs(self) -> tuple[str, ...]:
        return tuple(e.context for e in self.examples)

    @property
    def labels(self) -> tuple[int, ...]:  # one per example: what counts report
        return tuple(e.answer_start for e in self.examples)

    def describe(self) -> dict:
        return {"name": self.name, "sha256": self.sha256, "examples": len(self.examples),
                "sentences": len(self.examples), "format": "qa-jsonl", "pairs": True}


def task_split(name: str, seed: int = 0) -> QAData:
    """One split of the built task as labelled data (its sha256 over the examples' JSONL)."""
    examples = cloze_qa_split(seed)[name]
    return QAData(f"oanc-cloze-qa-{name}-{len(examples)}", hashlib.sha256(jsonl(examples).encode()).hexdigest(),
                  examples)


def parity_pairs(path: str | None = None) -> QAData:
    """The pairs every QA artefact is checked on: the built task's parity split, or QA JSONL ``path``
    (--parity-text)."""
    return task_split("parity") if path is None else read_qa(path)


def calibration_pairs() -> QAData:
    """Pairs for calibration and sensitivity sweeps, disjoint from the parity, test and train pairs."""
    return task_split("calibration")


def jsonl(examples) -> str:
    """The --eval-data form of ``examples``: one JSON object a line."""
    import json

    return "".join(json.dumps({"question": e.question, "context": e.context, "answers": list(e.answers),
                               "answer_start": e.answer_start}) + "\n" for e in examples)


# ---- --eval-data ---------------------------------------------------------------------------

FIX = ("one JSON object a line: question, context (or passage), answer (a string) or answers (a list), "
       "answer_start (the first answer's character offset in the context)")


def read_qa(path: str | Path) -> QAData:
    """QA JSONL: question, context (or passage), answer or answers, answer_start. Every malformed
    line is refused with one DataError naming the file and line."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{path}: no such file (--eval-data takes QA JSONL: {FIX})")
    raw = read_bytes(file, DataError, FIX, DATA_LIMIT)
    examples = []
    for lineno, row in read_jsonl(file, DataError, FIX, required=("question", "answer_start")):
        where = f"{file}:{lineno}"
        unknown = sorted(set(row) - {"question", "context", "passage", "answer", "answers", "answer_start", "id"})
        if unknown:
            raise DataError(f"{where}: unknown key '{unknown[0]}'; {FIX}")
        if ("context" in row) == ("passage" in row):
            raise DataError(f"{where}: give one of context or passage; {FIX}")
        context = row.get("context", row.get("passage"))
        if ("answer" in row) == ("answers" in row):
            raise DataError(f"{where}: give one of answer or answers; {FIX}")
        answers = [row["answer"]] if "answer" in row else row["answers"]
        if not isinstance(answers, list) or not answers:
            raise DataError(f"{where}: answers must be a non-empty list of strings; {FIX}")
        texts = [row["question"], context, *answers]
        if not all(isinstance(t, str) for t in texts):
            raise DataError(f"{where}: question, context and answers must be strings; {FIX}")
        for text in texts:
            plain(text, where, "questions, passages and answers are plain text")
        if not row["question"].strip() or not context.strip() or not all(a.strip() for a in answers):
            raise DataError(f"{where}: empty question, context or answer; {FIX}")
        start = row["answer_start"]
        if isinstance(start, bool) or not isinstance(start, int):
            raise DataError(f"{where}: answer_start must be an integer; {FIX}")
        if start < 0 or context[start:start + len(answers[0])] != answers[0]:
            raise DataError(f"{where}: answer_start {start} does not point at the answer {answers[0][:40]!r} "
                            "in the context; fix answer_start")
        examples.append(QAExample(row["question"], context, tuple(answers), start))
    if not examples:
        raise DataError(f"{path}: no QA examples; {FIX}")
    return QAData(file.name, hashlib.sha256(raw).hexdigest(), tuple(examples))


# ---- encoding and scoring ------------------------------------------------------------------


@dataclass(frozen=True)
class QAGold:
    """What scoring needs beyond the logits: each row's token -> passage-character map and answers."""

    offsets: tuple[np.ndarray, ...]  # per example (sequence, 2): characters in the context; (-1, -1) elsewhere
    contexts: tuple[str, ...]
    answers: tuple[tuple[str, ...], ...]
    feeds: tuple[Feed, ...]  # the encoded batches (their input ids and masks give the passage tokens)


def encode_pairs(tokenizer, examples, input_names: tuple[str, ...], seq_len: int, batch_size: int = 16,
                 pad_to_max: bool = False) -> tuple[list[Feed], QAGold]:
    """The tokenizer's pair encoding (question, then passage truncated to fit ``seq_len``), batches
    padded to their longest (or to ``seq_len``), and the gold for ``scores``."""
    feeds, offsets = [], []
    for start in range(0, len(examples), batch_size):
        chunk = examples[start:start + batch_size]
        try:
            enc = tokenizer([e.question for e in chunk], [e.context for e in chunk], truncation="only_second",
                            max_length=seq_len, padding="max_length" if pad_to_max else "longest",
                            return_offsets_mapping=True,
                            return_token_type_ids=True if "token_type_ids" in input_names else None)
        except Exception as exc:  # noqa: BLE001 - tokenizers' Rust errors share no base class but Exception
            if "Truncation error" not in str(exc):
                raise
            raise ConfigError(f"seq_len {seq_len} leaves no room for a passage: a question and its special tokens "
                              f"fill it; raise seq_len (the shipped QA recipes use 384)") from None
        for row in range(len(chunk)):
            ids = enc.sequence_ids(row)
            offsets.append(np.array([o if s == 1 else (-1, -1) for o, s in zip(enc["offset_mapping"][row], ids)],
                                    dtype=np.int64))
        feeds.append({name: np.asarray(enc[name], dtype=np.int64) for name in input_names})
    return feeds, QAGold(tuple(offsets), tuple(e.context for e in examples), tuple(e.answers for e in examples),
                         tuple(feeds))


def encode_deformer(tokenizer, examples, spec, seq_len: int, batch_size: int = 16) -> tuple[list[Feed], QAGold]:
    """DeFormer's layout of (question, passage) pairs: [CLS] question [SEP] padded to
    ``spec.question_len`` (token type 0), then passage [SEP] padded to the rest of ``seq_len``
    (token type 1); full inputs with their question_* and passage_* slices. A question is never
    cut (a cut one asks something else): one that does not fit, or a seq_len that leaves no passage
    token, is a ConfigError naming the field."""
    from ..transform.deformer import split_feed

    q_len, p_len = spec.question_len, seq_len - spec.question_len
    if p_len < 2:  # a passage token and its [SEP]
        raise ConfigError(f"seq_len {seq_len} leaves no room for a passage after decompose.question_len {q_len}; "
                          f"raise seq_len to at least {q_len + 2} (the shipped DeFormer QA recipe uses 384 with "
                          "question_len 64)")
    questions = tokenizer([e.question for e in examples], add_special_tokens=False)["input_ids"] if examples else []
    longest = max(map(len, questions), default=0)
    if longest + 2 > q_len:
        raise ConfigError(f"decompose.question_len {q_len} cannot hold a question of {longest} tokens with its "
                          f"[CLS] and [SEP]; raise decompose.question_len to at least {longest + 2} (and seq_len "
                          "with it)")
    feeds, offsets = [], []
    for start in range(0, len(examples), batch_size):
        chunk = examples[start:start + batch_size]
        n = len(chunk)
        ids = np.full((n, seq_len), tokenizer.pad_token_id, dtype=np.int64)
        mask = np.zeros((n, seq_len), dtype=np.int64)
        types = np.zeros((n, seq_len), dtype=np.int64)
        types[:, q_len:] = 1
        for row, example in enumerate(chunk):
            p = tokenizer(example.context, add_special_tokens=False, truncation=True, max_length=p_len - 1,
                          return_offsets_mapping=True)
            question = [tokenizer.cls_token_id, *questions[start + row], tokenizer.sep_token_id]
            passage = [*p["input_ids"], tokenizer.sep_token_id]
            ids[row, :len(question)], mask[row, :len(question)] = question, 1
            ids[row, q_len:q_len + len(passage)], mask[row, q_len:q_len + len(passage)] = passage, 1
            where = np.full((seq_len, 2), -1, dtype=np.int64)
            where[q_len:q_len + len(p["offset_mapping"])] = p["offset_mapping"]
            offsets.append(where)
        feeds.append(split_feed({"input_ids": ids, "attention_mask": mask, "token_type_ids": types}, spec))
    return feeds, QAGold(tuple(offsets), tuple(e.context for e in examples), tuple(e.answers for e in examples),
                         tuple(feeds))


def decoded_spans(start_logits: list[np.ndarray], end_logits: list[np.ndarray], feeds,
                  max_answer_len: int = MAX_ANSWER_LEN) -> list[tuple[int, int]]:
    """best_span of every row, over its passage tokens (decode.passage_tokens)."""
    spans = []
    for starts, ends, feed in zip(start_logits, end_logits, feeds):
        allowed = passage_tokens(feed["input_ids"], feed["attention_mask"])
        for row in range(len(starts)):
            width = starts[row].shape[0]  # outputs may be cut to the batch's longest
            spans.append(best_span(starts[row], ends[row], allowed[row, :width], max_answer_len))
    return spans


def answer_texts(spans: list[tuple[int, int]], gold: QAGold) -> list[str]:
    """Each decoded token span as the passage's characters ('' for no span)."""
    texts = []
    for (start, end), where, context in zip(spans, gold.offsets, gold.contexts):
        texts.append("" if start < 0 else context[where[start][0]:where[end][1]])
    return texts


def scores(start_logits: list[np.ndarray], end_logits: list[np.ndarray], gold: QAGold) -> dict:
    """SQuAD EM ("accuracy") and F1 of the decoded answers against the gold ones, in percent."""
    predicted = answer_texts(decoded_spans(start_logits, end_logits, gold.feeds), gold)
    em = [max(exact_match(p, a) for a in answers) for p, answers in zip(predicted, gold.answers)]
    f1 = [max(answer_f1(p, a) for a in answers) for p, answers in zip(predicted, gold.answers)]
    return {"accuracy": float(np.mean(em) * 100), "f1": float(np.mean(f1) * 100)}
