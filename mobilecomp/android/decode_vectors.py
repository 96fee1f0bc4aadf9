"""Decoding test vectors for the Android demo: a head's outputs and the answer Python decodes from them.

The JVM core in ``android_demo/core`` must decode every vector to the same answer (DecodeVectorsTest):
- ``token-classifier``: a real sentence's words, the ids Python packs them into (``is_split_into_words``),
  each word's first subword and the bundle model's logits; the answer is a tag per word.
- ``fill-mask``: a real sentence with one word masked, the bundle model's vocabulary logits at the
  mask and a k (up to more than the vocabulary); the answer is the top-k token ids and strings.
- ``question-answering``: start and end logits drawn from a seeded RNG (no QA bundle is read: the
  decoder is checked on its own), an allowed-token mask and a max_answer_len; the answer is a span.
Beside the real outputs, crafted vectors copy them and make ties (equal logits), where ports differ.

Files: ``OUT`` (JSON lines: a header, then one record per vector) and ``OUT`` with suffix ``.npz``
holding each vector's arrays under ``<id>.<name>`` (float32 logits as the model gave them).
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BundleError, ConfigError
from ..verify.decode import best_span, first_subwords, top_k, word_labels
from . import check_undecomposed

FORMAT = "mobilecomp-decode-vectors/1"
HEADS = ("token-classifier", "fill-mask", "question-answering")
COUNTS = {"token-classifier": 300, "fill-mask": 150, "question-answering": 400}  # real (or drawn) vectors
TIES = {"token-classifier": 60, "fill-mask": 50, "question-answering": 0}  # crafted from real ones; QA's are drawn
K_CHOICES = (1, 5, 10, 50)


def decode_vectors(bundle: Path | None, head: str | None = None, count: int | None = None,
                   seed: int = 0) -> tuple[dict, list[dict], dict[str, np.ndarray]]:
    """(header, records, arrays) for the head of ``bundle`` (its manifest's), or ``head`` without a
    bundle (question-answering only: its logits are drawn, not run)."""
    from ..bundle import read_manifest

    manifest = read_manifest(Path(bundle)) if bundle is not None else None
    if manifest is not None:
        check_undecomposed(manifest)
    named = manifest["model"]["head"] if manifest else head
    if head is not None and manifest is not None and head != named:
        raise ConfigError(f"--head {head}: the bundle's head is {named}; leave --head out")
    if named not in HEADS:
        raise ConfigError(f"decoding vectors exist for heads {', '.join(HEADS)}; not for {named!r}")
    if manifest is None and named != "question-answering":
        raise ConfigError(f"--head {named}: its vectors are the bundle model's outputs; pass the BUNDLE")
    count = COUNTS[named] if count is None else count
    if count < 1:
        raise ConfigError(f"--count must be at least 1 (got {count})")
    header: dict[str, Any] = {"format": FORMAT, "head": named, "seed": seed}
    if named == "question-answering":
        records, arrays = _span_vectors(count, seed)
        header["logits"] = "seeded RNG (normal, integer-valued with ties, constant); no QA model is run"
    else:
        from .tokenizer_vectors import load_bundle_tokenizer

        tokenizer = load_bundle_tokenizer(Path(bundle))
        art = _fp32_onnx(manifest)
        run = _runner(Path(bundle) / art["file"], manifest)
        make = _tag_vectors if named == "token-classifier" else _mask_vectors
        records, arrays = make(tokenizer, manifest, run, count, TIES[named], seed)
        header.update({"bundle": manifest["recipe"]["name"], "vocab_sha256": manifest["tokenizer"]["vocab_sha256"],
                       "seq_len": int(manifest["model"]["seq_len"]), "artefact": art["name"],
                       "logits": f"the bundle's {art['name']} run on real text (onnxruntime), float32"})
    sources: dict[str, int] = {}
    for record in records:
        sources[record["source"]] = sources.get(record["source"], 0) + 1
    header["counts"] = {"total": len(records), **sources}
    return header, records, arrays


def write_decode_vectors(out: Path, bundle: Path | None = None, head: str | None = None, count: int | None = None,
                         seed: int = 0) -> dict:
    """Write OUT (JSON lines, header first) and its arrays beside it (OUT with suffix .npz); returns the header."""
    header, records, arrays = decode_vectors(bundle, head, count, seed)
    out = Path(out)
    if out.suffix == ".npz":
        raise ConfigError(f"--out {out}: name the JSON-lines file; the arrays go beside it as .npz")
    out.parent.mkdir(parents=True, exist_ok=True)
    npz = out.with_suffix(".npz")
    np.savez(npz, **arrays)
    header["npz"] = npz.name
    header["npz_sha256"] = hashlib.sha256(npz.read_bytes()).hexdigest()
    with open(out, "w", encoding="utf-8") as fh:
        for record in [header, *records]:
            fh.write(json.dumps(record, ensure_ascii=True) + "\n")
    return header


# ---- running the bundle ---------------------------------------------------------------------------


def _fp32_onnx(manifest: dict) -> dict:
    for art in manifest["artefacts"]:
        if art["format"] == "onnx" and art["variant"] == "fp32":
            return art
    names = ", ".join(a["name"] for a in manifest["artefacts"])
    raise BundleError(f"manifest.json: no onnx-fp32 artefact to take outputs from (it has: {names}); "
                      "export with formats: [onnx] and variants: [fp32, ...]")


def _runner(path: Path, manifest: dict):
    from ..verify import artefact_outputs

    inputs, primary = tuple(manifest["model"]["inputs"]), manifest["model"]["primary_output"]
    names = tuple(manifest["model"]["outputs"])

    def run(encoded: list) -> list[np.ndarray]:
        """The primary output of each encoding (one row each), in batches of 16 through one session."""
        feeds = []
        for start in range(0, len(encoded), 16):
            part = encoded[start:start + 16]
            feeds.append({name: np.concatenate([np.asarray(e[name], dtype=np.int64) for e in part]) for name in inputs})
        return list(np.concatenate(artefact_outputs("onnx", path, feeds, names)[primary]))

    return run


# ---- token classifier: words, first subwords, logits -> a tag per word -----------------------------


def _tag_vectors(tokenizer, manifest, run, count, ties, seed):
    from ..verify.tagging import oanc_pos_split

    labels = manifest["model"].get("labels")
    if not labels:
        raise BundleError("manifest.json: model.labels is missing; re-export the token classifier")
    seq_len = int(manifest["model"]["seq_len"])
    sentences = [words for words, _ in oanc_pos_split()[1]]
    rng = random.Random(seed)

    def most_pieces(words):
        return max(len(tokenizer.tokenize(w)) for w in words)

    # words with many subwords first (a quarter), then a seeded draw; long sentences are truncated at seq_len
    ranked = sorted(sentences, key=most_pieces, reverse=True)
    picked = ranked[:count // 4]
    rest = [s for s in sentences if s not in picked]
    picked += rng.sample(rest, count - len(picked))
    records, arrays = [], {}
    encoded = [tokenizer(list(words), is_split_into_words=True, padding="max_length", truncation=True,
                         max_length=seq_len, return_tensors="np", return_token_type_ids=True) for words in picked]
    outputs = run(encoded)
    for i, (words, enc) in enumerate(zip(picked, encoded)):
        logits = outputs[i].astype(np.float32)
        word_ids = [w for w in enc.word_ids(batch_index=0) if w is not None]
        pieces = max(word_ids.count(w) for w in set(word_ids))  # the most subwords one word kept
        _tag_record(records, arrays, f"tc-{i:04d}", "oanc-pos", words, enc["input_ids"][0],
                    first_subwords(enc.word_ids(batch_index=0)), logits, labels, pieces)
    nrng = np.random.default_rng(seed)
    for i in range(ties):
        base = records[i % len(records)]
        logits = arrays[f"{base['id']}.logits"].copy()
        starts = base["starts"]
        for position in starts[::2]:  # every other word: its best tag tied with another, before or after it
            best = int(np.argmax(logits[position]))
            other = int(nrng.integers(len(labels)))
            logits[position, other] = logits[position, best]
        if i % 3 == 0:  # and a whole row equal: tag 0
            logits[starts[0]] = logits[starts[0], 0]
        _tag_record(records, arrays, f"tc-tie-{i:04d}", "crafted-tie", base["words"],
                    arrays[f"{base['id']}.input_ids"], starts, logits, labels, base["subwords_max"])
    return records, arrays


def _tag_record(records, arrays, vid, source, words, input_ids, starts, logits, labels, pieces):
    ids = word_labels(logits, starts)
    arrays[f"{vid}.logits"] = logits
    arrays[f"{vid}.input_ids"] = np.asarray(input_ids, dtype=np.int64)
    records.append({"id": vid, "source": source, "words": list(words), "starts": starts, "subwords_max": pieces,
                    "label_ids": ids, "labels": [labels[j] for j in ids]})


# ---- fill-mask: the vocabulary logits at the mask -> the top k ---------------------------------------


def _mask_vectors(tokenizer, manifest, run, count, ties, seed):
    from ..text import oanc_sentences

    seq_len = int(manifest["model"]["seq_len"])
    vocab = len(tokenizer)
    rng = random.Random(seed)
    sentences = rng.sample([s for s in dict.fromkeys(oanc_sentences()) if len(s.split()) >= 4], count)
    records, arrays = [], {}
    special = set(tokenizer.all_special_ids)
    encoded, masked = [], []
    for sentence in sentences:
        enc = tokenizer(sentence, padding="max_length", truncation=True, max_length=seq_len, return_tensors="np",
                        return_token_type_ids=True)
        ids = enc["input_ids"]
        positions = [p for p in range(seq_len) if enc["attention_mask"][0, p] and int(ids[0, p]) not in special]
        masked.append(rng.choice(positions))
        ids[0, masked[-1]] = tokenizer.mask_token_id
        encoded.append(enc)
    outputs = run(encoded)
    for i, (sentence, position) in enumerate(zip(sentences, masked)):
        logits = outputs[i].astype(np.float32)
        k = K_CHOICES[i % len(K_CHOICES)] if i >= 3 else (vocab, vocab + 1, 100_000)[i]  # k over the vocabulary
        _mask_record(records, arrays, f"fm-{i:04d}", "oanc-masked", tokenizer, sentence, position, logits, k)
    nrng = np.random.default_rng(seed)
    for i in range(ties):
        base = records[i % len(records)]
        logits = arrays[f"{base['id']}.logits"].copy()
        k = K_CHOICES[i % len(K_CHOICES)]
        order = top_k(logits, max(k + 1, 2))
        kind = i % 3
        if kind == 0:  # the best word tied with a random one
            logits[nrng.integers(vocab, size=3)] = logits[order[0]]
        elif kind == 1:  # words tied with the k-th: the boundary of the top k falls inside the tie
            logits[nrng.integers(vocab, size=5)] = logits[order[k - 1]]
        else:  # every logit rounded to one decimal: thousands of ties
            logits = np.round(logits, 1).astype(np.float32)
        _mask_record(records, arrays, f"fm-tie-{i:04d}", "crafted-tie", tokenizer, base["text"], base["position"],
                     logits, k)
    return records, arrays


def _mask_record(records, arrays, vid, source, tokenizer, text, position, logits, k):
    ids = top_k(logits, k)
    arrays[f"{vid}.logits"] = logits
    records.append({"id": vid, "source": source, "text": text, "position": int(position), "k": int(k),
                    "top_ids": ids, "top_tokens": tokenizer.convert_ids_to_tokens(ids)})


# ---- question answering: start and end logits -> the best span ---------------------------------------


def _span_vectors(count, seed):
    rng = np.random.default_rng(seed)
    records, arrays = [], {}
    for i in range(count):
        length = int(rng.integers(1, 385))
        style = i % 4
        if style == 0:
            start, end = rng.normal(size=length), rng.normal(size=length)
        elif style == 1:  # integer-valued: many equal sums
            start, end = rng.integers(-2, 3, size=length), rng.integers(-2, 3, size=length)
        elif style == 2:  # constant: every span ties
            start, end = np.full(length, 0.5), np.full(length, -0.25)
        else:  # a peak pair exactly max_answer_len - 1 or max_answer_len apart: the length limit decides
            start, end = rng.normal(size=length) * 0.1, rng.normal(size=length) * 0.1
        start, end = start.astype(np.float32), end.astype(np.float32)
        # the passage: after a question of q tokens and its [CLS]/[SEP], before the closing [SEP]
        question = int(rng.integers(0, max(1, length // 3)))
        allowed = np.zeros(length, dtype=bool)
        allowed[min(length, question + 2):max(0, length - 1)] = True
        if i % 9 == 4:
            allowed = rng.random(length) < 0.3  # scattered tokens
        elif i % 23 == 5:
            allowed[:] = False  # nothing to answer from
        elif i % 23 == 6:
            allowed[:] = False
            allowed[int(rng.integers(length))] = True
        elif i % 23 == 7:
            allowed[:] = True
        max_len = [1, 2, 3, 30, length, length + 5][int(rng.integers(6))]
        if style == 3 and length > 4:
            max_len = int(rng.integers(2, min(length, 40)))
            s = int(rng.integers(0, length - 1))
            start[s] = 5.0
            far = min(length - 1, s + max_len - 1 + int(rng.integers(0, 2)))
            end[far] = 5.0
            allowed[s:far + 1] = True
        span = best_span(start, end, allowed, max_len)
        vid = f"qa-{i:04d}"
        arrays[f"{vid}.start_logits"], arrays[f"{vid}.end_logits"] = start, end
        arrays[f"{vid}.allowed"] = allowed.astype(np.int32)
        source = ("drawn-normal", "drawn-integer-ties", "constant-ties", "length-edge")[style]
        records.append({"id": vid, "source": source, "max_answer_len": max_len, "span": list(span)})
    return records, arrays
