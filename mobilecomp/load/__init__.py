"""Stage 1: builds the PyTorch model a recipe names, with its tokenizer and checkpoint provenance."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import CheckpointError, ConfigError, first_line
from ..files import read_json, read_text
from ..types import UNTRAINED_LABEL, CheckpointSpec, LoadedModel, Recipe
from .architectures import ARCHITECTURES, Architecture, for_model_type
from .checkpoints import REEXPORT, embedded_dir, files_sha256, read_config, weight_files, weight_paths
from .heads import HEADS, checkpoint_head, head_for, refuse_other_head, wrap

# Weights come only from local directories: never let transformers reach for a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# checkpoint.config fields that count something (layers, heads, widths): positive integers
SIZE_FIELDS = ("_size", "_layers", "_heads", "_embeddings", "_networks")
NOT_SIZES = ("tie_word_embeddings",)  # named like a size, but a flag
MAY_BE_ZERO = ("type_vocab_size",)  # DeBERTa-v3 has no token types


def bad_size(config: dict) -> tuple[str, object] | None:
    """The first size field of a config (recipe or config.json) that is not a positive integer."""
    for key, value in config.items():
        if not key.endswith(SIZE_FIELDS) or key in NOT_SIZES:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if key in MAY_BE_ZERO else 1):
            return key, value
    return None


def quiet_transformers() -> None:
    """Import transformers' model code with its import-time chatter (torchao's missing CUDA
    kernels, torch's pytree notices) kept off the terminal."""
    from ..runtime.litert import import_quietly

    import_quietly("transformers.modeling_utils")


def load_model(recipe: Recipe, checkpoint: str | None = None) -> LoadedModel:
    """The recipe's model; ``checkpoint`` (a local directory) replaces the recipe's weights."""
    quiet_transformers()
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
    # a --checkpoint given to a recipe of the default architecture loads as the one its config.json names
    pick = checkpoint is not None and spec.architecture == CheckpointSpec.architecture and recipe.decompose is None
    model, sha, arch = _pretrained(directory, arch, recipe, pick)
    tokenizer = _tokenizer(directory)
    check_fits(recipe, model.config, tokenizer, f"{directory}/config.json", CheckpointError)
    info = {"source": source, "name": spec.name, "path": str(directory), "sha256": sha,
            "trained": True, "label": _student_label(directory), "architecture": arch.name}
    return _loaded(model, tokenizer, directory, arch, recipe, info)


def _student_label(directory: Path) -> str | None:
    """"distilled" for a student `mobilecomp compress` distilled into a layout that cannot hold the
    teacher's weights (its card says so); None for every other checkpoint."""
    from ..bundle import STUDENT_CARD

    card = directory / STUDENT_CARD
    if not card.is_file():
        return None
    details = read_json(card, CheckpointError, "re-run mobilecomp compress").get("details")
    label = details.get("label") if isinstance(details, dict) else None
    return label if isinstance(label, str) else None


def check_config(recipe: Recipe, checkpoint: str | None = None):
    """The architecture config the recipe describes; unknown fields, sizes that are not positive
    integers, a config transformers cannot build a model from, and a missing checkpoint directory
    are errors naming the field (``checkpoint``, a --checkpoint override, replaces the recipe's
    directory and is checked when loaded)."""
    quiet_transformers()
    spec = recipe.checkpoint
    if spec.source == "hf-dir" and checkpoint is None and not Path(spec.path).expanduser().is_dir():
        hint = f"make it with {spec.made_by}" if spec.made_by else "give a local Hugging Face checkpoint directory"
        raise ConfigError(f"recipe {recipe.name}: checkpoint.path {spec.path} is not a directory ({hint})")
    arch = ARCHITECTURES[spec.architecture]
    where = f"recipe {recipe.name}: checkpoint.config"
    if (bad := bad_size(spec.config)) is not None:
        raise ConfigError(f"{where}.{bad[0]} is {bad[1]!r}; it must be a positive integer")
    from huggingface_hub.errors import StrictDataclassError

    try:
        config = arch.build_config(spec.config)
    except KeyError as exc:
        raise ConfigError(f"{where}.{exc.args[0]} is not a {arch.config_class} field") from None
    except (ValueError, TypeError, StrictDataclassError) as exc:
        raise ConfigError(f"{where}: {first_line(exc)}; fix checkpoint.config") from None
    if spec.source == "architecture":  # the recipe's config alone makes the model: build it without memory
        import copy

        import torch

        try:
            with torch.device("meta"):  # on a copy: a layout may change the config it builds from
                arch.build(copy.deepcopy(config), classifier=False)
        except (ValueError, RuntimeError, AssertionError) as exc:  # torch asserts a padding_idx past the vocabulary
            raise ConfigError(f"{where} makes no {arch.name} model ({first_line(exc)}); "
                              "fix checkpoint.config") from None
    return config


def _pretrained(directory: Path, arch: Architecture, recipe: Recipe, pick: bool = False):
    """(model, weights' sha256, architecture); ``pick``: a registered architecture named by config.json's
    model_type replaces ``arch``."""
    files = weight_files(directory)
    config = read_config(directory)
    model_type = config.get("model_type")
    named = for_model_type(model_type) if pick and model_type != arch.name else None
    if named is not None:
        try:
            return _pretrained(directory, named, recipe)
        except CheckpointError as exc:
            raise CheckpointError(f"{exc} (loaded as {named.name}: config.json model_type '{model_type}')") from None
    if model_type != arch.name:
        raise CheckpointError(
            f"{directory}/config.json: model_type '{model_type}' does not match the recipe's "
            f"architecture '{arch.name}' (use a recipe for {model_type} or another checkpoint)"
        )
    if (bad := bad_size(config)) is not None:
        raise CheckpointError(f"{directory}/config.json: {bad[0]} is {bad[1]!r}; it must be a positive integer "
                              f"({REEXPORT})")
    _check_layers(directory, files, config, arch)
    import transformers
    from huggingface_hub.errors import StrictDataclassError

    head = HEADS[recipe.head]
    refuse_other_head(directory, config, recipe.head)  # before sizes are compared
    cls = getattr(transformers, head.model_class(arch))
    # a token classifier's tag count is the checkpoint's own (config.json id2label)
    kwargs = {"num_labels": recipe.num_labels} if head.uses_classifier else {}
    try:  # sizes that differ are reported below, by tensor, rather than raised by transformers
        model, info = cls.from_pretrained(
            directory, local_files_only=True, attn_implementation="eager", ignore_mismatched_sizes=True,
            use_safetensors=files[0].suffix == ".safetensors", output_loading_info=True, **kwargs,
        )
    # transformers reads config.json's fields without checking their types (id2label: false is an AttributeError)
    except (ValueError, TypeError, RuntimeError, AttributeError, KeyError, StrictDataclassError) as exc:
        raise CheckpointError(f"{directory}/config.json: makes no {arch.name} model ({first_line(exc)}); "
                              f"{REEXPORT}") from None
    mismatched = [(key, tuple(saved), tuple(wanted)) for key, saved, wanted in info["mismatched_keys"]]
    if mismatched:
        key, saved, wanted = sorted(mismatched)[0]
        raise CheckpointError(
            f"{files[0]}: tensor '{key}' has shape {list(saved)} but {directory.name}/config.json makes "
            f"{list(wanted)} ({len(mismatched)} tensors differ); the weights and config.json are from "
            f"different models: {REEXPORT}")
    # strict: every tensor of the checkpoint is used, and every tensor the outputs read comes from it
    missing = sorted(k for k in info["missing_keys"] if not _derivable(k, arch, head.unused))
    unused = sorted(k for k in info["unexpected_keys"] if not _derivable(k, arch, ()))
    if missing or unused:
        has = checkpoint_head(config)
        if has and (any(_unprefixed(k, arch).startswith(("classifier.", "pooler.")) for k in missing + unused)
                    or head.uses_classifier):
            raise CheckpointError(f"{directory}: the recipe asks for head: {recipe.head} but the checkpoint has "
                                  f"{has}")
        key, count, what = (missing[0], len(missing), "are missing") if missing else \
            (unused[0], len(unused), "are not used by the model config.json describes")
        raise CheckpointError(f"{files[0]}: {count} tensors {what} (first: '{key}'); the weights and "
                              f"config.json are from different models: {REEXPORT}")
    return model.eval(), files_sha256(files), arch


def _derivable(key: str, arch: Architecture, unread: tuple[str, ...]) -> bool:
    """A tensor a checkpoint may lack or carry unread: buffers the model derives (position ids), and
    (missing only) the modules the head never reads."""
    name = _unprefixed(key, arch)
    return name in arch.derivable or name.startswith(unread)


def _unprefixed(key: str, arch: Architecture) -> str:
    """A checkpoint key without the task model's base prefix (BertFor*: bert.embeddings... -> embeddings...)."""
    return key.split(".", 1)[1] if key.startswith(f"{arch.prefix or arch.name}.") else key


def _check_layers(directory: Path, files: list[Path], config: dict, arch: Architecture) -> None:
    """config.json's layer count against the layers the weights hold, from the safetensors headers
    alone (before anything is loaded): a config that says fewer layers would silently drop some."""
    import re

    from safetensors import safe_open

    if files[0].suffix != ".safetensors":
        return  # pickles: the unused-tensor check after loading catches it
    pattern = re.compile(rf"(?:^|\.){re.escape(arch.layer_prefix)}\.(\d+)\.")
    layers = set()
    for path in files:
        with safe_open(path, framework="numpy") as fh:
            layers |= {int(m.group(1)) for key in fh.keys() if (m := pattern.search(key))}
    field = arch.layers_field
    said = config.get(field)
    if layers and said != len(layers):
        raise CheckpointError(f"{directory}/config.json: {field} is {said!r} but {files[0].name} holds "
                              f"{len(layers)} layers ({arch.layer_prefix}.0 to {arch.layer_prefix}.{max(layers)}); "
                              f"set {field} to {len(layers)} or {REEXPORT}")


def check_fits(recipe: Recipe, config, tokenizer, where: str, error: type) -> None:
    """The recipe's sequence lengths fit the position table, and the tokenizer's ids the embedding
    table: both would otherwise fail deep inside torch, or index out of range on a phone."""
    positions = getattr(config, "max_position_embeddings", None)
    longest = max((recipe.seq_len, *recipe.tflite_seq_lens))
    arch = for_model_type(getattr(config, "model_type", None))
    skipped = config.pad_token_id + 1 if arch is not None and arch.positions_from_pad else 0
    if isinstance(positions, int) and longest > positions - skipped:
        after = f" ({positions - skipped} usable: positions start at pad_token_id + 1)" if skipped else ""
        raise ConfigError(f"recipe {recipe.name}: seq_len {longest} is longer than {where} "
                          f"max_position_embeddings {positions}{after}; lower seq_len (and tflite_seq_lens)")
    vocab = getattr(config, "vocab_size", None)
    if isinstance(vocab, int) and len(tokenizer) > vocab:
        raise error(f"{where}: vocab_size is {vocab} but the tokenizer has {len(tokenizer)} tokens (ids past the "
                    "embedding table); the tokenizer and weights are from different models: fix vocab_size or the "
                    "tokenizer files")


def source_paths(recipe: Recipe, checkpoint: str | None) -> list[Path]:
    """The files and directories an export reads its model from: --out may never be or hold them."""
    spec = recipe.checkpoint
    if checkpoint is not None:
        return [Path(checkpoint)]
    if spec.source == "hf-dir":
        return [Path(spec.path)]
    if spec.source == "embedded":
        return [embedded_dir(spec.name, check=False)]  # hashed when it is loaded
    return []


# What each variant's file weighs against the fp32 weights (int8 keeps embeddings and norms wider).
SIZE_FACTORS = {"fp32": 1.0, "fp16": 0.5, "int16x8": 0.3}
INT8_FACTOR = 0.4
BUNDLE_SLACK = 16 << 20  # inputs, tokenizer, manifest, quantisers' scratch files


def bundle_bytes(recipe: Recipe, checkpoint: str | None) -> int:
    """A floor on the bundle's size, from the checkpoint's weight bytes and the recipe's artefacts:
    an export is refused before any work when the disk has less free."""
    spec = recipe.checkpoint
    if checkpoint is not None or spec.source in ("hf-dir", "embedded"):
        directory = source_paths(recipe, checkpoint)[0]
        # listed, not checked: loading checks the files (and names what is wrong) once
        weights = sum(p.stat().st_size for p in weight_paths(directory)) if directory.is_dir() else 0
    elif spec.source == "embedded-onnx":
        from .onnx_source import embedded_onnx_path

        weights = embedded_onnx_path(spec.name or "").stat().st_size
    else:
        weights = 4 * _meta_params(recipe)
    per_format = sum(SIZE_FACTORS.get(v, INT8_FACTOR) for v in recipe.variants)
    graphs = 3 if recipe.decompose is not None else 1  # DeFormer: passage, question and the full model
    return int(weights * per_format * len(recipe.formats) * graphs) + BUNDLE_SLACK


def _meta_params(recipe: Recipe) -> int:
    import torch

    arch = ARCHITECTURES[recipe.checkpoint.architecture]
    with torch.device("meta"):
        model = arch.build(arch.build_config(recipe.checkpoint.config), classifier=False)
    return sum(p.numel() for p in model.parameters())


def _tokenizer(directory: Path):
    """The directory's tokenizer; its files are read here first, so a broken one is named."""
    from transformers import AutoTokenizer

    from .tokenizer import SOURCE_FILES

    if not any((directory / f).exists() for f in SOURCE_FILES):  # a sentencepiece model alone is converted
        raise CheckpointError(f"{directory}: no tokenizer.json or vocab.txt (nor spiece.model, sentencepiece.bpe.model "
                              "or vocab.json) beside the weights")
    fix = "fix the file or copy the tokenizer from the checkpoint it belongs to"
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (directory / name).exists():
            read_json(directory / name, CheckpointError, fix)
    if (directory / "vocab.txt").exists() and not read_text(directory / "vocab.txt", CheckpointError, fix).strip():
        raise CheckpointError(f"{directory / 'vocab.txt'}: empty; {fix}")
    try:
        return AutoTokenizer.from_pretrained(directory, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - the tokenizers library raises bare Exception for bad files
        raise CheckpointError(f"{directory}: the tokenizer files do not load ({first_line(exc)}); {fix}") from None


def _random_model(recipe: Recipe, spec: CheckpointSpec, arch: Architecture) -> LoadedModel:
    import torch

    config = check_config(recipe)
    head = HEADS[recipe.head]
    if head.takes_labels:
        config.num_labels = recipe.num_labels
    config._attn_implementation = "eager"
    directory = tokenizer_dir(spec.tokenizer)
    tokenizer = _tokenizer(directory)
    check_fits(recipe, config, tokenizer, f"recipe {recipe.name}: checkpoint.config", ConfigError)
    torch.manual_seed(spec.seed)
    model = build_for_head(arch, config, head, recipe.name)
    info = {"source": "architecture", "name": None, "path": None, "sha256": None,
            "trained": False, "label": UNTRAINED_LABEL, "architecture": arch.name,
            "seed": spec.seed, "config_source": arch.source}
    return _loaded(model, tokenizer, directory, arch, recipe, info)


def build_for_head(arch: Architecture, config, head, recipe_name: str):
    """A freshly initialised model of ``arch`` with ``head``'s transformers class."""
    if head.suffix in ("Model", "ForSequenceClassification"):
        return arch.build(config, classifier=head.uses_classifier)
    if arch.layout:
        raise ConfigError(f"recipe {recipe_name}: architecture {arch.name} is a paper layout with no "
                          f"{head.suffix} class; use head: encoder or classifier")
    import transformers

    return getattr(transformers, head.model_class(arch))(config).eval()


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

    head = head_for(recipe.head, recipe.pooling)
    if head.name != "encoder" or recipe.pooling != "mean":
        raise ConfigError(f"recipe {recipe.name}: an ONNX checkpoint is a mean-pooled encoder; use head: encoder "
                          "with pooling: mean")
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
    head = head_for(recipe.head, recipe.pooling, tokenizer)
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
