"""Calibration behind one small reader protocol: ``get_next()`` gives the next feed or None."""

from __future__ import annotations

from typing import Protocol

from ..inputs import Feed


class CalibrationReader(Protocol):
    def get_next(self) -> Feed | None: ...


class FeedReader:
    """Hands out a fixed list of feeds once; ``rewind()`` starts again."""

    def __init__(self, feeds: list[Feed]) -> None:
        self.feeds = list(feeds)
        self._next = 0

    def get_next(self) -> Feed | None:
        if self._next >= len(self.feeds):
            return None
        self._next += 1
        return self.feeds[self._next - 1]

    def rewind(self) -> None:
        self._next = 0
