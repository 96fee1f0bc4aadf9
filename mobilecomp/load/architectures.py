"""The registered architectures: which transformers classes build them and which inputs they take."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

BERT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True)
class Architecture:
    name: str
    config_class: str  # names inside transformers, imported only when a model is built
    base_class: str
    classifier_class: str
    inputs: tuple[str, ...] = BERT_INPUTS
    published: dict[str, Any] = field(default_factory=dict)  # the paper's config; recipes override
    source: str = ""  # where `published` comes from
    # Modules whose first input alone feeds the Linears `qkv` names ("*" = every
    # layer): where SmoothQuant can rescale that input. Empty where Q, K and V read different tensors.
    qkv_attention: str = ""
    qkv: tuple[str, str, str] = ("query", "key", "value")  # the Q, K and V Linears' names inside that module
    layout: str = ""  # a load.layouts function applied after building: a paper's layout no config gives
    layer_prefix: str = "encoder.layer"  # checkpoint keys of layer N start PREFIX.N. (the layer count check)
    derivable: tuple[str, ...] = ("embeddings.position_ids", "embeddings.token_type_ids")  # buffers, not weights
    layers_field: str = "num_hidden_layers"  # the config.json field that counts the layers
    positions_from_pad: bool = False  # position ids start at pad_token_id + 1: the rows before are no token's
    tokenizer: str = "wordpiece"  # the published checkpoints' tokenizer kind (a transplant may carry another)
    # config fields for a student's layers, width, heads and feed-forward width (compress method wrs)
    shape: tuple[str, str, str, str] = ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size")
    # why SmoothQuant on the PyTorch model cannot apply, where qkv_attention is empty
    no_smoothquant: str = "its Q, K and V read different tensors"
    # the mask the TFLite wrapper passes: "additive" (4-D, -10000 on pads: transformers adds no mask ops)
    # or "as-given" (the 0/1 input, where the model builds its own from it and misreads an additive one)
    tflite_mask: str = "additive"
    # the feed-forward Linears' module paths (a regex; "" = BERT's names, else the non-square MatMuls):
    # the per-row int8 variants and SmoothQuant's rest find them in the ONNX graph by this
    ffn: str = ""
    prefix: str = ""  # the task models' attribute (and key prefix) holding the base model; "" = the name
    counts_on_meta: bool = True  # False: a forward on the meta device fails; the FLOPs counter builds on the CPU
    # DeFormer (transform/deformer.py) runs the embeddings and the applied layers itself: why its lower
    # layers cannot see question and passage apart ("" = they can); the base model's module between the
    # embeddings and the first layer ("" = none, or absent from a config that needs none); how the sequence
    # classifier reads the final states (a key of transform.deformer.CLASSIFIER_HEADS); how it runs the
    # embeddings and layers (a key of transform.deformer.LAYERS: the masks, positions and per-layer inputs)
    no_deformer: str = ""
    embedding_projection: str = ""
    classifier_head: str = "pooler"
    deformer_layers: str = "bert"

    def build_config(self, overrides: dict[str, Any]):
        import transformers

        config_cls = getattr(transformers, self.config_class)
        known = set(config_cls().to_dict())
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise KeyError(unknown[0])
        return config_cls(**{**self.published, **overrides})

    def base_model(self, model):
        """The base model inside a transformers task model of this architecture (the attribute, and key
        prefix, ``prefix`` or the name); the model itself when it is the base model."""
        return getattr(model, self.prefix or self.name, model)

    def task_class(self, suffix: str) -> str:
        """The transformers class with a task head: the base class's prefix + ``suffix``
        (BertModel + ForTokenClassification -> BertForTokenClassification; "Model": the base class)."""
        return self.base_class.removesuffix("Model") + suffix

    def build(self, config, classifier: bool):
        """A freshly initialised transformers model for ``config``, in this architecture's layout."""
        import transformers

        model = getattr(transformers, self.classifier_class if classifier else self.base_class)(config)
        if self.layout:
            from .layouts import LAYOUTS

            LAYOUTS[self.layout](model)
        return model.eval()


ARCHITECTURES: dict[str, Architecture] = {
    "bert": Architecture(
        name="bert",
        config_class="BertConfig",
        base_class="BertModel",
        classifier_class="BertForSequenceClassification",
        published=dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                       intermediate_size=3072, vocab_size=30522),
        source="BERT-base-uncased (Devlin et al., 2019)",
        qkv_attention="encoder.layer.*.attention.self",
    ),
    "mobilebert": Architecture(
        name="mobilebert",
        config_class="MobileBertConfig",
        base_class="MobileBertModel",
        classifier_class="MobileBertForSequenceClassification",
        published=dict(vocab_size=30522, hidden_size=512, num_hidden_layers=24,
                       num_attention_heads=4, intermediate_size=512, embedding_size=128,
                       intra_bottleneck_size=128, true_hidden_size=128,
                       use_bottleneck_attention=False, key_query_shared_bottleneck=True,
                       num_feedforward_networks=4, normalization_type="no_norm",
                       trigram_input=True, classifier_activation=False),
        source="MobileBERT (Sun et al., 2020), google/mobilebert-uncased config.json",
        no_deformer="its trigram embeddings (trigram_input) mix each token with its neighbours, across the "
                    "question/passage boundary, before any layer",
    ),
}
ARCHITECTURES["distilbert"] = Architecture(
    name="distilbert",
    config_class="DistilBertConfig",
    base_class="DistilBertModel",
    classifier_class="DistilBertForSequenceClassification",
    inputs=("input_ids", "attention_mask"),  # no token types
    published=dict(vocab_size=30522, dim=768, n_layers=6, n_heads=12, hidden_dim=3072),
    source="DistilBERT-base (Sanh et al., 2019): 66M params; distilbert-base-uncased config.json",
    qkv_attention="transformer.layer.*.attention",
    qkv=("q_lin", "k_lin", "v_lin"),
    layer_prefix="transformer.layer",
    derivable=("embeddings.position_ids",),
    layers_field="n_layers",
    shape=("n_layers", "dim", "n_heads", "hidden_dim"),
    classifier_head="pre-classifier",
)
ARCHITECTURES["roberta"] = Architecture(
    name="roberta",
    config_class="RobertaConfig",
    base_class="RobertaModel",
    classifier_class="RobertaForSequenceClassification",
    inputs=("input_ids", "attention_mask"),  # one token type; positions count from padding_idx + 1
    published=dict(vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                   intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1,
                   layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2),
    source="RoBERTa-base (Liu et al., 2019): 125M params; FacebookAI/roberta-base config.json",
    qkv_attention="encoder.layer.*.attention.self",
    positions_from_pad=True,
    tokenizer="byte-level-bpe",
    classifier_head="sequence",
)
# XLM-R is RoBERTa's layout with a 250k SentencePiece vocabulary: only the names and the published config differ
ARCHITECTURES["xlm-roberta"] = dataclasses.replace(
    ARCHITECTURES["roberta"],
    name="xlm-roberta",
    config_class="XLMRobertaConfig",
    base_class="XLMRobertaModel",
    classifier_class="XLMRobertaForSequenceClassification",
    published=dict(vocab_size=250002, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                   intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1,
                   layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2),
    source="XLM-R base (Conneau et al., 2020): 270M params; FacebookAI/xlm-roberta-base config.json",
    prefix="roberta",
    tokenizer="unigram",
)
ARCHITECTURES["electra"] = Architecture(
    name="electra",
    config_class="ElectraConfig",
    base_class="ElectraModel",
    classifier_class="ElectraForSequenceClassification",
    published=dict(vocab_size=30522, embedding_size=128, hidden_size=256, num_hidden_layers=12,
                   num_attention_heads=4, intermediate_size=1024),
    source="ELECTRA-Small (Clark et al., 2020): 14M params; google/electra-small-discriminator config.json",
    qkv_attention="encoder.layer.*.attention.self",
    embedding_projection="embeddings_project",  # only where embedding_size != hidden_size
    classifier_head="sequence",
)
# The three below cannot hold BERT's weights (shared layers, disentangled attention, rotary GeGLU):
# their real weights here are students distilled from the teacher (compress method wrs, `architecture`).
ARCHITECTURES["albert"] = Architecture(
    name="albert",
    config_class="AlbertConfig",
    base_class="AlbertModel",
    classifier_class="AlbertForSequenceClassification",
    published=dict(vocab_size=30000, embedding_size=128, hidden_size=768, num_hidden_layers=12,
                   num_attention_heads=12, intermediate_size=3072, hidden_act="gelu_new"),
    source="ALBERT-base (Lan et al., 2020, Table 1: 12M params); albert/albert-base-v2 config.json",
    # Q/K/V read AlbertAttention's input, but so does its residual (LayerNorm(x + attention)): dividing
    # that input would change the function, so no module's input feeds Q/K/V alone: no SmoothQuant
    qkv_attention="",
    no_smoothquant="one shared layer: Q, K and V weights serve every layer, and their input also feeds the residual",
    # the checkpoint holds num_hidden_groups groups of shared layers, not num_hidden_layers layers
    layer_prefix="encoder.albert_layer_groups",
    layers_field="num_hidden_groups",
    ffn=r"\.ffn(_output)?(_\d+)?$",  # later applications of the shared layer are exported as ffn_1, ffn_2...
    tokenizer="unigram",
    embedding_projection="encoder.embedding_hidden_mapping_in",
    classifier_head="pooler-linear",
)
ARCHITECTURES["deberta-v2"] = Architecture(  # the name is transformers' model_type: DeBERTa-v3 is a v2 model
    name="deberta-v2",
    config_class="DebertaV2Config",
    base_class="DebertaV2Model",
    classifier_class="DebertaV2ForSequenceClassification",
    inputs=("input_ids", "attention_mask"),  # type_vocab_size 0: v3 has no token types
    published=dict(vocab_size=128100, hidden_size=384, num_hidden_layers=12, num_attention_heads=6,
                   intermediate_size=1536, max_position_embeddings=512, type_vocab_size=0,
                   relative_attention=True, position_buckets=256, norm_rel_ebd="layer_norm",
                   share_att_key=True, pos_att_type=["p2c", "c2p"], position_biased_input=False,
                   max_relative_positions=-1, layer_norm_eps=1e-7, pad_token_id=0),
    source="DeBERTa-v3-xsmall (He et al., 2021; model card: 22M backbone + 48M embedding params, "
           "128k vocabulary); microsoft/deberta-v3-xsmall config.json",
    # share_att_key: query_proj and key_proj also project the relative-position embeddings, which the
    # smoothing scale does not divide: smoothing changed the function (a 4x256 polarity student's TFLite
    # int8-smooth: top-1 0.849, max_abs 0.13 against int8-dynamic's 0.002), so no SmoothQuant
    qkv_attention="",
    no_smoothquant="Q and K also project the relative-position embeddings (share_att_key), which no smoothing "
                   "scale divides",
    qkv=("query_proj", "key_proj", "value_proj"),
    derivable=("embeddings.position_ids",),
    ffn=r"layer\.\d+\.(intermediate|output)\.dense$",  # not attention.output.dense
    tflite_mask="as-given",  # DeBERTa turns any mask into a 0/1 one: -10000 would read as "keep"
    counts_on_meta=False,  # its relative positions call .item()
    # relative positions depend on i - j only: each segment's lower layers get their own, over its length
    deformer_layers="deberta",
    classifier_head="context-pooler",
    prefix="deberta",
    tokenizer="unigram",
)
ARCHITECTURES["modernbert"] = Architecture(
    name="modernbert",
    config_class="ModernBertConfig",
    base_class="ModernBertModel",
    classifier_class="ModernBertForSequenceClassification",
    inputs=("input_ids", "attention_mask"),  # no token types; rotary positions
    published=dict(vocab_size=50368, hidden_size=768, num_hidden_layers=22, num_attention_heads=12,
                   intermediate_size=1152, max_position_embeddings=8192, local_attention=128,
                   norm_bias=False, attention_bias=False, mlp_bias=False),
    source="ModernBERT-base (Warner et al., 2024, Table: 149M params); answerdotai/ModernBERT-base config.json",
    # Q, K and V are one fused Linear (attn.Wqkv): no separate Q/K/V for SmoothQuant to rescale
    qkv_attention="",
    qkv=("", "", ""),
    no_smoothquant="Q, K and V are one fused Linear (attn.Wqkv)",
    layer_prefix="layers",
    prefix="model",
    ffn=r"mlp\.W[io]$",  # GeGLU: Wi (2 x intermediate wide), Wo; the fused attn.Wqkv is not square either
    # its sliding-window layers build their local mask from the 0/1 one; an additive 4-D mask is used as given
    # for every layer, which makes them global (max |logit diff| 2.7e-4 at 53-80 tokens on a distilled student)
    tflite_mask="as-given",
    derivable=(),  # the rotary tables are non-persistent buffers
    tokenizer="byte-level-bpe",
    # rotary positions and sliding windows depend on i - j only: each segment's lower layers get their own
    deformer_layers="modernbert",
    classifier_head="pooled-head",
)
# The layout MobileBERT's paper counts (its Table 1: Q, K and V read the 512-wide block input);
# architecture-only, since the released weights share a 128-wide Q/K bottleneck instead.
ARCHITECTURES["mobilebert-table1"] = dataclasses.replace(
    ARCHITECTURES["mobilebert"], name="mobilebert-table1", layout="mobilebert-table1",
    source="MobileBERT (Sun et al., 2020) Table 1: MHA h_input 512; sizes from google/mobilebert-uncased")


def layer_list(model):
    """(the module holding the layers, the attribute name) of a built model of a registered
    architecture, found through its layer_prefix (BertFor*.bert.encoder.layer, DistilBert's
    transformer.layer, ModernBert's layers); None where the layers are shared (ALBERT counts
    groups, not layers) or the architecture is not registered."""
    config = next((m.config for m in model.modules() if hasattr(m, "config")), None)
    arch = for_model_type(getattr(config, "model_type", None))
    if arch is None:
        return None
    holder = arch.base_model(model)
    *path, attr = arch.layer_prefix.split(".")
    for name in path:
        holder = getattr(holder, name)
    # one module per applied layer; ALBERT's list holds its num_hidden_groups shared groups instead
    return (holder, attr) if len(getattr(holder, attr)) == config.num_hidden_layers else None


def applied_layers(base, arch: Architecture) -> list:
    """One module per layer the base model applies, in order: its layer list, or for ALBERT's shared
    groups the group each layer index applies (AlbertTransformer's int(i / (layers / groups)))."""
    holder = base
    for name in arch.layer_prefix.split("."):
        holder = getattr(holder, name)
    layers, count = list(holder), base.config.num_hidden_layers
    return layers if len(layers) == count else [layers[int(i / (count / len(layers)))] for i in range(count)]


def for_model_type(model_type: str | None) -> Architecture | None:
    """The registered architecture a checkpoint's config.json ``model_type`` names (None: not registered).
    transformers' model types are the registry's names; paper layouts (mobilebert-table1) have none."""
    arch = ARCHITECTURES.get(model_type or "")
    return arch if arch is not None and not arch.layout else None
