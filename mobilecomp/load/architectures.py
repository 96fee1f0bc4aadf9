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

    def build_config(self, overrides: dict[str, Any]):
        import transformers

        config_cls = getattr(transformers, self.config_class)
        known = set(config_cls().to_dict())
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise KeyError(unknown[0])
        return config_cls(**{**self.published, **overrides})

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
)
# The layout MobileBERT's paper counts (its Table 1: Q, K and V read the 512-wide block input);
# architecture-only, since the released weights share a 128-wide Q/K bottleneck instead.
ARCHITECTURES["mobilebert-table1"] = dataclasses.replace(
    ARCHITECTURES["mobilebert"], name="mobilebert-table1", layout="mobilebert-table1",
    source="MobileBERT (Sun et al., 2020) Table 1: MHA h_input 512; sizes from google/mobilebert-uncased")


def for_model_type(model_type: str | None) -> Architecture | None:
    """The registered architecture a checkpoint's config.json ``model_type`` names (None: not registered).
    transformers' model types are the registry's names; paper layouts (mobilebert-table1) have none."""
    arch = ARCHITECTURES.get(model_type or "")
    return arch if arch is not None and not arch.layout else None
