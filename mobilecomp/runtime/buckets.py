"""Fixed-length buckets (TFLite signatures, ExecuTorch methods): which one holds an example, and
the example padded to it."""

from __future__ import annotations

import numpy as np

from ..inputs import Feed


def bucket_for(lengths: dict[str, int], length: int, file: str, kind: str) -> str:
    """The shortest bucket in ``lengths`` (name -> tokens) that holds ``length`` tokens; ``file``
    and ``kind`` (signature, method) name it in the error."""
    fitting = [name for name, size in sorted(lengths.items(), key=lambda kv: kv[1]) if size >= length]
    if not fitting:
        raise ValueError(f"{file}: {length} tokens exceed its longest {kind} ({max(lengths.values())})")
    return fitting[0]


def padded(row: Feed, size: int, dtypes: dict[str, np.dtype]) -> dict[str, np.ndarray]:
    """One example's inputs named in ``dtypes``, right-padded (or cut) to ``size`` tokens in those dtypes."""
    length = int(row["input_ids"].shape[1])
    out = {}
    for key, dtype in dtypes.items():
        array = np.zeros((1, size), dtype=dtype)  # pad token 0, mask 0, segment 0
        array[:, :length] = row[key][:, :size]
        out[key] = array
    return out
