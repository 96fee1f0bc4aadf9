"""How long things take, as the export goes: a live bar with an ETA on a terminal, log lines elsewhere,
and the export's step times.

On a terminal (stderr a TTY, rich installed, MOBILECOMP_PROGRESS not 0) the step running now is a
rich bar under the log: counted in units where the step counts them (the sweep's trials, the
reference's batches), else timed against the same step of the last export of the same recipe on
this machine (kept in the cache directory), else a bar that only shows the time so far. Elsewhere
(a CI log, a pipe, a test) the log is lines only, and a long loop logs ``done/total, ETA`` lines.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable

Log = Callable[[str], None]

_live: Display | None = None  # the live view of the export running in this process, if any


def live() -> Display | None:
    """The live bar when one is showing (a terminal): progress goes there instead of into lines."""
    return _live


class Progress:
    """Counts the units of one long loop (a sweep's trials, a reference's batches): on the live bar
    when there is one, else ``what: done/total, ETA`` lines, at most every ``every`` seconds (the log
    goes to stderr line by line: a terminal, a CI log or a pipe alike)."""

    def __init__(self, log: Log, what: str, total: int, every: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log, self.what, self.total, self.every, self.clock = log, what, max(total, 1), every, clock
        self.done = 0
        self.start = self.last = clock()
        self.lock = threading.Lock()  # advanced from a sweep's worker threads
        if _live is not None:
            _live.units(what, 0, self.total)

    def advance(self, units: int = 1) -> None:
        with self.lock:
            self.done += units
            if _live is not None:
                _live.units(self.what, self.done, self.total)
                return
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
    current step (progress). ``summary()`` gives the total and the three longest steps. With
    ``history`` (the recipe's name) the steps' times are kept for the next export's ETAs, and
    ``live`` (default: stderr is a terminal) shows the running step as a bar; ``stop`` ends it."""

    def __init__(self, log: Log, clock: Callable[[], float] = time.monotonic, history: str | None = None,
                 live: bool | None = None) -> None:
        self.inner, self.clock = log, clock
        self.start = clock()
        self.steps: list[tuple[str, float]] = []  # (line that opened it, seconds)
        self.current: tuple[str, float] | None = None
        self.history, self.finished = history, False
        self.expected = _load_history(history) if history else {}
        self.display = Display.open() if (live if live is not None else _wants_live()) else None

    def __call__(self, msg: str) -> None:
        self.close()
        self.current = (msg, self.clock())
        self._print(self.inner, msg)
        if self.display is not None:
            expected = self.expected.get(label(msg), 0.0)
            self.display.step(msg, expected if expected >= TIMED_STEP_S else None)

    def note(self, msg: str) -> None:
        self._print(getattr(self.inner, "note", self.inner), msg)  # an outer StepLog (a bench's) keeps it a note

    def _print(self, log: Log, msg: str) -> None:
        if self.display is not None:
            self.display.above(lambda: log(msg))
        else:
            log(msg)

    def close(self) -> None:
        if self.current is not None:
            self.steps.append((self.current[0], self.clock() - self.current[1]))
            self.current = None

    def summary(self, top: int = 3) -> str:
        self.close()
        self.finished = True
        total = self.clock() - self.start
        longest = sorted(self.steps, key=lambda step: -step[1])[:top]
        return (f"export took {total:.1f} s; longest steps: "
                + "; ".join(f"{label(line)} {seconds:.1f} s" for line, seconds in longest))

    def stop(self) -> None:
        """End the live bar; after a finished export (``summary`` was asked for), keep its step times."""
        if self.display is not None:
            self.display.close()
            self.display = None
        if self.history and self.finished:
            _save_history(self.history, self.steps)


TIMED_STEP_S = 2.0  # a step that took less last time gets no time to go by (it shows its time so far)


def label(line: str) -> str:
    """A step's name: its line up to the first colon (the variant, not its numbers)."""
    return line.split(":")[0]


def _wants_live() -> bool:
    if os.environ.get("MOBILECOMP_PROGRESS", "1") == "0" or _live is not None:
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # no stderr, or a closed one
        return False


# ---- the live bar ---------------------------------------------------------------------------

class Display:
    """The running step as one rich bar on stderr: the step's line, a bar, its count where it
    counts units, the time so far and an ETA. Lines logged meanwhile are printed above it."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress as Bars, SpinnerColumn, TextColumn, TimeElapsedColumn

        display = self

        class StepBars(Bars):
            def get_renderables(self):
                display._tick()  # the redraw thread's: the ETA of a step timed against the last export
                yield from super().get_renderables()

        # state is read and written under ``lock``; rich's own calls are made outside it (its redraw
        # thread holds rich's lock while it asks _tick, which therefore never waits for ``lock``)
        self.lock, self.printing = threading.Lock(), threading.Lock()
        self.began = time.monotonic()
        self.expected: float | None = None  # seconds the step took last time
        self.counted: tuple[str, int, int, float] | None = None  # (what, done, total, when counting began)
        self.task = None  # rich's task of the running step
        self.bars = StepBars(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=20),
                             TextColumn("{task.fields[count]}"), TimeElapsedColumn(), TextColumn("{task.fields[eta]}"),
                             console=Console(file=sys.stderr), transient=True, refresh_per_second=4,
                             redirect_stdout=False, redirect_stderr=False)
        self.task = self.bars.add_task("", total=None, count="", eta="")
        self.bars.start()

    @classmethod
    def open(cls) -> Display | None:
        """A live bar, or None where rich is missing (then the log is lines only)."""
        global _live
        try:
            _live = cls()
        except ImportError:
            _live = None
        return _live

    def step(self, line: str, expected: float | None) -> None:
        width = max(20, self.bars.console.width - 50)  # the columns after it take about 50
        text = line if len(line) <= width else line[:width - 1] + "…"
        task = self.bars.add_task(text, total=None, count="", eta="")  # a new task: no total, its own clock
        with self.lock:
            old, self.task = self.task, task
            self.began, self.expected, self.counted = time.monotonic(), expected, None
        self.bars.remove_task(old)

    def units(self, what: str, done: int, total: int) -> None:
        """The step counts ``what``: ``done`` of ``total`` so far."""
        with self.lock:
            began = self.counted[3] if self.counted and self.counted[0] == what else time.monotonic()
            self.counted = (what, done, total, began)
            eta = f"ETA {(time.monotonic() - began) / done * (total - done):.0f} s" if 0 < done < total else ""
            task = self.task
        self._update(task, total=total, completed=done, count=f"{done}/{total}", eta=eta)

    def expect(self, seconds: float, unless_known: bool = False) -> None:
        """The rest of the step should take about ``seconds`` (a wait on work timed before);
        ``unless_known``: only when the step has no count or time to go by yet."""
        with self.lock:
            if not (unless_known and (self.counted is not None or self.expected)):
                self.began, self.expected, self.counted = time.monotonic(), seconds, None

    def _tick(self) -> None:
        """Before each redraw: the bar and ETA of a step timed against its expected length."""
        if not self.lock.acquire(blocking=False):
            return  # the step is changing: the next redraw shows it
        try:
            task, expected, spent = self.task, self.expected, time.monotonic() - self.began
            timed = self.counted is None and bool(expected) and task is not None
        finally:
            self.lock.release()
        if timed:
            left = expected - spent
            self._update(task, total=expected, completed=min(spent, expected), count="",
                         eta=f"ETA ~{left:.0f} s" if left >= 0.5 else f"longer than last time ({expected:.0f} s)")

    def _update(self, task, **fields) -> None:
        try:
            self.bars.update(task, **fields)
        except KeyError:  # the step ended meanwhile: its task is gone
            pass

    def above(self, write: Callable[[], None]) -> None:
        """Run ``write`` (which prints a line) with the bar taken away, then show the bar again."""
        with self.printing:
            self.bars.stop()
            try:
                write()
            finally:
                self.bars.start()

    def close(self) -> None:
        global _live
        with self.printing:
            self.bars.stop()
        if _live is self:
            _live = None


# ---- step times kept for the next export's ETAs --------------------------------------------

HISTORY = "step-times.json"


def _history_path():
    from .errors import MobilecompError
    from .text import cache_dir

    try:
        return cache_dir() / HISTORY
    except MobilecompError:
        return None


def _load_history(recipe: str) -> dict[str, float]:
    """{step label: seconds} from the last finished export of ``recipe`` here; {} when there is none."""
    path = _history_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path is not None else {}
        steps = data.get(recipe, {}) if isinstance(data, dict) else {}
        return {k: float(v) for k, v in steps.items() if isinstance(v, (int, float))}
    except (OSError, ValueError, AttributeError):
        return {}


def _save_history(recipe: str, steps: list[tuple[str, float]]) -> None:
    path = _history_path()
    if path is None:
        return
    times: dict[str, float] = {}
    for line, seconds in steps:
        times[label(line)] = times.get(label(line), 0.0) + seconds
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        data = data if isinstance(data, dict) else {}
        data[recipe] = {k: round(v, 2) for k, v in times.items()}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(path)
    except (OSError, ValueError):  # a cache that cannot be written costs the next export its ETAs only
        pass
