"""TFLite export with litert-torch: fixed sequence lengths as signatures, additive mask built inside."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from ..errors import ToolchainError
from ..inputs import profiling_feed
from ..runtime.litert import import_quietly, quiet
from ..load.architectures import for_model_type
from ..load.heads import Head
from ..types import LoadedModel, Recipe

MASK_VALUE = -10000.0  # additive mask; finite, so quantised softmax inputs keep a usable range


def seq_lens(recipe: Recipe) -> tuple[int, ...]:
    """The fixed lengths the .tflite holds, one signature each (dynamic length does not lower)."""
    return tuple(sorted({*recipe.tflite_seq_lens, recipe.seq_len}))


def signature_name(seq_len: int) -> str:
    return f"seq{seq_len}"


def tflite_module(model: LoadedModel | None = None, base=None, head: Head | None = None):
    """The head's outputs from (input_ids, attention_mask[, token_type_ids]) by keyword (the
    model's input names: DistilBERT and RoBERTa take no token types), with the additive attention
    mask built here: transformers then adds no mask ops of its own (a 4-D mask is used as given)
    and eager attention lowers to builtin TFLite ops. ``base`` and
    ``head`` (a load.heads.Head, with its settings) stand for ``model``: the transformers model alone, as a
    conversion process gets it.

    The class stays defined in this function: litert-torch writes its qualified name
    (``tflite_module.<locals>.TFLiteWrapped``) into the file, so moving it would change the bytes."""
    import torch

    if model is not None:
        base, head = model.module.model, model.module.head  # load.heads.wrap keeps both here
    arch = for_model_type(getattr(getattr(base, "config", None), "model_type", None))
    given_mask = arch is not None and arch.tflite_mask == "as-given"  # the model reads only a 0/1 mask

    class TFLiteWrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = base

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            keep = attention_mask.to(torch.float32)
            additive = (1.0 - keep)[:, None, None, :] * MASK_VALUE
            types = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            mask = attention_mask if given_mask else additive
            return head.forward(self.model, {"input_ids": input_ids, "attention_mask": mask, **types}, keep)

    return TFLiteWrapped().eval()


def sample_inputs(model: LoadedModel, seq_len: int) -> dict[str, Any]:
    """One real sentence padded to ``seq_len``, as int32 torch tensors (TFLite inputs are int32)."""
    import torch

    feed = profiling_feed(model.tokenizer, model.input_names, seq_len)
    return {name: torch.from_numpy(feed[name]).to(torch.int32) for name in model.input_names}


def convert(model: LoadedModel, lens: tuple[int, ...], path: Path, quant_config=None) -> None:
    """Write ``model`` as one .tflite with a signature per length in ``lens``."""
    convert_module(tflite_module(model), {n: sample_inputs(model, n) for n in lens}, lens, path, quant_config)


def convert_module(module, samples: dict[int, dict[str, Any]], lens: tuple[int, ...], path: Path,
                   quant_config=None) -> None:
    """``convert`` of a wrapped module, given one sample input per length."""
    import torch

    try:
        with quiet(), warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            converter = import_quietly().signature(signature_name(lens[0]), module, sample_kwargs=samples[lens[0]])
            for n in lens[1:]:
                converter = converter.signature(signature_name(n), module, sample_kwargs=samples[n])
            converter.convert(quant_config=quant_config).export(str(path))
    except OSError:  # a full disk is the bundle's to report (BundleWriter), not the exporter's
        raise
    except Exception as exc:  # litert-torch raises many types; the message is what helps
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ToolchainError(f"litert-torch conversion failed: {type(exc).__name__}: {first[:300]}") from None


def export_tflite(model: LoadedModel, recipe: Recipe, path: Path, background=None) -> dict:
    """``background``: an export.background.Background that may have started this conversion."""
    lens = seq_lens(recipe)
    if background is not None:
        background.get(path, lambda: convert(model, lens, path))
    else:
        convert(model, lens, path)
    return {"exporter": f"litert-torch {import_quietly().__version__}",
            "signatures": {signature_name(n): n for n in lens}, "mask": "additive, built in the wrapper",
            "attention": "eager"}
