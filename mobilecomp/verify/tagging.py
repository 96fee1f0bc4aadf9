"""Labelled data for token classifiers: CoNLL-style files, and labels on each word's first subword."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..files import DATA_LIMIT, lines, read_bytes
from ..inputs import Feed
from ..text import plain
# the split lives with the data compress trains on; imported here for the examples', tests' and bench's callers
from ..tasks import POS_TEST, oanc_pos_split  # noqa: F401

FIX = "CoNLL style: one 'token TAG' a line (the tag is the last column), a blank line between sentences"
IGNORED = -100  # label id of positions that are not scored (later subwords, special tokens, padding)


@dataclass(frozen=True)
class TaggedData:
    """Sentences as words, each word with its gold tag, and where each tag first appears."""

    path: str
    sha256: str
    words: tuple[tuple[str, ...], ...]
    tags: tuple[tuple[str, ...], ...]
    first_line: dict[str, int]  # tag -> line it first appears on (to name it when the model lacks it)

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def sentences(self) -> tuple[str, ...]:
        """The sentences as text (words joined by spaces): what check_tokens screens."""
        return tuple(" ".join(w) for w in self.words)

    def describe(self) -> dict:
        return {"name": self.name, "sha256": self.sha256, "examples": len(self.words), "format": "conll",
                "words": sum(len(w) for w in self.words), "tags": sorted(self.first_line)}


@dataclass(frozen=True)
class TaggedGold:
    """Gold label ids aligned with the encoded feeds (IGNORED where nothing is scored)."""

    label_ids: list[np.ndarray]  # one (batch, sequence) array per feed
    tags: tuple[str, ...]  # label id -> tag, the model's own labels
    truncated_words: int  # words past max_len: not scored


def read_conll(path: str | Path) -> TaggedData:
    """A CoNLL-style file: ``token TAG`` per line (whitespace separated; more columns are allowed and
    the tag is the last, as in CoNLL-2003), blank lines between sentences, ``-DOCSTART-`` lines
    skipped. Anything else is one DataError naming the file and line."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{path}: no such file (--eval-data for a token classifier takes a CoNLL file: {FIX})")
    raw = read_bytes(file, DataError, f"--eval-data takes a CoNLL file ({FIX})", DATA_LIMIT)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; {FIX}") from None
    words, tags, first_line = [], [], {}
    sentence_words, sentence_tags = [], []
    for lineno, line in enumerate([*lines(text), ""], 1):
        plain(line, f"{path}:{lineno}", FIX)
        fields = line.split()
        if fields and fields[0] == "-DOCSTART-":
            continue
        if not fields:
            if sentence_words:
                words.append(tuple(sentence_words))
                tags.append(tuple(sentence_tags))
                sentence_words, sentence_tags = [], []
            continue
        if len(fields) < 2:
            raise DataError(f"{path}:{lineno}: expected 'token TAG', got one field {fields[0][:30]!r}; {FIX}")
        sentence_words.append(fields[0])
        sentence_tags.append(fields[-1])
        first_line.setdefault(fields[-1], lineno)
    if not words:
        raise DataError(f"{path}: no tagged sentences; {FIX}")
    return TaggedData(str(path), hashlib.sha256(raw).hexdigest(), tuple(words), tuple(tags), first_line)


def model_tags(module) -> tuple[str, ...]:
    """The label names of a wrapped transformers model (config.json id2label), by id."""
    config = module.model.config
    return tuple(str(config.id2label[i]) for i in range(config.num_labels))


def encode_tagged(tokenizer, data: TaggedData, input_names: tuple[str, ...], max_len: int,
                  tags: tuple[str, ...], batch_size: int = 32) -> tuple[list[Feed], TaggedGold]:
    """Feeds of the words (split into subwords) and the gold ids on each word's first subword; a tag
    the model does not have is one DataError naming the line it first appears on."""
    label_of = {tag: i for i, tag in enumerate(tags)}
    unknown = sorted((data.first_line[t], t) for t in data.first_line if t not in label_of)
    if unknown:
        line, tag = unknown[0]
        shown = ", ".join(tags[:12]) + (", ..." if len(tags) > 12 else "")
        raise DataError(f"{data.path}:{line}: tag {tag!r} is not one of the model's {len(tags)} labels "
                        f"({shown}); evaluate with data tagged in the model's tag set")
    if not getattr(tokenizer, "is_fast", False):
        raise DataError(f"{data.path}: a token classifier's labels need a fast tokenizer (tokenizer.json) to "
                        "map words to subwords")
    feeds, label_ids, truncated = [], [], 0
    for start in range(0, len(data.words), batch_size):
        chunk = [list(w) for w in data.words[start:start + batch_size]]
        enc = tokenizer(chunk, is_split_into_words=True, padding="longest", truncation=True,
                        max_length=max_len, return_tensors="np")
        feeds.append({name: np.asarray(enc[name], dtype=np.int64) for name in input_names})
        ids = np.full(enc["input_ids"].shape, IGNORED, dtype=np.int64)
        for row, sentence_tags in enumerate(data.tags[start:start + batch_size]):
            seen = set()
            for position, word in enumerate(enc.word_ids(batch_index=row)):
                if word is not None and word not in seen:
                    seen.add(word)
                    ids[row, position] = label_of[sentence_tags[word]]
            truncated += len(sentence_tags) - len(seen)
        label_ids.append(ids)
    return feeds, TaggedGold(label_ids, tags, truncated)


def write_conll(path: Path, sentences) -> None:
    """(words, tags) sentences as a CoNLL file: ``word TAG`` lines, a blank line after each sentence."""
    with open(path, "w", encoding="utf-8") as fh:
        for words, tags in sentences:
            fh.writelines(f"{w} {t}\n" for w, t in zip(words, tags))
            fh.write("\n")
