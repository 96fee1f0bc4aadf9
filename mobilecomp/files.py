"""Reads files that come from outside (YAML, JSON, JSON lines, text) into plain data, or a typed error.

Each boundary module says which error class its files raise and how to fix them; these functions
only turn the reading faults (missing, unreadable, not UTF-8, not parseable) into that error with
the file and line named, so no decoder's exception reaches the user.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import MobilecompError


# Reads are bounded: a manifest, recipe, config or device profile is never near these sizes, so a
# symlink to /dev/zero or a runaway file is refused instead of filling memory.
CONFIG_LIMIT = 64 << 20  # tokenizer.json of a 250k-word SentencePiece vocabulary is ~17 MB
DATA_LIMIT = 1 << 30  # parity text, labelled data, results files


def read_bytes(path: Path, error: type[MobilecompError], fix: str, limit: int = CONFIG_LIMIT) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes. A FIFO, device or socket is refused
    without blocking (opened non-blocking, checked with fstat before any read)."""
    import os
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise error(f"{path}: missing; {fix}") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, not a file; {fix}") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror}); {fix}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise error(f"{path}: is a directory, not a file; {fix}")
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{path}: not a regular file (a FIFO, device or socket); {fix}")
        if info.st_size > limit:
            raise error(f"{path}: {info.st_size / 2**20:.0f} MB, more than the {limit >> 20} MB such a file "
                        f"can be; {fix}")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror}); {fix}") from None
    finally:
        os.close(fd)
    if len(data) > limit:  # grew while read
        raise error(f"{path}: more than the {limit >> 20} MB such a file can be; {fix}")
    return data


def read_text(path: Path, error: type[MobilecompError], fix: str, limit: int = CONFIG_LIMIT) -> str:
    """The file's UTF-8 text (a BOM is dropped), bounded as ``read_bytes``."""
    try:
        return read_bytes(path, error, fix, limit).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start}); {fix}") from None


def lines(text: str) -> list[str]:
    """Lines split on newlines only (str.splitlines also splits on form feeds, NEL and other separators,
    so a file's line numbers would not be the editor's)."""
    return text.replace("\r\n", "\n").split("\n")


def read_yaml(path: Path, error: type[MobilecompError], fix: str) -> Any:
    import yaml

    text = read_text(path, error, fix)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{path}: not valid YAML ({where}{problem}); {fix}") from None


def read_json(path: Path, error: type[MobilecompError], fix: str, kind: type = dict) -> Any:
    """A JSON document whose top level is a ``kind`` (an object unless told)."""
    return _parse(read_text(path, error, fix), str(path), error, fix, kind)


def read_jsonl(path: Path, error: type[MobilecompError], fix: str,
               required: tuple[str, ...] = ()) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line, each object with the ``required`` keys."""
    rows = []
    for lineno, line in enumerate(lines(read_text(path, error, fix, DATA_LIMIT)), 1):
        if line.strip():
            row = _parse(line, f"{path}:{lineno}", error, fix, dict)
            missing = [key for key in required if key not in row]
            if missing:
                raise error(f"{path}:{lineno}: no '{missing[0]}' field; {fix}")
            rows.append((lineno, row))
    return rows


def _parse(text: str, where: str, error: type[MobilecompError], fix: str, kind: type) -> Any:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        at = f"line {exc.lineno}: " if "\n" in text.strip() else ""
        raise error(f"{where}: not valid JSON ({at}{exc.msg}); {fix}") from None
    if not isinstance(data, kind):
        raise error(f"{where}: expected a JSON {_NAMES[kind]}, got {_name(data)}; {fix}")
    return data


_NAMES = {dict: "object", list: "list", str: "string", int: "number", float: "number", bool: "boolean",
          type(None): "null"}


def _name(value: Any) -> str:
    return _NAMES.get(type(value), type(value).__name__)
