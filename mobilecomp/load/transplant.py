"""Moves all-MiniLM-L6-v2's trained weights into another architecture's layout, computing the same function.

Real weights judge quantisation honestly where random ones flatter it; these layouts can hold
BERT's weights exactly (token states against MiniLM's, measured 2026-12-05):

- ``distilbert``: Q/K/V/out become ``attention.{q,k,v,out}_lin``, the two LayerNorms
  ``sa_layer_norm`` and ``output_layer_norm``, the FFN ``ffn.lin1/lin2``; DistilBERT has no token
  types, so token-type row 0 is added into the word table (max |diff| 0; added into the position
  table instead, as first measured, the sums round differently: 1.6e-6 to 3.9e-6).
- ``roberta``: positions start at padding_idx + 1, so the position table gets pad_token_id + 1
  leading rows (1 here: MiniLM's pad id is 0); one token type (max |diff| 0).
- ``xlm-roberta``: RoBERTa's layout under XLM-R's names (the multilingual model's 250k SentencePiece
  vocabulary is not moved: the transplant keeps MiniLM's WordPiece, as every transplant does).
- ``electra``: embedding_size = hidden, so there is no projection; the names are BERT's (0).

The result is a standard Hugging Face directory: config.json (model_type, architectures),
model.safetensors, MiniLM's tokenizer files and transplant.json saying where it came from.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

import numpy as np

from ..bundle import BundleWriter
from ..errors import ConfigError
from .architectures import ARCHITECTURES
from .checkpoints import embedded_dir, read_config, sha256_file

SOURCE = "all-minilm-l6-v2"
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
Tensors = dict[str, np.ndarray]


def _distilbert(config: dict, w: Tensors) -> tuple[dict, Tensors]:
    if config["layer_norm_eps"] != 1e-12:  # DistilBERT's LayerNorms hard-code it
        raise ConfigError(f"DistilBERT's LayerNorm eps is 1e-12; the source has {config['layer_norm_eps']}")
    fields = dict(vocab_size=config["vocab_size"], max_position_embeddings=config["max_position_embeddings"],
                  dim=config["hidden_size"], n_layers=config["num_hidden_layers"],
                  n_heads=config["num_attention_heads"], hidden_dim=config["intermediate_size"],
                  activation=config["hidden_act"], pad_token_id=config["pad_token_id"],
                  dropout=config["hidden_dropout_prob"], attention_dropout=config["attention_probs_dropout_prob"],
                  sinusoidal_pos_embds=False)
    # BERT adds (word + type) + position: type row 0 folded into the word table keeps that order, bit for bit
    out = {"embeddings.word_embeddings.weight": (w["embeddings.word_embeddings.weight"]
                                                 + w["embeddings.token_type_embeddings.weight"][0]),
           "embeddings.position_embeddings.weight": w["embeddings.position_embeddings.weight"],
           "embeddings.LayerNorm.weight": w["embeddings.LayerNorm.weight"],
           "embeddings.LayerNorm.bias": w["embeddings.LayerNorm.bias"]}
    names = {"attention.self.query": "attention.q_lin", "attention.self.key": "attention.k_lin",
             "attention.self.value": "attention.v_lin", "attention.output.dense": "attention.out_lin",
             "attention.output.LayerNorm": "sa_layer_norm", "intermediate.dense": "ffn.lin1",
             "output.dense": "ffn.lin2", "output.LayerNorm": "output_layer_norm"}
    for layer in range(config["num_hidden_layers"]):
        for old, new in names.items():
            for part in ("weight", "bias"):
                out[f"transformer.layer.{layer}.{new}.{part}"] = w[f"encoder.layer.{layer}.{old}.{part}"]
    return fields, out


def _roberta(config: dict, w: Tensors) -> tuple[dict, Tensors]:
    pad = config["pad_token_id"]
    positions = w["embeddings.position_embeddings.weight"]
    lead = np.zeros((pad + 1, positions.shape[1]), dtype=positions.dtype)  # the pad row and those before it
    fields = {**_bert_fields(config), "type_vocab_size": 1, "max_position_embeddings": len(positions) + pad + 1,
              "bos_token_id": config["cls_token_id"], "eos_token_id": config["sep_token_id"]}
    out = {**_bert_names(w), "embeddings.position_embeddings.weight": np.concatenate([lead, positions]),
           "embeddings.token_type_embeddings.weight": w["embeddings.token_type_embeddings.weight"][:1]}
    return fields, out


def _electra(config: dict, w: Tensors) -> tuple[dict, Tensors]:
    fields = {**_bert_fields(config), "embedding_size": config["hidden_size"]}
    return fields, {k: v for k, v in _bert_names(w).items() if not k.startswith("pooler.")}  # ElectraModel: none


def _bert_fields(config: dict) -> dict:
    keep = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
            "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings",
            "type_vocab_size", "layer_norm_eps", "pad_token_id")
    return {k: config[k] for k in keep}


def _bert_names(w: Tensors) -> Tensors:
    return {k: v for k, v in w.items() if k != "embeddings.position_ids"}  # a buffer the model derives


LAYOUTS: dict[str, Callable[[dict, Tensors], tuple[dict, Tensors]]] = {
    "distilbert": _distilbert, "roberta": _roberta, "xlm-roberta": _roberta, "electra": _electra}
HOW = {"distilbert": "q/k/v/out -> attention.{q,k,v,out}_lin, LayerNorms -> sa_layer_norm/output_layer_norm, "
                     "FFN -> ffn.lin1/lin2, token-type row 0 added into the word table",
       "roberta": "position table with pad_token_id + 1 leading zero rows (positions from padding_idx + 1), "
                  "token-type row 0 only",
       "electra": "embedding_size = hidden_size (no projection), BERT's names, no pooler"}
HOW["xlm-roberta"] = HOW["roberta"] + " (XLM-R is RoBERTa's layout)"


def transplant(to: str, out: Path) -> Path:
    """Write all-MiniLM-L6-v2 as a ``to`` checkpoint directory at ``out`` (which must not exist)."""
    if to not in LAYOUTS:
        raise ConfigError(f"transplant --to {to}: unknown (known: {', '.join(LAYOUTS)})")
    source = embedded_dir(SOURCE)
    # written whole beside OUT and moved into place: never into a directory that exists, never half a checkpoint
    with BundleWriter(Path(out), keep=[source]) as writer:
        _write(to, source, writer.tmp)
        writer.commit(None)
    return Path(out)


def _write(to: str, source: Path, out: Path) -> None:
    import transformers
    from safetensors.numpy import load_file, save_file

    vocab = (source / "vocab.txt").read_text(encoding="utf-8").splitlines()
    config = {**read_config(source), "cls_token_id": vocab.index("[CLS]"), "sep_token_id": vocab.index("[SEP]")}
    fields, tensors = LAYOUTS[to](config, load_file(source / "model.safetensors"))
    arch = ARCHITECTURES[to]
    made = getattr(transformers, arch.config_class)(**fields, architectures=[arch.base_class])
    made.save_pretrained(out)
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, out / "model.safetensors",
              metadata={"format": "pt"})
    for name in TOKENIZER_FILES:
        if (source / name).exists():
            shutil.copyfile(source / name, out / name)
    (out / "transplant.json").write_text(json.dumps(
        {"from": SOURCE, "source_sha256": sha256_file(source / "model.safetensors"), "to": to, "how": HOW[to],
         "tokenizer": "the source's WordPiece (tokenizer_config.json: BertTokenizer)"}, indent=2) + "\n")
