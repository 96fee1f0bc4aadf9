"""DualTrain with shared projections (Zhao et al., 2019): a student with its own small vocabulary
(wordpiece-4928) distilled from the teacher, one projection shared by all layers mapping the
student's states up to the teacher's width. The paper's mixed-vocabulary training aligns the two
vocabularies inside the teacher; here each student wordpiece starts from the teacher's embedding
of the same text (mean of its teacher wordpieces), projected down, and the layers are aligned on
mean-pooled sentence states (the two tokenisations do not align token by token). At inference the
projection is dropped: the student is a plain small BERT."""

from __future__ import annotations

from dataclasses import dataclass

from .train import task_phase
from .wrs import compact_student, init_embeddings_from_teacher, sentence_phase

PAPER = "DualTrain + SharedProjUp (Zhao et al., 2019)"
HEADS = ("classifier",)
WHY_HEADS = "its student reads its own vocabulary, so per-token teacher targets do not line up with its tokens"


@dataclass(frozen=True)
class Options:
    hidden: int = 192
    layers: int = 12
    heads: int = 3
    intermediate: int = 3520
    vocab: str = "wordpiece-4928"
    pretrain_share: float = 0.5


def student_word_vectors(teacher, teacher_tokenizer, student_tokenizer):
    """For each student wordpiece, the mean teacher word embedding of the same text."""
    import torch

    table = teacher.get_input_embeddings().weight.detach()
    known = teacher_tokenizer.get_vocab()
    tokens = student_tokenizer.convert_ids_to_tokens(list(range(len(student_tokenizer))))
    texts = [token[2:] if token.startswith("##") else token for token in tokens]
    pieces = teacher_tokenizer(texts, add_special_tokens=False)["input_ids"]
    rows = []
    for token, ids in zip(tokens, pieces):
        ids = [known[token]] if token in known else (ids or [teacher_tokenizer.unk_token_id])
        rows.append(table[ids].mean(0))
    return torch.stack(rows)


def run(ctx, options: Options):
    from transformers import AutoTokenizer

    from ..load import tokenizer_dir
    from . import Student

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir(options.vocab), local_files_only=True)
    model = compact_student(ctx.teacher, len(tokenizer), options.layers, options.hidden, options.heads,
                            options.intermediate)
    init_embeddings_from_teacher(model, ctx.teacher, student_word_vectors(ctx.teacher, ctx.teacher_tokenizer,
                                                                          tokenizer))
    teacher_layers = ctx.teacher.config.num_hidden_layers
    layer_map = {round((t + 1) * options.layers / teacher_layers) - 1: t for t in range(teacher_layers)}
    sentence_phase(ctx, model, tokenizer, "unlabelled distillation (OANC, shared projection)",
                   options.pretrain_share, layer_map)
    task_phase(ctx, model, tokenizer, "task distillation", lr=ctx.spec.lr * 3)
    return Student(model, tokenizer, {"vocab": options.vocab, "vocab_size": len(tokenizer),
                                      "aligned_layers": layer_map})
