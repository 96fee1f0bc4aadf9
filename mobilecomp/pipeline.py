"""The one place that orders the stages: recipe -> model -> export -> quantise -> verify -> bundle."""

from __future__ import annotations

import platform
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import __version__
from .bundle import BundleWriter, append_results, describe_artefact, read_manifest, read_results
from .errors import ConfigError
from .export import FORMATS, export
from .inputs import encode, profiling_feed
from .load import load_model
from .load.checkpoints import sha256_file
from .load.heads import HEADS
from .profile import ProfileOptions, profile
from .quantise import VARIANTS, QuantContext
from .schema import to_dict
from .text import calibration_corpus, parity_corpus
from .types import Manifest, ProfileRow, Recipe
from .verify import artefact_outputs, check_parity, reference_outputs

TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")


@dataclass
class ExportResult:
    bundle: Path
    manifest: Manifest

    @property
    def failed(self) -> list[str]:
        return [a.name for a in self.manifest.artefacts if not a.passed]


def export_bundle(recipe: Recipe, out: Path, checkpoint: str | None = None, force: bool = False,
                  parity_text: str | None = None, command: str = "",
                  log=lambda msg: None) -> ExportResult:
    """Export every (format, variant) of ``recipe`` into the bundle directory ``out``."""
    corpus = parity_corpus(parity_text)
    calibration = calibration_corpus()
    writer = BundleWriter(Path(out), force)  # refuses an existing bundle before any work
    log(f"loading {recipe.checkpoint.source} checkpoint ({recipe.checkpoint.architecture}, {recipe.head})")
    model = load_model(recipe, checkpoint)
    head = HEADS[recipe.head]
    feeds = encode(model.tokenizer, corpus.sentences, model.input_names, recipe.seq_len)
    with writer as tmp:
        log(f"PyTorch reference on {len(corpus.sentences)} sentences of {corpus.name}")
        reference = reference_outputs(model, feeds)
        _write_inputs(tmp, model, recipe, corpus, reference[head.primary])
        tokenizer = _copy_tokenizer(Path(model.tokenizer_dir), tmp / "tokenizer")
        ctx_base = dict(
            calibration=encode(model.tokenizer, calibration.sentences, model.input_names,
                               recipe.seq_len, batch_size=8, pad_to_max=True),
            tuning=encode(model.tokenizer, calibration.sentences, model.input_names, recipe.seq_len),
            primary_output=head.primary, work_dir=tmp, model=model)
        artefacts = []
        for fmt in recipe.formats:
            suffix = FORMATS[fmt][0]
            source = tmp / f"model-fp32{suffix}"
            log(f"exporting {fmt}")
            export_details = export(model, recipe, fmt, source)
            for name in recipe.variants:
                variant = VARIANTS[fmt].get(name)
                if variant is None:
                    log(f"{fmt} has no variant {name}; skipped")
                    continue
                budget = variant.budget.merged(recipe.parity.get(name))
                target = tmp / f"model-{name}{suffix}"
                log(f"{fmt} {name}: {variant.summary}")
                details = variant.build(source, target, QuantContext(budget=budget, **ctx_base))
                art = describe_artefact(tmp, target.name, fmt, name, {**export_details, **details})
                outputs = artefact_outputs(fmt, target, feeds, model.output_names)
                art.parity = check_parity(reference, outputs, feeds, head.primary, recipe.head,
                                          budget, corpus.name)
                log(f"{art.name}: cos_min {art.parity.cos_min:.4f} "
                    f"{'pass' if art.parity.passed else 'FAIL ' + '; '.join(art.parity.failures)}")
                artefacts.append(art)
        manifest = Manifest(
            recipe=to_dict(recipe), checkpoint=model.checkpoint, tokenizer=tokenizer,
            model={"architecture": model.architecture, "head": model.head, "params": model.params,
                   "inputs": list(model.input_names), "outputs": list(model.output_names),
                   "primary_output": head.primary, "seq_len": recipe.seq_len},
            parity_corpus=corpus.describe(), artefacts=artefacts, versions=_versions(),
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"), command=command)
        writer.commit(manifest)
    return ExportResult(Path(out), manifest)


def _write_inputs(tmp: Path, model, recipe: Recipe, corpus, primary_reference: list[np.ndarray]) -> None:
    """Inputs and reference outputs, so any device can check parity without PyTorch."""
    (tmp / "inputs").mkdir()
    np.savez(tmp / "inputs" / "profile.npz", **profiling_feed(model.tokenizer, model.input_names, recipe.seq_len))
    parity = encode(model.tokenizer, corpus.sentences, model.input_names, recipe.seq_len,
                    batch_size=len(corpus.sentences))[0]
    np.savez(tmp / "inputs" / "parity.npz", **parity)
    np.savez(tmp / "inputs" / "reference.npz", **{HEADS[recipe.head].primary: np.concatenate(primary_reference)})


def _copy_tokenizer(src: Path, dst: Path) -> dict:
    dst.mkdir()
    files = [name for name in TOKENIZER_FILES if (src / name).exists()]
    for name in files:
        shutil.copyfile(src / name, dst / name)
    vocab = dst / ("vocab.txt" if "vocab.txt" in files else "tokenizer.json")
    return {"files": [f"tokenizer/{f}" for f in files], "vocab_file": f"tokenizer/{vocab.name}",
            "vocab_sha256": sha256_file(vocab)}


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import torch
    import transformers

    return {"mobilecomp": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__, "numpy": np.__version__}


def profile_bundle(bundle: Path, device: str, options: ProfileOptions) -> list[ProfileRow]:
    """Measure the bundle's artefacts on ``device`` and append the rows to its results."""
    manifest = read_manifest(bundle)
    rows = profile(Path(bundle), manifest, device, options)
    if not rows:
        raise ConfigError(f"{bundle}: no artefact that device '{device}' can run")
    append_results(Path(bundle), rows)
    return rows


def bundle_summary(bundle: Path) -> tuple[dict, list[dict]]:
    return read_manifest(bundle), read_results(bundle)
