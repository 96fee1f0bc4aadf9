"""Turns sentences into the int64 feeds every runner takes (one dict of arrays per batch)."""

from __future__ import annotations

from typing import Any

import numpy as np

Feed = dict[str, np.ndarray]


def encode(tokenizer: Any, sentences: list[str] | tuple[str, ...], input_names: tuple[str, ...],
           max_len: int, batch_size: int = 16, pad_to_max: bool = False,
           pairs: tuple[str, ...] | None = None) -> list[Feed]:
    """Batches padded to their longest sentence, or all to ``max_len`` when ``pad_to_max``
    (static calibration needs one shape). With ``pairs`` each sentence is packed with its second
    sentence by the tokenizer's pair template (token type 1 on the second, where the model has types)."""
    feeds = []
    for start in range(0, len(sentences), batch_size):
        chunk = list(sentences[start:start + batch_size])
        second = list(pairs[start:start + batch_size]) if pairs is not None else None
        enc = tokenizer(chunk, second, padding="max_length" if pad_to_max else "longest", truncation=True,
                        max_length=max_len, return_tensors="np",
                        # a model that takes token types gets them even from a tokenizer that leaves them out by
                        # default (RoBERTa's, ALBERT's): the post-processor's type ids
                        return_token_type_ids=True if "token_type_ids" in input_names else None)
        feeds.append({name: np.asarray(enc[name], dtype=np.int64) for name in input_names})
    return feeds


def profiling_feed(tokenizer: Any, input_names: tuple[str, ...], seq_len: int) -> Feed:
    """One real sentence padded to ``seq_len``: every runner measures the same full-length work."""
    text = ("The committee said on Tuesday that the new rules would take effect next year, "
            "after a review of how small companies could comply without extra cost.")
    return encode(tokenizer, [text], input_names, seq_len, batch_size=1, pad_to_max=True)[0]


def check_tokens(tokenizer: Any, sentences: list[str] | tuple[str, ...], source: str) -> None:
    """Every sentence keeps at least one token that is not special after tokenisation: a line of NUL
    bytes or control characters encodes to [CLS] [SEP] alone and would pass any parity gate."""
    from .errors import DataError

    special = set(getattr(tokenizer, "all_special_ids", ()))
    ids = tokenizer(list(sentences), add_special_tokens=False, truncation=False)["input_ids"]
    for i, row in enumerate(ids, 1):
        if not [t for t in row if t not in special]:
            raise DataError(f"{source}: sentence {i} ({sentences[i - 1][:40]!r}) holds no token the tokenizer "
                            "keeps; remove it or pass real text")
