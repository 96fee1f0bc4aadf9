"""Stage 1: builds the PyTorch model a recipe names, with its tokenizer and checkpoint provenance."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import CheckpointError, ConfigError
from ..types import UNTRAINED_LABEL, CheckpointSpec, LoadedModel, Recipe
from .architectures import ARCHITECTURES, Architecture
from .checkpoints import embedded_dir, files_sha256, weight_files
from .heads import HEADS, wrap

# Weights come only from local directories: never let transformers reach for a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def load_model(recipe: Recipe, checkpoint: str | None = None) -> LoadedModel:
    """The recipe's model; ``checkpoint`` (a local directory) replaces the recipe's weights."""
    spec = recipe.checkpoint
    arch = ARCHITECTURES[spec.architecture]
    if checkpoint is not None:
        directory, source = Path(checkpoint), "hf-dir"
    elif spec.source == "embedded":
        directory, source = embedded_dir(spec.name), "embedded"
    elif spec.source == "hf-dir":
        directory, source = Path(spec.path), "hf-dir"
    elif spec.source == "embedded-onnx":
        return _onnx_model(recipe, spec, arch)
    else:
        return _random_model(recipe, spec, arch)
    model, sha = _pretrained(directory, arch, recipe)
    tokenizer = _tokenizer(directory)
    info = {"source": source, "name": spec.name, "path": str(directory), "sha256": sha,
            "trained": True, "label": None, "architecture": arch.name}
    return _loaded(model, tokenizer, directory, arch, recipe, info)


def check_config(recipe: Recipe, checkpoint: str | None = None):
    """The architecture config the recipe describes; unknown fields and a missing checkpoint
    directory are errors naming the field (``checkpoint``, a --checkpoint override, replaces
    the recipe's directory and is checked when loaded)."""
    spec = recipe.checkpoint
    if spec.source == "hf-dir" and checkpoint is None and not Path(spec.path).expanduser().is_dir():
        hint = f"make it with {spec.made_by}" if spec.made_by else "give a local Hugging Face checkpoint directory"
        raise ConfigError(f"recipe {recipe.name}: checkpoint.path {spec.path} is not a directory ({hint})")
    arch = ARCHITECTURES[recipe.checkpoint.architecture]
    try:
        return arch.build_config(recipe.checkpoint.config)
    except KeyError as exc:
        raise ConfigError(f"recipe {recipe.name}: checkpoint.config.{exc.args[0]} is not a "
                          f"{arch.config_class} field") from None


def _pretrained(directory: Path, arch: Architecture, recipe: Recipe):
    files = weight_files(directory)
    model_type = json.loads((directory / "config.json").read_text()).get("model_type")
    if model_type != arch.name:
        raise CheckpointError(
            f"{directory}/config.json: model_type '{model_type}' does not match the recipe's "
            f"architecture '{arch.name}' (use a recipe for {model_type} or another checkpoint)"
        )
    import transformers

    head = HEADS[recipe.head]
    cls = getattr(transformers, arch.classifier_class if head.uses_classifier else arch.base_class)
    kwargs = {"num_labels": recipe.num_labels} if head.uses_classifier else {}
    model, info = cls.from_pretrained(
        directory, local_files_only=True, attn_implementation="eager",
        use_safetensors=files[0].suffix == ".safetensors", output_loading_info=True, **kwargs,
    )
    missing = [k for k in info["missing_keys"] if not k.startswith(("pooler.", "bert.pooler."))]
    if missing:
        raise CheckpointError(
            f"{directory}: weights for '{missing[0]}' are missing ({len(missing)} tensors); "
            + ("the checkpoint has no trained classifier: fine-tune it or use head: encoder"
               if head.uses_classifier else "is it a checkpoint of this architecture?")
        )
    return model.eval(), files_sha256(files)


def _tokenizer(directory: Path):
    from transformers import AutoTokenizer

    if not any((directory / f).exists() for f in ("tokenizer.json", "vocab.txt")):
        raise CheckpointError(f"{directory}: no tokenizer.json or vocab.txt beside the weights")
    return AutoTokenizer.from_pretrained(directory, local_files_only=True)


def _random_model(recipe: Recipe, spec: CheckpointSpec, arch: Architecture) -> LoadedModel:
    import torch

    config = check_config(recipe)
    head = HEADS[recipe.head]
    if head.uses_classifier:
        config.num_labels = recipe.num_labels
    config._attn_implementation = "eager"
    directory = tokenizer_dir(spec.tokenizer)
    tokenizer = _tokenizer(directory)
    if len(tokenizer) > config.vocab_size:
        raise ConfigError(f"recipe {recipe.name}: tokenizer '{spec.tokenizer}' has {len(tokenizer)} "
                          f"tokens but checkpoint.config.vocab_size is {config.vocab_size}")
    torch.manual_seed(spec.seed)
    model = arch.build(config, classifier=head.uses_classifier)
    info = {"source": "architecture", "name": None, "path": None, "sha256": None,
            "trained": False, "label": UNTRAINED_LABEL, "architecture": arch.name,
            "seed": spec.seed, "config_source": arch.source}
    return _loaded(model, tokenizer, directory, arch, recipe, info)


def tokenizer_dir(name: str) -> Path:
    """The directory of a tokenizer named in a recipe: a vocab shipped here or an embedded checkpoint's."""
    from .vocabs import VOCABS, vocab_dir

    if name in VOCABS:
        return vocab_dir(name)
    from .checkpoints import EMBEDDED

    if name not in EMBEDDED:
        raise ConfigError(f"checkpoint.tokenizer '{name}' is unknown "
                          f"(known: {', '.join([*EMBEDDED, *VOCABS])})")
    return embedded_dir(name)


def _onnx_model(recipe: Recipe, spec: CheckpointSpec, arch: Architecture) -> LoadedModel:
    """An ONNX checkpoint: adapted to the head's output names, run by onnxruntime as the reference."""
    import tempfile

    from .checkpoints import sha256_file
    from .onnx_source import EMBEDDED_ONNX, OnnxModule, adapt, embedded_onnx_path

    head = HEADS[recipe.head]
    if head.uses_classifier:
        raise ConfigError(f"recipe {recipe.name}: an ONNX checkpoint has no classifier; use head: encoder")
    entry = EMBEDDED_ONNX.get(spec.name or "")
    path = embedded_onnx_path(spec.name or "")
    adapted = Path(tempfile.mkdtemp(prefix="mobilecomp-onnx-")) / "model-fp32.onnx"
    params = adapt(path, adapted, entry, head.outputs)
    directory = tokenizer_dir(entry.tokenizer)
    info = {"source": "embedded-onnx", "name": spec.name, "path": str(path), "sha256": sha256_file(path),
            "trained": True, "label": None, "architecture": arch.name, "requirement": entry.requirement,
            "reference": "the package's own fp32 ONNX graph (onnxruntime), not PyTorch"}
    return LoadedModel(module=OnnxModule(adapted, entry.inputs, head.outputs), tokenizer=_tokenizer(directory),
                       tokenizer_dir=str(directory), architecture=arch.name, head=head.name,
                       input_names=entry.inputs, output_names=head.outputs, checkpoint=info, params=params)


def _loaded(model, tokenizer, tokenizer_dir: Path, arch: Architecture, recipe: Recipe, info) -> LoadedModel:
    head = HEADS[recipe.head]
    return LoadedModel(
        module=wrap(head, model, arch.inputs),
        tokenizer=tokenizer,
        tokenizer_dir=str(tokenizer_dir),
        architecture=arch.name,
        head=head.name,
        input_names=arch.inputs,
        output_names=head.outputs,
        checkpoint=info,
        params=sum(p.numel() for p in model.parameters()),
    )
