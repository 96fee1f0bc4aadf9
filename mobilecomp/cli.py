"""The mobilecomp command line: each command parses options, calls the library, prints."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click

from .errors import MobilecompError, ParityFailed


class Group(click.Group):
    """Turns every MobilecompError into one line on stderr and its exit code: no traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MobilecompError as exc:
            click.echo(f"mobilecomp: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("mobilecomp: interrupted; nothing was written", err=True)
            sys.exit(130)


def _emit(as_json: bool, data, text: str) -> None:
    click.echo(json.dumps(data, indent=2) if as_json else text)


@click.group(cls=Group)
@click.version_option(package_name="mobilecomp")
def main() -> None:
    """Compressed BERTs to verified, quantised, profiled on-device bundles."""


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def recipes(as_json: bool) -> None:
    """List the export recipes."""
    from .recipe import load_recipe, recipe_paths

    items = [load_recipe(str(path)) for path in recipe_paths().values()]
    data = [{"name": r.name, "description": r.description, "architecture": r.checkpoint.architecture,
             "source": r.checkpoint.source, "formats": list(r.formats), "variants": list(r.variants)}
            for r in items]
    width = max(len(r.name) for r in items)
    text = "\n".join(f"{r.name:<{width}}  {r.description}" for r in items)
    _emit(as_json, data, text)


@main.command(name="export")
@click.option("--recipe", "recipe_name", required=True, help="Recipe name (see `mobilecomp recipes`) or a .yaml path.")
@click.option("--checkpoint", type=click.Path(), help="Local Hugging Face directory replacing the recipe's weights.")
@click.option("--out", type=click.Path(), help="Bundle directory [default: bundles/RECIPE].")
@click.option("--force", is_flag=True, help="Replace an existing bundle.")
@click.option("--parity-text", type=click.Path(), help="Text file, one sentence a line, for the parity gate.")
@click.option("--allow-fail", is_flag=True, help="Exit 0 even when an artefact fails its parity budget.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def export_cmd(recipe_name, checkpoint, out, force, parity_text, allow_fail, as_json) -> None:
    """Export, quantise and verify a recipe into a bundle."""
    from .pipeline import export_bundle
    from .recipe import load_recipe
    from .report.table import bundle_table

    recipe = load_recipe(recipe_name)
    out = Path(out or Path("bundles") / recipe.name)
    log = (lambda msg: click.echo(f"  {msg}", err=True))
    result = export_bundle(recipe, out, checkpoint=checkpoint, force=force, parity_text=parity_text,
                           command=shlex.join(["mobilecomp", *sys.argv[1:]]), log=log)
    manifest = result.manifest.to_json()
    _emit(as_json, manifest, f"bundle: {result.bundle}\n" + bundle_table(manifest, []))
    if result.failed and not allow_fail:
        raise ParityFailed(f"{', '.join(result.failed)} over the parity budget (marked failed in "
                           f"{result.bundle}/manifest.json); pass --allow-fail to accept")


@main.command(name="profile")
@click.argument("bundle", type=click.Path())
@click.option("--device", default="host", show_default=True,
              help="host, emulated-arm:PROFILE, adb or cuda (see `mobilecomp devices`).")
@click.option("--threads", multiple=True, type=int, help="Thread counts [default: 1 and all cores].")
@click.option("--runs", default=30, show_default=True, type=click.IntRange(min=20), help="Timed runs (>= 20).")
@click.option("--warmup", default=5, show_default=True, type=click.IntRange(min=1))
@click.option("--artefact", "artefacts", multiple=True, help="Only these artefacts (names from the manifest).")
@click.option("--serial", help="adb: the device serial.")
@click.option("--connect", help="adb: HOST:PORT to `adb connect` first.")
@click.option("--runner", help="adb: benchmark_model, ort-runner, onnxruntime_perf_test or app.")
@click.option("--json", "as_json", is_flag=True, help="Print the new rows as JSON.")
def profile_cmd(bundle, device, threads, runs, warmup, artefacts, serial, connect, runner, as_json) -> None:
    """Measure a bundle's artefacts on a device and append the rows to its results."""
    from .pipeline import bundle_summary, profile_bundle
    from .profile import ProfileOptions
    from .report.table import bundle_table

    rows = profile_bundle(Path(bundle), device, ProfileOptions(
        tuple(threads), runs, warmup, tuple(artefacts),
        extra={k: v for k, v in (("serial", serial), ("connect", connect), ("runner", runner)) if v}))
    manifest, all_rows = bundle_summary(Path(bundle))
    _emit(as_json, [r.to_json() for r in rows], bundle_table(manifest, all_rows))
