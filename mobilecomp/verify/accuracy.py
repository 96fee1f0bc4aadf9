"""Task accuracy of an artefact on labelled data: GLUE-style TSV or JSONL (classifiers), CoNLL
(token classifiers, verify.tagging)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..files import DATA_LIMIT, lines, read_bytes, read_jsonl
from ..inputs import Feed
from ..text import plain
from ..types import AccuracyReport


@dataclass(frozen=True)
class LabelledData:
    name: str
    sha256: str
    sentences: tuple[str, ...]
    pairs: tuple[str, ...] | None  # second sentences, for pair tasks
    labels: tuple[int, ...]

    def describe(self) -> dict:
        return {"name": self.name, "sha256": self.sha256, "examples": len(self.labels),
                "pairs": self.pairs is not None, "classes": sorted(set(self.labels))}


def read_labelled(path: str | Path, num_labels: int) -> LabelledData:
    """``sentence[<TAB>sentence2]<TAB>label`` lines (an optional header), or JSONL with keys
    sentence, optional sentence2, label. Labels are integers 0..num_labels-1."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{path}: no such file (--data takes a .tsv or .jsonl of labelled sentences)")
    raw = read_bytes(file, DataError, "--data takes a .tsv or .jsonl of labelled sentences", DATA_LIMIT)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None
    rows = _jsonl(file) if file.suffix == ".jsonl" else _tsv(file, text)
    if not rows:
        raise DataError(f"{path}: no labelled examples")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise DataError(f"{path}: some examples have a second sentence and some do not; use one form")
    labels = []
    for i, row in enumerate(rows, start=1):
        label = row[-1]
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < num_labels:
            raise DataError(f"{path}: example {i} has label {label!r}; labels must be integers "
                            f"0..{num_labels - 1} (the recipe's num_labels)")
        labels.append(label)
    pairs = tuple(r[1] for r in rows) if widths == {3} else None
    return LabelledData(file.name, hashlib.sha256(raw).hexdigest(), tuple(r[0] for r in rows),
                        pairs, tuple(labels))


PAIR_COLUMNS = (("sentence", "sentence1"), ("sentence2",), ("label",))  # a GLUE-style header's names


def _columns(file: Path, header: list[str]) -> list[int] | None:
    """Where a header naming a sentence2 column (MRPC/MNLI-style files, extra columns allowed) has the
    first sentence, the second and the label; None for a file without such a header."""
    names = [h.strip().lower() for h in header]
    if "sentence2" not in names:
        return None
    where = []
    for choices in PAIR_COLUMNS:
        found = [names.index(c) for c in choices if c in names]
        if not found:
            raise DataError(f"{file}:1: the header names sentence2 but no {' or '.join(choices)} column; name the "
                            "columns sentence (or sentence1), sentence2 and label")
        where.append(found[0])
    return where


def _tsv(file: Path, text: str) -> list[tuple]:
    rows = []
    fix = "one labelled example a line, sentence[<TAB>sentence2]<TAB>label"
    columns = None
    for lineno, line in enumerate(lines(text), 1):
        fields = line.split("\t")
        if not "".join(fields).strip():
            continue
        for field in fields:
            plain(field, f"{file}:{lineno}", fix)
        if lineno == 1:
            columns = _columns(file, fields)
            if columns is not None:
                width = len(fields)
                continue
        if columns is not None:  # by the header's names
            if len(fields) != width:
                raise DataError(f"{file}:{lineno}: {len(fields)} fields where the header has {width}; "
                                "one example a line, a TAB between columns")
            fields = [fields[i] for i in columns]
        elif len(fields) not in (2, 3):
            raise DataError(f"{file}:{lineno}: expected sentence[<TAB>sentence2]<TAB>label, got {len(fields)} fields")
        try:
            label = int(fields[-1])
        except ValueError:
            if lineno == 1:  # a header row
                continue
            raise DataError(f"{file}:{lineno}: label {fields[-1]!r} is not an integer") from None
        if len(fields) == 3 and not (fields[0].strip() and fields[1].strip()):
            # an empty second text would be packed as a single sentence without a word said
            raise DataError(f"{file}:{lineno}: empty {'sentence' if not fields[0].strip() else 'sentence2'}; "
                            "every pair needs both sentences")
        rows.append((*fields[:-1], label))
    return rows


def _jsonl(file: Path) -> list[tuple]:
    rows = []
    for lineno, record in read_jsonl(file, DataError, "one JSON object a line: sentence, [sentence2,] label"):
        unknown = sorted(set(record) - {"sentence", "sentence2", "label"})
        if unknown or "sentence" not in record or "label" not in record:
            raise DataError(f"{file}:{lineno}: expected keys sentence, [sentence2,] label; got {sorted(record)}")
        if not all(isinstance(record.get(k, ""), str) for k in ("sentence", "sentence2")):
            raise DataError(f"{file}:{lineno}: sentence and sentence2 must be strings")
        for key in ("sentence", "sentence2"):
            plain(record.get(key, ""), f"{file}:{lineno}", "sentences are plain text")
        rows.append((record["sentence"], record["sentence2"], record["label"]) if "sentence2" in record
                    else (record["sentence"], record["label"]))
    return rows


def encode_labelled(tokenizer, data: LabelledData, input_names: tuple[str, ...], max_len: int,
                    batch_size: int = 32) -> list[Feed]:
    feeds = []
    for start in range(0, len(data.labels), batch_size):
        first = list(data.sentences[start:start + batch_size])
        second = list(data.pairs[start:start + batch_size]) if data.pairs else None
        enc = tokenizer(first, second, padding="longest", truncation=True, max_length=max_len,
                        return_tensors="np")
        feeds.append({name: np.asarray(enc[name], dtype=np.int64) for name in input_names})
    return feeds


def scores(logits: np.ndarray, labels: tuple[int, ...]) -> dict:
    """Accuracy, and F1 of class 1 for binary tasks, in percent."""
    predicted = logits.argmax(axis=1)
    truth = np.asarray(labels)
    result = {"accuracy": float((predicted == truth).mean() * 100)}
    if logits.shape[1] == 2:
        tp = int(((predicted == 1) & (truth == 1)).sum())
        fp = int(((predicted == 1) & (truth == 0)).sum())
        fn = int(((predicted == 0) & (truth == 1)).sum())
        result["f1"] = 200.0 * tp / max(2 * tp + fp + fn, 1)
    return result


def encode_eval(model, data, max_len: int) -> tuple[list[Feed], object]:
    """(feeds, gold) for a LoadedModel: what the head's ``scores`` takes as ``gold``."""
    from .tagging import TaggedData, encode_tagged, model_tags

    from .qa import QAData, encode_pairs

    if isinstance(data, TaggedData):
        return encode_tagged(model.tokenizer, data, model.input_names, max_len, model_tags(model.module))
    if isinstance(data, QAData):
        return encode_pairs(model.tokenizer, data.examples, model.input_names, max_len)
    return encode_labelled(model.tokenizer, data, model.input_names, max_len), data.labels


def eval_texts(data) -> tuple[str, ...]:
    """Every text of the labelled data (check_tokens screens them)."""
    return tuple(data.sentences) + tuple(getattr(data, "pairs", None) or ())


def accuracy_report(source: dict, mine: dict, data, max_drop: float | None) -> AccuracyReport:
    """The artefact's scores (``mine``, from the head's ``scores``) against the source's; over
    ``max_drop`` points is a failure."""
    drop = source["accuracy"] - mine["accuracy"]
    failures = [f"accuracy drop {drop:.2f} points > {max_drop:g}"] if max_drop is not None and drop > max_drop else []
    return AccuracyReport(data=data.describe(), accuracy=mine["accuracy"], f1=mine.get("f1"),
                          source_accuracy=source["accuracy"], drop_points=drop, max_drop=max_drop,
                          failures=failures)
