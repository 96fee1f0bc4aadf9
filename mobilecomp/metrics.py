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
