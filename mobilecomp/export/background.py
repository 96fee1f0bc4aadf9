"""TFLite work started ahead in a second process, so it runs beside the ONNX work.

litert-torch converts from PyTorch in single-threaded Python (~12 s for MiniLM's three
signatures), and the default recipe needs two conversions (the fp32 file and the SmoothQuant
model) plus a quantiser pass per variant. Started before the ONNX variants, they use the core
that the ONNX work leaves idle. The worker is only a head start: a job never started there, or
one that failed there for any reason, runs in this process instead, so its errors read as they
always did.

The worker is ``python -m mobilecomp.export.background``, not multiprocessing's spawn, which
would run the caller's main script again in the child (a script without a ``__main__`` guard
would export twice). Jobs and answers are JSON lines on its stdin and stdout; a conversion's
model goes through a file that the worker deletes once read.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
import weakref
from collections.abc import Callable
from pathlib import Path

from ..progress import Log, live

WAIT_NOTE_S = 5.0  # a line while waiting, this often


class Background:
    """Files made ahead by one worker process, in the order they were started."""

    def __init__(self, log: Log = lambda msg: None) -> None:
        self.log = log
        self._process: subprocess.Popen | None = None
        self._started: dict[str, tuple[float, str, dict]] = {}  # path -> (when queued, kind, details)
        self._finished: dict[str, dict] = {}  # path -> the worker's answer
        self._ready: dict[str, dict] = {}  # path -> details, for a second caller
        self._scratch: list[Path] = []
        self._last_s: dict[str, float] = {}  # kind -> the last such job's seconds: the next one's ETA
        self._last_done = 0.0  # when the last answer came: the worker started its next job then
        self._unread = b""  # answer bytes read but not yet a whole line

    def convert(self, path: Path, model, lens: tuple[int, ...], details: dict | None = None,
                scratch: bool = False) -> None:
        """Queue ``model`` (a LoadedModel) for conversion to ``path`` with a signature per length
        (export.tflite.convert); ``get`` returns ``details``; a ``scratch`` file is deleted by ``close``."""
        import torch

        from .tflite import sample_inputs

        job = Path(path).with_name(f".{Path(path).name}.job")
        torch.save({"base": model.module.model, "head": model.module.head, "lens": tuple(lens),
                    "samples": {n: sample_inputs(model, n) for n in lens}}, job)
        self._scratch.append(job)  # the worker deletes it once read; close() if it never was
        if scratch:
            self._scratch.append(Path(path))
        self._send(path, {"kind": "convert", "job": str(job)}, details)

    def recipe_pass(self, src: Path, dst: Path, recipe_name: str) -> None:
        """Queue quantise.litert.recipe_pass(src, dst, recipe_name); ``src`` may be a file queued before."""
        self._send(dst, {"kind": "pass", "src": str(src), "recipe": recipe_name}, None)

    def _send(self, path: Path, message: dict, details: dict | None) -> None:
        if self._process is None:
            package_root = str(Path(__file__).resolve().parents[2])  # this mobilecomp, whatever sys.path says
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root,
                                                                             os.environ.get("PYTHONPATH")]))}
            self._process = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
            weakref.finalize(self, _stop, self._process)
        self._started[str(path)] = (time.monotonic(), message["kind"], details or {})
        try:
            self._process.stdin.write((json.dumps({**message, "path": str(path)}) + "\n").encode())
            self._process.stdin.flush()
        except OSError as exc:  # the worker is gone: get() makes it here
            self._finished[str(path)] = {"failed": f"the worker did not take it ({exc.strerror})"}

    def get(self, path: Path, make: Callable[[], dict | None]) -> dict:
        """``path``, made: by the worker when it was started there, else by ``make()`` here
        (which returns the details). Returns the details."""
        key = str(path)
        if key in self._ready and Path(path).exists():
            return self._ready[key]
        if key in self._started:
            answer = self._wait(key)
            if answer.get("failed") is None:
                self._ready[key] = {**self._started[key][2], **(answer.get("details") or {})}
                return self._ready[key]
            self.log(f"the background job for {Path(path).name} failed ({answer['failed']}); doing it here")
        self._ready[key] = make() or {}
        return self._ready[key]

    def started(self, path: Path) -> bool:
        return str(path) in self._started

    def busy(self) -> bool:
        """Whether the worker still has jobs to finish (it is using a core)."""
        self._read(0)
        return any(key not in self._finished for key in self._started)

    def _read(self, timeout: float) -> bool:
        """Take in the answers the worker has written, waiting up to ``timeout`` s; False at its end."""
        if self._process is None:
            return False
        fd = self._process.stdout.fileno()
        # os.read, not readline: a buffered reader could hold a second answer that select never reports
        readable, _, _ = select.select([fd], [], [], timeout)
        chunk = os.read(fd, 1 << 16) if readable else None
        if chunk == b"":  # the worker exited: what it had not answered is made here
            why = f"the worker process exited with code {self._process.wait()}"
            for key in self._started:
                self._finished.setdefault(key, {"failed": why})
            return False
        self._unread += chunk or b""
        while b"\n" in self._unread:
            line, self._unread = self._unread.split(b"\n", 1)
            answer = json.loads(line)
            self._finished[answer["path"]] = answer
            self._last_s[answer["kind"]] = answer["seconds"]
            self._last_done = time.monotonic()
        return True

    def _wait(self, key: str) -> dict:
        began = time.monotonic()
        while key not in self._finished and self._read(WAIT_NOTE_S):
            if key in self._finished:
                break
            queued, kind, _ = self._started[key]
            last = self._last_s.get(kind)  # the same kind of job before this one: its length is the ETA
            running = time.monotonic() - max(queued, self._last_done)
            view = live()
            if view is not None:  # the bar shows the wait (timed against the last such job, if any)
                if last:
                    view.expect(max(last - running, 1), unless_known=True)
                continue
            eta = f", ETA {max(last - running, 1):.0f} s (the last one took {last:.0f} s)" if last else ""
            self.log(f"waiting for the background {'conversion' if kind == 'convert' else 'quantiser pass'} "
                     f"for {Path(key).name}: {time.monotonic() - began:.0f} s{eta}")
        return self._finished[key]

    def close(self) -> None:
        """Stop the worker and delete the scratch files (unread jobs included)."""
        if self._process is not None:
            _stop(self._process)
            self._process = None
        for path in self._scratch:
            path.unlink(missing_ok=True)


def _stop(process: subprocess.Popen) -> None:
    try:
        process.stdin.close()  # end of jobs: the worker exits once it has read that
    except OSError:
        pass
    try:
        process.wait(timeout=2)
    except subprocess.TimeoutExpired:  # mid-job: its result is no longer wanted
        process.terminate()
        process.wait(timeout=5)
    process.stdout.close()


def _serve() -> None:
    """The worker: does each job it reads, answers {path, kind, failed: None or why, details, seconds}."""
    # The toolchain's import-time notices and progress lines must not reach the answers (stdout)
    # or the user's terminal: answers go to a copy of stdout, fd 1 and 2 to /dev/null.
    answers = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    import torch

    from ..quantise.litert import recipe_pass
    from .tflite import convert_module, tflite_module

    torch.set_num_threads(1)  # the other core is the parent's
    for line in sys.stdin:
        job = json.loads(line)
        began = time.monotonic()
        failed, details = None, {}
        try:
            if job["kind"] == "convert":
                saved = torch.load(job["job"], weights_only=False)  # written by this package's parent process
                Path(job["job"]).unlink()
                convert_module(tflite_module(base=saved["base"], head=saved["head"]), saved["samples"],
                               saved["lens"], Path(job["path"]))
            else:
                details = recipe_pass(Path(job["src"]), Path(job["path"]), job["recipe"])
        except Exception as exc:  # noqa: BLE001 - any failure: the parent does it again and reports it
            failed = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:300]}"
        answers.write(json.dumps({"path": job["path"], "kind": job["kind"], "failed": failed, "details": details,
                                  "seconds": time.monotonic() - began}) + "\n")
        answers.flush()


if __name__ == "__main__":
    _serve()
