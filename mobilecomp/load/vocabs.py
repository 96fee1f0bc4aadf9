"""Vocabularies shipped in the repository (for architecture-only recipes whose paper used its own vocab).

``wordpiece-4928``: the 4,928-word vocabulary of Zhao et al.'s DualTrain students. Their vocab
is not published, so this one is trained the same way (WordPiece, lower-cased) on the 20,000
real OANC sentences with the ``tokenizers`` trainer; `python -m mobilecomp.load.vocabs` rebuilds
it byte-identically (the trainer's token set is deterministic; the file order is canonicalised).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

VOCABS_DIR = Path(__file__).resolve().parent / "vocabs"
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@dataclass(frozen=True)
class ShippedVocab:
    name: str
    size: int
    sha256: str  # of vocab.txt
    made_from: str


VOCABS: dict[str, ShippedVocab] = {
    "wordpiece-4928": ShippedVocab(
        name="wordpiece-4928", size=4928,
        sha256="e149ddc215b9a4d3b07c969af673d2f5fba7d7972bd761ef66d76505579fa840",
        made_from="tokenizers BertWordPieceTokenizer.train_from_iterator on the 20,000 OANC sentences "
                  "(mobilecomp.text.oanc_sentences), lowercase, vocab_size 4928, min_frequency 2",
    ),
}


def vocab_dir(name: str) -> Path:
    return VOCABS_DIR / name


def build_vocab(name: str, out: Path | None = None) -> Path:
    """Train the named vocabulary into ``out`` (default: its shipped directory)."""
    from tokenizers import BertWordPieceTokenizer

    from ..text import oanc_sentences

    spec = VOCABS[name]
    out = Path(out or vocab_dir(name))
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = BertWordPieceTokenizer(lowercase=True, strip_accents=True, clean_text=True)
    tokenizer.train_from_iterator(oanc_sentences(), vocab_size=spec.size, min_frequency=2,
                                  special_tokens=SPECIAL_TOKENS, limit_alphabet=1000,
                                  wordpieces_prefix="##", show_progress=False)
    # The trainer's set of tokens is stable but its order is not (ties in a hash map): write the
    # specials first, then whole words, then ## pieces, each sorted. WordPiece only asks
    # whether a piece is in the vocab, so the order changes ids, never the tokenisation.
    tokens = [t for t, _ in sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])]
    rest = sorted((t for t in tokens if t not in SPECIAL_TOKENS), key=lambda t: (t.startswith("##"), t))
    (out / "vocab.txt").write_text("\n".join(SPECIAL_TOKENS + rest) + "\n")
    (out / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 512,
         "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
         "mask_token": "[MASK]"}, indent=2) + "\n")
    return out


if __name__ == "__main__":
    import sys

    from .checkpoints import sha256_file

    for vocab in (sys.argv[1:] or list(VOCABS)):
        path = build_vocab(vocab)
        lines = (path / "vocab.txt").read_text().splitlines()
        print(f"{path}: {len(lines)} tokens, sha256 {sha256_file(path / 'vocab.txt')}")
