"""Agreement measures between a reference output and a candidate output."""

from __future__ import annotations

import numpy as np


def comparable(output: str, values: np.ndarray) -> np.ndarray:
    """What cosines are taken on: probabilities for logits (a near-tie's raw logits point
    anywhere, so their cosine says nothing), the output itself otherwise."""
    if output != "logits":
        return values
    shifted = np.exp(values - values.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def row_cosines(reference: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """Cosine between matching rows (one per sentence) of two [n, d] arrays."""
    ref = reference.astype(np.float64)
    cand = candidate.astype(np.float64)
    num = (ref * cand).sum(axis=1)
    den = np.linalg.norm(ref, axis=1) * np.linalg.norm(cand, axis=1)
    return num / np.maximum(den, 1e-30)


def _ranks(values: np.ndarray) -> np.ndarray:
    ranks = np.empty(len(values))
    ranks[np.argsort(values, kind="stable")] = np.arange(len(values))
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(_ranks(a), _ranks(b))[0, 1])


def pairwise_similarity_spearman(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Do the two sets of embeddings rank sentence pairs by similarity the same way?"""

    def sims(x: np.ndarray) -> np.ndarray:
        unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)
        return (unit @ unit.T)[np.triu_indices(len(x), k=1)]

    return spearman(sims(reference.astype(np.float64)), sims(candidate.astype(np.float64)))


# ---- token classification ---------------------------------------------------------------------


def real_tokens(attention_mask: np.ndarray) -> np.ndarray:
    """(batch, sequence) bools: the tokens that are text, not padding nor the special tokens every
    registered tokenizer puts around one sentence (the first position and the last real one)."""
    real = attention_mask.astype(bool).copy()
    if real.size:
        real[:, 0] = False
        last = attention_mask.astype(bool).sum(axis=1) - 1
        real[np.arange(len(real)), np.maximum(last, 0)] = False
    return real


def token_parity(reference: list[np.ndarray], candidate: list[np.ndarray], real: list[np.ndarray]) -> dict:
    """Per sentence, the cosine of its real tokens' logits (flattened); over all real tokens, the
    share whose argmax (the predicted tag) is the same. Raw logits, not probabilities: with tens of
    tags their direction is well defined, and a confident tag's probabilities would hide drift."""
    cosines, same, total = [], 0, 0
    for ref, cand, keep in zip(reference, candidate, real):
        if cand.shape != ref.shape:
            raise ValueError(f"output 'logits' has shape {cand.shape}, expected {ref.shape}")
        for i in range(len(ref)):
            r, c = ref[i][keep[i]], cand[i][keep[i]]
            cosines.append(row_cosines(r.reshape(1, -1), c.reshape(1, -1))[0] if len(r) else np.nan)
            same += int((r.argmax(-1) == c.argmax(-1)).sum())
            total += len(r)
    return {"cosines": np.asarray(cosines), "spearman": None, "top1": same / total if total else 0.0}


def is_bio(tags: tuple[str, ...] | list[str]) -> bool:
    """Tags in BIO (IOB2) form: O, B-TYPE, I-TYPE only, and at least one typed tag."""
    return any(t.startswith(("B-", "I-")) for t in tags) and all(t == "O" or t.startswith(("B-", "I-")) for t in tags)


def entities(tags: list[str]) -> set[tuple[int, int, str]]:
    """(start, end, type) spans of a BIO tag sequence; an I- that does not continue its type starts one."""
    spans, start, kind = set(), None, None
    for i, tag in enumerate([*tags, "O"]):
        inside = tag.startswith("I-") and kind == tag[2:]
        if start is not None and not inside:
            spans.add((start, i, kind))
            start, kind = None, None
        if tag.startswith("B-") or (tag.startswith("I-") and not inside):
            start, kind = i, tag[2:]
    return spans


def token_scores(outputs: list[np.ndarray], label_ids: list[np.ndarray], tags: tuple[str, ...]) -> dict:
    """Token accuracy over the scored positions (label id >= 0: each word's first subword) and,
    where ``tags`` (id -> name) are BIO, entity F1 over whole spans, both in percent."""
    correct = total = 0
    found = gold_n = hit = 0
    bio = is_bio(tags)
    for logits, labels in zip(outputs, label_ids):
        predicted = logits.argmax(-1)
        scored = labels >= 0
        correct += int((predicted[scored] == labels[scored]).sum())
        total += int(scored.sum())
        if bio:
            for row_pred, row_gold, keep in zip(predicted, labels, scored):
                want = entities([tags[t] for t in row_gold[keep]])
                got = entities([tags[t] for t in row_pred[keep]])
                found, gold_n, hit = found + len(got), gold_n + len(want), hit + len(want & got)
    result = {"accuracy": 100.0 * correct / max(total, 1)}
    if bio:
        result["f1"] = 200.0 * hit / max(found + gold_n, 1)
    return result
