"""The Android core's tokenizers against Python's, one bundle per tokenizer kind: docs/tokenizers.md.

    .venv/bin/python bench/tokenizer_parity.py [--count 500] [--work /tmp/mobilecomp-tokenizers]

The tiny test BERT (tests/data/tiny-bert.yaml) is exported with each tokenizer: WordPiece (the
bert-base-uncased vocabulary of all-MiniLM-L6-v2), and the three built from real text by
mobilecomp/load/vocabs.py (byte-level BPE, Unigram, a bare spiece.model converted at export).
`mobilecomp tokenizer-vectors` writes --count real-text vectors plus the hard cases for each;
android_demo/core/run-tests.sh runs the JUnit suite on all of them at once, and its per-kind
lines and verdict go into the table with the versions and machine that made them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DOC = ROOT / "docs" / "tokenizers.md"
RESULTS = ROOT / "bench" / "results" / "tokenizer_parity.json"
RUN_TESTS = ROOT / "android_demo" / "core" / "run-tests.sh"
TOKENIZERS = {"wordpiece": None, "byte-level-bpe": "bpe-8000", "unigram": "unigram-8000",
              "unigram (from spiece.model)": "spiece-8000", "unigram (DeBERTa-v3 pipeline)": "deberta-8000"}


def log(msg: str) -> None:
    print(f"  {msg}", file=sys.stderr, flush=True)


def components(spec: dict | None) -> str:
    """normalizer / pre-tokenizer / model / post-processor, Sequences spelled out."""
    def name(part):
        if not part:
            return "-"
        inner = part.get("normalizers") or part.get("pretokenizers") or part.get("processors")
        return "+".join(name(p) for p in inner) if part["type"] == "Sequence" else part["type"]
    if spec is None:
        return "-"
    return " / ".join(name(spec.get(k)) for k in ("normalizer", "pre_tokenizer", "model", "post_processor"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="real-text vectors per kind")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mobilecomp-tokenizers"))
    args = parser.parse_args()

    import tokenizers
    import transformers

    from mobilecomp.android.tokenizer_vectors import write_vectors
    from mobilecomp.load.vocabs import VOCABS
    from mobilecomp.pipeline import export_bundle
    from mobilecomp.recipe import load_recipe

    base = load_recipe(str(ROOT / "tests" / "data" / "tiny-bert.yaml"))
    rows, pairs = [], []
    for label, name in TOKENIZERS.items():
        recipe = base if name is None else replace(base, name=f"tiny-{name}", variants=("fp32",),
                                                   checkpoint=replace(base.checkpoint, tokenizer=name))
        bundle = args.work / recipe.name
        log(f"{label}: export {bundle}")
        export_bundle(recipe, bundle, force=True)
        vectors = args.work / f"{recipe.name}.jsonl"
        header = write_vectors(bundle, vectors, count=args.count)
        entry = json.loads((bundle / "manifest.json").read_text())["tokenizer"]
        spec_path = bundle / "tokenizer" / "tokenizer.json"
        spec = json.loads(spec_path.read_text()) if spec_path.is_file() else None
        made_from = VOCABS[name].made_from if name else "all-MiniLM-L6-v2's tokenizer (bert-base-uncased vocab)"
        rows.append({"label": label, "tokenizer": name or "all-minilm-l6-v2", "kind": entry["kind"],
                     "made_from": made_from, "source": entry.get("source"), "pipeline": components(spec),
                     "vocab_sha256": entry["vocab_sha256"], "counts": header["counts"]})
        pairs += [str(vectors), str(bundle)]

    log("JUnit: run-tests.sh on every kind")
    proc = subprocess.run(["bash", str(RUN_TESTS), *pairs], capture_output=True, text=True, timeout=1200,
                          env={**os.environ, "BUILD_DIR": str(args.work / "javac")})
    out = proc.stdout + proc.stderr
    found = re.findall(r"tokenizer vectors \(([a-z-]+)\): (\d+)/(\d+) match", out)
    for row, (kind, matched, total) in zip(rows, found):
        assert kind == row["kind"], (kind, row["kind"])
        row["matched"], row["total"] = int(matched), int(total)
    verdict = re.search(r"OK \(\d+ tests\)|Tests run: \d+,\s+Failures: \d+", out)
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    provenance = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "host": platform.node(),
                  "machine": platform.machine(), "java": java, "transformers": transformers.__version__,
                  "tokenizers": tokenizers.__version__, "command": f"bench/tokenizer_parity.py --count {args.count}",
                  "junit": verdict.group(0) if verdict else f"no verdict (exit {proc.returncode})",
                  "exit_status": proc.returncode}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"provenance": provenance, "rows": rows}, indent=2) + "\n")
    DOC.write_text(render(rows, provenance))
    print(f"{DOC}: {provenance['junit']}")
    if proc.returncode != 0:
        print(out[-3000:], file=sys.stderr)
        sys.exit(1)


def render(rows: list[dict], p: dict) -> str:
    lines = [
        "# The Android core's tokenizers, id for id against Python's",
        "",
        "Rendered by `bench/tokenizer_parity.py`; do not edit by hand. Each bundle is the tiny test BERT",
        "(tests/data/tiny-bert.yaml, seq_len 32) exported by `mobilecomp export` with one tokenizer;",
        "`mobilecomp tokenizer-vectors` writes real-text vectors (OANC sentences, Pang & Lee snippets, pairs",
        "of both) and the hard cases (accents, CJK, emoji, unknown and control characters, special-token",
        "literals, whitespace runs, contractions, numbers, long words, truncation, pairs) from the bundle's",
        "Python tokenizer (`AutoTokenizer`); the JVM core (`android_demo/core`) re-tokenizes every one.",
        "",
        "| kind | tokenizer | pipeline (normalizer / pre-tokenizer / model / post-processor) | vectors "
        "(real + hard) | match |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        c = r["counts"]
        match = f"{r.get('matched', '?')}/{r.get('total', c['total'])}"
        lines.append(f"| {r['label']} | {r['tokenizer']} | {r['pipeline']} | {c['real']} + {c['hard']} | {match} |")
    lines += ["", "What each tokenizer is, and what the manifest says the bundle's tokenizer.json was made from:", ""]
    for r in rows:
        source = f"; manifest `tokenizer.source`: {r['source']}" if r["source"] else ""
        lines.append(f"- **{r['tokenizer']}** ({r['kind']}): {r['made_from']}{source}.")
    lines += ["", f"JUnit (`android_demo/core/run-tests.sh`, every vector file in one run): **{p['junit']}**.", "",
              f"Measured {p['date']} on {p['host']} ({p['machine']}), {p['java']}, transformers {p['transformers']},",
              f"tokenizers {p['tokenizers']}; `{p['command']}`.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
