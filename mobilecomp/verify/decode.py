"""Turns a head's raw outputs into the task's answer, the same way in Python and in the Android core
(android_demo/core): the best answer span for question answering, word labels from first subwords for a
token classifier, the top-k words at a mask for fill-mask."""

from __future__ import annotations

import numpy as np


def best_span(start_logits: np.ndarray, end_logits: np.ndarray, allowed: np.ndarray,
              max_answer_len: int) -> tuple[int, int]:
    """The token span (start, end), inclusive, that maximises start_logits[start] + end_logits[end]
    with start <= end < start + max_answer_len and both ends on ``allowed`` tokens (the passage's).
    Ties go to the smallest start, then the smallest end, so every runtime picks the same span.
    (-1, -1) when no token is allowed."""
    start_logits = np.asarray(start_logits, dtype=np.float64)
    end_logits = np.asarray(end_logits, dtype=np.float64)
    allowed = np.asarray(allowed, dtype=bool)
    if max_answer_len < 1:
        raise ValueError(f"max_answer_len must be at least 1, not {max_answer_len}")
    best, span = -np.inf, (-1, -1)
    positions = np.flatnonzero(allowed)
    for start in positions:
        ends = positions[(positions >= start) & (positions < start + max_answer_len)]
        # the sums themselves, not the best end logit: in float64 a tiny end difference can vanish in the sum
        scores = start_logits[start] + end_logits[ends]
        j = int(np.argmax(scores))  # the first maximum: the smallest end
        score = scores[j]
        if score > best:
            best, span = score, (int(start), int(ends[j]))
    return span


def passage_tokens(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """(batch, sequence) bool: the passage's tokens of (question, passage) pair inputs, the ones an
    answer may start and end on. Every pair encoding ends with the separator id ([SEP], </s>) and
    puts one between question and passage, so the passage is the real tokens after the first
    separator that are not separators; this holds for the tokenizer's pair encoding and for
    DeFormer's layout (question padded to its length, then the passage)."""
    ids, mask = np.asarray(input_ids), np.asarray(attention_mask).astype(bool)
    allowed = np.zeros(ids.shape, dtype=bool)
    for row in range(ids.shape[0]):
        real = np.flatnonzero(mask[row])
        if len(real) == 0:
            continue
        sep = ids[row, real[-1]]
        first = real[ids[row, real] == sep][0]
        allowed[row] = mask[row] & (ids[row] != sep) & (np.arange(ids.shape[1]) > first)
    return allowed


def span_f1(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Overlap F1 of two inclusive token spans (positions, not text): 1.0 for the same span, 0.0
    for disjoint ones or when either is (-1, -1)."""
    if min(a) < 0 or min(b) < 0:
        return float(a == b)
    overlap = min(a[1], b[1]) - max(a[0], b[0]) + 1
    if overlap <= 0:
        return 0.0
    precision, recall = overlap / (a[1] - a[0] + 1), overlap / (b[1] - b[0] + 1)
    return 2 * precision * recall / (precision + recall)


def normalize_answer(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    import re
    import string

    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised answers are equal (SQuAD EM)."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def answer_f1(prediction: str, gold: str) -> float:
    """SQuAD's word-overlap F1 of the normalised answers (1.0 when both normalise to nothing)."""
    from collections import Counter

    pred, truth = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not truth:
        return float(pred == truth)
    common = sum((Counter(pred) & Counter(truth)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(truth)
    return 2 * precision * recall / (precision + recall)


def first_subwords(word_ids) -> list[int]:
    """The token position of each word's first subword, in word order, from a fast tokenizer's
    ``word_ids()`` (None on special tokens and padding). A word cut off by truncation has none."""
    starts, seen = [], set()
    for position, word in enumerate(word_ids):
        if word is not None and word not in seen:
            seen.add(word)
            starts.append(position)
    return starts


def word_labels(logits: np.ndarray, starts) -> list[int]:
    """Per word, the label id with the highest logit at its first subword (``starts``: positions,
    from ``first_subwords``); ties go to the smaller id, as argmax does everywhere. Later subwords
    are never read: a tagger is trained and scored on first subwords only."""
    logits = np.asarray(logits)
    if logits.ndim != 2:
        raise ValueError(f"logits must be (tokens, labels), not shape {logits.shape}")
    for position in starts:
        if not 0 <= position < len(logits):
            raise ValueError(f"word start {position} is outside the {len(logits)} tokens")
    return [int(np.argmax(logits[position])) for position in starts]


def top_k(logits: np.ndarray, k: int) -> list[int]:
    """The ``k`` indices with the highest logits (all of them when k exceeds their number), highest
    first; ties go to the smaller index, so every runtime lists the same words in the same order."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 1:
        raise ValueError(f"logits must be one row, not shape {logits.shape}")
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    if np.isnan(logits).any():
        raise ValueError("logits hold NaN; no order of the words is defined")
    order = np.lexsort((np.arange(len(logits)), -logits))  # last key first: by logit, then by index
    return [int(i) for i in order[:k]]
