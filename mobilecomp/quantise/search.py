"""Sensitivity sweep and mixed-precision search, for any format: which layers to leave in float.

A *unit* is one layer (an ONNX MatMul, a TFLite fully-connected op) that a recipe can
quantise or keep in float. The caller gives a ``score(kept)`` function that builds the
configuration with the ``kept`` units in float and returns the head's score on tuning text
(never the parity corpus; Head.tuning_score: the encoder's is cos_min, the other heads' also hold
their agreement numbers against the budget), and each unit's weight (its MACs; the latency a
unit saves when quantised is taken as its share of the measured float-minus-int8 time).

- ``sensitivity``: per unit, the parity cost of quantising it (the score gained when only
  it is kept in float, everything else quantised).
- ``search``: keeps units in float, best parity gained per millisecond given up first, until
  the score clears the target; then drops any kept unit the target does not need, most
  expensive first. The result is the fastest configuration found that meets the target,
  or, when none does, the closest one (``met`` False).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

Score = Callable[[frozenset[str]], float]


@dataclass
class SearchResult:
    target: float
    quantised_score: float  # every unit quantised
    reached: float  # the chosen configuration's score
    kept: list[str]  # units left in float
    met: bool
    gains: dict[str, float]  # unit -> cos_min gained by keeping it alone in float
    saved_ms: dict[str, float]  # unit -> estimated latency it saves when quantised
    trials: int = 0
    steps: list[dict] = field(default_factory=list)

    def describe(self) -> dict:
        return {"target_cos_min": self.target, "all_int8_cos_min": self.quantised_score,
                "reached_cos_min": self.reached, "met": self.met, "kept_float": self.kept,
                "estimated_ms_given_up": sum(self.saved_ms.get(u, 0.0) for u in self.kept),
                "trials": self.trials, "steps": self.steps,
                "gain_by_node": dict(sorted(self.gains.items(), key=lambda kv: -kv[1])),
                "saved_ms_by_node": self.saved_ms}


def sensitivity(units: Iterable[str], score: Score, workers: int = 1,
                progress: Callable[[], None] = lambda: None) -> tuple[float, dict[str, float]]:
    """(score with every unit quantised, {unit: score gained by keeping only it in float}).

    The trials are independent, so ``workers`` threads score them at once; ``score`` must then be
    thread-safe (onnxruntime and LiteRT release the GIL while they run). ``progress`` is called
    after each trial."""
    units = list(units)

    def trial(kept: frozenset[str]) -> float:
        value = score(kept)
        progress()
        return value

    scores = _scores(trial, [frozenset()] + [frozenset([u]) for u in units], workers)
    base = scores[0]
    return base, {u: value - base for u, value in zip(units, scores[1:])}


def _scores(score: Score, configs: list[frozenset[str]], workers: int) -> list[float]:
    """``score`` of each configuration, ``workers`` at a time (in this thread when 1)."""
    if workers <= 1:
        return [score(kept) for kept in configs]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(score, configs))


def latency_saved(weights: dict[str, float], float_ms: float, quantised_ms: float) -> dict[str, float]:
    """Each unit's share of the measured float-minus-quantised time, by its weight (MACs)."""
    total = sum(weights.values()) or 1.0
    saved = max(float_ms - quantised_ms, 0.0)
    return {u: saved * w / total for u, w in weights.items()}


def search(units: list[str], score: Score, target: float, saved_ms: dict[str, float],
           gains: dict[str, float] | None = None, base: float | None = None,
           max_kept: int | None = None, rank_by_gain: bool = False, give_back: bool = True,
           workers: int = 1) -> SearchResult:
    """The fastest configuration found whose score is >= ``target`` (see the module doc).

    ``rank_by_gain`` ranks by parity gained alone (ignores latency); ``give_back`` False skips the
    final pass that drops kept units the target does not need (keeps the margin on other text).
    ``workers`` > 1 scores the next steps at once (each step keeps one unit more than the one
    before, so they do not depend on each other's scores); steps past the one that meets the
    target are dropped, so the result and its trials are the one-at-a-time search's."""
    trials = 0

    def scored(kept: frozenset[str]) -> float:
        nonlocal trials
        trials += 1
        return score(kept)

    if gains is None or base is None:
        base, gains = sensitivity(units, scored)
    max_kept = len(units) if max_kept is None else max_kept
    # parity per millisecond given up; a unit that saves ~nothing costs ~nothing to keep
    order = sorted(units, key=lambda u: gains[u] if rank_by_gain else gains[u] / max(saved_ms.get(u, 0.0), 1e-6),
                   reverse=True)
    useful = [u for u in order if gains[u] > 0][:max_kept]
    kept: list[str] = []
    reached, steps = base, []
    best = (base, [])
    step = max(workers, 1)
    for start in range(0, len(useful), step):
        if reached >= target:
            break
        chunk = useful[start:start + step]
        values = _scores(score, [frozenset(useful[:start + i + 1]) for i in range(len(chunk))], step)
        for unit, value in zip(chunk, values):
            if reached >= target:
                break
            kept.append(unit)
            trials += 1
            reached = value
            steps.append({"keep": unit, "score": reached})
            if reached > best[0]:
                best = (reached, list(kept))
    if reached < target:  # not met: report the closest configuration seen
        reached, kept = best
    elif give_back:  # met: give back any kept unit the target does not need, the costliest first
        for unit in sorted(kept, key=lambda u: saved_ms.get(u, 0.0), reverse=True):
            if len(kept) == 1:
                break
            trial = [u for u in kept if u != unit]
            value = scored(frozenset(trial))
            steps.append({"drop": unit, "score": value})
            if value >= target:
                kept, reached = trial, value
    return SearchResult(target=target, quantised_score=base, reached=reached, kept=kept,
                        met=reached >= target, gains=gains, saved_ms=saved_ms,
                        trials=trials, steps=steps)
