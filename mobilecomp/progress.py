"""Log lines that say how long things take: a counter with an ETA for long loops, and the export's step times."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Log = Callable[[str], None]


class Progress:
    """Counts the units of one long loop (a sweep's trials) and logs ``what: done/total, ETA`` at
    most every ``every`` seconds: lines, not a live bar, because the export's log goes to stderr
    line by line (a terminal, a CI log or a pipe alike)."""

    def __init__(self, log: Log, what: str, total: int, every: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log, self.what, self.total, self.every, self.clock = log, what, max(total, 1), every, clock
        self.done = 0
        self.start = self.last = clock()
        self.lock = threading.Lock()  # advanced from a sweep's worker threads

    def advance(self, units: int = 1) -> None:
        with self.lock:
            self.done += units
            now = self.clock()
            if now - self.last >= self.every and self.done < self.total:
                self.last = now
                self.log(f"{self.what}: {self.done}/{self.total}, {self.eta(now)}")

    def eta(self, now: float) -> str:
        """The time left at the mean pace so far."""
        elapsed = now - self.start
        return f"ETA {elapsed / max(self.done, 1) * (self.total - self.done):.0f} s"


class StepLog:
    """A ``log`` callback that also times the export: each line starts a step (the pipeline logs
    one as each stage begins), which lasts until the next line; ``note`` prints a line inside the
    current step (progress). ``summary()`` gives the total and the three longest steps."""

    def __init__(self, log: Log, clock: Callable[[], float] = time.monotonic) -> None:
        self.inner, self.clock = log, clock
        self.start = clock()
        self.steps: list[tuple[str, float]] = []  # (line that opened it, seconds)
        self.current: tuple[str, float] | None = None

    def __call__(self, msg: str) -> None:
        self.close()
        self.current = (msg, self.clock())
        self.inner(msg)

    def note(self, msg: str) -> None:
        getattr(self.inner, "note", self.inner)(msg)  # an outer StepLog (a bench's) keeps it a note too

    def close(self) -> None:
        if self.current is not None:
            self.steps.append((self.current[0], self.clock() - self.current[1]))
            self.current = None

    def summary(self, top: int = 3) -> str:
        self.close()
        total = self.clock() - self.start
        longest = sorted(self.steps, key=lambda step: -step[1])[:top]
        return (f"export took {total:.1f} s; longest steps: "
                + "; ".join(f"{line.split(':')[0]} {seconds:.1f} s" for line, seconds in longest))
