"""Well-Read Students (Turc et al., 2019): a compact BERT that learns from unlabelled text first,
then is distilled on the task. Here the unlabelled step is distillation on OANC sentences (the
teacher's sentence states through a learned projection, and its soft labels), since there is no
time for masked-LM pre-training on two cores; the word embeddings start from the teacher's,
projected onto their principal directions (embedding_init: teacher-pca)."""

from __future__ import annotations

from dataclasses import dataclass

from .train import distill_loss, mean_pool, task_phase

PAPER = "Well-Read Students Learn Better: pre-trained distillation (Turc et al., 2019)"


@dataclass(frozen=True)
class Options:
    layers: int
    hidden: int
    heads: int = 0  # 0: hidden / 64 (at least 1), the published students' rule
    intermediate: int = 0  # 0: 4 x hidden
    embedding_init: str = "teacher-pca"  # or random
    pretrain_share: float = 0.5  # share of the budget spent on unlabelled text

    def __post_init__(self) -> None:
        if self.embedding_init not in ("teacher-pca", "random"):
            raise ValueError(f"embedding_init '{self.embedding_init}' is unknown (known: teacher-pca, random)")
        if self.layers < 1 or self.hidden < 8 or not 0 < self.pretrain_share < 1:
            raise ValueError("layers >= 1, hidden >= 8 and pretrain_share in (0, 1)")


def compact_student(teacher, vocab_size: int, layers: int, hidden: int, heads: int, intermediate: int):
    """A freshly initialised BertForSequenceClassification of the given shape (the teacher's labels)."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=heads or max(1, hidden // 64),
                        intermediate_size=intermediate or 4 * hidden,
                        max_position_embeddings=teacher.config.max_position_embeddings,
                        num_labels=teacher.config.num_labels)
    config._attn_implementation = "eager"
    return BertForSequenceClassification(config).train()


def principal_directions(matrix, k: int):
    """(mean, (d, k) basis) of the top-k principal directions of the rows of ``matrix``."""
    import torch

    mean = matrix.mean(0, keepdim=True)
    _, _, v = torch.linalg.svd(matrix - mean, full_matrices=False)
    return mean, v[:k].T.contiguous()


def init_embeddings_from_teacher(student, teacher, word_vectors) -> None:
    """Word (rows given), position and type embeddings: the teacher's, projected onto the top
    principal directions of its word embeddings and rescaled to the student's init spread."""
    import torch

    emb = teacher.bert.embeddings
    mean, basis = principal_directions(emb.word_embeddings.weight.detach(), student.config.hidden_size)
    target = student.bert.embeddings
    with torch.no_grad():
        words = (word_vectors - mean) @ basis
        scale = student.config.initializer_range / words.std().clamp(min=1e-6)
        target.word_embeddings.weight.copy_(words * scale)
        target.position_embeddings.weight.copy_(emb.position_embeddings.weight @ basis * scale)
        target.token_type_embeddings.weight.copy_(emb.token_type_embeddings.weight @ basis * scale)


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

    tokenizer = ctx.teacher_tokenizer
    model = compact_student(ctx.teacher, ctx.teacher.config.vocab_size, options.layers, options.hidden,
                            options.heads, options.intermediate)
    if options.embedding_init == "teacher-pca":
        init_embeddings_from_teacher(model, ctx.teacher, ctx.teacher.bert.embeddings.word_embeddings.weight.detach())
    sentence_phase(ctx, model, tokenizer, "unlabelled distillation (OANC)", options.pretrain_share)
    task_phase(ctx, model, tokenizer, "task distillation", lr=ctx.spec.lr * 3)
    return Student(model, tokenizer, {"shape": f"L={options.layers} H={options.hidden}",
                                      "embedding_init": options.embedding_init})
