"""Search results kept between exports, so a second export of the same model skips the sweep.

One JSON file per search under ``cache_dir()/searches``, named by a sha256 of its key: every
input the search read (the checkpoint's and the fp32 file's sha256, the tuning text's token ids,
the variant and its target, the tool versions, the host's int8 kernel). An entry is only a
hint: a file that does not parse, names another key, or fails the caller's check is ignored
(and rewritten after the search runs again); the caller also rebuilds the artefact from it and
checks its score before trusting it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..errors import MobilecompError
from ..inputs import Feed

FORMAT = 1  # bump when an entry's layout changes: older entries are then ignored


def feeds_sha256(feeds: list[Feed]) -> str:
    """sha256 of tokenised text: names, shapes and token ids of every batch, in order."""
    digest = hashlib.sha256()
    for feed in feeds:
        for name in sorted(feed):
            value = np.ascontiguousarray(feed[name])
            digest.update(f"{name}{value.dtype}{value.shape}".encode())
            digest.update(value.tobytes())
    return digest.hexdigest()


def tool_versions(*packages: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from .. import __version__

    found = {"mobilecomp": __version__}
    for name in packages:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "absent"
    return found


def entry_path(key: dict) -> Path:
    from ..text import cache_dir

    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]
    return cache_dir() / "searches" / f"{key.get('variant', 'search')}-{digest}.json"


def load(key: dict, valid=lambda result: True) -> dict | None:
    """The result stored under ``key``, or None when there is none or it cannot be trusted."""
    try:
        entry = json.loads(entry_path(key).read_text(encoding="utf-8"))
    except (OSError, ValueError, MobilecompError):  # absent, unreadable, not JSON, or no usable cache dir
        return None
    if (not isinstance(entry, dict) or entry.get("format") != FORMAT or entry.get("key") != key
            or not isinstance(entry.get("result"), dict)):
        return None
    try:
        return entry["result"] if valid(entry["result"]) else None
    except (KeyError, TypeError, ValueError):  # a check that met a field of the wrong shape
        return None


def save(key: dict, result: dict) -> Path | None:
    """Stores ``result`` under ``key`` (atomically: a reader never sees half a file); a cache
    that cannot be written costs the next export its speed, never this export its result."""
    try:
        path = entry_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"format": FORMAT, "key": key, "result": result}, indent=1), encoding="utf-8")
        tmp.replace(path)
        return path
    except (OSError, MobilecompError):  # full disk, read-only or unusable MOBILECOMP_CACHE alike
        return None
