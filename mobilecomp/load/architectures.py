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
    # Modules whose first input alone feeds Linears named query, key and value ("*" = every
    # layer): where SmoothQuant can rescale that input. Empty where Q, K and V read different tensors.
    qkv_attention: str = ""
    layout: str = ""  # a load.layouts function applied after building: a paper's layout no config gives

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
# The layout MobileBERT's paper counts (its Table 1: Q, K and V read the 512-wide block input);
# architecture-only, since the released weights share a 128-wide Q/K bottleneck instead.
ARCHITECTURES["mobilebert-table1"] = dataclasses.replace(
    ARCHITECTURES["mobilebert"], name="mobilebert-table1", layout="mobilebert-table1",
    source="MobileBERT (Sun et al., 2020) Table 1: MHA h_input 512; sizes from google/mobilebert-uncased")
