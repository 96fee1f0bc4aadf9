"""Reads and writes bundle directories: written whole into a temporary directory, then renamed."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

from .errors import BundleError, MobilecompError, first_line
from .files import DATA_LIMIT, read_bytes, read_json, read_jsonl
from .load.checkpoints import sha256_file
from .types import Artefact, Manifest, ProfileRow

MANIFEST = "manifest.json"
RESULTS_JSONL = "results.jsonl"
RESULTS_CSV = "results.csv"
PARTIAL_PREFIX = ".partial-"
LOCK = ".mobilecomp-lock"
LOCK_MARK = b"pid"  # how a lock file mobilecomp wrote starts


class BundleWriter:
    """``with BundleWriter(out, force) as writer:`` build in ``writer.tmp``; ``commit`` makes it ``out``.

    Everything that can refuse the export is checked on entry, before any work: an existing ``out``
    that is not a mobilecomp bundle (never replaced, even with --force), an ``out`` that is or holds
    one of the ``keep`` paths (the checkpoint, the texts), the current directory, a read-only or full
    disk (``needs`` bytes), and another writer of the same bundle (a lock, named in the error).
    Until ``commit`` nothing exists at ``out``; the final move is one atomic rename that never
    replaces what appeared meanwhile. An exception removes the temporary directory, and a killed
    process leaves only a hidden ``.partial-*`` directory with no manifest.
    """

    def __init__(self, out: Path, force: bool = False, keep: list[Path] = (), needs: int = 0) -> None:
        self.out = Path(os.path.abspath(out))
        self.force = force
        self.keep = [Path(os.path.realpath(p)) for p in keep]
        self.needs = needs
        self.tmp: Path | None = None
        self.committed = False
        self.locks: list[Lock] = []

    def __enter__(self) -> BundleWriter:
        out, real = self.out, Path(os.path.realpath(self.out))
        if real == Path("/") or real in Path.cwd().resolve().parents or real == Path.cwd().resolve():
            raise BundleError(f"{out}: is the current directory or holds it; pass --out a new directory")
        for path in self.keep:
            if path == real or real in path.parents:
                raise BundleError(f"{out}: holds {path}, an input of this export; pass --out another directory")
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BundleError(f"{self.out.parent}: cannot be made a directory ({exc.strerror}); "
                              "pass --out under a writable directory") from None
        try:
            self.locks.append(Lock(self.out.parent / f".{self.out.name}{LOCK}", self.out, "exporting to"))
            self._check_replaceable()
            self._check_space()
            try:
                self.tmp = Path(tempfile.mkdtemp(prefix=f"{PARTIAL_PREFIX}{self.out.name}-", dir=self.out.parent))
            except OSError as exc:
                raise BundleError(f"{self.out.parent}: cannot hold the bundle ({exc.strerror}); pass --out under "
                                  "a writable directory") from None
        except BaseException:
            self._release()
            raise
        return self

    def _check_replaceable(self) -> None:
        """An existing --out is replaced only with --force, and only when it is an empty directory or a
        bundle this tool wrote (its manifest says so); its own lock is held until the swap."""
        if not os.path.lexists(self.out):
            return
        if not self.force:
            raise BundleError(f"{self.out}: already exists; pass --force to replace it or --out another directory")
        if self.out.is_symlink() or not self.out.is_dir():
            raise BundleError(f"{self.out}: is not a directory mobilecomp made; --force replaces only a bundle: "
                              "pass --out another directory")
        if any(self.out.iterdir()):
            why = made_by_mobilecomp(self.out)
            if why:
                raise BundleError(f"{self.out}: {why}, so --force will not replace it; pass --out another directory")
            self.locks.append(Lock(self.out / LOCK, self.out, "using"))

    def _check_space(self) -> None:
        free = shutil.disk_usage(self.out.parent).free
        if free < self.needs:
            raise BundleError(f"{self.out.parent}: no space left for the bundle (it needs about "
                              f"{self.needs / 2**20:.0f} MB, {free / 2**20:.0f} MB free); free space or pass --out "
                              "on another disk")

    def commit(self, manifest: Manifest | None) -> None:
        """Move the finished directory into place (with the bundle's manifest, if one is given)."""
        assert self.tmp is not None
        if manifest is not None:
            write_atomic(self.tmp / MANIFEST, json.dumps(manifest.to_json(), indent=2) + "\n")
        if os.path.lexists(self.out) and self.force:
            if not self.out.is_dir() or (any(self.out.iterdir()) and made_by_mobilecomp(self.out)):
                raise BundleError(f"{self.out}: replaced by something else while exporting; the new bundle was "
                                  "not kept: pass --out another directory")
            rename(self.tmp, self.out, exchange=True)  # the old bundle is now at self.tmp
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            try:
                rename(self.tmp, self.out, exchange=False)
            except FileExistsError:
                raise BundleError(f"{self.out}: appeared while exporting (another process wrote it); it was left "
                                  "as it is and the new bundle was not kept: pass --out another directory") from None
        self.committed = True

    def _release(self) -> None:
        for lock in reversed(self.locks):
            lock.release()
        self.locks = []

    def __exit__(self, kind, exc, tb) -> None:
        if not self.committed and self.tmp is not None:
            full = disk_full(self.tmp, exc)
            shutil.rmtree(self.tmp, ignore_errors=True)
            if full:
                self._release()
                raise BundleError(f"{self.out.parent}: no space left on the device while writing the bundle "
                                  "(nothing was kept); free space or pass --out on another disk") from None
        self._release()


STUDENT_CARD = "mobilecomp_compress.json"  # compress.CARD: a student directory mobilecomp trained


def made_by_mobilecomp(directory: Path) -> str:
    """'' when ``directory`` holds a bundle (or a student) mobilecomp wrote, else why it is not one."""
    card = directory / STUDENT_CARD
    if card.is_file() and not card.is_symlink():
        try:
            data = json.loads(read_bytes(card, BundleError, "pass another directory"))
        except (BundleError, ValueError):
            data = None
        if isinstance(data, dict) and {"method", "teacher", "recipe"} <= set(data):
            return ""
    path = directory / MANIFEST
    if not path.is_file() or path.is_symlink():
        return "it holds no manifest.json (it is not a mobilecomp bundle)"
    try:
        data = json.loads(read_bytes(path, BundleError, REEXPORT))
    except (BundleError, ValueError):
        return "its manifest.json is not a mobilecomp manifest"
    versions = data.get("versions") if isinstance(data, dict) else None
    if not isinstance(versions, dict) or "mobilecomp" not in versions or not isinstance(data.get("artefacts"), list):
        return "its manifest.json was not written by mobilecomp"
    return ""


def disk_full(directory: Path, exc: BaseException | None) -> bool:
    """Whether ``exc`` came from a full disk: ENOSPC anywhere in its chain, or, for the errors a
    toolchain makes of a short write (a protobuf DecodeError, a RuntimeError), a disk left full."""
    seen = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        seen = seen.__cause__ or seen.__context__
    if exc is None or isinstance(exc, (KeyboardInterrupt, MobilecompError)):
        return False
    try:
        return shutil.disk_usage(directory).free < FULL_BYTES
    except OSError:
        return False


FULL_BYTES = 4 << 20  # less free than this after a failed write: the disk filled up


class Lock:
    """An exclusive lock on ``path`` (flock), held by one writer of ``target``; a second writer gets
    one line naming the holder. The file is removed on release (and a lock taken on a file removed
    meanwhile is retaken on the new one)."""

    def __init__(self, path: Path, target: Path, doing: str) -> None:
        import fcntl

        self.path = path
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                where = "a symlink" if exc.errno == errno.ELOOP else f"not writable ({exc.strerror})"
                raise BundleError(f"{path.parent}: {where}; mobilecomp writes there (copy the bundle to a "
                                  "writable directory, or pass --out another directory)") from None
            held = os.pread(fd, 64, 0)
            if (held and not held.startswith(LOCK_MARK)) or not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)  # a file of the user's that happens to have this name: never truncated or removed
                raise BundleError(f"{path}: not a mobilecomp lock file, and mobilecomp needs that name; move it "
                                  "or use another directory")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 300, 0).decode(errors="replace").strip() or "another process"
                os.close(fd)
                raise BundleError(f"{target}: another mobilecomp is {doing} it ({holder}); wait for it to finish "
                                  "or use another directory") from None
            try:
                same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # removed by the holder as we waited: lock the file that is there now
        os.ftruncate(fd, 0)
        os.pwrite(fd, LOCK_MARK + f" {os.getpid()}: mobilecomp {doing} {target}\n".encode(), 0)
        self.fd: int | None = fd

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def release(self) -> None:
        if self.fd is not None:
            try:  # only our own file: after --force's swap another writer's may stand at this path
                if os.stat(self.path, follow_symlinks=False).st_ino == os.fstat(self.fd).st_ino:
                    os.unlink(self.path)
            except OSError:
                pass
            os.close(self.fd)
            self.fd = None


def bundle_lock(bundle: Path, doing: str) -> Lock:
    """The lock a command that writes into ``bundle`` (profile, eval, --target) holds while it runs."""
    return Lock(Path(bundle) / LOCK, Path(bundle), doing)


def rename(src: Path, dst: Path, exchange: bool) -> None:
    """Atomic: ``exchange`` swaps two existing paths, otherwise ``dst`` must not exist (renameat2's
    RENAME_EXCHANGE / RENAME_NOREPLACE; where a file system lacks them, the closest safe steps)."""
    import ctypes

    flag = 2 if exchange else 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        result = libc.renameat2(-100, os.fsencode(src), -100, os.fsencode(dst), flag)  # AT_FDCWD
        code = ctypes.get_errno() if result != 0 else 0
    except AttributeError:  # a libc without renameat2
        code = errno.ENOSYS
    if code == 0:
        return
    if code not in (errno.EINVAL, errno.ENOSYS):
        raise OSError(code, os.strerror(code), str(dst))
    if exchange:  # the old bundle moves aside, the new one in, the old one back to src to be removed
        aside = Path(f"{src}-old")
        os.rename(dst, aside)
        os.rename(src, dst)
        os.rename(aside, src)
    else:
        os.mkdir(dst)  # fails if it exists; rename(2) then replaces only this empty directory
        os.rename(src, dst)


def member(bundle: Path, name: str, where: str, missing_ok: bool = False) -> Path:
    """``bundle/name``, refused unless it stays inside the bundle once symlinks are resolved and is a
    regular file: nothing outside a bundle is read, hashed, run or pushed through a bundle's names.
    ``missing_ok``: a name that is inside but absent passes (it is refused when something needs it)."""
    file = Path(str(name))
    if file.is_absolute() or ".." in file.parts or not str(name):
        raise BundleError(f"{where} '{name}' is outside the bundle; {REEXPORT}")
    path = Path(bundle) / file
    if not os.path.lexists(path):
        if missing_ok:
            return path
        raise BundleError(f"{path}: missing ({where} names it); {REEXPORT}")
    real, root = Path(os.path.realpath(path)), Path(os.path.realpath(bundle))
    if root not in real.parents:
        raise BundleError(f"{path}: leads outside the bundle (to {real}); refusing to use it: {REEXPORT}")
    if not real.is_file():
        raise BundleError(f"{path}: not a regular file; {REEXPORT}")
    return path


def write_atomic(path: Path, text: str) -> None:
    """``path`` replaced whole or not at all: written beside it, synced, renamed over it."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def describe_artefact(bundle: Path, file: str, fmt: str, variant: str, details: dict) -> Artefact:
    from .formats import FORMATS

    path = bundle / file
    opset, op_types, lint = FORMATS[fmt].describe(path)
    if lint is not None:
        details = {**details, "lint": lint}
    return Artefact(name=f"{fmt}-{variant}", format=fmt, variant=variant, file=file,
                    sha256=sha256_file(path), size_bytes=path.stat().st_size, opset=opset,
                    op_types=dict(sorted(op_types.items())), details=details)


REEXPORT = "re-run mobilecomp export --force"
ARTEFACT_FIELDS = ("name", "format", "variant", "file", "sha256", "size_bytes")
INPUTS = ("profile.npz", "parity.npz", "reference.npz")


def read_inputs(bundle: Path, name: str) -> dict[str, Any]:
    """Every array of the bundle's inputs/NAME (one of INPUTS), loaded into memory."""
    import numpy as np

    with np.load(member(bundle, f"inputs/{name}", "the bundle's inputs")) as data:
        return {k: data[k] for k in data.files}


def read_manifest(bundle: Path) -> dict[str, Any]:
    """manifest.json, checked against the schema every command relies on before anything uses it:
    the recipe as a recipe, known architecture and head, typed artefact entries, and every file it
    names inside the bundle."""
    path = Path(bundle) / MANIFEST
    if not os.path.lexists(path):
        raise BundleError(f"{path}: missing; is {bundle} a bundle? make one with mobilecomp export")
    member(bundle, MANIFEST, "the bundle")
    manifest = read_json(path, BundleError, REEXPORT)
    check_manifest(manifest, Path(bundle), str(path))
    return manifest


def check_manifest(manifest: dict[str, Any], bundle: Path, where: str) -> None:
    from .errors import ConfigError
    from .formats import FORMATS
    from .load.architectures import ARCHITECTURES
    from .load.heads import HEADS
    from .recipe import check_names
    from .schema import from_dict
    from .types import Recipe

    def need(ok: bool, field: str, what: str) -> None:
        if not ok:
            raise BundleError(f"{where}: {field} {what}; {REEXPORT}")

    for key, kind in (("recipe", dict), ("artefacts", list), ("model", dict), ("checkpoint", dict),
                      ("tokenizer", dict), ("parity_corpus", dict), ("unbuilt", list), ("versions", dict),
                      ("created", str), ("command", str)):
        need(isinstance(manifest.get(key), kind), f"field '{key}'", f"is missing or not a JSON "
             f"{_KINDS[kind]}")
    for key in ("eval_data", "choice", "numerics"):
        need(isinstance(manifest.get(key), (dict, type(None))), f"field '{key}'", "is not a JSON object or null")
    need(all(isinstance(u, dict) and isinstance(u.get("name"), str) for u in manifest["unbuilt"]), "unbuilt",
         "holds an entry without a name")
    corpus = manifest["parity_corpus"]
    need(isinstance(corpus.get("name"), str) and _integer(corpus.get("sentences")), "parity_corpus",
         "has no name and sentence count")
    try:
        recipe = from_dict(Recipe, manifest["recipe"], where="recipe")
        check_names(recipe, "recipe")
    except ConfigError as exc:
        raise BundleError(f"{where}: {exc}; {REEXPORT}") from None
    model = manifest["model"]
    need(isinstance(model.get("architecture"), str) and model["architecture"] in ARCHITECTURES, "model.architecture",
         f"{model.get('architecture')!r} is not one of {', '.join(ARCHITECTURES)}")
    need(isinstance(model.get("head"), str) and model["head"] in HEADS, "model.head",
         f"{model.get('head')!r} is not one of {', '.join(HEADS)}")
    for key in ("inputs", "outputs"):
        need(isinstance(model.get(key), list) and bool(model[key]) and all(isinstance(v, str) for v in model[key]),
             f"model.{key}", "is not a list of names")
    need(model.get("primary_output") in model["outputs"], "model.primary_output", "is not one of model.outputs")
    need(_integer(model.get("seq_len")) and 8 <= model["seq_len"] <= 512, "model.seq_len",
         "is not an integer 8..512")
    need(_integer(model.get("params")) and model["params"] > 0, "model.params", "is not a positive integer")
    need(all(_str_or_none(manifest["checkpoint"].get(k)) for k in ("path", "sha256", "source")),
         "checkpoint", "has a path, sha256 or source that is not a string")
    tokenizer = manifest["tokenizer"]
    files = tokenizer.get("files")
    need(isinstance(files, list) and all(isinstance(f, str) for f in files), "tokenizer.files", "is not a list of names")
    need(isinstance(tokenizer.get("vocab_file"), str) and isinstance(tokenizer.get("vocab_sha256"), str),
         "tokenizer.vocab_file", "or vocab_sha256 is not a string")
    for name in [*files, tokenizer["vocab_file"]]:
        member(bundle, name, f"{where} tokenizer")
    from .load.tokenizer import KINDS

    # a manifest written before tokenizer.kind existed is a WordPiece one
    kind = tokenizer.get("kind", "wordpiece")
    need(isinstance(kind, str) and kind in KINDS, "tokenizer.kind",
         f"{tokenizer.get('kind')!r} is not one of {', '.join(KINDS)}")
    need(_str_or_none(tokenizer.get("source")), "tokenizer.source", "is not a string")
    for i, art in enumerate(manifest["artefacts"]):
        missing = [k for k in ARTEFACT_FIELDS if not isinstance(art, dict) or k not in art]
        need(not missing, f"artefacts[{i}]", f"has no '{missing[0] if missing else ''}' field")
        for key in ("name", "format", "variant", "file", "sha256"):
            need(isinstance(art[key], str), f"artefacts[{i}].{key}", "is not a string")
        need(art["format"] in FORMATS, f"artefacts[{i}].format", f"'{art['format']}' is not one of {', '.join(FORMATS)}")
        need(_integer(art["size_bytes"]) and art["size_bytes"] >= 0, f"artefacts[{i}].size_bytes",
             "is not a byte count")
        for key in ("details", "parity", "accuracy"):
            need(isinstance(art.get(key), dict) or (key != "details" and art.get(key) is None),
                 f"artefacts[{i}].{key}", "is not a JSON object")
        for key, fields in (("parity", ("cos_min", "cos_mean", "max_abs", "spearman", "top1")),
                            ("accuracy", ("accuracy", "f1", "drop_points"))):
            values = [(art.get(key) or {}).get(field) for field in fields]  # what reports format as numbers
            # the first must be finite; the others may be NaN (a measure that could not be taken)
            need((values[0] is None or _number(values[0]))
                 and all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values[1:]),
                 f"artefacts[{i}].{key}", "holds a value that is not a number")
        need(isinstance(art.get("passed", True), bool), f"artefacts[{i}].passed", "is not true or false")
        # a missing artefact is refused when it is asked to run
        member(bundle, art["file"], f"{where}: artefacts[{i}].file", missing_ok=True)
    for name in [*(f"inputs/{n}" for n in INPUTS), RESULTS_JSONL, RESULTS_CSV, "accuracy.jsonl"]:
        member(bundle, name, "the bundle", missing_ok=True)


_KINDS = {dict: "object", list: "list", str: "string"}


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _str_or_none(value: Any) -> bool:
    return value is None or isinstance(value, str)


def check_runnable(bundle: Path, artefacts: list[dict[str, Any]]) -> None:
    """Refuse, before anything runs, artefacts whose file is missing, truncated or changed since the
    manifest was written (size and sha256), and input files that do not load."""
    import zipfile

    for art in artefacts:
        path = Path(bundle) / art["file"]
        if not os.path.lexists(path):
            raise BundleError(f"{path}: missing (manifest.json lists it as {art['name']}); {REEXPORT}")
        member(bundle, art["file"], f"manifest.json {art['name']}")
        if path.stat().st_size != art["size_bytes"] or sha256_file(path) != art["sha256"]:
            raise BundleError(f"{path}: changed since export (its sha256 differs from manifest.json's); "
                              f"refusing to run it: {REEXPORT}")
    for name in INPUTS:
        path = Path(bundle) / "inputs" / name
        if not os.path.lexists(path):
            raise BundleError(f"{path}: missing; {REEXPORT}")
        try:
            arrays = read_inputs(bundle, name)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise BundleError(f"{path}: not a readable .npz ({first_line(exc)}); {REEXPORT}") from None
        if not arrays:
            raise BundleError(f"{path}: holds no arrays; {REEXPORT}")


CSV_COLUMNS = ["timestamp", "model", "artefact", "variant", "device", "provenance", "threads",
               "seq_len", "batch", "p50_ms", "p90_ms", "mean_ms", "cpu_p50_ms", "runner",
               "device_cpu", "label", "artefact_sha256"]
ROW_FIELDS = ("model", "artefact", "variant", "device", "provenance", "threads", "seq_len", "batch",
              "latency_ms", "runner", "device_info")


def append_results(bundle: Path, rows: list[ProfileRow]) -> None:
    """Add the rows to results.jsonl and results.csv, each file replaced whole (written beside it,
    synced, renamed), so an interrupted or failed write leaves the old file as it was. When the
    write fails, the error carries the rows, and the CLI prints them: a measurement is never lost."""
    jsonl = [json.dumps(row.to_json()) + "\n" for row in rows]
    csv_lines = []
    for row in rows:
        lat = row.latency_ms
        csv_lines.append(_csv_line([
            row.timestamp, row.model, row.artefact, row.variant, row.device, row.provenance, row.threads,
            row.seq_len, row.batch, f"{lat.percentile(50):.3f}", f"{lat.percentile(90):.3f}", f"{lat.mean:.3f}",
            f"{row.cpu_ms.percentile(50):.3f}" if row.cpu_ms else "",
            f"{row.runner.get('name')} {row.runner.get('version')}", row.device_info.cpu, row.label or "",
            row.artefact_sha256]))
    try:
        append_lines(Path(bundle) / RESULTS_JSONL, jsonl)
        append_lines(Path(bundle) / RESULTS_CSV, csv_lines, header=_csv_line(CSV_COLUMNS))
    except OSError as exc:
        raise BundleError(f"{bundle}: the {len(rows)} new rows could not be saved ({exc.strerror}); they are "
                          "printed on stdout as JSON lines: free space or copy the bundle somewhere writable",
                          salvage="".join(jsonl)) from None


def _csv_line(values: list) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


def append_lines(path: Path, lines: list[str], header: str = "") -> None:
    """``path`` with ``lines`` added (``header`` first when it is new), replaced whole."""
    old = read_bytes(path, BundleError, "delete the file and run again", DATA_LIMIT).decode(errors="replace") \
        if os.path.lexists(path) else header
    write_atomic(path, old + "".join(lines))


def read_results(bundle: Path) -> list[dict[str, Any]]:
    path = Path(bundle) / RESULTS_JSONL
    return read_results_file(path) if path.exists() else []


def read_results_file(path: Path) -> list[dict[str, Any]]:
    """Profile rows from a results .jsonl, each checked for the fields and types reports read."""
    fix = "delete that line (or the file) and profile again"
    rows = []
    for lineno, row in read_jsonl(path, BundleError, fix, ROW_FIELDS):
        problem = _row_problem(row)
        if problem:
            raise BundleError(f"{path}:{lineno}: {problem}; {fix}")
        rows.append(row)
    return rows


def _row_problem(row: dict[str, Any]) -> str:
    for key in ("model", "artefact", "variant", "device", "provenance"):
        if not isinstance(row[key], str):
            return f"{key} is not a string"
    for key in ("threads", "seq_len", "batch"):
        if not _integer(row[key]) or row[key] < 1:
            return f"{key} is not a positive integer"
    latency = row["latency_ms"]
    if not isinstance(latency, dict) or not all(_number(latency.get(k)) and latency[k] > 0 for k in ("p50", "mean")):
        return "latency_ms has no positive p50 and mean"
    for key in ("runner", "device_info"):
        if not isinstance(row[key], dict):
            return f"{key} is not an object"
    if not all(isinstance(row["runner"].get(k), str) for k in ("name", "version")):
        return "runner has no name and version strings"
    if not isinstance(row["device_info"].get("cpu"), str):
        return "device_info has no cpu string"
    if not isinstance(row.get("extra", {}), dict) or not isinstance(row.get("artefact_sha256", ""), str):
        return "extra or artefact_sha256 has the wrong type"
    return ""


def _number(value: Any) -> bool:
    import math

    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
