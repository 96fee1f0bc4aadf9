"""Tokenizer test vectors for the Android demo: the bundle's own Python tokenizer, text -> ids.

The JVM core in ``android_demo/core`` must reproduce every vector id for id, for each tokenizer
kind it implements (WordPiece, byte-level BPE, SentencePiece Unigram); the file is the contract
between Python and the phone. Real text (OANC sentences, Pang & Lee snippets and
pairs of them) plus hand-made hard cases: accents, CJK, punctuation, emoji, unknown and
control characters, special-token literals, long words, max-length truncation and pairs.

File format (JSON lines): line 1 is a header ``{"format": "mobilecomp-tokenizer-vectors/1",
"kind": ..., "vocab_sha256": ..., ...}``; every other line is one vector ``{"id", "source", "text",
"text_pair", "max_length", "truncation", "tokens", "input_ids", "attention_mask",
"token_type_ids"}``, padded to ``max_length`` with ``padding="max_length"``.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bundle import read_manifest
from ..errors import BundleError, ConfigError
from ..load.checkpoints import sha256_file
from . import check_undecomposed

FORMAT = "mobilecomp-tokenizer-vectors/1"
TRUNCATION = "longest_first"  # what `truncation=True` means for the fast tokenizer, pairs included
MIN_REAL = 500


@dataclass(frozen=True)
class Case:
    """One input to tokenize: a text, an optional pair, and the length to pad/truncate to."""

    id: str
    source: str
    text: str
    text_pair: str | None = None
    max_length: int | None = None  # None: the bundle's seq_len


_LONG = ("The committee said on Tuesday that the new rules would take effect next year, after a "
         "review of how small companies could comply without extra cost, and that the agency "
         "would publish guidance, examples and a schedule of hearings before the end of March.")


def hard_cases() -> list[Case]:
    """Hand-made inputs where WordPiece ports usually break, grouped by what they test."""
    groups: dict[str, list[Any]] = {
        "accents": [
            "Café naïve résumé façade Ångström São Paulo", "ÉCOLE ÜBER Straße Œuvre ÆON",
            "Crème brûlée à la mode, piñata, jalapeño", "Tiếng Việt có dấu: Hà Nội",
            "Ελληνικά: ΣΟΦΙΑ σοφία ΟΔΟΣ", "İstanbul ılık IĞDIR", "Москва, ЁЖ и ёлка",
            "Zürich Kraków Dvořák Łódź Øresund", "e\u0301 combining acute vs \u00e9 precomposed",
            "ﬁnance ﬂuent (ligatures) ＡＢＣ fullwidth ½ ² ℃ №",
        ],
        "cjk": [
            "我爱北京天安门", "日本語のテキストと漢字、カタカナ。", "한국어 텍스트 처리", "hello世界world",
            "中文，标点！还有English混合123", "\U00020000\U0002a6d6 ext-B", "\u3400\u4dbf\u4e00\u9fff \uf900\ufaff",
            "\U0002f800 compatibility \U0002a700\U0002b740\U0002b820", "ｶﾀｶﾅ halfwidth ・「括弧」",
        ],
        "punctuation": [
            "Hello,world!!! (yes)... --- \"quoted\" 'single' ¿Qué? ¡Sí!",
            "e-mail: a.b@c.com; $5.00 + 3% = ~x^2 | `code` <tag> {brace} [bracket] \\back/slash",
            "“smart quotes” — em dash – en dash… ‹guillemets› «more» „low“ ‘apos’",
            "100,000.50 vs 1.000.000,25 and 12:30pm on 2023-10-05", "#hashtag @user https://example.com/a?b=c&d=e",
            "don't won't y'all ’tis o'clock rock'n'roll", "§ ¶ † ‡ • · ※ ‰ ′ ″ ⁂ ¡¿ ·",
        ],
        "emoji": [
            "I love it 😀👍🏽🎉", "family 👨‍👩‍👧 flag 🇫🇷 keycap 1️⃣", "❤️ heart with VS16 ✔︎ text",
            "text😀text😂😂😂", "⚠️ warning ☀️ sun ☃ snowman ✈ plane",
        ],
        "unknown": [
            "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐛𝐨𝐥𝐝 𝕕𝕠𝕦𝕓𝕝𝕖 math letters", "♞ ⚙ ⌘ ⎈ ☤ symbols", "𐌀𐌁𐌂 Old Italic ᚠᚢᚦ runes",
            "private use \ue000\uf8ff here", "replacement \ufffd char", "ꙮ multiocular o, ⰀⰁ glagolitic",
            "Amharic ሰላም and Tamil தமிழ் and Thai ภาษาไทย", "עברית ועוד العربية مرحبا",
            "हिन्दी देवनागरी", "ℌ𝔢𝔩𝔩𝔬 xyzzy qwxzjq",
            "unassigned \u0378 and\u0378inside, tag \U000e0041 chars, \U0002b820 between CJK blocks",
            "newer Unicode: \u0c5d \U0001fae8 \U00031350 \u9ffd", "Arabic format \u0600\u061c marks",
        ],
        "control": [
            "tab\tnew\nline\rcarriage", "null\x00byte in\x00side", "bell\x07 escape\x1b[0m reset",
            "zero\u200bwidth\u200djoiner\ufeffbom", "soft\u00adhyphen", "nbsp\u00a0em\u2003space\u3000ideographic",
            "\x0bvt\x0cff\x85nel", "\x1cfile sep\x1funit", "line\u2028sep\u2029para",
            "directional \u202eoverride\u202c and \u200eLRM", "", "   ", "\t\n \r", "\x00\x01\x02",
        ],
        "special": [
            "[CLS] hello [SEP] world [MASK]", "[mask] lower-case is not special", "x[MASK]y[UNK]z[PAD]",
            "[SEP][SEP]", "[ CLS ] spaced", "[MASK ] almost",
            "<s>hello</s> world</s>", "the <mask> sat  <mask>on the mat", "x<mask>y<unk>z<pad>", "<S> </S> <Mask>",
            "[MASK] or <mask>?", "  <mask>", "<mask>  ", "<<s>> <</s>",
        ],
        "whitespace": [
            "  two leading spaces", "trailing spaces   ", "a  b   c    d", "tab\there\tand\tthere",
            "\n\nnewlines\n\n", "mixed \t\n\u00a0 runs", " ", "x \u3000 y", "end with newline\n",
            "space before punctuation , . !", "   ", "word\u2009thin\u200aspace",
        ],
        "contractions": [
            "I'm sure it's what they'd've said, y'all'll see", "IT'S LOUD, I'M SURE, WE'LL GO",
            "'s 't 're 've 'm 'll 'd", "rock 'n' roll at o'clock", "’tis the season’s end",
            "don''t ``quoted'' text", "can't won't shan't",
        ],
        "numbers": [
            "1234567890 3.14159 1,000,000 2nd 3rd 4th", "٣٤٥ ௫ Ⅻ ½ ⅞ ²³", "0x1F 1e-9 -42 +7 007",
            "year2024 v1.2.3 COVID-19", "١٢٣ and 一二三 and ①②③",
        ],
        "long-words": [
            "supercalifragilisticexpialidocious antidisestablishmentarianism",
            "pneumonoultramicroscopicsilicovolcanoconiosis", "methylenedioxymethamphetamine hydrochloride",
            "a" * 100, "b" * 101, "é" * 100 + " done", "é" * 101, "ab" * 60, "xq" * 50 + "z",
            "Donaudampfschiffahrtsgesellschaftskapitän Rindfleischetikettierungsüberwachungsaufgabenübertragungsgesetz",
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz.",
            "unbelievably-hyphenated-compound-words-that-go-on-and-on",
        ],
        "truncation": [
            (_LONG, None, 16), (_LONG, None, 8), (_LONG, None, 3), (_LONG * 3, None, None),
            ("短" * 200, None, None), ("word " * 300, None, None),
        ],
        "pairs": [
            ("How old are you?", "I am 6 years old.", None), ("Is this a question?", "", None),
            ("", "Only the second text.", None), ("我爱北京", "Café ÜBER 😀", None),
            (_LONG, "short answer", 16), ("short question", _LONG, 16), (_LONG, _LONG, 16),
            (_LONG, _LONG, 17), (_LONG, _LONG * 2, 21), ("one two three four five", "six seven eight nine", 9),
            ("one two three four five six seven", "eight", 8), ("a", _LONG, 5), (_LONG, _LONG, None),
            ("[CLS] in a pair", "[SEP] too", None),
        ],
    }
    cases = []
    for group, items in groups.items():
        for i, item in enumerate(items):
            text, pair, max_length = item if isinstance(item, tuple) else (item, None, None)
            cases.append(Case(f"hard-{group}-{i:02d}", f"hard:{group}", text, pair, max_length))
    return cases


def real_cases(count: int, seed: int = 0) -> list[Case]:
    """``count`` inputs from real text: OANC and Pang & Lee sentences, and pairs of them.

    Every sentence with a non-ASCII character goes in first (up to a quarter), since those are
    where tokenizers differ; the rest is a seeded random draw.
    """
    from ..text import oanc_sentences, pang_lee

    oanc = list(dict.fromkeys(s for s in oanc_sentences() if s.strip()))
    reviews = list(dict.fromkeys(t for t, _ in pang_lee() if t.strip()))
    rng = random.Random(seed)
    n_pairs = count // 5
    n_reviews = count // 5
    n_oanc = count - n_pairs - n_reviews
    unusual = [s for s in oanc + reviews if not s.isascii()]
    rng.shuffle(unusual)
    picked = unusual[: n_oanc // 4]
    taken = set(picked)
    rest_oanc = [s for s in oanc if s not in taken]
    picked += rng.sample(rest_oanc, n_oanc - len(picked))
    cases = [Case(f"oanc-{i:04d}", "oanc", s) for i, s in enumerate(picked)]
    cases += [Case(f"pang-lee-{i:04d}", "pang-lee", s) for i, s in enumerate(rng.sample(reviews, n_reviews))]
    for i in range(n_pairs):
        if i % 2 == 0:
            j = rng.randrange(len(oanc) - 1)
            a, b, source = oanc[j], oanc[j + 1], "oanc-pair"
        else:
            a, b, source = *rng.sample(reviews, 2), "pang-lee-pair"
        cases.append(Case(f"{source}-{i:04d}", source, a, b))
    return cases


def load_bundle_tokenizer(bundle: Path):
    """The bundle's tokenizer exactly as Python users get it: AutoTokenizer on BUNDLE/tokenizer."""
    from transformers import AutoTokenizer

    directory = Path(bundle) / "tokenizer"
    if not directory.is_dir():
        raise BundleError(f"{directory}: missing; re-export the bundle with mobilecomp export")
    return AutoTokenizer.from_pretrained(str(directory), local_files_only=True)


def check_core_tokenizer(bundle: Path, manifest: dict) -> str:
    """The bundle's tokenizer kind, after the checks the Android core makes when it opens the
    bundle (the file and its sha256, then the components it implements): a tokenizer the core
    would refuse is refused here with the same line (BundleInfo.open, Tokenizers.forBundle)."""
    from ..files import read_json
    from ..load.tokenizer import CORE_KINDS, core_refusal, kind_of

    entry = manifest["tokenizer"]
    kind = entry.get("kind", "wordpiece")  # manifests before tokenizer.kind are WordPiece ones
    path = bundle / entry["vocab_file"]
    wanted = "vocab.txt" if kind == "wordpiece" else "tokenizer.json"
    if path.name != wanted or not path.is_file():
        raise BundleError(f"{path}: missing or not a {wanted}; a {kind} tokenizer is read from its {wanted}")
    actual = sha256_file(path)
    if actual != entry["vocab_sha256"]:
        raise BundleError(f"{path}: sha256 {actual[:12]}... differs from the manifest's "
                          f"{entry['vocab_sha256'][:12]}...; the bundle was edited")
    fix = "re-export the bundle with mobilecomp export"
    spec_path, config_path = path.parent / "tokenizer.json", path.parent / "tokenizer_config.json"
    spec = read_json(spec_path, BundleError, fix) if spec_path.is_file() else None
    config = read_json(config_path, BundleError, fix) if config_path.is_file() else {}
    where = str(Path(entry["vocab_file"]).parent / "tokenizer.json")
    if kind in CORE_KINDS and kind != "wordpiece" and kind_of(spec) != kind:
        raise BundleError(f"{where}: the manifest says tokenizer kind '{kind}' but tokenizer.json describes "
                          f"'{kind_of(spec)}'")
    refusal = core_refusal(kind, spec, config)
    if refusal:
        raise BundleError(f"{where}: {refusal}")
    return kind


def encode_case(tokenizer, case: Case, seq_len: int) -> dict[str, Any]:
    max_length = case.max_length or seq_len
    enc = tokenizer(case.text, case.text_pair, max_length=max_length, truncation=True,
                    padding="max_length", return_token_type_ids=True, return_attention_mask=True)
    ids = list(enc["input_ids"])
    if len(ids) != max_length:
        raise ConfigError(f"vector {case.id}: tokenizer returned {len(ids)} ids for max_length {max_length}")
    return {"id": case.id, "source": case.source, "text": case.text, "text_pair": case.text_pair,
            "max_length": max_length, "truncation": TRUNCATION,
            "tokens": tokenizer.convert_ids_to_tokens(ids), "input_ids": ids,
            "attention_mask": list(enc["attention_mask"]), "token_type_ids": list(enc["token_type_ids"])}


def tokenizer_vectors(bundle: Path, count: int = MIN_REAL, seed: int = 0) -> tuple[dict, list[dict]]:
    """(header, vectors) for ``bundle``: ``count`` real-text vectors then the hard cases."""
    import tokenizers
    import transformers

    if count < 1:
        raise ConfigError(f"--count must be at least 1 (got {count})")
    from ..load.tokenizer import differs, pipeline

    bundle = Path(bundle)
    manifest = read_manifest(bundle)
    check_undecomposed(manifest)  # before the tokenizer, in BundleInfo.open's order
    kind = check_core_tokenizer(bundle, manifest)
    tokenizer = load_bundle_tokenizer(bundle)
    spec_path = bundle / "tokenizer" / "tokenizer.json"
    runs = pipeline(tokenizer)
    if spec_path.is_file() and runs is not None:
        changed = differs(json.loads(spec_path.read_text(encoding="utf-8")), runs)
        if changed:  # the core would read another tokenizer than the one Python runs
            raise BundleError(f"{spec_path}: its {', '.join(changed)} differ from the pipeline transformers "
                              f"{transformers.__version__} runs for it; re-export the bundle with mobilecomp export")
    seq_len = int(manifest["model"]["seq_len"])
    real, hard = real_cases(count, seed), hard_cases()
    vectors = [encode_case(tokenizer, case, seq_len) for case in real + hard]
    header = {
        "format": FORMAT, "bundle": manifest["recipe"]["name"], "kind": kind,
        "vocab_file": manifest["tokenizer"]["vocab_file"], "vocab_sha256": manifest["tokenizer"]["vocab_sha256"],
        "seq_len": seq_len, "truncation": TRUNCATION,
        "tokenizer": {"class": type(tokenizer).__name__, "kind": kind,
                      "do_lower_case": bool(getattr(tokenizer, "do_lower_case", kind == "wordpiece")),
                      "transformers": transformers.__version__, "tokenizers": tokenizers.__version__},
        "counts": {"real": len(real), "hard": len(hard), "total": len(vectors)}, "seed": seed,
    }
    return header, vectors


def write_vectors(bundle: Path, out: Path, count: int = MIN_REAL, seed: int = 0) -> dict:
    """Write the vector file (JSON lines, header first); returns the header."""
    header, vectors = tokenizer_vectors(bundle, count, seed)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        for record in [header, *vectors]:
            fh.write(json.dumps(record, ensure_ascii=True) + "\n")
    return header
