"""DeFormer (Cao et al.): a model whose lower layers see question and passage apart, split into two ONNX graphs.

Layout of one input (seq_len tokens): the question, padded to ``question_len`` (positions
0..Q-1, token type 0), then the passage (positions Q..seq_len-1, token type 1); positions count
from pad_token_id + 1 where the architecture's do (RoBERTa, XLM-R), and token types are inputs only
where the architecture takes them. The embeddings and the applied layers are found through the
architecture registry (load.architectures: layer_prefix, embedding_projection, classifier_head, and
deformer_layers for the per-layer inputs DeBERTa's and ModernBERT's encoders build);
an architecture with ``no_deformer`` set is refused at recipe validation. The lower
``lower_layers`` layers attend within each segment only; the upper layers attend over both.
Because the passage's lower layers never see the question, their output is computed once per
passage and cached:

- ``passage-*.onnx``: passage_input_ids/attention_mask(/token_type_ids) -> passage_states
- ``question-*.onnx``: question_input_ids/attention_mask(/token_type_ids) + passage_states +
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
# what the feeds carry (the layout's token types included); each graph takes the architecture's share (graph_inputs)
FULL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
PER_TOKEN = ("token_embeddings", "start_logits", "end_logits")  # outputs over question + passage tokens
PAPER_LATENCY_S = {  # DeFormer Table 3: BERT-base vs Decomp-BERT-base on SQuAD
    "Tesla V100 GPU (batch 32)": (0.22, 0.07),
    "Intel i9-7900X CPU (batch 32)": (5.90, 1.66),
    "OnePlus 6 phone (batch 1)": (10.20, 3.28),
}


# How each architecture's sequence classifier reads the final states (Architecture.classifier_head):
# (task model, base model, states, 0/1 mask) -> logits, as its own forward does after the base model
CLASSIFIER_HEADS = {
    "pooler": lambda m, base, s, mask: m.classifier(m.dropout(base.pooler(s))),  # BERT: BertPooler on [CLS]
    # ALBERT: its pooler is a bare Linear on [CLS], then pooler_activation (tanh)
    "pooler-linear": lambda m, base, s, mask: m.classifier(m.dropout(base.pooler_activation(base.pooler(s[:, 0])))),
    "pre-classifier": lambda m, base, s, mask: m.classifier(m.dropout(m.pre_classifier(s[:, 0]).relu())),  # DistilBERT
    "sequence": lambda m, base, s, mask: m.classifier(s),  # RoBERTa, ELECTRA: a head module over the whole sequence
    "context-pooler": lambda m, base, s, mask: m.classifier(m.dropout(m.pooler(s))),  # DeBERTa: the task model's pooler
    # ModernBERT: [CLS] or the masked mean (config.classifier_pooling), then its prediction head
    "pooled-head": lambda m, base, s, mask: m.classifier(m.drop(m.head(
        s[:, 0] if m.config.classifier_pooling == "cls"
        else (s * mask.unsqueeze(-1)).sum(dim=1) / mask.sum(dim=1, keepdim=True)))),
}


def architecture(model):
    """The registered Architecture of a transformers model (task or base)."""
    from ..load.architectures import for_model_type

    return for_model_type(model.config.model_type)


def base_model_of(model):
    """The base model inside a transformers task model (the model itself when it is one)."""
    arch = architecture(model)
    return arch.base_model(model) if arch is not None else model


def graph_inputs(arch) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(full, question, passage) input names of an architecture's DeFormer graphs: its own inputs,
    token_type_ids only where it takes them."""
    return (tuple(arch.inputs), tuple(f"question_{n}" for n in arch.inputs),
            tuple(f"passage_{n}" for n in arch.inputs))


def task_head(hf):
    """The head of a transformers task model as one module over its final states (and their 0/1 mask), or
    None for an encoder: question answering's qa_outputs (ModernBERT: its prediction head and a two-wide
    classifier per token) -> (start_logits, end_logits), or the sequence classifier its architecture's
    ``classifier_head`` names."""
    import torch

    if hasattr(hf, "qa_outputs") or type(hf).__name__.endswith("ForQuestionAnswering"):
        def read(m, base, states, mask):
            logits = m.qa_outputs(states) if hasattr(m, "qa_outputs") else m.classifier(m.drop(m.head(states)))
            start, end = logits.split(1, dim=-1)
            return start.squeeze(-1), end.squeeze(-1)
    elif hasattr(hf, "classifier"):
        read = CLASSIFIER_HEADS[architecture(hf).classifier_head]
    else:
        return None

    class TaskHead(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = hf

        def forward(self, states, mask=None):
            if mask is None:  # every token real, as the task models assume without one
                mask = torch.ones(states.shape[:2], dtype=torch.long, device=states.device)
            return read(self.model, base_model_of(self.model), states, mask)

    return TaskHead()


def model_modules(model, spec: DecomposeSpec):
    """``decomposed_modules`` of a LoadedModel, with its task head (classifier, question answering) when it has one."""
    hf = model.module.model
    return decomposed_modules(base_model_of(hf), spec, task_head(hf))


class Layers:
    """How DeFormer runs a base model's embeddings and layers, here BERT's (and DistilBERT's, RoBERTa's, ELECTRA's,
    ALBERT's): embeddings at explicit positions, token types where taken, then the module between the embeddings
    and the first layer (embedding_projection); each layer takes an additive mask on the keys. ``same`` (S, S),
    where given, keeps attention within each segment (the reference's lower layers)."""

    def __init__(self, base, arch) -> None:
        self.base = base
        # RoBERTa: position ids from pad_token_id + 1, the rows before are no token's
        self.first = base.config.pad_token_id + 1 if arch.positions_from_pad else 0
        self.project = base if arch.embedding_projection else None
        for name in arch.embedding_projection.split(".") if self.project is not None else ():
            self.project = getattr(self.project, name, None)  # ELECTRA has embeddings_project only where widths differ

    def embed(self, ids, types, mask, positions):
        given = {} if types is None else {"token_type_ids": types}
        hidden = self.base.embeddings(input_ids=ids, position_ids=positions + self.first, **given)
        return hidden if self.project is None else self.project(hidden)

    def run(self, hidden, mask, positions, stack, same=None):
        keep = mask.float()[:, None, None, :]
        if same is not None:
            keep = keep * same[None, None].float()
        additive = (1.0 - keep) * MASK_VALUE
        for layer in stack:
            out = layer(hidden, attention_mask=additive)
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden

    def final(self, hidden):
        return hidden


class DebertaLayers(Layers):
    """DeBERTa-v2/v3, as DebertaV2Model.forward and DebertaV2Encoder.forward: embeddings zeroed on padding; each
    layer takes a 0/1 mask over (query, key) pairs (not an additive one), the relative positions built over the
    sequence it runs on, and the normalised relative embeddings. Relative positions depend on i - j only, so a
    segment's equal the full sequence's within that segment."""

    def __init__(self, base, arch) -> None:
        from ..errors import ConfigError

        super().__init__(base, arch)
        kernel = getattr(base.config, "conv_kernel_size", 0)
        if kernel > 0:
            raise ConfigError(f"decompose (DeFormer) cannot split deberta-v2 with conv_kernel_size {kernel}: its "
                              "convolution after the first layer mixes neighbours across the question/passage "
                              "boundary; use a checkpoint with conv_kernel_size 0, or drop decompose")

    def embed(self, ids, types, mask, positions):
        given = {} if types is None else {"token_type_ids": types}
        return self.base.embeddings(input_ids=ids, position_ids=positions, mask=mask, **given)

    def run(self, hidden, mask, positions, stack, same=None):
        encoder = self.base.encoder
        # (B, 1, S, S): query and key both real. A padding row, all masked, is uniform over the keys it runs
        # with, so padding rows differ between the split and the reference; parity reads real tokens only
        keep = encoder.get_attention_mask(mask)
        if same is not None:
            keep = keep * same[None, None].to(keep.dtype)
        relative, embeddings = encoder.get_rel_pos(hidden), encoder.get_rel_embedding()
        for layer in stack:
            hidden = layer(hidden, keep, relative_pos=relative, rel_embeddings=embeddings)[0]
        return hidden


class ModernBertLayers(Layers):
    """ModernBERT, as ModernBertModel.forward: embeddings without positions; each layer takes the rotary table of
    its layer type at the tokens' positions and an additive mask (torch.finfo.min, as its eager masks) on the keys,
    for sliding-window layers also outside |i - j| <= config.sliding_window; the final norm follows the last layer."""

    def embed(self, ids, types, mask, positions):
        return self.base.embeddings(input_ids=ids)

    def run(self, hidden, mask, positions, stack, same=None):
        import torch

        keep = mask.bool()[:, None, None, :]
        if same is not None:
            keep = keep & same[None, None]
        near = (positions[0, :, None] - positions[0, None, :]).abs() <= self.base.config.sliding_window
        low = torch.finfo(hidden.dtype).min
        masks = {"full_attention": torch.where(keep, 0.0, low),
                 "sliding_attention": torch.where(keep & near[None, None], 0.0, low)}
        rotary = {kind: self.base.rotary_emb(hidden, positions, kind) for kind in {m.attention_type for m in stack}}
        for layer in stack:
            hidden = layer(hidden, attention_mask=masks[layer.attention_type],
                           position_embeddings=rotary[layer.attention_type])
        return hidden

    def final(self, hidden):
        return self.base.final_norm(hidden)


# Architecture.deformer_layers -> how DeFormer runs its embeddings and layers
LAYERS = {"bert": Layers, "deberta": DebertaLayers, "modernbert": ModernBertLayers}


def decomposed_modules(base, spec: DecomposeSpec, head=None):
    """(passage module, question module, undecomposed reference module) over ``base`` (the base model
    of a registered architecture DeFormer can split), each taking its ``graph_inputs`` by position
    (the question module then passage_states, passage_attention_mask). With ``head`` (a module over the
    final states and their mask) the question and reference modules return its output; without, the
    encoder's (token_embeddings, sentence_embedding)."""
    import torch

    from ..errors import ConfigError
    from ..load.architectures import applied_layers

    arch = architecture(base)
    if arch is None or arch.no_deformer:  # recipe validation refuses these first; a direct caller gets the same
        raise ConfigError(f"decompose (DeFormer) cannot split {base.config.model_type}: "
                          f"{arch.no_deformer if arch else 'not a registered architecture'}")
    layers = applied_layers(base, arch)
    if spec.lower_layers >= len(layers):
        raise ConfigError(f"decompose.lower_layers {spec.lower_layers} must be below the model's {len(layers)} "
                          "layers (the upper layers see question and passage together)")
    lower, upper = layers[:spec.lower_layers], layers[spec.lower_layers:]
    offset = spec.question_len
    encoder = LAYERS[arch.deformer_layers](base, arch)
    full, question_names, passage_names = graph_inputs(arch)

    def positions(ids, start):  # (1, n): the segment's token positions in the full sequence
        return torch.arange(ids.shape[1], device=ids.device)[None, :] + start

    def finish(states, mask2d):
        states = encoder.final(states)
        if head is not None:
            return head(states, mask2d)
        weights = mask2d.to(states.dtype).unsqueeze(-1)
        return states, (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)

    def named(names, inputs):  # (ids, mask, token types or None) from positional graph inputs
        feed = dict(zip(names, inputs))
        ids, mask, *types = (feed[n] for n in names)
        return ids, mask, (types[0] if types else None)

    def segment(ids, mask, types, start):  # a segment through the embeddings and the lower layers, alone
        at = positions(ids, start)
        return encoder.run(encoder.embed(ids, types, mask, at), mask, at, lower)

    class Passage(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base = base

        def forward(self, *inputs):
            return segment(*named(passage_names, inputs), offset)

    class Question(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base, self.head = base, head

        def forward(self, *inputs):
            ids, mask, types = named(question_names, inputs)
            passage_states, passage_attention_mask = inputs[len(question_names):]
            joint = torch.cat([segment(ids, mask, types, 0), passage_states], dim=1)
            mask = torch.cat([mask, passage_attention_mask], dim=1)
            return finish(encoder.run(joint, mask, positions(mask, 0), upper), mask)

    class Reference(torch.nn.Module):
        """The undecomposed forward: one sequence, block-diagonal attention in the lower layers."""

        def __init__(self) -> None:
            super().__init__()
            self.base, self.head = base, head

        def forward(self, *inputs):
            input_ids, attention_mask, token_type_ids = named(full, inputs)
            at = positions(input_ids, 0)
            hidden = encoder.embed(input_ids, token_type_ids, attention_mask, at)
            segment_of = at[0] >= offset
            same = segment_of[:, None] == segment_of[None, :]  # (S, S): question<->question, passage<->passage
            hidden = encoder.run(hidden, attention_mask, at, lower, same)
            return finish(encoder.run(hidden, attention_mask, at, upper), attention_mask)

    return Passage().eval(), Question().eval(), Reference().eval()


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
        for full in FULL_INPUTS:
            feed[full] = np.concatenate([feed[f"question_{full}"], feed[f"passage_{full}"]], axis=1)
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
    for full in FULL_INPUTS:
        if full in feed:
            out[f"question_{full}"] = np.ascontiguousarray(feed[full][:, :q])
            out[f"passage_{full}"] = np.ascontiguousarray(feed[full][:, q:])
    return out


def export_graphs(model, spec: DecomposeSpec, feed: Feed, opset: int, passage_path, question_path) -> dict:
    """Write the passage and question graphs (fp32) from one example feed."""
    import warnings

    import torch

    from ..errors import ToolchainError

    passage, question, _ = model_modules(model, spec)
    _, question_inputs, passage_inputs = graph_inputs(architecture(model.module.model))
    outputs = list(model.output_names)
    p_args = tuple(torch.from_numpy(feed[n][:1]) for n in passage_inputs)
    with torch.no_grad():
        states = passage(*p_args)
    q_args = tuple(torch.from_numpy(feed[n][:1]) for n in question_inputs) + (
        states, torch.from_numpy(feed["passage_attention_mask"][:1]))
    batch_seq = {0: "batch", 1: "passage_sequence"}
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(passage, p_args, str(passage_path), input_names=list(passage_inputs),
                              output_names=["passage_states"], opset_version=opset, dynamo=False,
                              dynamic_axes={**{n: batch_seq for n in passage_inputs}, "passage_states": batch_seq})
            torch.onnx.export(question, q_args, str(question_path),
                              input_names=[*question_inputs, "passage_states", "passage_attention_mask"],
                              output_names=outputs, opset_version=opset, dynamo=False,
                              dynamic_axes={**{n: {0: "batch"} for n in question_inputs},
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
    full = graph_inputs(architecture(model.module.model))[0]
    out: dict[str, list[np.ndarray]] = {name: [] for name in model.output_names}
    with torch.no_grad():
        for feed in feeds:
            result = reference(*(torch.from_numpy(feed[n]) for n in full))
            for name, value in zip(model.output_names, result if isinstance(result, tuple) else (result,)):
                out[name].append(value.numpy())
    return out


def cached_passage_states(passage_path, feeds: list[Feed]) -> list[Feed]:
    """Each feed with ``passage_states`` from the passage graph (the cache a device would keep)."""
    from ..runtime.ort import onnx_session

    session = onnx_session(passage_path, threads=0)
    names = [i.name for i in session.get_inputs()]  # the graph's own: token types only where it takes them
    return [{**feed, "passage_states": session.run(["passage_states"], {n: feed[n] for n in names})[0]}
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


def manifest_inputs(model) -> dict[str, list[str]]:
    """The manifest's input names: the question graph's ("inputs") and the passage graph's."""
    _, question, passage = graph_inputs(architecture(model.module.model))
    return {"inputs": [*question, "passage_states", "passage_attention_mask"], "passage_inputs": list(passage)}


def bundle_feed(feed: Feed, model) -> Feed:
    """``feed`` cut to what the bundle's graphs take (question, passage and the undecomposed model's
    inputs), for its inputs/*.npz: no token types where the architecture takes none."""
    names = manifest_inputs(model)
    return {n: v for n, v in feed.items() if n in {*names["inputs"], *names["passage_inputs"], *model.input_names}}


def profile_feed(feeds: list[Feed], passage_path) -> dict[str, Any]:
    """One (question, passage) pair with its cached passage states: what every graph of the bundle needs."""
    first = {k: v[:1] for k, v in feeds[0].items()}
    return cached_passage_states(passage_path, [first])[0]
