"""Task heads, one registered class each: the outputs a wrapped model returns, the transformers
class that builds it, what "same result" means for it (parity) and how it is scored on labels."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

POOLINGS = ("mean", "cls")  # encoder: how token states become one sentence embedding
COSINE_SCORE = "cos_min on tuning text"  # the encoder's search score, named as its records always have


@dataclass(frozen=True)
class Head:
    """One task: subclasses say how outputs are computed, compared and scored."""

    name: str
    outputs: tuple[str, ...]
    primary: str  # the output parity cosines and device checks are taken on
    suffix: str  # transformers class suffix: the architecture's class is its base-class prefix + this
    parity_metric: str  # in words, for reports
    accuracy_metric: str = ""  # in words; "" when the head has no labelled accuracy
    # Modules the built model has but the head's outputs never read: a checkpoint may lack them (the
    # encoder's mean pooling skips BERT's pooler). Every other tensor must come from the checkpoint.
    unused: tuple[str, ...] = ()
    per_token: tuple[str, ...] = ()  # outputs with a sequence axis: (batch, sequence, ...)
    takes_labels: bool = False  # built with the recipe's num_labels when the weights are random

    @property
    def uses_classifier(self) -> bool:
        """Built from the architecture's sequence-classification class."""
        return self.suffix == "ForSequenceClassification"

    def model_class(self, arch) -> str:
        return arch.task_class(self.suffix)

    def forward(self, model, inputs: dict[str, Any], keep) -> dict[str, Any]:
        """The head's outputs (torch tensors, by name) from the transformers ``model`` run on ``inputs``
        (by keyword) and the attention mask ``keep`` (batch, sequence; 1 on real tokens)."""
        return self.select(model(**inputs), keep)

    def select(self, out, keep) -> dict[str, Any]:
        """The head's outputs from a transformers output (see ``forward``)."""
        raise NotImplementedError

    def parity_feeds(self, feeds: list[dict[str, np.ndarray]], tokenizer) -> list[dict[str, np.ndarray]]:
        """The parity (and tuning) text as this head reads it: unchanged but for fill-mask."""
        return feeds

    def parity(self, reference: list[np.ndarray], candidate: list[np.ndarray],
               masks: list[np.ndarray]) -> dict[str, Any]:
        """Agreement of the primary output over feeds (one array each, ``masks`` their attention
        masks): ``cosines`` (one per sentence), and ``spearman`` and ``top1`` where they apply."""
        raise NotImplementedError

    def scores(self, outputs: list[np.ndarray], gold) -> dict[str, float]:
        """Accuracy (and F1 where the head has one) of the primary output against labels, in percent."""
        raise NotImplementedError(f"head {self.name} has no labelled accuracy")

    def compare(self, reference: dict[str, list[np.ndarray]], candidate: dict[str, list[np.ndarray]],
                feeds: list[dict[str, np.ndarray]]) -> dict[str, Any]:
        """``parity`` from all outputs and the feeds they were computed on (question answering
        decodes spans from two outputs over the passage tokens); by default the primary output's."""
        return self.parity(reference[self.primary], candidate[self.primary], [f.get("attention_mask") for f in feeds])

    def score(self, outputs: dict[str, list[np.ndarray]], gold) -> dict[str, float]:
        """``scores`` from all outputs by name; by default the primary output's."""
        return self.scores(outputs[self.primary], gold)

    # The budget fields besides cos_min that the sensitivity searches hold (cos_mean always): the
    # agreement numbers ``compare`` returns for this head
    agreement = ("top1",)

    @property
    def scored(self) -> tuple[str, ...]:
        """The outputs ``compare`` reads: what a search runs on each trial."""
        return (self.primary,)

    def tuning_score(self, reference: dict[str, list[np.ndarray]], candidate: dict[str, list[np.ndarray]],
                     feeds: list[dict[str, np.ndarray]], budget) -> float:
        """What a sensitivity search maximises, from ``compare`` on the tuning text (never the parity
        corpus): the lowest cosine, held under the budget's cos_min by the worst shortfall of cos_mean
        and ``agreement`` against the budget, so a trial whose agreement misses its budget (or clears it
        by less than the search's margin) never meets a target set above cos_min."""
        numbers = self.compare(reference, candidate, feeds)
        cos = np.nan_to_num(np.asarray(numbers["cosines"], dtype=np.float64), nan=-1.0)
        values = {"cos_mean": float(cos.mean()), **{name: numbers.get(name) for name in self.agreement}}
        margins = [value - getattr(budget, name) for name, value in values.items()
                   if value is not None and getattr(budget, name) is not None]
        score = float(cos.min())
        return min(score, budget.cos_min + min(margins)) if margins and budget.cos_min is not None else score

    def tuning_score_name(self, budget) -> str:
        """``tuning_score`` in words, for the search's recorded details."""
        held = [name for name in ("cos_mean", *self.agreement) if getattr(budget, name) is not None]
        return (f"{self.name} parity on tuning text: cos_min, held under the budget's cos_min by the worst "
                f"shortfall of {', '.join(held) or 'nothing'} against the budget ({self.parity_metric})")

    rows = "sentences"  # what one parity row is, in log lines

    def parity_texts(self, parity_text: str | None, recipe):
        """(parity corpus, calibration text): --parity-text or the shipped sentences, and the shipped
        calibration sentences. Sentence pairs are refused unless the head reads them."""
        from ..errors import DataError
        from ..text import calibration_corpus, parity_corpus

        corpus = parity_corpus(parity_text)
        if corpus.pairs is not None and (not self.uses_classifier or recipe.decompose is not None):
            raise DataError(f"--parity-text {parity_text}: sentence pairs (a TAB on each line) are for a classifier "
                            f"of pairs; {recipe.name} (head: {recipe.head}"
                            f"{', DeFormer' if recipe.decompose else ''}) reads single sentences")
        return corpus, calibration_corpus()

    def feeds(self, model, texts, seq_len: int, batch_size: int = 16, pad_to_max: bool = False) -> list:
        """``texts`` (parity or calibration) encoded as this head reads them, in batches padded to
        their longest (or to ``seq_len``)."""
        from ..inputs import encode

        return self.parity_feeds(encode(model.tokenizer, texts.sentences, model.input_names, seq_len,
                                        batch_size=batch_size, pad_to_max=pad_to_max, pairs=texts.pairs),
                                 model.tokenizer)

    def deformer_feeds(self, tokenizer, texts, spec, seq_len: int) -> tuple[list, str]:
        """(feeds in DeFormer's layout, what one row is in words): an encoder's sentences cut into
        (question, passage) pairs."""
        from ..transform import deformer

        return deformer.paired_feeds(tokenizer, texts.sentences, spec, seq_len), "(question, passage) pairs"

    def deformer_eval(self, tokenizer, labelled, spec, seq_len: int) -> tuple[list, Any]:
        """(feeds, gold) of labelled data in DeFormer's layout."""
        return self.deformer_feeds(tokenizer, labelled, spec, seq_len)[0], labelled.labels

    def labelled_feeds(self, tokenizer, config, rows, seq_len: int, batch_size: int = 32) -> tuple[list, Any]:
        """(feeds, gold) of the head's labelled task rows (mobilecomp.tasks), encoded as --eval-data is:
        what compress trains and scores a student of this head on (``scores``/``score`` read the gold)."""
        raise NotImplementedError(f"head {self.name} has no labelled task rows")

    def read_eval(self, path, num_labels: int):
        """The --eval-data file in this head's form: labelled TSV/JSONL sentences."""
        from ..verify.accuracy import read_labelled

        return read_labelled(path, num_labels)

    def details(self, model, recipe) -> dict:
        """What a device needs to read the head's outputs, for the manifest's model section."""
        return {}


@dataclass(frozen=True)
class EncoderHead(Head):
    pooling: str = "mean"

    def select(self, out, keep):
        states = out.last_hidden_state
        if self.pooling == "cls":
            return {"token_embeddings": states, "sentence_embedding": states[:, 0]}
        weights = keep.unsqueeze(-1).to(states.dtype)
        pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return {"token_embeddings": states, "sentence_embedding": pooled}

    def parity(self, reference, candidate, masks):
        from ..metrics import pairwise_similarity_spearman, row_cosines

        ref, cand = np.concatenate(reference), np.concatenate(candidate)
        return {"cosines": row_cosines(ref, cand), "top1": None,
                "spearman": pairwise_similarity_spearman(ref, cand) if len(ref) > 2 else None}

    def details(self, model, recipe):
        return {"pooling": recipe.pooling}

    def tuning_score(self, reference, candidate, feeds, budget):
        """The lowest cosine of the sentence embeddings alone (what the searches have always scored,
        which the default recipe's int8-accurate file depends on)."""
        from ..metrics import comparable, row_cosines

        ref, cand = np.concatenate(reference[self.primary]), np.concatenate(candidate[self.primary])
        return float(row_cosines(comparable(self.primary, ref), comparable(self.primary, cand)).min())

    def tuning_score_name(self, budget):
        return COSINE_SCORE


@dataclass(frozen=True)
class ClassifierHead(Head):
    def select(self, out, keep):
        return {"logits": out.logits}

    def parity(self, reference, candidate, masks):
        from ..metrics import comparable, row_cosines

        ref, cand = np.concatenate(reference), np.concatenate(candidate)
        return {"cosines": row_cosines(comparable("logits", ref), comparable("logits", cand)), "spearman": None,
                "top1": float((ref.argmax(1) == cand.argmax(1)).mean())}

    def scores(self, outputs, gold):
        from ..verify.accuracy import scores

        return scores(np.concatenate(outputs), gold)

    def deformer_feeds(self, tokenizer, texts, spec, seq_len):
        """Single sentences split at ``question_len`` (no second text to put beside them)."""
        from ..transform import deformer

        return (deformer.sentence_feeds(tokenizer, texts.sentences, spec, seq_len),
                f"sentences split at token {spec.question_len}")


@dataclass(frozen=True)
class TokenClassifierHead(Head):
    def select(self, out, keep):
        return {"logits": out.logits}

    def parity(self, reference, candidate, masks):
        from ..metrics import real_tokens, token_parity

        return token_parity(reference, candidate, [real_tokens(m) for m in masks])

    def scores(self, outputs, gold):
        from ..metrics import token_scores

        return token_scores(outputs, gold.label_ids, gold.tags)

    def labelled_feeds(self, tokenizer, config, rows, seq_len, batch_size=32):
        """(words, tags) sentences, labelled on first subwords with the ids of ``config``'s id2label."""
        from ..verify.tagging import TaggedData, encode_tagged

        tags = tuple(str(config.id2label[i]) for i in range(config.num_labels))
        first: dict[str, int] = {}  # tag -> sentence it first appears in, for the error naming it
        for number, (_, sentence_tags) in enumerate(rows, 1):
            for tag in sentence_tags:
                first.setdefault(tag, number)
        data = TaggedData("the OANC POS split, sentence", "", tuple(w for w, _ in rows), tuple(t for _, t in rows),
                          first)
        return encode_tagged(tokenizer, data, tuple(tokenizer.model_input_names), seq_len, tags, batch_size)

    def read_eval(self, path, num_labels):
        """CoNLL (one ``token TAG`` a line)."""
        from ..verify.tagging import read_conll

        return read_conll(path)

    def details(self, model, recipe):
        if not hasattr(model.module, "model"):  # an ONNX source: no tag names to read
            return {}
        from ..verify.tagging import model_tags

        return {"labels": list(model_tags(model.module)), "labelled_positions": "first subword of each word"}


@dataclass(frozen=True)
class FillMaskHead(Head):
    """Vocabulary logits at the first mask token of each sentence (batch, vocabulary): the masked-LM
    head runs on that one position only, so its cost is one row, not the whole sequence."""

    mask_token_id: int = 103  # the tokenizer's; load sets it
    k: int = 5  # top-k agreement: how many of the reference's best words the candidate must also list

    def forward(self, model, inputs, keep):
        import torch

        states = model.base_model(**inputs).last_hidden_state
        at = (inputs["input_ids"] == self.mask_token_id).to(torch.int32).argmax(1)  # no mask: position 0
        picked = states[torch.arange(states.shape[0]), at]
        return {"logits": mlm_logits(model, picked)}

    def parity(self, reference, candidate, masks):
        """Beside the classifier's numbers, ``topk``: the mean share of the reference's top-k words at
        the mask that the candidate's top-k also holds (the decoder the Android core ports)."""
        from ..metrics import comparable, row_cosines
        from ..verify.decode import top_k

        ref, cand = np.concatenate(reference), np.concatenate(candidate)
        shared = [len(set(top_k(r, self.k)) & set(top_k(c, self.k))) / min(self.k, len(r)) for r, c in zip(ref, cand)]
        return {"cosines": row_cosines(comparable("logits", ref), comparable("logits", cand)), "spearman": None,
                "top1": float((ref.argmax(1) == cand.argmax(1)).mean()), "topk": float(np.mean(shared)), "k": self.k}

    agreement = ("top1", "topk")

    def parity_feeds(self, feeds, tokenizer):
        """Each sentence with its middle real token replaced by the mask token (a fixed choice, so
        every artefact and device sees the same positions)."""
        from ..metrics import real_tokens

        masked = []
        for feed in feeds:
            ids = feed["input_ids"].copy()
            for row, real in enumerate(real_tokens(feed["attention_mask"])):
                positions = np.flatnonzero(real)
                if len(positions):
                    ids[row, positions[len(positions) // 2]] = tokenizer.mask_token_id
            masked.append({**feed, "input_ids": ids})
        return masked


@dataclass(frozen=True)
class QuestionAnsweringHead(Head):
    """Start and end logits over every token of a (question, passage) pair; the answer is the best
    span of passage tokens (verify.decode.best_span, at most ``max_answer_len`` tokens)."""

    max_answer_len: int = 30  # tokens: SQuAD's usual bound

    def select(self, out, keep):
        return {"start_logits": out.start_logits, "end_logits": out.end_logits}

    def parity(self, reference, candidate, masks):
        """Device checks hold the primary output only: cosine of start logits over real tokens."""
        from ..metrics import real_tokens, token_parity

        numbers = token_parity([r[..., None] for r in reference], [c[..., None] for c in candidate],
                               [real_tokens(m) for m in masks])
        return {**numbers, "top1": None}

    def compare(self, reference, candidate, feeds):
        """Per pair: cosine of (start, end) logits over its real tokens; ``top1`` the share of pairs
        whose decoded span is PyTorch's (span EM), ``span_f1`` the mean token-overlap F1 of the spans."""
        from ..verify.decode import span_f1
        from ..verify.qa import decoded_spans

        cosines = []
        for ref_start, ref_end, cand_start, cand_end, feed in zip(
                reference["start_logits"], reference["end_logits"], candidate["start_logits"],
                candidate["end_logits"], feeds):
            for row, keep in enumerate(feed["attention_mask"][:, :ref_start.shape[1]].astype(bool)):
                a = np.concatenate([ref_start[row][keep], ref_end[row][keep]]).astype(np.float64)
                b = np.concatenate([cand_start[row][keep], cand_end[row][keep]]).astype(np.float64)
                cosines.append(float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30)))
        ref_spans = decoded_spans(reference["start_logits"], reference["end_logits"], feeds, self.max_answer_len)
        cand_spans = decoded_spans(candidate["start_logits"], candidate["end_logits"], feeds, self.max_answer_len)
        return {"cosines": np.asarray(cosines), "spearman": None,
                "top1": float(np.mean([a == b for a, b in zip(ref_spans, cand_spans)])),
                "span_f1": float(np.mean([span_f1(a, b) for a, b in zip(ref_spans, cand_spans)]))}

    def score(self, outputs, gold):
        from ..verify.qa import scores

        return scores(outputs["start_logits"], outputs["end_logits"], gold)

    rows = "pairs"

    @property
    def scored(self):
        return self.outputs  # spans decode from both

    def parity_texts(self, parity_text, recipe):
        """The built task's parity and calibration pairs, or --parity-text QA JSONL for parity."""
        from ..verify.qa import calibration_pairs, parity_pairs

        return parity_pairs(parity_text), calibration_pairs()

    def feeds(self, model, texts, seq_len, batch_size=16, pad_to_max=False):
        """The tokenizer's pair encoding: question, then passage truncated to fit ``seq_len``."""
        from ..verify.qa import encode_pairs

        return encode_pairs(model.tokenizer, texts.examples, model.input_names, seq_len, batch_size, pad_to_max)[0]

    def deformer_feeds(self, tokenizer, texts, spec, seq_len):
        return self.deformer_eval(tokenizer, texts, spec, seq_len)[0], "(question, passage) pairs"

    def deformer_eval(self, tokenizer, labelled, spec, seq_len):
        from ..verify.qa import encode_deformer

        return encode_deformer(tokenizer, labelled.examples, spec, seq_len)

    def labelled_feeds(self, tokenizer, config, rows, seq_len, batch_size=32):
        """QAExamples in the tokenizer's pair encoding (verify.qa.encode_pairs)."""
        from ..verify.qa import encode_pairs

        return encode_pairs(tokenizer, rows, tuple(tokenizer.model_input_names), seq_len, batch_size)

    def read_eval(self, path, num_labels):
        """QA JSONL (verify.qa.read_qa)."""
        from ..verify.qa import read_qa

        return read_qa(path)

    def details(self, model, recipe):
        from ..verify.qa import TASK

        return {"answer": f"best span of passage tokens, at most {self.max_answer_len} tokens "
                          "(verify.decode.best_span)", "task": TASK}


def mlm_logits(model, states):
    """A transformers *ForMaskedLM model's prediction head on ``states`` (rows, hidden)."""
    if hasattr(model, "cls"):  # BERT, MobileBERT
        return model.cls(states)
    if hasattr(model, "lm_head"):  # RoBERTa
        return model.lm_head(states)
    if hasattr(model, "generator_lm_head"):  # ELECTRA
        return model.generator_lm_head(model.generator_predictions(states))
    if hasattr(model, "vocab_projector"):  # DistilBERT
        hidden = model.vocab_layer_norm(model.activation(model.vocab_transform(states)))
        return model.vocab_projector(hidden)
    raise ValueError(f"{type(model).__name__}: no masked-LM head mobilecomp knows")


HEADS: dict[str, Head] = {head.name: head for head in (
    EncoderHead("encoder", ("token_embeddings", "sentence_embedding"), "sentence_embedding", "Model",
                "cosine of sentence embeddings; Spearman of pairwise similarities", unused=("pooler.",),
                per_token=("token_embeddings",)),
    ClassifierHead("classifier", ("logits",), "logits", "ForSequenceClassification",
                   "cosine of class probabilities; share of sentences with the same argmax",
                   "accuracy (and F1 of class 1 for 2 classes)", takes_labels=True),
    TokenClassifierHead("token-classifier", ("logits",), "logits", "ForTokenClassification",
                        "cosine of logits over real tokens (per sentence); share of real tokens with the "
                        "same argmax", "token accuracy on first subwords; entity F1 where tags are BIO",
                        per_token=("logits",), takes_labels=True),
    FillMaskHead("fill-mask", ("logits",), "logits", "ForMaskedLM",
                 "cosine of vocabulary probabilities at the masked token; share of masks with the same top-1 "
                 "word; top-5 agreement (share of the reference's 5 best words the artefact also ranks in its 5 "
                 "best; gated only where the budget names topk) (each parity sentence's middle token masked)"),
    QuestionAnsweringHead("question-answering", ("start_logits", "end_logits"), "start_logits",
                          "ForQuestionAnswering",
                          "exact match (top1) and F1 (span_f1) of the decoded answer span against PyTorch's span, "
                          "on (question, passage) pairs; cosine of start and end logits over real tokens",
                          "SQuAD exact match and F1 of the decoded answer against the gold answers",
                          per_token=("start_logits", "end_logits")),
)}


def head_for(name: str, pooling: str = "mean", tokenizer=None) -> Head:
    """The registered head ``name`` with a recipe's settings (the encoder's pooling) and the
    tokenizer's (fill-mask: its mask token)."""
    head = HEADS[name]
    if isinstance(head, EncoderHead):
        return replace(head, pooling=pooling)
    if isinstance(head, FillMaskHead) and getattr(tokenizer, "mask_token_id", None) is not None:
        return replace(head, mask_token_id=int(tokenizer.mask_token_id))
    return head


# What a checkpoint's config.json `architectures` entry says its head is, by class-name suffix.
CHECKPOINT_HEADS = {"ForSequenceClassification": "a sequence-classification head",
                    "ForTokenClassification": "a token-classification head",
                    "ForQuestionAnswering": "a question-answering head",
                    "ForMaskedLM": "a masked-LM head", "ForPreTraining": "pre-training heads",
                    "ForMultipleChoice": "a multiple-choice head",
                    "Model": "no trained classifier, only the encoder"}
# The recipe head that takes a checkpoint with that head, where mobilecomp has one
RECIPE_FOR = {head.suffix: head.name for head in HEADS.values()}


def checkpoint_suffix(config: dict) -> str:
    """The head suffix of config.json's first `architectures` entry ('' when it names none known)."""
    names = config.get("architectures")
    name = names[0] if isinstance(names, list) and names and isinstance(names[0], str) else ""
    return next((suffix for suffix in CHECKPOINT_HEADS if name.endswith(suffix)), "")


def checkpoint_head(config: dict) -> str:
    """What a checkpoint's config.json says its head is, and the fix, in words ('' when it does not say)."""
    suffix = checkpoint_suffix(config)
    if not suffix:
        return ""
    fix = f"use head: {RECIPE_FOR[suffix]}" if suffix in RECIPE_FOR else "mobilecomp has no recipe head for it"
    named = config["architectures"][0]
    return f"{CHECKPOINT_HEADS[suffix]} (config.json architectures: {named}); {fix} or another checkpoint"


def refuse_other_head(directory, config: dict, head: str) -> None:
    """A CheckpointError when config.json says the checkpoint has another head than ``head``."""
    from ..errors import CheckpointError

    if RECIPE_FOR.get(checkpoint_suffix(config), head) != head:
        raise CheckpointError(f"{directory}: the recipe asks for head: {head} but the checkpoint has "
                              f"{checkpoint_head(config)}")


def wrap(head: Head, model, input_names: tuple[str, ...]):
    """A torch module taking the inputs by position and passing them to ``model`` by keyword.

    transformers 5 fails on positional-argument ONNX export (``multiple values for argument
    'use_cache'``), so export always goes through this wrapper.
    """
    import torch

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.head = head

        def forward(self, *inputs):
            kwargs = dict(zip(input_names, inputs))
            values = head.forward(self.model, kwargs, kwargs["attention_mask"])
            return tuple(values[name] for name in head.outputs)

    return Wrapped().eval()
