"""Loads and validates export recipes (export_recipes/*.yaml) into Recipe dataclasses."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .errors import ConfigError
from .files import read_yaml
from .schema import from_dict
from .types import Recipe

RECIPES_DIR = Path(__file__).resolve().parent.parent / "export_recipes"


def recipe_paths(recipes_dir: Path = RECIPES_DIR) -> dict[str, Path]:
    return {p.stem: p for p in sorted(recipes_dir.glob("*.yaml"))}


def load_recipe(name_or_path: str, recipes_dir: Path = RECIPES_DIR) -> Recipe:
    """A recipe by name (from export_recipes/) or by path to a YAML file."""
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        known = recipe_paths(recipes_dir)
        if name_or_path not in known:
            raise ConfigError(
                f"unknown recipe '{name_or_path}' (known: {', '.join(known)}; or give a .yaml path)"
            )
        path = known[name_or_path]
    data = read_yaml(path, ConfigError, "a recipe is a YAML mapping (see export_recipes/)")
    recipe = from_dict(Recipe, data, where=str(path))
    if recipe.checkpoint.path and not Path(recipe.checkpoint.path).expanduser().is_absolute():
        # A relative checkpoint path is relative to the recipe file, wherever it is run from.
        absolute = str((path.parent / recipe.checkpoint.path).resolve())
        recipe = replace(recipe, checkpoint=replace(recipe.checkpoint, path=absolute))
    if recipe.compress is not None and not Path(recipe.compress.teacher).expanduser().is_absolute():
        teacher = str((path.parent / recipe.compress.teacher).resolve())
        recipe = replace(recipe, compress=replace(recipe.compress, teacher=teacher))
    if recipe.name != path.stem:
        raise ConfigError(f"{path}: name '{recipe.name}' must match the file name '{path.stem}'")
    check_names(recipe, str(path))
    return recipe


def check_names(recipe: Recipe, where: str) -> None:
    """Every registered name in a recipe exists; unknown names list the known ones."""
    from .formats import FORMATS
    from .load.architectures import ARCHITECTURES
    from .load.checkpoints import SOURCES
    from .load.heads import HEADS, POOLINGS
    from .quantise import known_variants

    def need(value: str, known, field: str) -> None:
        if value not in known:
            raise ConfigError(f"{where}: {field} '{value}' is unknown (known: {', '.join(known)})")

    need(recipe.checkpoint.source, SOURCES, "checkpoint.source")
    need(recipe.checkpoint.architecture, ARCHITECTURES, "checkpoint.architecture")
    need(recipe.head, HEADS, "head")
    need(recipe.pooling, POOLINGS, "pooling")
    if recipe.pooling != "mean" and recipe.head != "encoder":
        raise ConfigError(f"{where}: pooling is an encoder setting; head {recipe.head} takes no pooling")
    for fmt in recipe.formats:
        need(fmt, FORMATS, "formats")
    for variant in recipe.variants:
        need(variant, known_variants(), "variants")
    if recipe.checkpoint.source == "hf-dir" and not recipe.checkpoint.path:
        raise ConfigError(f"{where}: checkpoint.path is required when checkpoint.source is hf-dir")

    if recipe.checkpoint.source == "embedded" and not recipe.checkpoint.name:
        raise ConfigError(f"{where}: checkpoint.name is required when checkpoint.source is embedded")
    if "fp32" not in recipe.variants:
        raise ConfigError(f"{where}: variants must include fp32 (the other variants start from it)")
    check_seed_fields(recipe, where)
    if recipe.compress is not None:
        from .compress import method_options

        method_options(recipe.compress, where, recipe.head)
        if recipe.checkpoint.source != "hf-dir" or not recipe.checkpoint.path:
            raise ConfigError(f"{where}: a compress section needs checkpoint.source hf-dir with a path "
                              "(where the student is written)")


def check_seed_fields(recipe: Recipe, where: str) -> None:
    """ONNX checkpoints, shipped vocabularies, pruning and DeFormer decomposition (issue 6)."""
    from .load.checkpoints import EMBEDDED
    from .load.onnx_source import EMBEDDED_ONNX
    from .load.vocabs import VOCABS
    from .transform.prune import METHODS

    spec = recipe.checkpoint
    if spec.source == "embedded-onnx":
        if spec.name not in EMBEDDED_ONNX:
            raise ConfigError(f"{where}: checkpoint.name '{spec.name}' is unknown for embedded-onnx "
                              f"(known: {', '.join(EMBEDDED_ONNX)})")
        if recipe.formats != ("onnx",) or recipe.prune or recipe.decompose:
            raise ConfigError(f"{where}: an embedded-onnx checkpoint takes formats: [onnx] and no "
                              "prune or decompose (there is no PyTorch model to change)")
    if spec.source == "architecture" and spec.tokenizer not in (*EMBEDDED, *VOCABS):
        raise ConfigError(f"{where}: checkpoint.tokenizer '{spec.tokenizer}' is unknown "
                          f"(known: {', '.join([*EMBEDDED, *VOCABS])})")
    if recipe.prune is not None and recipe.prune.method not in METHODS:
        raise ConfigError(f"{where}: prune.method '{recipe.prune.method}' is unknown (known: {', '.join(METHODS)})")
    if recipe.decompose is not None:
        from .load.architectures import ARCHITECTURES

        arch = ARCHITECTURES[spec.architecture]
        if arch.no_deformer:
            splits = ", ".join(n for n, a in ARCHITECTURES.items() if not a.no_deformer)
            raise ConfigError(f"{where}: decompose (DeFormer) cannot split checkpoint.architecture {arch.name}: "
                              f"{arch.no_deformer}; use one of {splits}, or drop decompose")
        if recipe.formats != ("onnx",):
            raise ConfigError(f"{where}: decompose (DeFormer) writes two ONNX graphs: it needs formats: [onnx] "
                              f"(not {', '.join(recipe.formats)})")
        if recipe.head not in ("encoder", "classifier", "question-answering") or recipe.pooling != "mean":
            raise ConfigError(f"{where}: decompose is built for head: encoder (pooling: mean), classifier or "
                              f"question-answering, not {recipe.head}")
        field = arch.shape[0]  # the config field counting the applied layers (DistilBERT's n_layers)
        layers = spec.config.get(field, arch.published.get(field, 12))
        if recipe.decompose.lower_layers >= layers:
            raise ConfigError(f"{where}: decompose.lower_layers {recipe.decompose.lower_layers} must be "
                              f"below {field} ({layers})")
        unsupported = sorted(set(recipe.variants) - {"fp32", "int8-dynamic"})
        if unsupported:
            raise ConfigError(f"{where}: variants '{unsupported[0]}' is not built for decompose "
                              "(known: fp32, int8-dynamic)")
