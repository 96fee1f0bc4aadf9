"""Well-Read Students (Turc et al., 2019): a compact BERT that learns from unlabelled text first,
then is distilled on the task. Here the unlabelled step is distillation on OANC sentences (the
teacher's sentence states through a learned projection, and its soft labels), since there is no
time for masked-LM pre-training on two cores; the word embeddings start from the teacher's,
projected onto their principal directions (embedding_init: teacher-pca).

``architecture`` makes the student another registered architecture (ALBERT, DeBERTa-v2, ModernBERT:
layouts that cannot hold BERT's weights), from its published config with the student's shape, the
teacher's WordPiece tokenizer and the teacher's embeddings (projected) where the student has them."""

from __future__ import annotations

from dataclasses import dataclass

from .train import distill_loss, mean_pool, task_phase

PAPER = "Well-Read Students Learn Better: pre-trained distillation (Turc et al., 2019)"
HEADS = ("classifier",)
WHY_HEADS = "its student is built as a sequence classifier and pre-distilled on sequence logits"


@dataclass(frozen=True)
class Options:
    layers: int
    hidden: int
    heads: int = 0  # 0: hidden / 64 (at least 1), the published students' rule
    intermediate: int = 0  # 0: 4 x hidden
    embedding_init: str = "teacher-pca"  # or random
    pretrain_share: float = 0.5  # share of the budget spent on unlabelled text
    architecture: str = "bert"  # a registered architecture (load.architectures) with a classifier class
    embedding_size: int = 0  # ALBERT's factorised embedding width; 0: min(128, hidden)

    def __post_init__(self) -> None:
        from ..load.architectures import ARCHITECTURES

        known = [n for n, a in ARCHITECTURES.items() if not a.layout]
        if self.architecture not in known:
            raise ValueError(f"architecture '{self.architecture}' is unknown (known: {', '.join(known)})")
        if self.embedding_init not in ("teacher-pca", "random"):
            raise ValueError(f"embedding_init '{self.embedding_init}' is unknown (known: teacher-pca, random)")
        if self.layers < 1 or self.hidden < 8 or not 0 < self.pretrain_share < 1:
            raise ValueError("layers >= 1, hidden >= 8 and pretrain_share in (0, 1)")


def compact_student(teacher, vocab_size: int, layers: int, hidden: int, heads: int, intermediate: int,
                    architecture: str = "bert", tokenizer=None, embedding_size: int = 0):
    """A freshly initialised sequence classifier of ``architecture`` (its published config, the
    given shape through the class's ``shape`` fields, the teacher's labels, positions and, from
    ``tokenizer``, special-token ids)."""
    from ..load.architectures import ARCHITECTURES

    arch = ARCHITECTURES[architecture]
    config = arch.build_config({})  # the published config: which fields this architecture has
    layers_f, hidden_f, heads_f, ffn_f = arch.shape
    sizes = {layers_f: layers, hidden_f: hidden, heads_f: heads or max(1, hidden // 64),
             ffn_f: intermediate or 4 * hidden, "vocab_size": vocab_size, "num_labels": teacher.config.num_labels}
    if hasattr(config, "embedding_size"):  # ALBERT's factorised embeddings; DeBERTa's = hidden
        sizes["embedding_size"] = embedding_size or (min(128, hidden) if architecture == "albert" else hidden)
    if hasattr(config, "max_position_embeddings"):
        sizes["max_position_embeddings"] = teacher.config.max_position_embeddings
    if hasattr(config, "num_hidden_groups"):
        sizes["num_hidden_groups"] = 1  # ALBERT: every layer shares one set of weights
    if tokenizer is not None:  # ids the model itself uses (ModernBERT's defaults are past a 30k vocab)
        for name, token in (("pad_token_id", "pad_token_id"), ("cls_token_id", "cls_token_id"),
                            ("sep_token_id", "sep_token_id"), ("bos_token_id", "cls_token_id"),
                            ("eos_token_id", "sep_token_id")):
            if getattr(config, name, None) is not None or name == "pad_token_id":
                sizes[name] = getattr(tokenizer, token)
    config = type(config)(**{**arch.published, **sizes})  # built anew: derived fields follow (ModernBERT's layer_types)
    config._attn_implementation = "eager"
    return arch.build(config, classifier=True).train()


def student_tokenizer(ctx, architecture: str):
    """The teacher's WordPiece tokenizer, returning the inputs ``architecture`` takes."""
    from transformers import AutoTokenizer

    from ..load.architectures import ARCHITECTURES

    inputs = ARCHITECTURES[architecture].inputs
    if list(inputs) == list(ctx.teacher_tokenizer.model_input_names):
        return ctx.teacher_tokenizer
    return AutoTokenizer.from_pretrained(ctx.spec.teacher, local_files_only=True, model_input_names=list(inputs))


def principal_directions(matrix, k: int):
    """(mean, (d, k) basis) of the top-k principal directions of the rows of ``matrix``."""
    import torch

    mean = matrix.mean(0, keepdim=True)
    _, _, v = torch.linalg.svd(matrix - mean, full_matrices=False)
    return mean, v[:k].T.contiguous()


def init_embeddings_from_teacher(student, teacher, word_vectors) -> None:
    """Word (rows given), position and type embeddings: the teacher's, projected onto the top
    principal directions of its word embeddings and rescaled to the student's init spread. Any
    architecture: the word table through get_input_embeddings (its width: ALBERT's embedding_size),
    position and type tables where the student has them as wide as its word table, with the teacher's
    row count or fewer (DeBERTa-v3 and ModernBERT have neither: relative and rotary positions, no token types)."""
    import torch

    emb = teacher.base_model.embeddings
    target_words = student.get_input_embeddings()
    mean, basis = principal_directions(emb.word_embeddings.weight.detach(), target_words.weight.shape[1])
    target = getattr(student.base_model, "embeddings", None)
    with torch.no_grad():
        words = (word_vectors - mean) @ basis
        scale = student.config.initializer_range / words.std().clamp(min=1e-6)
        target_words.weight.copy_(words * scale)
        for name in ("position_embeddings", "token_type_embeddings"):
            table = getattr(target, name, None)
            # MobileBERT's position and type tables are hidden-wide while its word table is embedding_size-wide
            if (isinstance(table, torch.nn.Embedding) and table.weight.shape[0] <= getattr(emb, name).weight.shape[0]
                    and table.weight.shape[1] == basis.shape[1]):
                table.weight.copy_(getattr(emb, name).weight[:table.weight.shape[0]] @ basis * scale)


def sentence_phase(ctx, model, tokenizer, name: str, share: float, layer_map: dict[int, int] | None = None):
    """Distillation on unlabelled OANC text: the teacher's soft labels plus, through one learned
    projection shared by all layers, the teacher's mean-pooled states (its last layer by default,
    or ``layer_map`` student layer -> teacher layer). Returns the projection."""
    import torch

    teacher_hidden = ctx.teacher.config.hidden_size
    projection = torch.nn.Linear(model.config.hidden_size, teacher_hidden)
    last = model.config.num_hidden_layers - 1
    pairs = layer_map or {last: ctx.teacher.config.num_hidden_layers - 1}

    def loss_fn(batch):
        out = model(**batch.enc, output_hidden_states=True)
        soft, parts = distill_loss(out.logits, batch.teacher_logits, None, ctx.spec.temperature, 1.0)
        mask = batch.enc["attention_mask"]
        states = sum(torch.nn.functional.mse_loss(projection(mean_pool(out.hidden_states[s + 1], mask)),
                                                  batch.teacher_mean[:, t]) for s, t in pairs.items()) / len(pairs)
        return soft + states, {**parts, "states": float(states.detach())}

    model.train()
    ctx.trainer.run(name, [*model.parameters(), *projection.parameters()], ctx.unlabelled_batches(tokenizer),
                    loss_fn, epochs=1, lr=ctx.spec.lr * 3, share=share)
    return projection


def run(ctx, options: Options):
    from . import Student

    tokenizer = student_tokenizer(ctx, options.architecture)
    model = compact_student(ctx.teacher, ctx.teacher.config.vocab_size, options.layers, options.hidden,
                            options.heads, options.intermediate, options.architecture, tokenizer,
                            options.embedding_size)
    if options.embedding_init == "teacher-pca":
        init_embeddings_from_teacher(model, ctx.teacher, ctx.teacher.get_input_embeddings().weight.detach())
    sentence_phase(ctx, model, tokenizer, "unlabelled distillation (OANC)", options.pretrain_share)
    task_phase(ctx, model, tokenizer, "task distillation", lr=ctx.spec.lr * 3)
    details = {"shape": f"L={options.layers} H={options.hidden}", "embedding_init": options.embedding_init}
    if options.architecture != "bert":
        details.update(architecture=options.architecture, label="distilled",
                       weights="distilled from the teacher (this layout cannot hold BERT's weights)",
                       tokenizer="the teacher's WordPiece")
    return Student(model, tokenizer, details)
