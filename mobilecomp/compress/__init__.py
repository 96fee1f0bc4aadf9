"""Stage 0: the compression stage. Trains a recipe's student from its real fine-tuned teacher and
writes it as a Hugging Face directory, which export then loads like any user's checkpoint.

One registered method a file (pkd, magnitude, rpp, deformer, wrs, dualtrain). Each declares an
``Options`` dataclass (the recipe's compress.options, validated by name), the recipe heads it trains
(``HEADS``) and ``run(ctx, options)`` returning a Student. What a student of each head learns and is
judged on is its objective (objectives.py). Every run is seeded, bounded by compress.budget_s, shows
progress with an ETA, and leaves its loss log (train_log.jsonl) and card (mobilecomp_compress.json)
beside the weights.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

from ..bundle import STUDENT_CARD, BundleWriter
from ..errors import CheckpointError, ConfigError
from ..schema import from_dict, to_dict
from ..types import CompressSpec, Recipe
from . import deformer, dualtrain, magnitude, pkd, rpp, wrs
from .data import TaskData, TeacherOutputs, batches, teacher_outputs
from .objectives import OBJECTIVES, Objective, objective_for
from .train import Trainer

CARD = STUDENT_CARD  # the card beside a student's weights: what made it
LOSS_LOG = "train_log.jsonl"


@dataclass(frozen=True)
class Method:
    name: str
    options: type  # the dataclass of compress.options
    run: Callable  # run(ctx, options) -> Student
    paper: str
    heads: tuple[str, ...]  # the recipe heads it trains; another is refused when the recipe is read
    why_heads: str  # why not the others, in words


METHODS: dict[str, Method] = {m.name: m for m in (
    Method(module.__name__.rsplit(".", 1)[1], module.Options, module.run, module.PAPER, module.HEADS,
           getattr(module, "WHY_HEADS", ""))
    for module in (pkd, magnitude, rpp, deformer, wrs, dualtrain)
)}


@dataclass
class Student:
    """What a method hands back: a transformers model of the recipe's head, its tokenizer, and the method's facts."""

    model: Any
    tokenizer: Any
    details: dict[str, Any] = field(default_factory=dict)
    forward: Callable | None = None  # logits from a tokenised batch when the plain forward is not the model


@dataclass
class CompressContext:
    """Everything a method may use: the spec, the teacher, the data and the shared trainer."""

    recipe: Recipe
    spec: CompressSpec
    teacher: Any  # a transformers model of the recipe head's class (registered architecture), eval mode, frozen
    teacher_tokenizer: Any
    teacher_sha: str
    data: TaskData
    trainer: Trainer
    log: Callable[[str], None]
    objective: Objective = OBJECTIVES["classifier"]

    @cached_property
    def train_targets(self) -> TeacherOutputs:
        return self._targets([t for t, _ in self.data.train])

    @cached_property
    def unlabelled_targets(self) -> TeacherOutputs:
        return self._targets(self.data.unlabelled)

    def _targets(self, texts: list[str]) -> TeacherOutputs:
        started = time.monotonic()
        outputs = teacher_outputs(self.teacher, self.teacher_tokenizer, texts, self.spec.max_len, self.teacher_sha,
                                  self.log)
        # the teacher's work, cached on disk for the next student: the budget is the student's training, so
        # the first student after a new teacher does not lose minutes of it (one did: 2 of 425 steps)
        self.trainer.deadline += time.monotonic() - started
        return outputs

    @cached_property
    def task_targets(self):
        """The objective's encoded training rows and the teacher's outputs on them (heads other than the
        classifier); like ``_targets``, not charged to the budget."""
        started = time.monotonic()
        targets = self.objective.targets(self)
        self.trainer.deadline += time.monotonic() - started
        return targets

    def task_batches(self, tokenizer):
        return self.objective.batches(self, tokenizer)

    def unlabelled_batches(self, tokenizer):
        return batches(self.data.unlabelled, None, self.unlabelled_targets, tokenizer, self.spec.batch,
                       self.spec.max_len, self.spec.seed)


@dataclass
class CompressResult:
    directory: Path
    card: dict[str, Any]


def method_options(spec: CompressSpec, where: str, head: str):
    """The method's Options from compress.options; a head with no objective, or one the method does not
    train, is refused naming the heads it does."""
    if spec.method not in METHODS:
        raise ConfigError(f"{where}: compress.method '{spec.method}' is unknown (known: {', '.join(METHODS)})")
    objective_for(head, where)
    method = METHODS[spec.method]
    if head not in method.heads:
        others = [m.name for m in METHODS.values() if head in m.heads]
        raise ConfigError(f"{where}: compress.method {method.name} trains head {', '.join(method.heads)} students, "
                          f"not head: {head} ({method.name}: {method.why_heads}); for {head} use "
                          f"{', '.join(others)}")
    return from_dict(method.options, dict(spec.options), f"{where}: compress.options")


def compress(recipe: Recipe, out: Path | None = None, force: bool = False, budget_s: float | None = None,
             limit: int = 0, log: Callable[[str], None] = lambda msg: None) -> CompressResult:
    """Train ``recipe``'s student and write it to ``out`` (default: the recipe's checkpoint.path).
    ``budget_s`` replaces compress.budget_s; ``limit`` trains and tests on the first N examples."""
    import numpy as np
    import torch

    spec = recipe.compress
    if spec is None:
        raise ConfigError(f"recipe {recipe.name} has no compress section (recipes with one: "
                          f"`mobilecomp recipes` lists them as students)")
    options = method_options(spec, f"recipe {recipe.name}", recipe.head)
    objective = objective_for(recipe.head, f"recipe {recipe.name}")
    if budget_s is not None:
        spec = replace(spec, budget_s=budget_s)
    out = Path(out or recipe.checkpoint.path)
    # refuses an existing directory that is not a student of ours, or that holds the teacher, before any work
    with BundleWriter(out, force, keep=[Path(spec.teacher)]) as writer:
        tmp = writer.tmp
        teacher, teacher_tokenizer, teacher_sha = _teacher(Path(spec.teacher), recipe.head)
        random.seed(spec.seed)
        np.random.seed(spec.seed)
        torch.manual_seed(spec.seed)
        data = objective.data(limit)
        started = time.time()
        trainer = Trainer(tmp / LOSS_LOG, time.monotonic() + spec.budget_s, log)
        ctx = CompressContext(recipe, spec, teacher, teacher_tokenizer, teacher_sha, data, trainer, log, objective)
        log(f"{spec.method}: {METHODS[spec.method].paper}; budget {spec.budget_s:.0f} s, seed {spec.seed}")
        student = METHODS[spec.method].run(ctx, options)
        seconds = time.time() - started
        student.model.eval()
        student_scores = objective.evaluate(student.model, student.tokenizer, ctx, student.forward)
        teacher_scores = objective.evaluate(teacher, teacher_tokenizer, ctx)
        log(f"{objective.metric}: student {_numbers(student_scores)}, teacher {_numbers(teacher_scores)}")
        _save(student, tmp)
        # "accuracy" (classifier and token accuracy, QA exact match) is the number export's accuracy gate compares
        student_accuracy, teacher_accuracy = student_scores.get("accuracy"), teacher_scores.get("accuracy")
        card = {"recipe": recipe.name, "method": spec.method, "paper": METHODS[spec.method].paper,
                "options": to_dict(options), "compress": to_dict(spec),
                "teacher": {"path": str(spec.teacher), "sha256": teacher_sha,
                            "params": sum(p.numel() for p in teacher.parameters()),
                            "test_accuracy": teacher_accuracy, "test": teacher_scores},
                "params": sum(p.numel() for p in student.model.parameters()),
                "test_accuracy": student_accuracy,
                "drop_points": None if student_accuracy is None else teacher_accuracy - student_accuracy,
                "head": recipe.head, "metric": objective.metric, "test": student_scores,
                "eval_data": objective.eval_data,
                "data": data.describe(), "phases": [p.to_json() for p in trainer.phases],
                "train_seconds": round(seconds, 1), "details": student.details, "limit": limit}
        (tmp / CARD).write_text(json.dumps(card, indent=2) + "\n")
        writer.commit(None)
    return CompressResult(out, card)


def _numbers(scores: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.4g}" for name, value in scores.items())


def _teacher(directory: Path, head: str = "classifier"):
    """The fine-tuned teacher: a safetensors directory (never a pickle) of any registered architecture,
    picked by config.json's model_type, built with the recipe head's class; a checkpoint whose
    config.json names another head is refused as export refuses it."""
    from ..load import quiet_transformers

    quiet_transformers()
    import transformers
    from transformers import AutoTokenizer

    from ..load.architectures import ARCHITECTURES, for_model_type
    from ..load.checkpoints import files_sha256, read_config, weight_files
    from ..load.heads import HEADS, refuse_other_head

    if not (directory / "config.json").is_file():
        raise CheckpointError(f"{directory}: no teacher here (compress.teacher must be a fine-tuned model "
                              "directory; make one with examples/finetune_polarity.py, finetune_pos.py or "
                              "finetune_qa.py)")
    files = weight_files(directory)
    if files[0].suffix != ".safetensors":
        raise CheckpointError(f"{files[0]}: a teacher must be safetensors; re-save it with save_pretrained")
    config = read_config(directory)
    model_type = config.get("model_type")
    arch = for_model_type(model_type)
    if arch is None:
        raise CheckpointError(f"{directory}/config.json: a teacher of model_type '{model_type}' is not a registered "
                              f"architecture (known: {', '.join(a for a in ARCHITECTURES if for_model_type(a))})")
    refuse_other_head(directory, config, head)
    model = getattr(transformers, HEADS[head].model_class(arch)).from_pretrained(
        directory, local_files_only=True, attn_implementation="eager").eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model, AutoTokenizer.from_pretrained(directory, local_files_only=True), files_sha256(files)


def _save(student: Student, directory: Path) -> None:
    """Standard Hugging Face layout: config.json, model.safetensors, tokenizer files."""
    model = student.model
    for param in model.parameters():  # safetensors refuses shared or non-contiguous storage
        param.data = param.data.contiguous()
    model.save_pretrained(directory, safe_serialization=True)
    student.tokenizer.save_pretrained(directory)
    source = Path(getattr(student.tokenizer, "name_or_path", "") or "")
    for name in ("vocab.txt", "special_tokens_map.json"):  # transformers 5 writes only tokenizer.json
        if not (directory / name).exists() and (source / name).is_file():
            shutil.copyfile(source / name, directory / name)
