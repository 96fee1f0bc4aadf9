"""Tokenizers made here from real text: one shipped vocabulary, and four built on first use.

``wordpiece-4928``: the 4,928-word vocabulary of Zhao et al.'s DualTrain students. Their vocab
is not published, so this one is trained the same way (WordPiece, lower-cased) on the 20,000
real OANC sentences with the ``tokenizers`` trainer; `python -m mobilecomp.load.vocabs` rebuilds
it byte-identically (the trainer's token set is deterministic; the file order is canonicalised).

The others give tests, benches and architecture-only recipes (``checkpoint.tokenizer``) the
tokenizer kinds of RoBERTa, ALBERT and XLM-R without a hub. Each is trained offline on the same
OANC sentences plus the Pang & Lee snippets (24,000 lines), in seconds, into the cache
(``$MOBILECOMP_CACHE/tokenizers/NAME``) on first use, and pinned by sha256 like the shipped one:

- ``bpe-8000``: byte-level BPE as RoBERTa's: ByteLevel pre-tokenizer without a prefix space,
  ``<s>``, ``<pad>``, ``</s>``, ``<unk>`` and ``<mask>`` (lstrip, as RoBERTa's), the RoBERTa
  template ``<s> A </s></s> B </s>``; tokenizer_config names RobertaTokenizer. The
  ``tokenizers`` BPE trainer is deterministic.
- ``unigram-8000``: SentencePiece Unigram as ALBERT's and XLM-R's: NFKC then lower-case,
  Metaspace (``▁``, always prepended), ``[CLS] A [SEP] B [SEP]`` with token types 0 and 1. The
  pieces and scores come from the ``sentencepiece`` trainer (one thread: deterministic; the
  ``tokenizers`` Unigram trainer is not, its scores differ in the last bits run to run) on the
  NFKC-lower-cased text, then the ``tokenizers`` library assembles tokenizer.json.
- ``spiece-8000``: only a SentencePiece ``spiece.model`` (default nmt_nfkc normalization, cased)
  and an ALBERT tokenizer_config, no tokenizer.json: what older ALBERT/T5-style checkpoints
  ship. Export converts it (transformers' converter) and records that in the manifest.
- ``deberta-8000``: the same pieces and charsmap as a tokenizer.json under a DebertaV2Tokenizer
  config, which transformers 5 runs as DeBERTa-v3's pipeline: Lowercase, Precompiled, Strip,
  Replace(" {2,}"), then Punctuation and Metaspace with prepend_scheme "first".
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

VOCABS_DIR = Path(__file__).resolve().parent / "vocabs"
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
UNIGRAM_SPECIALS = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]


@dataclass(frozen=True)
class ShippedVocab:
    """A tokenizer made here: shipped in the package, or built into the cache on first use."""

    name: str
    size: int
    sha256: str  # of ``pinned``
    made_from: str
    kind: str = "wordpiece"  # the manifest's tokenizer.kind for it
    pinned: str = "vocab.txt"  # the file whose sha256 is pinned
    shipped: bool = True  # False: built by build_vocab on first use


VOCABS: dict[str, ShippedVocab] = {
    "wordpiece-4928": ShippedVocab(
        name="wordpiece-4928", size=4928,
        sha256="e149ddc215b9a4d3b07c969af673d2f5fba7d7972bd761ef66d76505579fa840",
        made_from="tokenizers BertWordPieceTokenizer.train_from_iterator on the 20,000 OANC sentences "
                  "(mobilecomp.text.oanc_sentences), lowercase, vocab_size 4928, min_frequency 2",
    ),
    "bpe-8000": ShippedVocab(
        name="bpe-8000", size=8000, kind="byte-level-bpe", pinned="tokenizer.json", shipped=False,
        sha256="d0994671f2a077bebbd90067543caa6809b6ed0dadf56219a76511523513f130",
        made_from="tokenizers BpeTrainer (ByteLevel, RoBERTa specials and template) on the OANC sentences and "
                  "Pang & Lee snippets, vocab_size 8000, min_frequency 2",
    ),
    "unigram-8000": ShippedVocab(
        name="unigram-8000", size=8000, kind="unigram", pinned="tokenizer.json", shipped=False,
        sha256="e5b3dfd95ce57afc4b5353bfe6678fa41d7bf07167aef6052e990dc130f32512",
        made_from="sentencepiece unigram trainer (one thread) on the NFKC-lower-cased OANC sentences and Pang & Lee "
                  "snippets, vocab_size 8000; tokenizers NFKC + Lowercase, Metaspace, [CLS]/[SEP] template",
    ),
    "deberta-8000": ShippedVocab(
        name="deberta-8000", size=8000, kind="unigram", pinned="tokenizer.json", shipped=False,
        sha256="0b255c0afb0f446b22761507bd826c2535a81551a079dc65a85015acf17221b8",
        made_from="spiece-8000's pieces and charsmap (its tokenizer.json as transformers converts spiece.model) "
                  "under a DebertaV2Tokenizer config: lower-case, split_by_punct, add_prefix_space false",
    ),
    "spiece-8000": ShippedVocab(
        name="spiece-8000", size=8000, kind="unigram", pinned="spiece.model", shipped=False,
        sha256="0093baa6cb8c5a47fc8a9f1c33dfa6b63a11a8cb3f0e92e9be5f5b69696f725a",
        made_from="sentencepiece unigram trainer (one thread, nmt_nfkc) on the OANC sentences and Pang & Lee "
                  "snippets, vocab_size 8000; spiece.model and an AlbertTokenizer config only",
    ),
}


def vocab_dir(name: str) -> Path:
    """The directory of a named tokenizer: shipped here, or built into the cache when missing
    (a cached build whose pinned file no longer matches its sha256 is rebuilt)."""
    spec = VOCABS[name]
    if spec.shipped:
        return VOCABS_DIR / name
    from ..text import cache_dir
    from .checkpoints import sha256_file

    target = cache_dir() / "tokenizers" / name
    pinned = target / spec.pinned
    if pinned.is_file() and sha256_file(pinned) == spec.sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        build_vocab(name, scratch)
        if target.exists():
            shutil.rmtree(target)
        os.replace(scratch, target)  # whole or not at all: a reader never sees half a tokenizer
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def training_text() -> list[str]:
    """The 24,000 real lines the built tokenizers learn from: OANC sentences, then Pang & Lee snippets."""
    from ..text import oanc_sentences, pang_lee

    return oanc_sentences() + [text for text, _ in pang_lee()]


def build_vocab(name: str, out: Path | None = None) -> Path:
    """Train the named tokenizer into ``out`` (default, for the shipped one: its package directory)."""
    spec = VOCABS[name]
    if out is None and not spec.shipped:
        raise ValueError(f"{name} is built into the cache: use vocab_dir('{name}'), or give build_vocab a directory")
    out = Path(out or VOCABS_DIR / name)
    out.mkdir(parents=True, exist_ok=True)
    builders = {"wordpiece-4928": _wordpiece, "bpe-8000": _byte_level_bpe, "unigram-8000": _unigram,
                "spiece-8000": _spiece, "deberta-8000": _deberta}
    builders[name](spec, out)
    return out


def _wordpiece(spec: ShippedVocab, out: Path) -> None:
    from tokenizers import BertWordPieceTokenizer

    from ..text import oanc_sentences

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
    _config(out, {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 512,
                  "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                  "mask_token": "[MASK]"})


def _byte_level_bpe(spec: ShippedVocab, out: Path) -> None:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    specials = [AddedToken(t, lstrip=t == "<mask>", normalized=False, special=True) for t in ROBERTA_SPECIALS]
    trainer = trainers.BpeTrainer(vocab_size=spec.size, min_frequency=2, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(training_text(), trainer)
    tokenizer.post_processor = processors.RobertaProcessing(("</s>", tokenizer.token_to_id("</s>")),
                                                            ("<s>", tokenizer.token_to_id("<s>")))
    tokenizer.save(str(out / "tokenizer.json"))
    _config(out, {"tokenizer_class": "RobertaTokenizer", "bos_token": "<s>", "eos_token": "</s>",
                  "sep_token": "</s>", "cls_token": "<s>", "unk_token": "<unk>", "pad_token": "<pad>",
                  "mask_token": "<mask>", "add_prefix_space": False, "model_max_length": 512})


def _train_spm(text: list[str], size: int, normalization: str) -> bytes:
    """A SentencePiece unigram model (serialized) trained on ``text``; one thread, so deterministic."""
    import io

    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(text), model_writer=model, vocab_size=size, model_type="unigram",
        normalization_rule_name=normalization, num_threads=1, character_coverage=1.0,
        pad_id=0, unk_id=1, bos_id=2, eos_id=3, pad_piece="<pad>", unk_piece="<unk>", bos_piece="[CLS]",
        eos_piece="[SEP]", user_defined_symbols=["[MASK]"], minloglevel=2)
    return model.getvalue()


def _unigram(spec: ShippedVocab, out: Path) -> None:
    import unicodedata

    import sentencepiece as spm
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    text = [unicodedata.normalize("NFKC", line).lower() for line in training_text()]
    sp = spm.SentencePieceProcessor(model_proto=_train_spm(text, spec.size, "identity"))
    vocab = [(sp.id_to_piece(i), float(sp.get_score(i))) for i in range(sp.get_piece_size())]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=sp.unk_id(), byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in UNIGRAM_SPECIALS])
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tokenizer.token_to_id("[CLS]")), ("[SEP]", tokenizer.token_to_id("[SEP]"))])
    tokenizer.save(str(out / "tokenizer.json"))
    _config(out, {"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "<unk>", "pad_token": "<pad>",
                  "cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]", "model_max_length": 512})


def _spiece(spec: ShippedVocab, out: Path) -> None:
    (out / "spiece.model").write_bytes(_train_spm(training_text(), spec.size, "nmt_nfkc"))
    _config(out, {"tokenizer_class": "AlbertTokenizer", "do_lower_case": True, "keep_accents": False,
                  "unk_token": "<unk>", "pad_token": "<pad>", "cls_token": "[CLS]", "sep_token": "[SEP]",
                  "bos_token": "[CLS]", "eos_token": "[SEP]", "mask_token": "[MASK]", "model_max_length": 512})


def _deberta(spec: ShippedVocab, out: Path) -> None:
    from transformers import AutoTokenizer

    converted = AutoTokenizer.from_pretrained(vocab_dir("spiece-8000"), local_files_only=True)
    converted.backend_tokenizer.save(str(out / "tokenizer.json"))
    _config(out, {"tokenizer_class": "DebertaV2Tokenizer", "do_lower_case": True, "split_by_punct": True,
                  "add_prefix_space": False, "bos_token": "[CLS]", "eos_token": "[SEP]", "unk_token": "<unk>",
                  "sep_token": "[SEP]", "pad_token": "<pad>", "cls_token": "[CLS]", "mask_token": "[MASK]",
                  "model_max_length": 512})


def _config(out: Path, config: dict) -> None:
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")


if __name__ == "__main__":
    import sys

    from .checkpoints import sha256_file

    for vocab in (sys.argv[1:] or list(VOCABS)):  # prints the sha256 each pin should hold
        spec = VOCABS[vocab]
        path = build_vocab(vocab, None if spec.shipped else Path(tempfile.mkdtemp(prefix=f"{vocab}-")))
        print(f"{path}: {spec.kind}, {spec.pinned} sha256 {sha256_file(path / spec.pinned)}")
