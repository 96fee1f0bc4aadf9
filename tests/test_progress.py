"""The export's live bar (rich, on a terminal) and the step times it keeps for the next export's ETAs."""

from __future__ import annotations

import io
import json

import pytest

from mobilecomp import progress
from mobilecomp.progress import Progress, StepLog

pytest.importorskip("rich")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBILECOMP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def terminal(monkeypatch):
    """stderr as a terminal would take it (rich draws into a buffer here)."""
    screen = io.StringIO()
    monkeypatch.setattr(progress.sys, "stderr", screen)
    return screen


def test_on_a_terminal_counted_steps_go_to_the_bar_not_into_lines(cache_dir, terminal):
    lines: list[str] = []
    log = StepLog(lines.append, live=True)
    assert progress.live() is log.display
    log("onnx int8-accurate: sweep")
    sweep = Progress(log.note, "trials", 4, every=0.0)
    for _ in range(3):
        sweep.advance()
    assert lines == ["onnx int8-accurate: sweep"]  # no "trials: 3/4, ETA" lines: the bar shows them
    assert log.display.counted[:3] == ("trials", 3, 4)
    log.note("a line of its own")
    assert lines[-1] == "a line of its own"
    log.stop()
    assert progress.live() is None


def test_elsewhere_the_log_is_lines(cache_dir):
    lines: list[str] = []
    log = StepLog(lines.append)  # pytest's stderr is no terminal
    assert log.display is None and progress.live() is None
    log("onnx int8-accurate: sweep")
    sweep = Progress(log.note, "trials", 4, every=0.0)
    sweep.advance()
    assert lines[-1].startswith("trials: 1/4, ETA")


def test_a_finished_export_times_the_next_ones_steps(cache_dir, terminal):
    clock = iter(range(0, 1000, 5)).__next__  # every reading 5 s after the last
    log = StepLog(lambda msg: None, clock=clock, history="tiny", live=False)
    for line in ("exporting onnx", "onnx fp16: convert", "onnx-fp16: cos_min 1.0 pass"):
        log(line)
    log.summary()
    log.stop()
    saved = json.loads((cache_dir / progress.HISTORY).read_text())
    assert saved["tiny"] == {"exporting onnx": 5.0, "onnx fp16": 5.0, "onnx-fp16": 5.0}

    unfinished = StepLog(lambda msg: None, history="tiny", live=False)
    assert unfinished.expected == saved["tiny"]
    unfinished("exporting onnx")
    unfinished.stop()  # no summary: an export that failed keeps no times
    assert json.loads((cache_dir / progress.HISTORY).read_text()) == saved

    shown = StepLog(lambda msg: None, history="tiny", live=True)
    shown("onnx fp16: convert")
    shown.display._tick()
    task = shown.display.bars.tasks[-1]
    assert task.total == 5.0 and task.fields["eta"].startswith("ETA ~")
    shown.stop()


def test_a_wait_gives_its_own_eta_only_to_a_step_without_one(cache_dir, terminal):
    log = StepLog(lambda msg: None, live=True)
    log("tflite fp32: conversion")
    log.display.expect(12.0, unless_known=True)
    assert log.display.expected == 12.0
    log.display.expect(3.0, unless_known=True)  # the step has a time to go by already
    assert log.display.expected == 12.0
    log.stop()


def test_a_damaged_history_is_no_history(cache_dir):
    cache_dir.mkdir(parents=True)
    (cache_dir / progress.HISTORY).write_text("{ not json")
    assert StepLog(lambda msg: None, history="tiny", live=False).expected == {}
