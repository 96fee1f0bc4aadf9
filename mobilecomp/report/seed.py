"""The seed papers' size and cost figures, and the recipes that reproduce them (checked by tests/test_inspect.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..types import CheckpointSpec, DecomposeSpec, Recipe

BERT_LARGE = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096)
BERT_BASE_PARAMS = 109_482_240  # BERT-base-uncased with pooler, counted (the papers' "109M"/"110M")


@dataclass(frozen=True)
class SeedFigure:
    label: str
    recipe: str | None  # the shipped recipe, or None for a model only a paper table names
    seq_len: int
    params_m: float | None  # the paper's parameters, millions
    gflops: float | None  # the paper's FLOPs, billions
    source: str
    compression: float | None = None  # Zhao et al.: x smaller than BERT-base
    architecture: str | None = None  # counted in this architecture instead of the recipe's
    note: str = ""


SEED_FIGURES: tuple[SeedFigure, ...] = (
    SeedFigure("BERT-base", "bert-base-int8", 128, 109.0, 22.5, "MobileBERT Table 3"),
    SeedFigure("BERT-base-6L-PKD", "pkd-6l-int8", 128, 66.5, 11.3, "MobileBERT Table 3"),
    SeedFigure("BERT-base-3L-PKD", "pkd-3l-int8", 128, 45.3, 5.7, "MobileBERT Table 3"),
    SeedFigure("MobileBERT", "mobilebert-int8", 128, 25.3, 5.7, "MobileBERT Table 3",
               architecture="mobilebert-table1",
               note="counted in the layout of the paper's Table 1 (Q, K, V read the 512-wide block "
                    "input); the released google/mobilebert-uncased config of recipe mobilebert-int8 "
                    "shares a 128-wide Q/K bottleneck instead: 24.58M params and 5.39 GFLOPs"),
    SeedFigure("BERT-base @ SQuAD", "bert-base-int8", 320, None, 58.4, "DeFormer Table 2"),
    SeedFigure("BERT-large @ SQuAD", None, 320, None, 204.1, "DeFormer Table 2"),
    SeedFigure("Decomp-BERT-large @ SQuAD", None, 320, None, 47.7, "DeFormer Table 2",
               note="20 lower + 4 upper layers, question 28 tokens, passage cached (our split: "
                    "the table states none)"),
    SeedFigure("DualTrain h192", "dualtrain-h192-int8", 128, None, None, "Zhao et al. Table 3", compression=5.74),
    SeedFigure("DualTrain h96", "dualtrain-h96-int8", 128, None, None, "Zhao et al. Table 3", compression=19.41),
    SeedFigure("DualTrain h48", "dualtrain-h48-int8", 128, None, None, "Zhao et al. Table 3", compression=61.94),
)

# Every seed system's recipe (issue 6), in the order the report lists them.
SEED_RECIPES: tuple[str, ...] = (
    "bert-base-int8", "pkd-6l-int8", "pkd-3l-int8", "dualtrain-h192-int8", "dualtrain-h96-int8",
    "dualtrain-h48-int8", "mobilebert-int8", "rpp-bert-large-59-int8", "rpp-bert-large-88-int8",
    "magnitude-bert-base-30-int8", "magnitude-bert-base-40-int8", "wrs-2-128-int8", "wrs-4-256-int8",
    "wrs-4-512-int8", "wrs-8-512-int8", "wrs-6-768-int8", "deformer-bert-base-int8", "minilm-l6-int8",
    "minilm-l3-onnx-int8",
)


def figure_recipe(figure: SeedFigure) -> Recipe:
    """The recipe a figure is counted on (paper-only models get one built here)."""
    from ..recipe import load_recipe

    if figure.recipe is not None:
        recipe = load_recipe(figure.recipe)
        if figure.architecture is None:
            return recipe
        return replace(recipe, checkpoint=replace(recipe.checkpoint, architecture=figure.architecture))
    decompose = DecomposeSpec(lower_layers=20, question_len=28) if figure.label.startswith("Decomp") else None
    return Recipe(name=figure.label, description=figure.source,
                  checkpoint=CheckpointSpec(source="architecture", architecture="bert", config=dict(BERT_LARGE)),
                  seq_len=figure.seq_len, decompose=decompose)


def check_figures(figures=SEED_FIGURES) -> list[dict]:
    """Each figure with our counted params/FLOPs and the relative difference."""
    from ..load.inspect import inspect_recipe

    out = []
    for fig in figures:
        counts = inspect_recipe(figure_recipe(fig), fig.seq_len)
        row = {"label": fig.label, "recipe": fig.recipe, "architecture": fig.architecture,
               "seq_len": fig.seq_len, "source": fig.source,
               "params_m": counts.params / 1e6, "gflops": counts.flops / 1e9,
               "paper_params_m": fig.params_m, "paper_gflops": fig.gflops, "note": fig.note,
               "paper_compression": fig.compression, "compression": BERT_BASE_PARAMS / counts.params}
        row["params_diff"] = row["params_m"] / fig.params_m - 1 if fig.params_m else None
        row["gflops_diff"] = row["gflops"] / fig.gflops - 1 if fig.gflops else None
        row["compression_diff"] = row["compression"] / fig.compression - 1 if fig.compression else None
        out.append(row)
    return out


def figures_markdown(rows: list[dict]) -> str:
    from .table import markdown

    def pct(v):
        return "-" if v is None else f"{v:+.1%}"

    def num(v, spec):
        return "-" if v is None else format(v, spec)

    def recipe_cell(r):
        if r["recipe"] is None:
            return "(built in code)"
        return r["recipe"] + (f" in layout {r['architecture']}" if r["architecture"] else "")

    body = [[r["label"], recipe_cell(r), str(r["seq_len"]), f"{r['params_m']:.2f}",
             num(r["paper_params_m"], ".1f"), pct(r["params_diff"]), f"{r['gflops']:.2f}",
             num(r["paper_gflops"], ".1f"), pct(r["gflops_diff"]),
             num(r["compression"], ".2f") + ("x" if r["paper_compression"] else ""),
             num(r["paper_compression"], ".2f"), r["source"]] for r in rows]
    return markdown(body, ["model", "recipe", "seq", "params M", "paper", "diff", "GFLOPs", "paper", "diff",
                           "x vs BERT-base", "paper", "source"])
