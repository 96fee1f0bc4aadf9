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
@click.option("--eval-data", type=click.Path(), help="Labelled .tsv/.jsonl: gate task accuracy (classifiers).")
@click.option("--allow-fail", is_flag=True, help="Exit 0 even when an artefact fails its parity or accuracy budget.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def export_cmd(recipe_name, checkpoint, out, force, parity_text, eval_data, allow_fail, as_json) -> None:
    """Export, quantise and verify a recipe into a bundle."""
    from .pipeline import export_bundle
    from .recipe import load_recipe
    from .report.table import bundle_table

    recipe = load_recipe(recipe_name)
    out = Path(out or Path("bundles") / recipe.name)
    log = (lambda msg: click.echo(f"  {msg}", err=True))
    result = export_bundle(recipe, out, checkpoint=checkpoint, force=force, parity_text=parity_text,
                           eval_data=eval_data, command=shlex.join(["mobilecomp", *sys.argv[1:]]), log=log)
    manifest = result.manifest.to_json()
    _emit(as_json, manifest, f"bundle: {result.bundle}\n" + bundle_table(manifest, []))
    if result.failed and not allow_fail:
        raise ParityFailed(f"{', '.join(result.failed)} failed the parity, accuracy or lint gate or could not be built (see "
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


@main.command(name="eval")
@click.argument("bundle", type=click.Path())
@click.option("--data", required=True, type=click.Path(), help="Labelled .tsv (sentence[, sentence2], label) or .jsonl.")
@click.option("--allow-fail", is_flag=True, help="Exit 0 even when an artefact drops more than max_accuracy_drop.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def eval_cmd(bundle, data, allow_fail, as_json) -> None:
    """Task accuracy of a classifier bundle's source and artefacts on labelled data."""
    from .pipeline import evaluate_bundle
    from .report.table import markdown

    rows = evaluate_bundle(Path(bundle), data, log=lambda msg: click.echo(f"  {msg}", err=True))
    table = markdown([[r["artefact"], f"{r['accuracy']:.2f}", "-" if r.get("f1") is None else f"{r['f1']:.2f}",
                       f"{r['drop_points']:+.2f}", "pass" if r["passed"] else "FAIL"] for r in rows],
                     ["artefact", "accuracy %", "F1 %", "drop (points)", "budget"])
    _emit(as_json, rows, f"{rows[0]['data']['name']} ({rows[0]['data']['examples']} examples), measured-host\n{table}")
    failed = [r["artefact"] for r in rows if not r["passed"]]
    if failed and not allow_fail:
        raise ParityFailed(f"{', '.join(failed)} lost more accuracy than the recipe's max_accuracy_drop; "
                           "pass --allow-fail to accept")


@main.command(name="tokenizer-vectors")
@click.argument("bundle", type=click.Path())
@click.option("--out", required=True, type=click.Path(), help="JSON-lines file to write (header line first).")
@click.option("--count", default=500, show_default=True, type=click.IntRange(min=1),
              help="Vectors from real text (OANC, Pang & Lee); the hard cases come on top.")
def tokenizer_vectors_cmd(bundle, out, count) -> None:
    """Write tokenizer test vectors (text -> ids) from the bundle's Python tokenizer."""
    from .android import write_vectors

    header = write_vectors(Path(bundle), Path(out), count)
    counts = header["counts"]
    click.echo(f"{out}: {counts['total']} vectors ({counts['real']} real-text, {counts['hard']} hard cases), "
               f"vocab {header['vocab_sha256'][:12]}, seq_len {header['seq_len']}")


@main.group(name="setup")
def setup_group() -> None:
    """Install optional toolchains (idempotent, cached by version)."""


@setup_group.command(name="arm")
@click.option("--force", is_flag=True, help="Rebuild the sysroot and the plugin even if cached.")
def setup_arm_cmd(force: bool) -> None:
    """qemu-user, an arm64 Python 3.11 sysroot with onnxruntime, and the instruction-counting plugin."""
    from .profile.emulated_arm.setup import setup_arm

    tc = setup_arm(force=force, log=lambda msg: click.echo(f"  {msg}", err=True))
    click.echo(f"emulated ARM ready: qemu {tc.qemu_version}, onnxruntime {tc.onnxruntime}, sysroot {tc.sysroot}")


@main.command(name="devices")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def devices_cmd(as_json: bool) -> None:
    """List the phone profiles for --device emulated-arm:PROFILE."""
    from .devices import all_devices

    items = all_devices()
    text = "\n".join(
        f"emulated-arm:{d.name:<16} {d.manufacturer} {d.model}, {d.soc}; "
        + " + ".join(f"{c.count}x {c.core} {c.max_ghz} GHz" for c in d.clusters)
        + f"; qemu -cpu {d.qemu_cpu}" for d in items)
    _emit(as_json, [d.describe() for d in items], text)
