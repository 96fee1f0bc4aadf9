"""The plain dataclasses that pass between pipeline stages (all JSON-serialisable but LoadedModel)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

UNTRAINED_LABEL = "untrained: size and latency only"


# ---- recipe ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """Parity limits for one artefact; a limit left as None is not checked."""

    cos_min: float | None = None  # lowest per-sentence cosine to the PyTorch output
    cos_mean: float | None = None
    max_abs: float | None = None  # largest absolute difference over all outputs
    spearman: float | None = None  # encoders: rank agreement of pairwise similarities
    top1: float | None = None  # classifiers: share of sentences with the same argmax
    topk: float | None = None  # fill-mask: mean share of the reference's top-k words the artefact also lists

    def merged(self, override: Budget | None) -> Budget:
        if override is None:
            return self
        return Budget(**{k: getattr(override, k) if getattr(override, k) is not None else v
                         for k, v in vars(self).items()})


@dataclass(frozen=True)
class CheckpointSpec:
    """Where the weights come from: an embedded package, a local directory or a bare config."""

    source: str  # one of load.checkpoints.SOURCES
    architecture: str = "bert"  # one of load.architectures.ARCHITECTURES
    name: str | None = None  # source=embedded: which embedded checkpoint
    path: str | None = None  # source=hf-dir: a local Hugging Face directory (relative: to the recipe)
    made_by: str | None = None  # source=hf-dir: the command that creates the directory
    config: dict[str, Any] = field(default_factory=dict)  # source=architecture: config fields
    tokenizer: str = "all-minilm-l6-v2"  # source=architecture: embedded checkpoint or shipped vocab (load.vocabs)
    seed: int = 0  # source=architecture: seed of the random weights


@dataclass(frozen=True)
class PruneSpec:
    """Unstructured pruning applied to the loaded weights before export (see mobilecomp/transform/prune.py)."""

    sparsity: float  # share of each prunable weight matrix set to zero, 0..1
    method: str = "magnitude"  # one of prune.METHODS

    def __post_init__(self) -> None:
        if not 0.0 <= self.sparsity < 1.0:
            raise ValueError(f"prune.sparsity {self.sparsity} is outside 0..1")


@dataclass(frozen=True)
class DecomposeSpec:
    """DeFormer (Cao et al.): lower layers see question and passage apart, upper layers jointly."""

    lower_layers: int  # layers run separately; the passage's output of these is cached
    question_len: int  # fixed question length; the passage takes the rest of seq_len

    def __post_init__(self) -> None:
        if self.lower_layers < 1 or self.question_len < 4:
            raise ValueError("decompose.lower_layers must be >= 1 and decompose.question_len >= 4")


@dataclass(frozen=True)
class CompressSpec:
    """The compression stage (mobilecomp/compress/): how this recipe's student is trained from a
    real fine-tuned teacher. ``mobilecomp compress`` writes it to checkpoint.path."""

    method: str  # one of compress.METHODS
    teacher: str  # Hugging Face directory of the fine-tuned teacher (relative: to the recipe)
    options: dict[str, Any] = field(default_factory=dict)  # the method's own fields (its Options)
    seed: int = 0
    budget_s: float = 300.0  # wall-clock cap on all training phases together
    epochs: int = 3  # task epochs planned; the budget may stop training earlier
    lr: float = 5e-5  # AdamW peak; methods that start from random weights use 3x
    batch: int = 32
    max_len: int = 64  # tokens per training sentence (the polarity snippets are shorter)
    temperature: float = 2.0  # distillation softmax temperature
    alpha: float = 0.7  # weight of the distillation term against the hard-label loss

    def __post_init__(self) -> None:
        if self.budget_s <= 0 or self.epochs < 1 or self.batch < 1 or self.max_len < 8:
            raise ValueError("compress.budget_s, epochs, batch must be positive and max_len >= 8")
        if not 0.0 <= self.alpha <= 1.0 or self.temperature <= 0:
            raise ValueError("compress.alpha must be in 0..1 and temperature positive")


@dataclass(frozen=True)
class Recipe:
    """One compression system taken through export, quantisation, verification and profiling."""

    name: str
    description: str
    checkpoint: CheckpointSpec
    head: str = "encoder"  # one of load.heads.HEADS
    num_labels: int = 2  # classifier; token-classifier with random weights (a checkpoint has its own tags)
    pooling: str = "mean"  # head=encoder: sentence_embedding from the token states (load.heads.POOLINGS)
    seq_len: int = 128  # profiling length and ONNX example length
    opset: int = 17
    formats: tuple[str, ...] = ("onnx",)
    tflite_seq_lens: tuple[int, ...] = ()  # extra fixed lengths, one .tflite signature each (seq_len always)
    variants: tuple[str, ...] = ("fp32", "int8-dynamic")
    parity: dict[str, Budget] = field(default_factory=dict)  # per-variant overrides
    max_accuracy_drop: float | None = None  # points of task accuracy an artefact may lose
    prune: PruneSpec | None = None  # unstructured pruning before export
    decompose: DecomposeSpec | None = None  # DeFormer: passage and question graphs
    compress: CompressSpec | None = None  # how the student in checkpoint.path is trained

    def __post_init__(self) -> None:
        if self.seq_len < 8 or self.seq_len > 512:
            raise ValueError(f"seq_len {self.seq_len} is outside 8..512")
        if self.opset < 17:
            raise ValueError(f"opset {self.opset} is below 17 (LayerNormalization needs 17)")
        if self.num_labels < 2:
            raise ValueError(f"num_labels {self.num_labels} must be at least 2 (a classifier chooses between labels)")
        bad = [n for n in self.tflite_seq_lens if n < 8 or n > self.seq_len]
        if bad:
            raise ValueError(f"tflite_seq_lens {bad[0]} is outside 8..seq_len ({self.seq_len})")
        unknown = sorted(set(self.parity) - set(self.variants))
        if unknown:
            raise ValueError(f"parity names variant '{unknown[0]}' that is not in variants")
        if self.decompose is not None and self.decompose.question_len >= self.seq_len - 8:
            raise ValueError(f"decompose.question_len {self.decompose.question_len} leaves no passage "
                             f"in seq_len {self.seq_len}")


# ---- model ----------------------------------------------------------------------------------


@dataclass
class LoadedModel:
    """A PyTorch module wrapped to take its `input_names` (the architecture's inputs) by position."""

    module: Any  # torch.nn.Module returning a dict of named outputs
    tokenizer: Any  # a transformers tokenizer
    tokenizer_dir: str  # directory holding the tokenizer files to copy into bundles
    architecture: str
    head: str
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    checkpoint: dict[str, Any]  # source, path, sha256, trained
    params: int

    @property
    def trained(self) -> bool:
        return bool(self.checkpoint["trained"])


# ---- artefacts and parity -------------------------------------------------------------------


@dataclass
class ParityReport:
    """How far one artefact moved from its PyTorch source on real text, and whether that is allowed."""

    corpus: str
    sentences: int
    output: str  # the output the cosines are taken on
    cos_min: float
    cos_mean: float
    max_abs: float
    spearman: float | None
    top1: float | None
    budget: Budget
    failures: list[str]
    topk: float | None = None  # fill-mask: top-k agreement at the mask (gated only where the budget names topk)
    k: int | None = None  # the k of topk
    span_f1: float | None = None  # question answering: token-overlap F1 of the decoded span against PyTorch's

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class AccuracyReport:
    """Task accuracy of one artefact next to its PyTorch source's, on labelled data."""

    data: dict[str, Any]  # name, sha256, examples
    accuracy: float  # percent
    f1: float | None  # binary tasks
    source_accuracy: float
    drop_points: float
    max_drop: float | None
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class Artefact:
    """One exported model file in a bundle."""

    name: str  # f"{format}-{variant}"
    format: str
    variant: str
    file: str  # relative to the bundle
    sha256: str
    size_bytes: int
    opset: int | None
    op_types: dict[str, int]
    details: dict[str, Any] = field(default_factory=dict)  # variant-specific facts
    parity: ParityReport | None = None
    accuracy: AccuracyReport | None = None

    @property
    def passed(self) -> bool:
        """Parity within budget, task accuracy within budget where measured, and the
        mobile-readiness lint passed where one ran (.tflite)."""
        lint_ok = self.details.get("lint", {}).get("passed", True)
        return (self.parity is not None and self.parity.passed and lint_ok
                and (self.accuracy is None or self.accuracy.passed))


# ---- profiling -------------------------------------------------------------------------------


@dataclass
class Latency:
    """Latency samples of one configuration, in milliseconds."""

    values: list[float]
    unit: str = "ms"

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def stdev(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.values)
        rank = (len(ordered) - 1) * q / 100.0
        lo = int(rank)
        hi = min(lo + 1, len(ordered) - 1)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)

    def summary(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "n": len(self.values),
            "mean": self.mean,
            "p50": self.percentile(50),
            "p90": self.percentile(90),
            "p95": self.percentile(95),
            "p99": self.percentile(99),
            "stdev": self.stdev,
            "min": min(self.values),
            "values": self.values,
        }


@dataclass
class DeviceInfo:
    """What ran the measurement (MLPerf-style: who made it, which SoC or CPU, which OS)."""

    name: str  # the --device string
    kind: str  # host | emulated-arm | adb | gpu
    cpu: str
    cores: int
    os: str
    manufacturer: str | None = None
    model: str | None = None
    soc: str | None = None
    accelerator: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProfileRow:
    """One measured (or estimated) latency of one artefact on one device configuration."""

    artefact: str
    artefact_sha256: str
    model: str  # the recipe name
    variant: str
    device: str
    provenance: str  # measured-host | measured-adb | measured-gpu | estimated-emulated-arm
    threads: int
    seq_len: int
    batch: int
    latency_ms: Latency
    cpu_ms: Latency | None
    device_info: DeviceInfo
    runner: dict[str, Any]  # name, version, and what else identifies it
    label: str | None  # UNTRAINED_LABEL for random weights
    timestamp: str
    parity: dict[str, Any] | None = None  # parity re-checked on this device, where the backend does
    extra: dict[str, Any] = field(default_factory=dict)  # backend facts (instruction counts, props)

    def to_json(self) -> dict[str, Any]:
        from .schema import to_dict

        data = to_dict(self)
        data["latency_ms"] = self.latency_ms.summary()
        data["cpu_ms"] = self.cpu_ms.summary() if self.cpu_ms else None
        return data


# ---- bundle ----------------------------------------------------------------------------------


@dataclass
class Manifest:
    """Everything a bundle's consumer needs to trust and use its artefacts."""

    recipe: dict[str, Any]  # the resolved recipe
    checkpoint: dict[str, Any]  # source, path, sha256, trained, label
    tokenizer: dict[str, Any]  # files, vocab_file (what the Android core reads), vocab_sha256, kind, source
    model: dict[str, Any]  # architecture, head, params, inputs, outputs, seq_len
    parity_corpus: dict[str, Any]
    artefacts: list[Artefact]
    unbuilt: list[dict[str, str]]  # variants the toolchain could not produce: name, format, variant, error
    eval_data: dict[str, Any] | None
    versions: dict[str, str]
    created: str
    command: str
    choice: dict[str, Any] | None = None  # export --target: the artefact picked for the device, and why
    numerics: dict[str, Any] | None = None  # the host's int8 kernel and the session that judged ONNX parity

    def to_json(self) -> dict[str, Any]:
        from .schema import to_dict

        data = to_dict(self)
        for art, raw in zip(self.artefacts, data["artefacts"]):
            raw["passed"] = art.passed
            if art.parity is not None:
                raw["parity"]["passed"] = art.parity.passed
            if art.accuracy is not None:
                raw["accuracy"]["passed"] = art.accuracy.passed
        return data
