"""Stage 4: runs each artefact on real text and measures how far it is from its PyTorch source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..bundle import read_inputs
from ..errors import DeviceError
from ..inputs import Feed
from ..load.heads import HEADS
from ..types import Budget, LoadedModel, ParityReport

Outputs = dict[str, list[np.ndarray]]  # output name -> one array per feed
PER_TOKEN = frozenset(name for head in HEADS.values() for name in head.per_token)  # outputs with a sequence axis


def reference_outputs(model: LoadedModel, feeds: list[Feed]) -> Outputs:
    """The PyTorch source's outputs: what every artefact is measured against."""
    import torch

    outputs: Outputs = {name: [] for name in model.output_names}
    with torch.no_grad():
        for feed in feeds:
            result = model.module(*(torch.from_numpy(feed[n]) for n in model.input_names))
            for name, value in zip(model.output_names, result):
                outputs[name].append(value.float().numpy())
    return outputs


def _onnx_outputs(path: Path, feeds: list[Feed], names: tuple[str, ...], threads: int = 0) -> Outputs:
    from ..runtime.ort import onnx_session

    session = onnx_session(path, threads=threads)
    wanted = {i.name for i in session.get_inputs()}
    outputs: Outputs = {name: [] for name in names}
    for feed in feeds:
        result = session.run(list(names), {k: v for k, v in feed.items() if k in wanted})
        for name, value in zip(names, result):
            outputs[name].append(np.asarray(value, dtype=np.float32))
    return outputs


def _tflite_outputs(path: Path, feeds: list[Feed], names: tuple[str, ...], threads: int = 0) -> Outputs:
    from ..runtime.litert import TFLiteModel

    model = TFLiteModel(path, threads=threads)
    outputs: Outputs = {name: [] for name in names}
    for feed in feeds:
        for name, value in zip(names, model.run(feed, names)):
            outputs[name].append(value)
    return outputs


def _pte_outputs(path: Path, feeds: list[Feed], names: tuple[str, ...], threads: int = 0) -> Outputs:
    from ..runtime.pte import PteModel

    model = PteModel(path, threads=threads)
    from ..load.architectures import BERT_INPUTS

    inputs = tuple(k for k in BERT_INPUTS if k in feeds[0])  # every architecture's inputs keep this order
    outputs: Outputs = {name: [] for name in names}
    for feed in feeds:
        for name, value in zip(names, model.run(feed, inputs)):
            outputs[name].append(value)
    return outputs


# format -> runner(path, feeds, output names, threads) -> outputs
RUNNERS: dict[str, Callable[..., Outputs]] = {
    "onnx": _onnx_outputs, "tflite": _tflite_outputs, "executorch": _pte_outputs}


def artefact_outputs(fmt: str, path: Path, feeds: list[Feed], names: tuple[str, ...], threads: int = 0) -> Outputs:
    """``threads`` 0: every core. Both runtimes give the same outputs bit for bit whatever the
    count (checked on every MiniLM artefact, 1 vs 2 threads), so it only decides the speed."""
    return RUNNERS[fmt](path, feeds, names, threads)


def _max_abs(reference: Outputs, candidate: Outputs, feeds: list[Feed]) -> float:
    worst = 0.0
    for name, ref_parts in reference.items():
        for ref, cand, feed in zip(ref_parts, candidate[name], feeds):
            if cand.shape != ref.shape:
                raise ValueError(f"output '{name}' has shape {cand.shape}, expected {ref.shape}")
            diff = np.abs(ref - cand)
            # per-token outputs: padding positions carry no meaning (a name alone does not say it: fill-mask's
            # "logits" are (batch, vocabulary), the token classifier's (batch, sequence, labels))
            if diff.ndim == 3 or (name in PER_TOKEN and diff.shape == feed["attention_mask"].shape):
                diff = diff[feed["attention_mask"].astype(bool)]
            worst = max(worst, float(diff.max()))
    return worst


def check_parity(reference: Outputs, candidate: Outputs, feeds: list[Feed], primary: str,
                 head: str, budget: Budget, corpus: str) -> ParityReport:
    """Parity numbers and the budget's verdict; a miss is a result, not an exception."""
    missing = [name for name in reference if name not in candidate]
    if missing:
        raise ValueError(f"artefact has no output '{missing[0]}'")
    max_abs = _max_abs(reference, candidate, feeds)  # checks every output's shape first
    numbers = HEADS[head].compare(reference, candidate, feeds)
    cos = np.nan_to_num(numbers["cosines"], nan=-1.0)
    report = ParityReport(
        corpus=corpus, sentences=len(cos), output=primary, cos_min=float(cos.min()), cos_mean=float(cos.mean()),
        max_abs=max_abs, spearman=numbers["spearman"], top1=numbers["top1"], budget=budget, failures=[],
        topk=numbers.get("topk"), k=numbers.get("k"), span_f1=numbers.get("span_f1"),
    )
    report.failures = budget_failures(report, budget)
    return report


def stored_feeds(bundle: Path, batch_size: int = 16) -> list[Feed]:
    """A bundle's parity corpus batched as the export gate batched it (``encode``: batches of
    ``batch_size`` padded to their longest), rebuilt from inputs/parity.npz."""
    parity = read_inputs(bundle, "parity.npz")
    feeds = []
    for start in range(0, len(parity["input_ids"]), batch_size):
        rows = {k: v[start:start + batch_size] for k, v in parity.items()}
        longest = int(rows["attention_mask"].sum(axis=1).max()) if "attention_mask" in rows else None
        feeds.append({k: v[:, :longest] for k, v in rows.items()})
    return feeds


def per_token_width(bundle: Path, manifest: dict) -> int | None:
    """The stored parity inputs' width where the primary output is per token (a device that runs each
    row at its own length zero-pads its outputs to it, as the stored reference is), else None."""
    if manifest["model"]["primary_output"] not in HEADS[manifest["model"]["head"]].per_token:
        return None
    return int(read_inputs(Path(bundle), "parity.npz")["input_ids"].shape[1])


def device_parity(bundle: Path, manifest: dict, art: dict, candidate: np.ndarray, indices: list[int],
                  how: str) -> dict:
    """A device's primary outputs on the parity rows ``indices`` against the bundle's stored
    PyTorch reference, judged by the artefact's own budget (``how``: how the rows were chosen)."""
    from ..schema import to_dict

    primary = manifest["model"]["primary_output"]
    with np.load(Path(bundle) / "inputs" / "reference.npz") as data:
        reference = data[primary][indices]
    if candidate.shape != reference.shape:
        raise DeviceError(f"{art['name']}: output '{primary}' has shape {candidate.shape} on this device, "
                          f"expected {reference.shape}; re-export the bundle")
    head = manifest["model"]["head"]
    # per-token outputs are judged on real tokens only: their rows' masks, cut to the stored length
    per_token = primary in HEADS[head].per_token
    masks = (read_inputs(Path(bundle), "parity.npz")["attention_mask"][indices][:, :reference.shape[1]]
             if per_token else np.ones((len(indices), 1), dtype=np.int64))
    numbers = HEADS[head].parity([reference], [candidate], [masks])
    cos = np.nan_to_num(numbers["cosines"], nan=-1.0)
    budget_raw = ((art.get("parity") or {}).get("budget")) or {}
    budget = Budget(**{k: budget_raw.get(k) for k in vars(Budget())})
    corpus = manifest["parity_corpus"]
    report = ParityReport(
        corpus=f"{corpus['name']} ({len(indices)} of {corpus['sentences']}, {how})",
        sentences=len(indices), output=primary, cos_min=float(cos.min()), cos_mean=float(cos.mean()),
        # per token: real tokens only (a pad position's value depends on how the rows were batched)
        max_abs=float(np.abs(reference - candidate)[masks.astype(bool) if per_token else ...].max()),
        spearman=numbers["spearman"], top1=numbers["top1"], budget=budget, failures=[],
        topk=numbers.get("topk"), k=numbers.get("k"))
    # max_abs budgets are set on every output over the full set; here only the primary one is compared
    report.failures = budget_failures(report, Budget(**{**vars(budget), "max_abs": None}))
    data = to_dict(report)
    data["passed"] = report.passed
    data["reference"] = "PyTorch (inputs/reference.npz)"
    return data


def budget_failures(report: ParityReport, budget: Budget) -> list[str]:
    failures = []
    for field, higher_is_better in (("cos_min", True), ("cos_mean", True), ("spearman", True),
                                    ("top1", True), ("topk", True), ("max_abs", False)):
        limit, value = getattr(budget, field), getattr(report, field)
        if limit is None or value is None:
            continue
        if not np.isfinite(value) or (value < limit if higher_is_better else value > limit):
            failures.append(f"{field} {value:.4g} {'<' if higher_is_better else '>'} {limit:g}")
    return failures
