"""Loads and validates export recipes (export_recipes/*.yaml) into Recipe dataclasses."""

from __future__ import annotations

from pathlib import Path

import yaml

from .errors import ConfigError
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
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    recipe = from_dict(Recipe, data, where=str(path))
    if recipe.name != path.stem:
        raise ConfigError(f"{path}: name '{recipe.name}' must match the file name '{path.stem}'")
    check_names(recipe, str(path))
    return recipe


def check_names(recipe: Recipe, where: str) -> None:
    """Every registered name in a recipe exists; unknown names list the known ones."""
    from .export import FORMATS
    from .load.architectures import ARCHITECTURES
    from .load.checkpoints import SOURCES
    from .load.heads import HEADS
    from .quantise import known_variants

    def need(value: str, known, field: str) -> None:
        if value not in known:
            raise ConfigError(f"{where}: {field} '{value}' is unknown (known: {', '.join(known)})")

    need(recipe.checkpoint.source, SOURCES, "checkpoint.source")
    need(recipe.checkpoint.architecture, ARCHITECTURES, "checkpoint.architecture")
    need(recipe.head, HEADS, "head")
    for fmt in recipe.formats:
        need(fmt, FORMATS, "formats")
    for variant in recipe.variants:
        need(variant, known_variants(), "variants")
    if recipe.checkpoint.source == "hf-dir" and not recipe.checkpoint.path:
        raise ConfigError(f"{where}: checkpoint.path is required when checkpoint.source is hf-dir")
    if recipe.checkpoint.source == "hf-dir" and not Path(recipe.checkpoint.path).is_dir():
        raise ConfigError(f"{where}: checkpoint.path {recipe.checkpoint.path} is not a directory "
                          "(give a local Hugging Face checkpoint directory)")
    if recipe.checkpoint.source == "embedded" and not recipe.checkpoint.name:
        raise ConfigError(f"{where}: checkpoint.name is required when checkpoint.source is embedded")
    if "fp32" not in recipe.variants:
        raise ConfigError(f"{where}: variants must include fp32 (the other variants start from it)")
