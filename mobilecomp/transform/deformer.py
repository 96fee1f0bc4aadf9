"""DeFormer (Cao et al.): a BERT whose lower layers see question and passage apart, split into two ONNX graphs.

Layout of one input (seq_len tokens): the question, padded to ``question_len`` (positions
0..Q-1, token type 0), then the passage (positions Q..seq_len-1, token type 1). The lower
``lower_layers`` layers attend within each segment only; the upper layers attend over both.
Because the passage's lower layers never see the question, their output is computed once per
passage and cached:

- ``passage-*.onnx``: passage_input_ids/attention_mask/token_type_ids -> passage_states
- ``question-*.onnx``: question_input_ids/attention_mask/token_type_ids + passage_states +
  passage_attention_mask -> the head's outputs (token_embeddings, sentence_embedding for an
  encoder; logits for a classifier; start_logits, end_logits over question + passage tokens for
  question answering): the per-query graph

A single-sentence classifier has no question and passage: its nearest form splits each sentence
at token ``question_len`` (``sentence_feeds``), and both graphs run per input.

The reference is the *undecomposed* forward of the same weights: one sequence, one pass,
with a block-diagonal attention mask in the lower layers (``DeFormerReference``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..inputs import Feed
from ..types import DecomposeSpec

MASK_VALUE = -10000.0
QUESTION_INPUTS = ("question_input_ids", "question_attention_mask", "question_token_type_ids")
PASSAGE_INPUTS = ("passage_input_ids", "passage_attention_mask", "passage_token_type_ids")
FULL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
PER_TOKEN = ("token_embeddings", "start_logits", "end_logits")  # outputs over question + passage tokens
PAPER_LATENCY_S = {  # DeFormer Table 3: BERT-base vs Decomp-BERT-base on SQuAD
    "Tesla V100 GPU (batch 32)": (0.22, 0.07),
    "Intel i9-7900X CPU (batch 32)": (5.90, 1.66),
    "OnePlus 6 phone (batch 1)": (10.20, 3.28),
}


def classifier_head(model):
    """pooler -> dropout -> classifier of a BertForSequenceClassification, as one module over the states."""
    import torch

    class ClassifierHead(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pooler, self.dropout, self.classifier = model.bert.pooler, model.dropout, model.classifier

        def forward(self, states):
            return self.classifier(self.dropout(self.pooler(states)))

    return ClassifierHead()


def qa_head(model):
    """qa_outputs of a BertForQuestionAnswering as one module over the states: (start_logits, end_logits)."""
    import torch

    class QAHead(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qa_outputs = model.qa_outputs

        def forward(self, states):
            start, end = self.qa_outputs(states).split(1, dim=-1)
            return start.squeeze(-1), end.squeeze(-1)

    return QAHead()


def task_head(hf):
    """The head module of a transformers task model over its final states, or None for an encoder."""
    if hasattr(hf, "qa_outputs"):
        return qa_head(hf)
    return classifier_head(hf) if hasattr(hf, "classifier") else None


def model_modules(model, spec: DecomposeSpec):
    """``decomposed_modules`` of a LoadedModel, with its task head (classifier, question answering) when it has one."""
    return decomposed_modules(base_model(model.module), spec, task_head(model.module.model))


def decomposed_modules(base, spec: DecomposeSpec, head=None):
    """(passage module, question module, undecomposed reference module) over ``base`` (a BertModel).
    With ``head`` (a module over the final states) the question and reference modules return its
    output; without, the encoder's (token_embeddings, sentence_embedding)."""
    import torch

    layers = list(base.encoder.layer)
    lower, upper = layers[:spec.lower_layers], layers[spec.lower_layers:]
    offset = spec.question_len

    def additive(mask2d):  # (B, S) 0/1 -> (B, 1, 1, S) additive
        return (1.0 - mask2d.to(torch.float32))[:, None, None, :] * MASK_VALUE

    def run(hidden, mask4d, stack):
        for layer in stack:
            out = layer(hidden, attention_mask=mask4d)
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden

    def embed(ids, types, start):
        positions = torch.arange(ids.shape[1], device=ids.device)[None, :] + start
        return base.embeddings(input_ids=ids, token_type_ids=types, position_ids=positions)

    def finish(states, mask2d):
        if head is not None:
            return head(states)
        weights = mask2d.to(states.dtype).unsqueeze(-1)
        return states, (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)

    class Passage(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base = base

        def forward(self, passage_input_ids, passage_attention_mask, passage_token_type_ids):
            hidden = embed(passage_input_ids, passage_token_type_ids, offset)
            return run(hidden, additive(passage_attention_mask), lower)

    class Question(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base, self.head = base, head

        def forward(self, question_input_ids, question_attention_mask, question_token_type_ids,
                    passage_states, passage_attention_mask):
            hidden = run(embed(question_input_ids, question_token_type_ids, 0),
                         additive(question_attention_mask), lower)
            joint = torch.cat([hidden, passage_states], dim=1)
            mask = torch.cat([question_attention_mask, passage_attention_mask], dim=1)
            return finish(run(joint, additive(mask), upper), mask)

    class Reference(torch.nn.Module):
        """The undecomposed forward: one sequence, block-diagonal attention in the lower layers."""

        def __init__(self) -> None:
            super().__init__()
            self.base, self.head = base, head

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = embed(input_ids, token_type_ids, 0)
            segment = (torch.arange(input_ids.shape[1], device=input_ids.device) >= offset)
            same = segment[:, None] == segment[None, :]  # (S, S): question<->question, passage<->passage
            keep = attention_mask.to(torch.float32)[:, None, None, :] * same[None, None].to(torch.float32)
            hidden = run(hidden, (1.0 - keep) * MASK_VALUE, lower)
            return finish(run(hidden, additive(attention_mask), upper), attention_mask)

    return Passage().eval(), Question().eval(), Reference().eval()


def base_model(module):
    """The BertModel inside a LoadedModel's wrapped module."""
    model = module.model
    return getattr(model, "bert", model)


def paired_feeds(tokenizer, sentences, spec: DecomposeSpec, seq_len: int, batch_size: int = 8,
                 pairs: int | None = None) -> list[Feed]:
    """(question, passage) pairs from real text: sentence i is the question, the next three the
    passage. Each feed has the full inputs (input_ids, ...), and the question_* and passage_*
    slices of them, all int64."""
    sentences = list(sentences)
    q_len, p_len = spec.question_len, seq_len - spec.question_len
    count = pairs or max(1, len(sentences) - 3)
    questions = sentences[:count]
    passages = [" ".join(sentences[i + 1:i + 4]) or sentences[i] for i in range(count)]
    feeds = []
    for start in range(0, count, batch_size):
        q = tokenizer(questions[start:start + batch_size], padding="max_length", truncation=True,
                      max_length=q_len, return_tensors="np")
        p = tokenizer(passages[start:start + batch_size], add_special_tokens=False, truncation=True,
                      max_length=p_len - 1)
        n = len(q["input_ids"])
        p_ids = np.full((n, p_len), tokenizer.pad_token_id, dtype=np.int64)
        p_mask = np.zeros((n, p_len), dtype=np.int64)
        for row, ids in enumerate(p["input_ids"]):
            ids = list(ids) + [tokenizer.sep_token_id]
            p_ids[row, :len(ids)] = ids
            p_mask[row, :len(ids)] = 1
        feed = {"question_input_ids": q["input_ids"].astype(np.int64),
                "question_attention_mask": q["attention_mask"].astype(np.int64),
                "question_token_type_ids": np.zeros((n, q_len), dtype=np.int64),
                "passage_input_ids": p_ids, "passage_attention_mask": p_mask,
                "passage_token_type_ids": np.ones((n, p_len), dtype=np.int64)}
        for full, part in zip(FULL_INPUTS, QUESTION_INPUTS):
            feed[full] = np.concatenate([feed[part], feed[part.replace("question", "passage")]], axis=1)
        feeds.append(feed)
    return feeds


def sentence_feeds(tokenizer, sentences, spec: DecomposeSpec, seq_len: int, batch_size: int = 32) -> list[Feed]:
    """Single sentences padded to ``seq_len`` and split at token ``question_len``: the first part
    is the "question", the rest the "passage" (the layout the compress stage fine-tunes on)."""
    from ..inputs import encode

    return [split_feed(feed, spec) for feed in encode(tokenizer, sentences, FULL_INPUTS, seq_len,
                                                       batch_size=batch_size, pad_to_max=True)]


def split_feed(feed: Feed, spec: DecomposeSpec) -> Feed:
    """A full-input feed with its question_* and passage_* slices added."""
    q = spec.question_len
    out = dict(feed)
    for full, part in zip(FULL_INPUTS, QUESTION_INPUTS):
        out[part] = np.ascontiguousarray(feed[full][:, :q])
        out[part.replace("question", "passage")] = np.ascontiguousarray(feed[full][:, q:])
    return out


def export_graphs(model, spec: DecomposeSpec, feed: Feed, opset: int, passage_path, question_path) -> dict:
    """Write the passage and question graphs (fp32) from one example feed."""
    import warnings

    import torch

    from ..errors import ToolchainError

    passage, question, _ = model_modules(model, spec)
    outputs = list(model.output_names)
    p_args = tuple(torch.from_numpy(feed[n][:1]) for n in PASSAGE_INPUTS)
    with torch.no_grad():
        states = passage(*p_args)
    q_args = tuple(torch.from_numpy(feed[n][:1]) for n in QUESTION_INPUTS) + (
        states, torch.from_numpy(feed["passage_attention_mask"][:1]))
    batch_seq = {0: "batch", 1: "passage_sequence"}
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(passage, p_args, str(passage_path), input_names=list(PASSAGE_INPUTS),
                              output_names=["passage_states"], opset_version=opset, dynamo=False,
                              dynamic_axes={**{n: batch_seq for n in PASSAGE_INPUTS}, "passage_states": batch_seq})
            torch.onnx.export(question, q_args, str(question_path),
                              input_names=[*QUESTION_INPUTS, "passage_states", "passage_attention_mask"],
                              output_names=outputs, opset_version=opset, dynamo=False,
                              dynamic_axes={**{n: {0: "batch"} for n in QUESTION_INPUTS},
                                            "passage_states": batch_seq, "passage_attention_mask": batch_seq,
                                            **{n: {0: "batch", 1: "sequence"} if n in PER_TOKEN
                                               else {0: "batch"} for n in outputs}})
    except OSError:  # a full disk is the bundle's to report (BundleWriter), not the exporter's
        raise
    except Exception as exc:  # the exporter raises many types; the message is what helps
        raise ToolchainError(f"DeFormer ONNX export failed: {str(exc).splitlines()[0][:200]}") from None
    return {"exporter": f"torch.onnx.export (torchscript) torch {torch.__version__}",
            "lower_layers": spec.lower_layers, "question_len": spec.question_len,
            "passage_graph": passage_path.name, "question_graph": question_path.name}


def reference_outputs(model, spec: DecomposeSpec, feeds: list[Feed]) -> dict[str, list[np.ndarray]]:
    """The undecomposed PyTorch forward of the DeFormer on the full inputs."""
    import torch

    _, _, reference = model_modules(model, spec)
    out: dict[str, list[np.ndarray]] = {name: [] for name in model.output_names}
    with torch.no_grad():
        for feed in feeds:
            result = reference(*(torch.from_numpy(feed[n]) for n in FULL_INPUTS))
            for name, value in zip(model.output_names, result if isinstance(result, tuple) else (result,)):
                out[name].append(value.numpy())
    return out


def cached_passage_states(passage_path, feeds: list[Feed]) -> list[Feed]:
    """Each feed with ``passage_states`` from the passage graph (the cache a device would keep)."""
    from ..runtime.ort import onnx_session

    session = onnx_session(passage_path, threads=0)
    return [{**feed, "passage_states": session.run(["passage_states"],
                                                   {n: feed[n] for n in PASSAGE_INPUTS})[0]}
            for feed in feeds]


def two_graph_outputs(passage_path, question_path, feeds: list[Feed]) -> dict[str, list[np.ndarray]]:
    """The decomposed run: passage graph once per passage, then the question graph on the cache."""
    from ..runtime.ort import onnx_session

    question = onnx_session(question_path, threads=0)
    names = [i.name for i in question.get_inputs()]
    outputs = [o.name for o in question.get_outputs()]
    out: dict[str, list[np.ndarray]] = {name: [] for name in outputs}
    for feed in cached_passage_states(passage_path, feeds):
        for name, value in zip(outputs, question.run(outputs, {n: feed[n] for n in names})):
            out[name].append(value)
    return out




def profile_feed(feeds: list[Feed], passage_path) -> dict[str, Any]:
    """One (question, passage) pair with its cached passage states: what every graph of the bundle needs."""
    first = {k: v[:1] for k, v in feeds[0].items()}
    return cached_passage_states(passage_path, [first])[0]
