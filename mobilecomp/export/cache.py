"""Artefacts kept between exports (issue 24): a second export of an unchanged model copies its files.

Content-addressed, under ``cache_dir()/artefacts``:

- ``blobs/SHA256``: a file's bytes, named by their sha256;
- ``entries/DIGEST.json``: one build (an fp32 export or a variant), named by a sha256 of its key,
  holding the key, the sha256 and size of the file it made, and the details it reported.

A key holds everything that decides the file's bytes: the loaded model's own weights and config
(hashed after pruning, so a pruned or transplanted model is another model), the checkpoint's
sha256, the recipe's fields that reach the file (head, pooling, lengths, opset, the variant's
budget, which its search aims at), the calibration and tuning text's token ids, the fp32 file a
variant starts from (by sha256), the build function, the toolchain's versions, this host's int8
kernel and torch thread count, and mobilecomp's version and source code (any edit is another key).

An entry is a hint, never trusted: the file is copied into the bundle while its sha256 is computed,
and a copy whose sha256 or size is not the entry's is deleted with the blob and the entry, and the
artefact is built again. The pipeline runs the parity gate on every artefact, reused or not: the
cache saves the building, not the proof. Models without a checkpoint hash (random weights) are
not cached, as the sweep's cache does not; neither is anything when ``MOBILECOMP_CACHE`` cannot
be used (the export goes on, without the speed). Blobs past ``MOBILECOMP_CACHE_MAX_GB`` (default
4) are removed least recently used first.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import Callable
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from ..errors import MobilecompError
from ..progress import Log

FORMAT = 1  # bump when an entry's layout changes: older entries are then ignored
MAX_GB = 4.0
TOOLS = ("torch", "transformers", "tokenizers", "onnx", "onnxruntime", "onnxscript", "litert-torch",
         "ai-edge-litert", "ai-edge-quantizer", "executorch", "numpy")
# recipe fields that never reach a file's bytes (the weights are in the key as loaded, by their hash)
UNUSED_RECIPE_FIELDS = ("name", "description", "checkpoint", "formats", "variants", "parity", "max_accuracy_drop",
                        "compress")
DISABLE = "MOBILECOMP_ARTEFACT_CACHE"  # "0": build every artefact again, reuse nothing (and store nothing)


@lru_cache(maxsize=1)
def code_sha256() -> str:
    """sha256 of mobilecomp's own source (every .py and .c file, by relative path): an edit to any
    of it gives every key another value, so a development tree never reuses a stale artefact."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".c") and p.is_file()):
        digest.update(f"{path.relative_to(root).as_posix()}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def model_sha256(model) -> str:
    """sha256 of the model as loaded (after pruning): its module's class, config and every tensor
    of its state dict (names, dtypes, shapes, bytes); an ONNX checkpoint's graph file."""
    digest = hashlib.sha256()
    module = model.module
    onnx_path = getattr(module, "onnx_path", None)
    if onnx_path is not None:
        from ..load.checkpoints import sha256_file

        digest.update(f"onnx:{sha256_file(Path(onnx_path))}".encode())
        return digest.hexdigest()
    import torch

    inner = getattr(module, "model", module)
    config = getattr(inner, "config", None)
    digest.update(f"{type(module).__module__}.{type(module).__qualname__}/"
                  f"{type(inner).__module__}.{type(inner).__qualname__}\0".encode())
    if config is not None:
        digest.update(config.to_json_string(use_diff=False).encode())
    for name, tensor in module.state_dict().items():
        value = tensor.detach().cpu().contiguous()
        digest.update(f"\0{name}:{value.dtype}:{tuple(value.shape)}\0".encode())
        if value.numel():
            digest.update(value.reshape(-1).view(torch.uint8).numpy().data)
    return digest.hexdigest()


def build_id(fn: Callable) -> str:
    """The function that builds a file, by module and name (a closure's captured names too), so a
    build swapped in at run time (a test's, a plugin's) never reuses another build's file."""
    cells = [c.cell_contents for c in (getattr(fn, "__closure__", None) or ())]
    captured = [c for c in cells if isinstance(c, (str, int, float))]
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}{captured or ''}"


def tool_versions() -> dict[str, str]:
    from ..quantise.cache import tool_versions as versions

    return versions(*TOOLS)


def max_bytes() -> int:
    try:
        return int(float(os.environ.get("MOBILECOMP_CACHE_MAX_GB", MAX_GB)) * 2**30)
    except ValueError:
        return int(MAX_GB * 2**30)


class ArtefactCache:
    """The cache as one export sees it: ``common`` is the part of every key this export shares."""

    def __init__(self, root: Path, common: dict, log: Log = lambda msg: None) -> None:
        self.root, self.common, self.log = root, common, log
        self.sha: dict[str, str] = {}  # file path -> its sha256, for files this export fetched or stored

    @classmethod
    def for_export(cls, model, recipe, log: Log = lambda msg: None) -> ArtefactCache | None:
        """None where nothing is cached: random weights (no checkpoint hash), ``MOBILECOMP_ARTEFACT_CACHE=0``,
        or no usable cache directory. The pipeline adds ``common["texts"]``, the token ids' sha256 of
        each text a build reads, before it asks for a build's key."""
        if os.environ.get(DISABLE, "1") == "0" or not (model.checkpoint or {}).get("sha256"):
            return None
        from .. import __version__
        from ..runtime.numerics import exact_mode_needed, host_int8
        from ..schema import to_dict
        from ..text import cache_dir
        from .tflite import seq_lens

        try:
            root = cache_dir() / "artefacts"
        except MobilecompError as exc:
            log(f"artefact cache unused: {exc}")
            return None
        import torch

        common = {
            "format": FORMAT, "mobilecomp": __version__, "code_sha256": code_sha256(), "versions": tool_versions(),
            "host_int8": {**host_int8().to_dict(), "exact_mode": exact_mode_needed()},
            "torch_threads": torch.get_num_threads(),
            "checkpoint_sha256": model.checkpoint["sha256"], "model_sha256": model_sha256(model),
            "architecture": model.architecture, "head": model.head, "inputs": list(model.input_names),
            "outputs": list(model.output_names),
            # every field of the recipe but those that name it, choose what to build, or judge what was built
            # (a variant's own budget is in its key); a field added later is in the key until listed here
            "recipe": {**{k: v for k, v in to_dict(recipe).items() if k not in UNUSED_RECIPE_FIELDS},
                       "tflite_seq_lens": list(seq_lens(recipe))},
        }
        return cls(root, common, log)

    # ---- keys and entries ------------------------------------------------------------------

    def key(self, **fields) -> dict:
        return {**self.common, **fields}

    def entry_path(self, key: dict) -> Path:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:40]
        return self.root / "entries" / f"{digest}.json"

    def blob_path(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256

    def lookup(self, key: dict) -> dict | None:
        """The entry stored under ``key`` whose blob is there at the entry's size, or None; the
        blob's bytes are checked when it is fetched."""
        try:
            entry = json.loads(self.entry_path(key).read_text(encoding="utf-8"))
            ok = (isinstance(entry, dict) and entry.get("format") == FORMAT and entry.get("key") == json.loads(
                json.dumps(key, default=str)) and isinstance(entry.get("sha256"), str) and len(entry["sha256"]) == 64
                and isinstance(entry.get("size"), int) and isinstance(entry.get("details"), dict))
            if ok and self.blob_path(entry["sha256"]).stat().st_size == entry["size"]:
                return entry
        except (OSError, ValueError, TypeError):  # absent, unreadable, not JSON: a miss
            pass
        return None

    def fetch(self, key: dict, target: Path) -> dict | None:
        """Copy the file stored under ``key`` to ``target`` and return its details (with a note that
        it was reused), or None: no entry, or one whose bytes are not what it says (then removed)."""
        entry = self.lookup(key)
        if entry is None:
            return None
        blob = self.blob_path(entry["sha256"])
        if self.sha.get(str(target)) == entry["sha256"] and target.exists():  # fetched or built so this export
            return self._reused(key, entry)
        incoming = target.with_name(f".{target.name}.from-cache")
        try:  # into a new file, then renamed over ``target``: never written through an existing one
            sha, size = _copy_hashing(blob, incoming)
        except OSError as exc:
            incoming.unlink(missing_ok=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
                raise  # the bundle's disk: BundleWriter reports it
            return None  # the blob went (another export evicted it) or cannot be read: a miss
        if sha != entry["sha256"] or size != entry["size"]:
            incoming.unlink(missing_ok=True)
            self._discard(key, blob)
            self.log(f"artefact cache: the cached {target.name} is damaged (sha256 {sha[:12]}..., {size} bytes; "
                     f"the entry says {entry['sha256'][:12]}..., {entry['size']} bytes): removed, building again")
            return None
        incoming.replace(target)
        _touch(blob)
        self.sha[str(target)] = sha
        return self._reused(key, entry)

    def _reused(self, key: dict, entry: dict) -> dict:
        return {**entry["details"],
                "artefact_cache": {"reused": self.entry_path(key).stem[:16], "built": entry.get("created"),
                                   "checked": "the copy's sha256 equals the cached file's"}}

    def store(self, key: dict, path: Path, details: dict) -> None:
        """Keep a copy of ``path`` (just built) under ``key``; a cache that cannot be written costs the
        next export its speed, never this export its result."""
        try:
            incoming = self.root / "blobs" / f".incoming-{os.getpid()}"
            incoming.parent.mkdir(parents=True, exist_ok=True)
            sha, size = _copy_hashing(path, incoming)  # a copy: no file of the bundle shares the blob's bytes
            self.sha[str(path)] = sha
            blob = self.blob_path(sha)
            if blob.exists() and blob.stat().st_size == size:
                incoming.unlink()
                _touch(blob)
            else:
                incoming.replace(blob)
            entry = {"format": FORMAT, "key": key, "sha256": sha, "size": size, "details": details,
                     "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            target = self.entry_path(key)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(entry, indent=1, default=str), encoding="utf-8")
            tmp.replace(target)
            self.evict()
        except (OSError, TypeError, ValueError):  # full disk, read-only cache, details that are not JSON
            try:
                (self.root / "blobs" / f".incoming-{os.getpid()}").unlink(missing_ok=True)
            except OSError:
                pass

    def sha256(self, path: Path) -> str:
        """``path``'s sha256: known for a file this export fetched or stored, else computed."""
        if str(path) not in self.sha:
            from ..load.checkpoints import sha256_file

            self.sha[str(path)] = sha256_file(path)
        return self.sha[str(path)]

    def made(self, key: dict, target: Path, make: Callable[[], dict | None], note: bool = True) -> dict:
        """``target`` copied from the cache (its details noting that, unless not ``note``), else made by
        ``make()`` and stored."""
        details = self.fetch(key, target)
        if details is not None:
            return details if note else {k: v for k, v in details.items() if k != "artefact_cache"}
        details = make() or {}
        if target.exists():
            self.store(key, target, details)
        return details

    def arrays(self, key: dict, scratch: Path, compute: Callable[[], dict[str, list]], what: str) -> dict[str, list]:
        """Outputs (name -> one array per batch) kept like a file: loaded from the cache when an entry
        under ``key`` holds them (its bytes checked as any file's), else ``compute()``d and stored.
        ``scratch``: a file name the copy may take meanwhile; ``what``: their name in the log."""
        import numpy as np

        details = self.fetch(key, scratch)
        try:
            if details is not None:
                with np.load(scratch, allow_pickle=False) as data:
                    outputs = {name: [data[f"{name}__{i}"] for i in range(count)]
                               for name, count in details["outputs"].items()}
                self.log(f"{what}: reused from the artefact cache ({details['artefact_cache']['reused']})")
                return outputs
        except (OSError, ValueError, KeyError, TypeError, AttributeError):  # not the layout written below
            self._discard(key, self.blob_path(self.sha256(scratch)))
        finally:
            scratch.unlink(missing_ok=True)
        outputs = compute()
        try:
            np.savez(scratch, **{f"{name}__{i}": part for name, parts in outputs.items()
                                 for i, part in enumerate(parts)})
            self.store(key, scratch, {"outputs": {name: len(parts) for name, parts in outputs.items()}})
        except OSError:  # no room in the bundle's directory for the scratch copy: nothing kept
            pass
        finally:
            scratch.unlink(missing_ok=True)
        return outputs

    def _discard(self, key: dict, blob: Path) -> None:
        for path in (blob, self.entry_path(key)):
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass

    def evict(self) -> None:
        """Remove the least recently used blobs until the cache is under its size cap, and the
        entries that named them."""
        blobs = []
        for path in (self.root / "blobs").glob("[0-9a-f]*"):
            try:
                stat = path.stat()
            except OSError:
                continue
            blobs.append((stat.st_mtime, stat.st_size, path))
        total, cap = sum(size for _, size, _ in blobs), max_bytes()
        if total <= cap:
            return
        gone = set()
        for _, size, path in sorted(blobs):
            if total <= cap:
                break
            path.unlink(missing_ok=True)
            gone.add(path.name)
            total -= size
        for entry in (self.root / "entries").glob("*.json"):
            try:
                if json.loads(entry.read_text(encoding="utf-8")).get("sha256") in gone:
                    entry.unlink(missing_ok=True)
            except (OSError, ValueError, AttributeError):
                entry.unlink(missing_ok=True)


def _copy_hashing(src: Path, dst: Path) -> tuple[str, int]:
    """Copy ``src`` to ``dst`` in one pass, returning the sha256 and size of what was read."""
    digest, size = hashlib.sha256(), 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        for block in iter(lambda: fin.read(1 << 20), b""):
            digest.update(block)
            fout.write(block)
            size += len(block)
    return digest.hexdigest(), size


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:
        pass


# ---- the keys of the export's builds ---------------------------------------------------------

def export_key(cache: ArtefactCache, fmt: str) -> dict:
    """The fp32 file of ``fmt`` (the exporter's output, which every variant starts from)."""
    from . import EXPORTERS

    return cache.key(kind="export", format=fmt, build=build_id(EXPORTERS[fmt]))


def variant_key(cache: ArtefactCache, fmt: str, variant, budget, source_sha256: str) -> dict:
    """One variant built from the fp32 file whose sha256 is ``source_sha256``, aiming at ``budget``."""
    from ..schema import to_dict

    return cache.key(kind="variant", format=fmt, variant=variant.name, build=build_id(variant.build),
                     budget=to_dict(budget), source_sha256=source_sha256)


def has_all(cache: ArtefactCache | None, fmt: str, variants: list) -> bool:
    """Whether ``fmt``'s fp32 file and every (variant, budget) in ``variants`` are cached: then
    nothing of that format is built (the pipeline starts no conversions ahead for it)."""
    if cache is None:
        return False
    entry = cache.lookup(export_key(cache, fmt))
    return entry is not None and all(cache.lookup(variant_key(cache, fmt, variant, budget, entry["sha256"]))
                                     for variant, budget in variants)
