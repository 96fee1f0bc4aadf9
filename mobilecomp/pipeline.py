"""The one place that orders the stages: recipe -> model -> export -> quantise -> verify -> bundle."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import __version__
from .bundle import (BundleWriter, append_lines, append_results, bundle_lock, check_runnable, describe_artefact,
                     read_manifest, read_results)
from .errors import ConfigError, ToolchainError
from .export import export
from .formats import FORMATS
from .export.cache import build_id, export_key, has_all, variant_key
from .quantise.cache import feeds_sha256
from .inputs import profiling_feed
from .inputs import check_tokens
from .load import bundle_bytes, check_config, load_model, source_paths
from .load.checkpoints import weights_sha256
from .load.heads import HEADS
from .load.inspect import loaded_counts
from .load.tokenizer import bundle_tokenizer
from .transform.prune import checkpoint_sparsity, onnx_weight_stats, prune_model
from .profile import ProfileOptions, measured_alike, profile, selected
from .quantise import VARIANTS, QuantContext
from .schema import to_dict
from .types import Manifest, ProfileRow, Recipe
from .verify import artefact_outputs, check_parity, reference_outputs
from .verify.accuracy import accuracy_report, encode_eval, eval_texts


@dataclass
class ExportResult:
    bundle: Path
    manifest: Manifest

    @property
    def failed(self) -> list[str]:
        return ([a.name for a in self.manifest.artefacts if not a.passed]
                + [u["name"] for u in self.manifest.unbuilt])


def export_bundle(recipe: Recipe, out: Path, checkpoint: str | None = None, force: bool = False,
                  parity_text: str | None = None, eval_data: str | None = None, command: str = "",
                  log=lambda msg: None, target_device: str | None = None) -> ExportResult:
    """Export every (format, variant) of ``recipe`` into the bundle directory ``out``;
    with ``eval_data`` also gate each artefact's task accuracy against its source's; with
    ``target_device`` (host or a devices/ profile) profile there and record the fastest faithful
    artefact in the manifest's ``choice``."""
    from .progress import StepLog

    # times each logged step (the summary at the end, the next export's ETAs); on a terminal, a live bar
    steps = StepLog(log, history=recipe.name)
    try:
        return _export_bundle(recipe, out, checkpoint, force, parity_text, eval_data, command, steps, target_device)
    finally:
        steps.stop()


def _export_bundle(recipe: Recipe, out: Path, checkpoint: str | None, force: bool, parity_text: str | None,
                   eval_data: str | None, command: str, log, target_device: str | None) -> ExportResult:
    if eval_data is not None and not HEADS[recipe.head].accuracy_metric:
        raise ConfigError(f"--eval-data needs a classifier recipe (head: {_labelled_heads()}); "
                          f"{recipe.name} has head: {recipe.head}")
    head = HEADS[recipe.head]
    labelled = head.read_eval(eval_data, recipe.num_labels) if eval_data is not None else None
    corpus, calibration = head.parity_texts(parity_text, recipe)
    check_config(recipe, checkpoint)
    sources = source_paths(recipe, checkpoint) + [Path(p) for p in (parity_text, eval_data) if p]
    # refuses an existing non-bundle, a --out holding the inputs, a busy, read-only or full disk: before any work
    with BundleWriter(Path(out), force, keep=sources, needs=bundle_bytes(recipe, checkpoint)) as writer:
        log(f"loading {checkpoint or recipe.checkpoint.source + ' checkpoint'} ({recipe.head})")
        model = load_model(recipe, checkpoint)
        log(f"loaded {model.architecture}, {model.params / 1e6:.1f}M params")
        check_tokens(model.tokenizer, eval_texts(corpus), parity_text or corpus.name)
        if labelled is not None:
            check_tokens(model.tokenizer, eval_texts(labelled), eval_data)
        pruning = _prune(model, recipe, log)
        if recipe.decompose is not None:
            manifest = _export_deformer(recipe, model, writer, corpus, labelled, command, log)
        else:
            manifest = _export(recipe, model, writer, corpus, calibration, labelled, pruning, command, log)
        writer.commit(manifest)
    log.note(log.summary())
    if target_device is not None:
        from .choice import choose_for_target

        manifest.choice = choose_for_target(Path(out), target_device, log=log)
    return ExportResult(Path(out), manifest)


def _export(recipe: Recipe, model, writer: BundleWriter, corpus, calibration, labelled, pruning, command: str,
            log) -> Manifest:
    """Every (format, variant) of a plain (undecomposed) model, each gated on parity."""
    head = HEADS[recipe.head]
    feeds = head.feeds(model, corpus, recipe.seq_len)
    tmp = writer.tmp
    cache = _artefact_cache(model, recipe, log)  # None: nothing is reused or kept
    log(f"PyTorch reference on {len(corpus.sentences)} {head.rows} of {corpus.name}")
    reference = _reference(cache, model, feeds, tmp, log)
    _write_inputs(tmp, model, recipe, corpus, reference[head.primary])
    tokenizer = bundle_tokenizer(model.tokenizer, Path(model.tokenizer_dir), tmp / "tokenizer")
    ctx_base = dict(
        calibration=head.feeds(model, calibration, recipe.seq_len, batch_size=8, pad_to_max=True),
        # a per-token primary output is compared over the whole text at once: one length for all
        tuning=head.feeds(model, calibration, recipe.seq_len, pad_to_max=head.primary in head.per_token),
        primary_output=head.primary, work_dir=tmp, model=model, head=head)
    if cache is not None:  # what the variants read besides their fp32 file: in their keys
        cache.common["texts"] = {"calibration": feeds_sha256(ctx_base["calibration"]),
                                 "tuning": feeds_sha256(ctx_base["tuning"])}
    if labelled is not None:
        eval_feeds, gold = encode_eval(model, labelled, recipe.seq_len)
        source_scores = _source_scores(reference_outputs(model, eval_feeds), labelled, gold, head, log)
    artefacts, unbuilt = [], []
    background = _start_background(recipe, model, tmp, ctx_base["calibration"], log, cache)
    ctx_base.update(background=background, log=getattr(log, "note", log))
    try:  # the worker is stopped before anything removes the directory it writes into
        for fmt in recipe.formats:
            suffix = FORMATS[fmt].suffix
            source = tmp / f"model-fp32{suffix}"
            log(f"exporting {fmt}")
            try:
                export_details = _built(cache, lambda: export_key(cache, fmt), source,
                                        lambda: export(model, recipe, fmt, source, background), note=False)
            except ToolchainError as exc:  # the format cannot take this model: each of its variants is unbuilt
                log(f"{fmt}: not exported: {exc}")
                unbuilt += [{"name": f"{fmt}-{name}", "format": fmt, "variant": name, "error": str(exc)}
                            for name in recipe.variants if name in VARIANTS[fmt]]
                continue
            for name in recipe.variants:
                variant = VARIANTS[fmt].get(name)
                if variant is None:
                    log(f"{fmt} has no variant {name}; skipped")
                    continue
                budget = variant.budget.merged(recipe.parity.get(name))
                target = tmp / f"model-{name}{suffix}"
                log(f"{fmt} {name}: {variant.summary}")
                try:
                    ctx = QuantContext(budget=budget, **ctx_base)
                    details = _built(cache, lambda: variant_key(cache, fmt, variant, budget, cache.sha256(source)),
                                     target, lambda: variant.build(source, target, ctx))
                except ToolchainError as exc:  # reported in the manifest, and fails the export
                    log(f"{fmt}-{name}: not built: {exc}")
                    unbuilt.append({"name": f"{fmt}-{name}", "format": fmt, "variant": name, "error": str(exc)})
                    target.unlink(missing_ok=True)
                    continue
                art = describe_artefact(tmp, target.name, fmt, name, {**export_details, **details})
                if pruning is not None and fmt == "onnx":  # measured on the file, after quantisation
                    art.details["weight_stats"] = onnx_weight_stats(target)
                # one thread while the background process converts on the other core: two would wait on each other
                threads = 1 if background is not None and background.busy() else 0
                outputs = artefact_outputs(fmt, target, feeds, model.output_names, threads)
                art.parity = check_parity(reference, outputs, feeds, head.primary, recipe.head,
                                          budget, corpus.name)
                if labelled is not None:
                    _gate_accuracy(art, artefact_outputs(fmt, target, eval_feeds, model.output_names),
                                   source_scores, labelled, gold, head, recipe, log)
                log(f"{art.name}: cos_min {art.parity.cos_min:.4f} "
                    f"{'pass' if art.parity.passed else 'FAIL ' + '; '.join(art.parity.failures)}")
                artefacts.append(art)
    finally:
        if background is not None:
            background.close()
    manifest = Manifest(
        recipe=to_dict(recipe), checkpoint=model.checkpoint, tokenizer=tokenizer,
        model={"architecture": model.architecture, "head": model.head, "params": model.params,
               "inputs": list(model.input_names), "outputs": list(model.output_names),
               "primary_output": head.primary, "seq_len": recipe.seq_len, **head.details(model, recipe),
               **loaded_counts(model, recipe), **({"pruning": pruning} if pruning else {})},
        parity_corpus=corpus.describe(), artefacts=artefacts, unbuilt=unbuilt,
        eval_data=labelled.describe() if labelled is not None else None, versions=_versions(),
        numerics=_parity_numerics(),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"), command=command)
    return manifest


def _artefact_cache(model, recipe: Recipe, log):
    """The artefact cache (export.cache) with this export's part of every key, or None (random
    weights, MOBILECOMP_ARTEFACT_CACHE=0, no usable cache directory)."""
    from .export.cache import ArtefactCache

    return ArtefactCache.for_export(model, recipe, getattr(log, "note", log))


def _reference(cache, model, feeds: list, tmp: Path, log) -> dict[str, list[np.ndarray]]:
    """The PyTorch source's outputs on the parity text, a batch at a time (counted), or the same
    outputs kept by the artefact cache from an export of the same model (the key holds the model's
    hash, the text's token ids, torch's version and thread count and this CPU)."""
    def compute():
        return _counted(log, "reference batches", lambda part: reference_outputs(model, part), feeds)

    if cache is None:
        return compute()
    key = cache.key(kind="reference", feeds=feeds_sha256(feeds), runner=build_id(reference_outputs))
    return cache.arrays(key, tmp / ".reference.npz", compute, "PyTorch reference")


def _built(cache, key, target: Path, make, note: bool = True) -> dict:
    """``make()``'s details, or the same file's from the cache (``key()`` names it; ``note``: the details
    say so); a file made here is kept."""
    return make() if cache is None else cache.made(key(), target, make, note)


def _start_background(recipe: Recipe, model, tmp: Path, calibration, log, cache=None):
    """TFLite converts from PyTorch in single-threaded Python (~12 s a conversion for MiniLM):
    when another format comes first, those conversions start now in a second process and run
    beside it (export.background). None when there is nothing to overlap, or when every TFLite
    file is in the artefact cache."""
    if "tflite" not in recipe.formats or recipe.formats.index("tflite") == 0:
        return None
    tflite = [(VARIANTS["tflite"][name], VARIANTS["tflite"][name].budget.merged(recipe.parity.get(name)))
              for name in recipe.variants if name in VARIANTS["tflite"]]
    if has_all(cache, "tflite", tflite):
        return None
    from .export.background import Background
    from .export.tflite import seq_lens
    from .quantise.litert import start_ahead

    background = Background(log=getattr(log, "note", log))
    start_ahead(background, model, seq_lens(recipe), tmp, recipe.variants, calibration)
    return background


def _counted(log, what: str, run, feeds: list) -> dict[str, list[np.ndarray]]:
    """``run(feeds)``, one feed at a time, each counted on the progress bar (or in ETA lines): the
    same outputs, as every batch is computed on its own."""
    from .progress import Progress

    progress = Progress(getattr(log, "note", log), what, len(feeds))
    outputs: dict[str, list[np.ndarray]] = {}
    for feed in feeds:
        for name, parts in run([feed]).items():
            outputs.setdefault(name, []).extend(parts)
        progress.advance()
    return outputs


def _prune(model, recipe: Recipe, log) -> dict | None:
    """Stage 1b: unstructured pruning of the loaded weights (recipe.prune), in place; without it,
    the sparsity the checkpoint already has, so its files are measured the same way."""
    if recipe.prune is None:
        info = checkpoint_sparsity(model.module) if hasattr(model.module, "model") else None
        if info is not None:
            log(f"checkpoint is {info['sparsity_torch']:.1%} sparse in its encoder matrices (kept as is)")
        return info
    if not hasattr(model.module, "model"):
        raise ConfigError(f"recipe {recipe.name}: prune needs a PyTorch checkpoint")
    info = prune_model(model.module, recipe.prune)
    log(f"pruned {info['matrices']} encoder matrices by {info['method']} to "
        f"{info['sparsity_torch']:.1%} sparsity (no speed-up on dense kernels)")
    return info


def _labelled_heads() -> str:
    return " or ".join(name for name, h in HEADS.items() if h.accuracy_metric)


def _source_scores(reference: dict[str, list[np.ndarray]], labelled, gold, head, log) -> dict:
    """The PyTorch source's scores on the labelled data: what each artefact's accuracy is gated against."""
    source = head.score(reference, gold)
    log(f"PyTorch source accuracy {source['accuracy']:.2f}% on {labelled.name}")
    return source


def _gate_accuracy(art, outputs: dict[str, list[np.ndarray]], source: dict, labelled, gold, head, recipe: Recipe,
                   log) -> None:
    art.accuracy = accuracy_report(source, head.score(outputs, gold), labelled,
                                   recipe.max_accuracy_drop)
    log(f"{art.name}: accuracy {art.accuracy.accuracy:.2f}% (drop {art.accuracy.drop_points:+.2f} points)")


def _export_deformer(recipe: Recipe, model, writer: BundleWriter, corpus, labelled, command: str,
                     log) -> Manifest:
    """DeFormer stages: passage and question graphs (+ the undecomposed model for comparison),
    int8 of each, parity of the two-graph run against the undecomposed PyTorch forward. A
    classifier runs on single sentences split at ``question_len``; with ``labelled`` data each
    two-graph run is also gated on accuracy against the decomposed PyTorch forward."""
    from .transform import deformer
    from .quantise.onnxruntime import int8_dynamic

    spec, head = recipe.decompose, HEADS[recipe.head]
    if head.uses_classifier and labelled is not None and labelled.pairs:
        raise ConfigError(f"{labelled.name}: a DeFormer classifier is gated on single sentences; "
                          "pass a file without a second sentence column")
    feeds, unit = head.deformer_feeds(model.tokenizer, corpus, spec, recipe.seq_len)
    pairs = sum(len(f["input_ids"]) for f in feeds)
    tmp = writer.tmp
    log(f"PyTorch undecomposed DeFormer reference on {pairs} {unit} of {corpus.name}")
    reference = _counted(log, "reference batches", lambda part: deformer.reference_outputs(model, spec, part), feeds)
    if labelled is not None:
        eval_feeds, gold = head.deformer_eval(model.tokenizer, labelled, spec, recipe.seq_len)
        source_scores = _source_scores(deformer.reference_outputs(model, spec, eval_feeds), labelled,
                                       gold, head, log)
    log(f"PyTorch reference of the plain model (all layers joint) on the same {pairs} {unit}")
    full_reference = _counted(log, "reference batches", lambda part: reference_outputs(model, part), feeds)
    tokenizer = bundle_tokenizer(model.tokenizer, Path(model.tokenizer_dir), tmp / "tokenizer")
    log(f"exporting passage ({spec.lower_layers} lower layers) and question graphs")
    details = deformer.export_graphs(model, spec, feeds[0], recipe.opset, tmp / "passage-fp32.onnx",
                                     tmp / "question-fp32.onnx")
    log("exporting the undecomposed model (the full BERT it is compared with)")
    full_details = export(model, recipe, "onnx", tmp / "full-fp32.onnx")
    artefacts = []
    for name in recipe.variants:
        variant = VARIANTS["onnx"][name]
        budget = variant.budget.merged(recipe.parity.get(name))
        files = {}
        for part in ("passage", "question"):
            files[part] = tmp / f"{part}-{name}.onnx"
            if name != "fp32":
                int8_dynamic(tmp / f"{part}-fp32.onnx", files[part], None)
        outputs = deformer.two_graph_outputs(files["passage"], files["question"], feeds)
        # the passage graph has no output of its own to compare: it passes when the pair does
        parity = check_parity(reference, outputs, feeds, head.primary, recipe.head, budget,
                              f"{corpus.name} {unit}, through both graphs")
        log(f"onnx-{name}: cos_min {parity.cos_min:.4f} "
            f"{'pass' if parity.passed else 'FAIL ' + '; '.join(parity.failures)}")
        eval_outputs = (deformer.two_graph_outputs(files["passage"], files["question"], eval_feeds)
                        if labelled is not None else None)
        for part in ("question", "passage"):
            variant_name = name if part == "question" else f"passage-{name}"
            art = describe_artefact(tmp, files[part].name, "onnx", variant_name,
                                    {**details, "graph": part, "quantisation": variant.summary,
                                     "passage_cached": part == "question" and not head.uses_classifier})
            art.parity = parity
            if eval_outputs is not None:
                _gate_accuracy(art, eval_outputs, source_scores, labelled, gold, head, recipe, log)
            artefacts.append(art)
    full = describe_artefact(tmp, "full-fp32.onnx", "onnx", "full-fp32",
                             {**full_details, "graph": "undecomposed (all layers joint), the baseline"})
    full.parity = check_parity(full_reference, artefact_outputs("onnx", tmp / "full-fp32.onnx", feeds,
                                                                model.output_names),
                               feeds, head.primary, recipe.head, VARIANTS["onnx"]["fp32"].budget, corpus.name)
    artefacts.append(full)
    (tmp / "inputs").mkdir()
    profile = deformer.profile_feed(feeds, tmp / "passage-fp32.onnx")
    np.savez(tmp / "inputs" / "profile.npz", **deformer.bundle_feed(profile, model))
    parity_feed = deformer.cached_passage_states(tmp / "passage-fp32.onnx", [
        {k: np.concatenate([f[k] for f in feeds]) for k in feeds[0]}])[0]
    np.savez(tmp / "inputs" / "parity.npz", **deformer.bundle_feed(parity_feed, model))
    np.savez(tmp / "inputs" / "reference.npz", **{head.primary: np.concatenate(reference[head.primary])})
    manifest = Manifest(
        recipe=to_dict(recipe), checkpoint=model.checkpoint, tokenizer=tokenizer,
        model={"architecture": model.architecture, "head": model.head, "params": model.params,
               **deformer.manifest_inputs(model), "outputs": list(model.output_names),
               "primary_output": head.primary, "seq_len": recipe.seq_len,
               "decompose": {**to_dict(spec), "passage_len": recipe.seq_len - spec.question_len, "inputs": unit,
                             "reference": "undecomposed PyTorch forward, block-diagonal attention "
                                          "in the lower layers",
                             "baseline_artefact": "onnx-full-fp32",
                             "paper_latency_s": deformer.PAPER_LATENCY_S},
               **loaded_counts(model, recipe)},
        parity_corpus={**corpus.describe(), "pairs": pairs}, artefacts=artefacts, unbuilt=[],
        eval_data=labelled.describe() if labelled is not None else None,
        versions=_versions(), numerics=_parity_numerics(),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"), command=command)
    return manifest


def _write_inputs(tmp: Path, model, recipe: Recipe, corpus, primary_reference: list[np.ndarray]) -> None:
    """Inputs and reference outputs, so any device can check parity without PyTorch."""
    (tmp / "inputs").mkdir()
    np.savez(tmp / "inputs" / "profile.npz", **profiling_feed(model.tokenizer, model.input_names, recipe.seq_len))
    parity = HEADS[recipe.head].feeds(model, corpus, recipe.seq_len, batch_size=len(corpus.sentences))[0]
    np.savez(tmp / "inputs" / "parity.npz", **parity)
    length = parity["input_ids"].shape[1]  # per-token outputs: padded to the stored inputs' length
    per_token = HEADS[recipe.head].primary in HEADS[recipe.head].per_token
    rows = [np.pad(part, [(0, 0), (0, length - part.shape[1])] + [(0, 0)] * (part.ndim - 2)) if per_token
            else part for part in primary_reference]
    np.savez(tmp / "inputs" / "reference.npz", **{HEADS[recipe.head].primary: np.concatenate(rows)})


def _parity_numerics() -> dict:
    """Which int8 kernel judged ONNX parity here, and in which session: exact integer math either way."""
    from .runtime.numerics import exact_mode_needed, host_int8
    from .runtime.ort import EXACT_INT8

    exact = exact_mode_needed()
    return {"onnx_parity_session": "exact mode" if exact else "default session (the probe finds it exact here)",
            "session_config": EXACT_INT8 if exact else {}, "host": host_int8().to_dict()}


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import torch
    import transformers

    return {"mobilecomp": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__, "numpy": np.__version__}


def profile_bundle(bundle: Path, device: str, options: ProfileOptions, log=lambda msg: None) -> list[ProfileRow]:
    """Measure the bundle's artefacts on ``device`` and append the rows to its results. With
    ``options.resume`` artefacts that already have rows for the same device, thread counts, runs
    and warmup are skipped, and the rest run one artefact at a time, each one's rows appended as
    it finishes, so an interrupted run loses at most the artefact it was measuring."""
    manifest = read_manifest(bundle)
    artefacts = selected(manifest, options)
    check_runnable(Path(bundle), artefacts)
    with bundle_lock(bundle, f"profiling on {device}"):  # also refuses a read-only bundle before measuring
        return _profile_locked(Path(bundle), manifest, artefacts, device, options, log)


def _profile_locked(bundle: Path, manifest: dict, artefacts: list[dict], device: str, options: ProfileOptions,
                    log) -> list[ProfileRow]:
    if not options.resume:
        batches = [options]
    else:
        done = measured_alike(read_results(bundle), device, options)
        skipped = [a["name"] for a in artefacts if a["sha256"] in done]
        if skipped:
            log(f"--resume: {', '.join(skipped)} already measured on {device} alike; skipped")
        batches = [replace(options, artefacts=(a["name"],)) for a in artefacts if a["sha256"] not in done]
        if not batches:
            return []
    rows = []
    for batch in batches:
        new = profile(Path(bundle), manifest, device, batch)
        for row in new:
            row.extra["asked"] = {"runs": options.runs, "warmup": options.warmup}
        append_results(Path(bundle), new)
        rows += new
    if not rows:
        raise ConfigError(f"{bundle}: no artefact that device '{device}' can run")
    return rows


def bundle_summary(bundle: Path) -> tuple[dict, list[dict]]:
    return read_manifest(bundle), read_results(bundle)


ACCURACY_JSONL = "accuracy.jsonl"


def evaluate_bundle(bundle: Path, data_path: str, log=lambda msg: None) -> list[dict]:
    """Task accuracy of the bundle's source model and of every artefact the host can run,
    appended to BUNDLE/accuracy.jsonl (one row each)."""
    from .schema import from_dict
    from .verify import RUNNERS

    manifest = read_manifest(bundle)
    recipe = from_dict(Recipe, manifest["recipe"], where=f"{bundle}/manifest.json recipe")
    if not HEADS[recipe.head].accuracy_metric:
        raise ConfigError(f"{bundle}: eval needs a classifier bundle (head: {_labelled_heads()}); this one has "
                          f"head: {recipe.head}")
    data = HEADS[recipe.head].read_eval(data_path, recipe.num_labels)
    check_runnable(Path(bundle), [a for a in manifest["artefacts"] if a["format"] in RUNNERS])
    with bundle_lock(bundle, "evaluating"):
        return _evaluate_locked(Path(bundle), manifest, recipe, data, data_path, log)


def _evaluate_locked(bundle: Path, manifest: dict, recipe: Recipe, data, data_path: str, log) -> list[dict]:
    from .errors import CheckpointError
    from .verify import RUNNERS

    checkpoint = manifest["checkpoint"]
    directory = checkpoint["path"] if checkpoint["source"] == "hf-dir" else None
    if directory is not None and weights_sha256(Path(directory)) != checkpoint["sha256"]:  # before loading it
        raise CheckpointError(f"{directory}: weights changed since the bundle was exported "
                              "(sha256 differs); re-export the bundle")
    model = load_model(recipe, directory)
    check_tokens(model.tokenizer, eval_texts(data), data_path)
    head = HEADS[recipe.head]
    if model.checkpoint["sha256"] != checkpoint["sha256"]:
        raise CheckpointError(f"{checkpoint['path']}: weights changed since the bundle was exported "
                              "(sha256 differs); re-export the bundle")
    if recipe.decompose is not None:  # both graphs per input, under the question artefact's name
        from .transform import deformer

        if data.pairs and head.uses_classifier:
            raise ConfigError(f"{data_path}: a DeFormer classifier runs on single sentences; "
                              "pass a file without a second sentence column")
        feeds, gold = head.deformer_eval(model.tokenizer, data, recipe.decompose, recipe.seq_len)
        source = head.score(deformer.reference_outputs(model, recipe.decompose, feeds), gold)
        files = {a["name"]: Path(bundle) / a["file"] for a in manifest["artefacts"]}

        def run(art):
            return deformer.two_graph_outputs(files[f"onnx-passage-{art['variant']}"], files[art["name"]], feeds)

        artefacts = [a for a in manifest["artefacts"] if not a["variant"].startswith(("passage-", "full-"))]
    else:
        feeds, gold = encode_eval(model, data, recipe.seq_len)
        source = head.score(reference_outputs(model, feeds), gold)

        def run(art):
            return artefact_outputs(art["format"], Path(bundle) / art["file"], feeds, model.output_names)

        artefacts = manifest["artefacts"]
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    versions = _versions()
    common = {"model": recipe.name, "device": "host", "provenance": "measured-host", "data": data.describe(),
              "label": checkpoint.get("label"), "timestamp": stamp}
    rows = [{"artefact": "pytorch-source", "variant": "source", "format": "pytorch", **common, **source,
             "source_accuracy": source["accuracy"], "drop_points": 0.0, "passed": True,
             "runner": {"name": "torch", "version": versions["torch"]}}]
    log(f"pytorch-source: accuracy {source['accuracy']:.2f}%")
    for art in artefacts:
        if art["format"] not in RUNNERS:
            continue
        report = accuracy_report(source, head.score(run(art), gold), data, recipe.max_accuracy_drop)
        rows.append({"artefact": art["name"], "variant": art["variant"], "format": art["format"], **common,
                     **to_dict(report), "passed": report.passed,
                     "runner": FORMATS[art["format"]].runtime_version()})
        log(f"{art['name']}: accuracy {report.accuracy:.2f}% (drop {report.drop_points:+.2f} points)")
    append_lines(Path(bundle) / ACCURACY_JSONL, [json.dumps(row) + "\n" for row in rows])
    return rows
