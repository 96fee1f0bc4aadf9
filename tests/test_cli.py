"""Every command answers --help and offers --json; the CLI starts without heavy imports."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from mobilecomp.cli import main


def _commands(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, prefix + (name,))
        else:
            yield prefix + (name,)


@pytest.mark.parametrize("path", sorted(_commands(main)), ids=" ".join)
def test_command_has_help_and_json(path):
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "--json" in result.output, f"mobilecomp {' '.join(path)} has no --json"


def test_help_and_recipes_do_not_import_torch_or_onnxruntime():
    code = ("import sys; from click.testing import CliRunner; from mobilecomp.cli import main; "
            "r = CliRunner().invoke(main, ['recipes']); assert r.exit_code == 0, r.output; "
            "print(sorted(m for m in ('torch', 'onnxruntime', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
