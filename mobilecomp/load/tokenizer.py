"""A checkpoint's tokenizer: its kind, the pipeline transformers runs, and whether the Android core implements it.

transformers 5 rebuilds many tokenizers from their class (AlbertTokenizer, DebertaV2Tokenizer...)
instead of running the checkpoint's tokenizer.json as written, and converts a checkpoint that has
only a sentencepiece model; and the Rust loader reads Unigram scores a last bit off their decimal
text, so even a file run as written holds other numbers than the tokenizer does. So a bundle
carries the pipeline transformers actually runs (``backend_tokenizer``): copied byte for byte
when it is the checkpoint's tokenizer.json, else written (and the manifest's ``source`` says so). The Android core reads that file; ``core_refusal`` gives,
word for word, the one line with which the core (android_demo/core, Tokenizers.forBundle)
refuses a tokenizer it does not implement.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

# tokenizer.kind in manifests: the model type, and for BPE whether ByteLevel makes it byte-level
KINDS = {
    "wordpiece": "WordPiece (BERT, DistilBERT, ELECTRA, MiniLM)",
    "byte-level-bpe": "byte-level BPE (RoBERTa, GPT-2, ModernBERT)",
    "unigram": "SentencePiece Unigram (ALBERT, DeBERTa-v3, XLM-R, T5)",
    "bpe": "BPE without the ByteLevel pre-tokenizer (SentencePiece BPE, character BPE)",
    "wordlevel": "a word-level vocabulary",
    "other": "a tokenizer without a tokenizers pipeline (a slow, Python-only tokenizer)",
}
CORE_KINDS = ("wordpiece", "byte-level-bpe", "unigram")  # what android_demo/core implements
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")
SOURCE_FILES = ("tokenizer.json", "spiece.model", "sentencepiece.bpe.model", "vocab.txt", "vocab.json")
COMPONENTS = ("normalizer", "pre_tokenizer", "model", "post_processor", "added_tokens")

# the components the core implements (Normalizers.IMPLEMENTED, PreTokenizers.IMPLEMENTED, PostProcessor.IMPLEMENTED)
NORMALIZERS = ("Lowercase", "NFC", "NFD", "NFKC", "NFKD", "Precompiled", "Prepend", "Replace", "Sequence", "Strip",
               "StripAccents")
PRE_TOKENIZERS = ("ByteLevel", "Digits", "Metaspace", "Punctuation", "Sequence", "WhitespaceSplit")
POST_PROCESSORS = ("BertProcessing", "ByteLevel", "RobertaProcessing", "Sequence", "TemplateProcessing")


def pipeline(tokenizer) -> dict[str, Any] | None:
    """The tokenizers pipeline ``tokenizer`` runs, as tokenizer.json data (truncation and padding
    left out: transformers sets them per call); None for a tokenizer without one."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    spec = json.loads(backend.to_str())
    spec["truncation"] = spec["padding"] = None
    return spec


def kind_of(spec: dict[str, Any] | None) -> str:
    """The tokenizer kind of a tokenizer.json (Tokenizers.kindOf in the core is the same rule)."""
    if spec is None:
        return "other"
    model = spec.get("model") or {}
    kind = model.get("type")
    if kind is None and isinstance(model.get("vocab"), dict) and model.get("merges") is not None:
        kind = "BPE"  # files written before the model carried its type
    if kind == "BPE":
        return "byte-level-bpe" if _has_byte_level(spec.get("pre_tokenizer")) else "bpe"
    return {"WordPiece": "wordpiece", "Unigram": "unigram", "WordLevel": "wordlevel"}.get(kind, "other")


def _has_byte_level(pre: dict | None) -> bool:
    if not pre:
        return False
    return pre.get("type") == "ByteLevel" or any(_has_byte_level(p) for p in pre.get("pretokenizers") or ())


def differs(on_disk: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    """The components in which a tokenizer.json is not the pipeline ``spec``."""
    return [key for key in COMPONENTS if on_disk.get(key) != spec.get(key)]


def bundle_tokenizer(tokenizer, src: Path, dst: Path) -> dict[str, Any]:
    """Copy a checkpoint's tokenizer into a bundle's ``dst``; returns the manifest's tokenizer entry.

    tokenizer.json is the checkpoint's when transformers runs it as written, else the pipeline it
    runs (``source`` then names what it was made from); a WordPiece tokenizer also gets the
    vocab.txt the core reads. ``vocab_file`` is the file the core reads, pinned by ``vocab_sha256``.
    """
    import transformers

    from .checkpoints import sha256_file

    dst.mkdir()
    files = [name for name in TOKENIZER_FILES if (src / name).exists()]
    for name in files:
        shutil.copyfile(src / name, dst / name)
    spec = pipeline(tokenizer)
    kind = kind_of(spec) if spec is not None else "wordpiece" if "vocab.txt" in files else "other"
    entry: dict[str, Any] = {}
    if spec is not None:
        on_disk = _read(src / "tokenizer.json") if "tokenizer.json" in files else None
        changed = differs(on_disk, spec) if on_disk is not None else list(COMPONENTS)
        if changed:
            for key in ("truncation", "padding"):  # what the checkpoint's file said, as transformers reads it
                spec[key] = (on_disk or {}).get(key)
            text = json.dumps(spec, ensure_ascii=False, indent=2) + "\n"
            (dst / "tokenizer.json").write_text(text, encoding="utf-8")
            files = sorted({*files, "tokenizer.json"}, key=TOKENIZER_FILES.index)
            source = next((name for name in SOURCE_FILES if (src / name).exists()), "the tokenizer files")
            verb = "differs" if len(changed) == 1 else "differ"
            why = f" (the file's {', '.join(changed)} {verb})" if on_disk else ""
            entry["source"] = (f"{source}, as transformers {transformers.__version__} {type(tokenizer).__name__} "
                               f"runs it{why}")
        if kind == "wordpiece" and "vocab.txt" not in files:
            _write_vocab_txt(spec, dst / "vocab.txt")
            files = sorted({*files, "vocab.txt"}, key=TOKENIZER_FILES.index)
    vocab = dst / ("vocab.txt" if kind in ("wordpiece", "other") and "vocab.txt" in files else "tokenizer.json")
    return {"files": [f"tokenizer/{f}" for f in files], "vocab_file": f"tokenizer/{vocab.name}",
            "vocab_sha256": sha256_file(vocab), "kind": kind, **entry}


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _write_vocab_txt(spec: dict[str, Any], path: Path) -> None:
    """vocab.txt (one token a line, line number = id) from a WordPiece tokenizer.json's vocab."""
    vocab = spec["model"]["vocab"]
    tokens = sorted(vocab, key=vocab.get)
    if [vocab[t] for t in tokens] != list(range(len(tokens))):
        return  # ids with gaps cannot be a vocab.txt; the core then refuses the bundle for the missing file
    path.write_text("".join(f"{t}\n" for t in tokens), encoding="utf-8")


# ---- what the Android core implements: the same checks, in the same order, as the Java ----------


def core_refusal(kind: str, spec: dict[str, Any] | None, config: dict[str, Any]) -> str | None:
    """The line with which android_demo/core refuses this tokenizer, or None when it implements it.

    ``spec`` is the bundle's tokenizer.json (None when it has none), ``config`` its
    tokenizer_config.json (empty when absent). Mirrors Tokenizers.forBundle and the classes it
    builds, check for check, so both sides refuse with the same words.
    """
    if kind not in CORE_KINDS:
        return (f"tokenizer kind '{kind}' is not implemented by the Android core "
                f"(it implements: {', '.join(CORE_KINDS)})")
    if kind == "wordpiece":
        return _wordpiece_refusal(spec, config) if spec is not None else None
    return _pipeline_refusal(spec, config)


def _component(what: str, kind: str, implemented: tuple[str, ...] | list[str]) -> str:
    return f"{what} '{kind}' is not implemented by the Android core (it implements: {', '.join(implemented)})"


def _setting(what: str, kind: str, setting: str) -> str:
    return f"{what} '{kind}' with {setting} is not implemented by the Android core"


def _wordpiece_refusal(spec: dict[str, Any], config: dict[str, Any]) -> str | None:
    normalizer = spec.get("normalizer")
    kind = normalizer["type"] if normalizer else "none"
    if kind != "BertNormalizer":
        return _component("wordpiece normalizer", kind, ["BertNormalizer"])
    pre = spec.get("pre_tokenizer")
    kind = pre["type"] if pre else "none"
    if kind != "BertPreTokenizer":
        return _component("wordpiece pre_tokenizer", kind, ["BertPreTokenizer"])
    prefix = spec["model"].get("continuing_subword_prefix") or "##"
    if prefix != "##":
        return _setting("model", "WordPiece", f"continuing_subword_prefix '{prefix}'")
    refusal, template = _post_processor(spec.get("post_processor"))
    cls, sep = _token(config, "cls_token") or "[CLS]", _token(config, "sep_token") or "[SEP]"
    vocab = spec["model"]["vocab"]
    want = ([vocab.get(cls, -1), "A", vocab.get(sep, -1), "B", vocab.get(sep, -1)], [0, 0, 0, 1, 1])
    if refusal:
        return refusal
    if _fill(template, True) != want or \
            _fill(template, False)[0] != [vocab.get(cls, -1), "A", vocab.get(sep, -1)]:
        return ("wordpiece post_processor: a template other than [CLS] A [SEP] B [SEP] is not implemented by the "
                "Android core")
    return None


def _pipeline_refusal(spec: dict[str, Any], config: dict[str, Any]) -> str | None:
    refusal = (_normalizer(spec.get("normalizer")) or _pre_tokenizer(spec.get("pre_tokenizer"))
               or _post_processor(spec.get("post_processor"))[0])
    if refusal:
        return refusal
    for side in ("padding_side", "truncation_side"):
        value = config.get(side) or "right"
        if value != "right":
            return (f"tokenizer_config.json: {side} '{value}' is not implemented by the Android core (it pads and "
                    "truncates on the right)")
    model = spec.get("model") or {}
    if model.get("type") == "BPE" and model.get("dropout") not in (None, 0, 0.0):
        return _setting("model", "BPE", f"dropout {_java_number(model['dropout'])}")
    if _token(config, "pad_token") is None:
        return "tokenizer_config.json: no pad_token; the Android core pads to max_length, which needs one"
    return None


def _java_number(value: Any) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def _token(config: dict[str, Any], key: str) -> str | None:
    value = config.get(key)
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _normalizer(spec: dict | None) -> str | None:
    if not spec:
        return None
    kind = spec["type"]
    if kind == "Sequence":
        return next(filter(None, (_normalizer(n) for n in spec.get("normalizers") or ())), None)
    if kind == "Replace" and (spec.get("pattern") or {}).get("String") == "":
        return _setting("normalizer", "Replace", "an empty pattern")
    if kind == "Replace" and "Regex" in (spec.get("pattern") or {}):
        if not regex_in_subset(spec["pattern"]["Regex"]):
            return _setting("normalizer", "Replace", f"regex '{spec['pattern']['Regex']}'")
    return None if kind in NORMALIZERS else _component("normalizer", kind, NORMALIZERS)


def _pre_tokenizer(spec: dict | None) -> str | None:
    if not spec:
        return None
    kind = spec["type"]
    if kind == "Sequence":
        return next(filter(None, (_pre_tokenizer(p) for p in spec.get("pretokenizers") or ())), None)
    if kind == "Metaspace":
        scheme = spec.get("prepend_scheme") or ("always" if spec.get("add_prefix_space", True) else "never")
        if scheme not in ("always", "first", "never"):
            return _setting("pre_tokenizer", "Metaspace", f"prepend_scheme '{scheme}'")
    if kind == "Punctuation" and (spec.get("behavior") or "Isolated") != "Isolated":
        return _setting("pre_tokenizer", "Punctuation", f"behavior '{spec['behavior']}'")
    return None if kind in PRE_TOKENIZERS else _component("pre_tokenizer", kind, PRE_TOKENIZERS)


def _post_processor(spec: dict | None) -> tuple[str | None, dict | None]:
    """(refusal, the template as {'single': [...], 'pair': [...]}) of a post_processor."""
    plain = {"single": [("A", 0)], "pair": [("A", 0), ("B", 1)], "zero": False}
    if not spec:
        return None, plain
    return _post(spec, plain)


def _post(spec: dict, previous: dict) -> tuple[str | None, dict | None]:
    kind = spec["type"]
    if kind == "ByteLevel":
        return None, previous
    if kind == "Sequence":
        current, templates = previous, 0
        for step in spec.get("processors") or ():
            if step["type"] != "ByteLevel":
                templates += 1
                if templates > 1:
                    return _setting("post_processor", "Sequence", "more than one template"), None
            refusal, current = _post(step, current)
            if refusal:
                return refusal, None
        return None, current
    if kind in ("RobertaProcessing", "BertProcessing"):
        cls, sep = [spec["cls"][1]], [spec["sep"][1]]
        single = [(cls, 0), ("A", 0), (sep, 0)]
        pair = single + ([(sep, 0)] if kind == "RobertaProcessing" else []) + [("B", 1), (sep, 1)]
        return None, {"single": single, "pair": pair, "zero": kind == "RobertaProcessing"}
    if kind == "TemplateProcessing":
        def pieces(template):
            out = []
            for piece in template:
                if "Sequence" in piece:
                    out.append((piece["Sequence"]["id"], piece["Sequence"]["type_id"]))
                else:
                    name = piece["SpecialToken"]["id"]
                    out.append((list(spec["special_tokens"][name]["ids"]), piece["SpecialToken"]["type_id"]))
            return out
        return None, {"single": pieces(spec.get("single") or []), "pair": pieces(spec.get("pair") or []), "zero": False}
    return _component("post_processor", kind, POST_PROCESSORS), None


def _fill(template: dict, pair: bool) -> tuple[list, list]:
    """The template with "A" and "B" standing for the sequences: (ids, type ids)."""
    ids, types = [], []
    for what, type_id in template["pair" if pair else "single"]:
        for item in ([what] if isinstance(what, str) else what):
            if item == "B" and not pair:
                continue
            ids.append(item)
            types.append(0 if template["zero"] else type_id)
    return ids, types


def regex_in_subset(pattern: str) -> bool:
    """Whether a Replace regex stays in the part of Oniguruma that java.util.regex shares
    (Normalizers.RegexSubset in the core: literals, escaped metacharacters, \\s \\S \\t \\n \\r \\f \\v,
    classes, groups, alternation, greedy quantifiers) and cannot match the empty string."""
    import re

    meta = "\\.-[](){}|*+?^$/ '\""
    i, n, quantifiable, out = 0, len(pattern), False, []
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n or not (pattern[i + 1] in "stnrfvS" or pattern[i + 1] in meta):
                return False
            out.append(pattern[i:i + 2] if pattern[i + 1] != "v" else "\\x0b")
            i, quantifiable = i + 2, True
        elif c == "[":
            end = _char_class(pattern, i)
            if end < 0:
                return False
            out.append(pattern[i:end])
            i, quantifiable = end, True
        elif c == "(":
            if pattern.startswith("(?:", i):
                out.append("(?:")
                i += 3
            elif i + 1 < n and pattern[i + 1] == "?":
                return False
            else:
                out.append("(")
                i += 1
            quantifiable = False
        elif c in ")|":
            out.append(c)
            i, quantifiable = i + 1, c == ")"
        elif c in "*+?{":
            if not quantifiable:
                return False
            end = i + 1
            if c == "{":
                close = pattern.find("}", i)
                if close < 0 or not re.fullmatch(r"[0-9]+(,[0-9]*)?", pattern[i + 1:close]):
                    return False
                end = close + 1
            if end < n and pattern[end] in "?+":
                return False
            out.append(pattern[i:end])
            i, quantifiable = end, False
        elif c in ".^$]}":
            return False
        else:
            out.append(re.escape(c))
            i, quantifiable = i + 1, True
    try:
        return re.fullmatch("".join(out), "") is None
    except re.error:
        return False


def _char_class(pattern: str, start: int) -> int:
    """The index after the class at ``start``, or -1 when it leaves the subset (RegexSubset.charClass)."""
    meta = "\\.-[](){}|*+?^$/ '\""
    i, members = start + 1, 0
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    while i < len(pattern):
        c = pattern[i]
        if c == "]" and members > 0:
            return i + 1
        if c in "[&":
            return -1
        if c == "\\":
            if i + 1 >= len(pattern) or not (pattern[i + 1] in "stnrfv" or pattern[i + 1] in meta):
                return -1
            i += 2
        elif c == "-" and members > 0 and i + 1 < len(pattern) and pattern[i + 1] != "]":
            i += 1
            continue
        else:
            i += 1
        members += 1
    return -1
