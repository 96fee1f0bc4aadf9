"""The mobilecomp command line: each command parses options, calls the library, prints."""

from __future__ import annotations

import json
import shlex
import signal
import sys
import threading
from pathlib import Path

import click

from .errors import MobilecompError, ParityFailed


class Group(click.Group):
    """Turns every MobilecompError into one line on stderr and its exit code (a traceback only
    with --debug); SIGINT and SIGTERM unwind the same way, so temporary bundles are removed.
    Any other exception is a bug in mobilecomp and keeps its traceback."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            _usage_error(exc)

    def invoke(self, ctx: click.Context):
        main_thread = threading.current_thread() is threading.main_thread()  # signals go to it alone
        previous = signal.signal(signal.SIGTERM, _raise_interrupt) if main_thread else None
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # a subcommand's bad option: one line, like every other error
            _usage_error(exc)
        except MobilecompError as exc:
            if ctx.params.get("debug"):
                raise
            if exc.salvage:
                click.echo(exc.salvage, nl=False)
            click.echo(f"mobilecomp: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt as exc:
            signum = exc.args[0] if exc.args else signal.SIGINT
            click.echo(f"mobilecomp: error: interrupted by {signal.Signals(signum).name}; unfinished files "
                       "were removed (profile keeps the rows it had written)", err=True)
            sys.exit(128 + signum)
        finally:
            if main_thread:
                signal.signal(signal.SIGTERM, previous)


def _usage_error(exc: click.UsageError) -> None:
    """A bad option or argument: one line naming it and where the help is, exit 2 (as ConfigError)."""
    if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):
        raise exc  # bare `mobilecomp`: the help itself
    command = exc.ctx.command_path if exc.ctx else "mobilecomp"
    click.echo(f"mobilecomp: error: {exc.format_message().rstrip('.')}; see `{command} --help`", err=True)
    sys.exit(2)


def _raise_interrupt(signum, frame):
    """SIGTERM unwinds like Ctrl-C: every ``with`` and ``finally`` on the way out runs."""
    raise KeyboardInterrupt(signum)


def _emit(as_json: bool, data, text: str) -> None:
    click.echo(json.dumps(data, indent=2) if as_json else text)


@click.group(cls=Group)
@click.version_option(package_name="mobilecomp")
@click.option("--debug", is_flag=True, help="Show the traceback of mobilecomp's own errors too.")
def main(debug: bool) -> None:
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
@click.option("--eval-data", type=click.Path(), help="Labelled .tsv/.jsonl (classifier) or CoNLL file (token-classifier): gate task accuracy.")
@click.option("--allow-fail", is_flag=True, help="Exit 0 even when an artefact fails its parity or accuracy budget.")
@click.option("--target", help="host or a devices/ profile: profile there and record the fastest faithful "
                               "artefact in the manifest's choice.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def export_cmd(recipe_name, checkpoint, out, force, parity_text, eval_data, allow_fail, target, as_json) -> None:
    """Export, quantise and verify a recipe into a bundle."""
    from .pipeline import export_bundle
    from .recipe import load_recipe
    from .report.table import bundle_table

    recipe = load_recipe(recipe_name)
    if target is not None:  # an unknown device fails before any work
        from .choice import profile_device

        profile_device(target)
    out = Path(out or Path("bundles") / recipe.name)
    log = (lambda msg: click.echo(f"  {msg}", err=True))
    result = export_bundle(recipe, out, checkpoint=checkpoint, force=force, parity_text=parity_text,
                           eval_data=eval_data, command=shlex.join(["mobilecomp", *sys.argv[1:]]), log=log,
                           target_device=target)
    manifest = result.manifest.to_json()
    choice = manifest.get("choice")
    _emit(as_json, manifest, f"bundle: {result.bundle}\n" + bundle_table(manifest, [])
          + (f"\nchoice for {choice['target']}: {choice['why']}" if choice else ""))
    if result.failed and not allow_fail:
        raise ParityFailed(f"{', '.join(result.failed)} failed the parity, accuracy or lint gate or could not be built (see "
                           f"{result.bundle}/manifest.json); pass --allow-fail to accept")


@main.command(name="compress")
@click.option("--recipe", "recipe_name", required=True, help="A recipe with a compress section (a student).")
@click.option("--out", type=click.Path(), help="Student directory [default: the recipe's checkpoint.path].")
@click.option("--budget-s", type=click.FloatRange(min=1), help="Training time cap, replacing compress.budget_s.")
@click.option("--limit", default=0, type=click.IntRange(min=0), help="Train and test on the first N examples only.")
@click.option("--force", is_flag=True, help="Replace an existing student directory.")
@click.option("--json", "as_json", is_flag=True, help="Print the student's card as JSON.")
def compress_cmd(recipe_name, out, budget_s, limit, force, as_json) -> None:
    """Train a recipe's student from its fine-tuned teacher (a Hugging Face directory)."""
    from .compress import compress
    from .recipe import load_recipe

    result = compress(load_recipe(recipe_name), Path(out) if out else None, force=force, budget_s=budget_s,
                      limit=limit, log=lambda msg: click.echo(f"  {msg}", err=True))
    card = result.card
    held_out = ", ".join(f"{name} {value:.2f} (teacher {card['teacher']['test'][name]:.2f})"
                         for name, value in card["test"].items())
    if card["drop_points"] is not None:
        held_out += f", drop {card['drop_points']:+.2f} points"
    evaluate = f" --eval-data {card['eval_data']}" if card["eval_data"] else ""
    _emit(as_json, card, f"student: {result.directory}\n{card['method']} ({card['paper']}): "
                         f"{card['params'] / 1e6:.2f}M params, head {card['head']}, held-out {held_out}, "
                         f"trained {card['train_seconds']:.0f} s\n"
                         f"next: mobilecomp export --recipe {card['recipe']}{evaluate}")


@main.command(name="profile")
@click.argument("bundle", type=click.Path())
@click.option("--device", default="host", show_default=True,
              help="host, emulated-arm:PROFILE (a name from `mobilecomp devices` or a .yaml path), adb or cuda.")
@click.option("--threads", multiple=True, type=click.IntRange(min=1), help="Thread counts [default: 1 and all cores].")
@click.option("--runs", default=30, show_default=True, type=click.IntRange(min=20), help="Timed runs (>= 20).")
@click.option("--warmup", default=5, show_default=True, type=click.IntRange(min=1))
@click.option("--artefact", "artefacts", multiple=True, help="Only these artefacts (names from the manifest).")
@click.option("--serial", help="adb: device serial(s), comma-separated; profiled in parallel.")
@click.option("--connect", help="adb: HOST:PORT[,HOST:PORT...] to `adb connect` first.")
@click.option("--adb-server", help="adb: HOST:PORT of a remote adb server; every ready device on it (or --serial's).")
@click.option("--stf", help="adb: a DeviceFarmer/STF URL; claims its free devices (token: $MOBILECOMP_STF_TOKEN).")
@click.option("--runner", help="adb: benchmark_model, ort-runner, onnxruntime_perf_test, executor_runner or app; "
                                "NAME=PATH for your own build (executor_runner always needs one).")
@click.option("--resume", is_flag=True, help="Skip artefacts already measured on this device with the same "
                                             "--threads, --runs and --warmup; measure the rest one at a time, "
                                             "keeping each one's rows as it finishes.")
@click.option("--json", "as_json", is_flag=True, help="Print the new rows as JSON.")
def profile_cmd(bundle, device, threads, runs, warmup, artefacts, serial, connect, adb_server, stf, runner,
                resume, as_json) -> None:
    """Measure a bundle's artefacts on a device and append the rows to its results."""
    from .pipeline import bundle_summary, profile_bundle
    from .profile import ProfileOptions
    from .report.lab import lab_table
    from .report.table import bundle_table

    extra = {"serial": serial, "connect": connect, "adb_server": adb_server, "stf": stf, "runner": runner}
    rows = profile_bundle(Path(bundle), device, ProfileOptions(
        tuple(threads), runs, warmup, tuple(artefacts), resume=resume, extra={k: v for k, v in extra.items() if v}),
        log=lambda msg: click.echo(f"  {msg}", err=True))
    manifest, all_rows = bundle_summary(Path(bundle))
    lab = lab_table([r.to_json() for r in rows]) if len({r.device for r in rows}) > 1 else ""
    _emit(as_json, [r.to_json() for r in rows], bundle_table(manifest, all_rows) + (f"\n\n{lab}" if lab else ""))


@main.command(name="eval")
@click.argument("bundle", type=click.Path())
@click.option("--data", required=True, type=click.Path(), help="Labelled .tsv (sentence[, sentence2], label) or .jsonl; CoNLL (token TAG) for a token-classifier.")
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
@click.option("--json", "as_json", is_flag=True, help="Print the vector file's header as JSON.")
def tokenizer_vectors_cmd(bundle, out, count, as_json) -> None:
    """Write tokenizer test vectors (text -> ids) from the bundle's Python tokenizer; a tokenizer the
    Android core does not implement is refused, naming the component."""
    from .android.tokenizer_vectors import write_vectors

    header = write_vectors(Path(bundle), Path(out), count)
    counts = header["counts"]
    _emit(as_json, header, f"{out}: {counts['total']} vectors ({counts['real']} real-text, {counts['hard']} "
          f"hard cases), {header['kind']} tokenizer {header['vocab_sha256'][:12]}, seq_len {header['seq_len']}")


@main.command(name="decode-vectors")
@click.argument("bundle", type=click.Path(), required=False)
@click.option("--out", required=True, type=click.Path(),
              help="JSON-lines file to write; its arrays go beside it (.npz).")
@click.option("--head", "head", type=click.Choice(["token-classifier", "fill-mask", "question-answering"]),
              help="Without BUNDLE: question-answering (drawn logits). With it: must be the bundle's head.")
@click.option("--count", type=click.IntRange(min=1),
              help="Vectors from real outputs (default per head); crafted ties come on top.")
@click.option("--json", "as_json", is_flag=True, help="Print the vector file's header as JSON.")
def decode_vectors_cmd(bundle, out, head, count, as_json) -> None:
    """Write decoding test vectors (a head's outputs -> Python's answer) for the Android core."""
    from .android.decode_vectors import write_decode_vectors

    header = write_decode_vectors(Path(out), Path(bundle) if bundle else None, head, count)
    counts = ", ".join(f"{n} {source}" for source, n in header["counts"].items() if source != "total")
    _emit(as_json, header, f"{out}: {header['counts']['total']} {header['head']} vectors ({counts}); arrays in "
          f"{header['npz']}")


@main.group(name="setup")
def setup_group() -> None:
    """Install optional toolchains (idempotent, cached by version)."""


@setup_group.command(name="arm")
@click.option("--force", is_flag=True, help="Rebuild the sysroot and the plugin even if cached.")
@click.option("--json", "as_json", is_flag=True, help="Print what was set up as JSON.")
def setup_arm_cmd(force: bool, as_json: bool) -> None:
    """qemu-user, arm64 sysroots (Python 3.11 with onnxruntime and ai-edge-litert, Python 3.13 with
    ExecuTorch's runtime) and the instruction-counting plugin."""
    from .profile.emulated_arm.setup import setup_arm, toolchain

    tc = setup_arm(force=force, log=lambda msg: click.echo(f"  {msg}", err=True))
    et = toolchain("executorch")
    version = et.guest.version("executorch-numpy-runtime")
    _emit(as_json, {"qemu": tc.qemu_version, "onnxruntime": tc.onnxruntime, "ai_edge_litert": tc.litert,
                    "sysroot": str(tc.sysroot), "executorch_numpy_runtime": version,
                    "executorch_sysroot": str(et.sysroot)},
          f"emulated ARM ready: qemu {tc.qemu_version}, onnxruntime {tc.onnxruntime}, "
          f"ai-edge-litert {tc.litert}, sysroot {tc.sysroot}; executorch-numpy-runtime {version}, "
          f"sysroot {et.sysroot}")


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


# ---- issue 6: inspect, report, compare (thin: the work is in load/inspect.py and report/) ----


@main.command(name="inspect")
@click.argument("recipe_name")
@click.option("--seq-len", type=click.IntRange(8, 512), help="Sequence length for FLOPs [default: the recipe's].")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def inspect_cmd(recipe_name, seq_len, as_json) -> None:
    """Parameters, FLOPs (2 x MACs) and peak activation memory of a recipe's model, without exporting it."""
    from .load.inspect import inspect_recipe
    from .recipe import load_recipe

    recipe = load_recipe(recipe_name)
    data = {"recipe": recipe.name, **inspect_recipe(recipe, seq_len).describe()}
    text = (f"{recipe.name}: {data['params'] / 1e6:.2f}M params, {data['gflops']:.2f} GFLOPs at seq "
            f"{data['flops_seq_len']} (batch 1), peak activations {data['peak_activation_mb']:.1f} MB")
    if "params_nonzero" in data:
        text += f"\n  after pruning: {data['params_nonzero'] / 1e6:.2f}M non-zero params (same FLOPs on dense kernels)"
    if "undecomposed_gflops" in data:
        text += (f"\n  per query, passage cached; undecomposed {data['undecomposed_gflops']:.2f} GFLOPs "
                 f"({data['flops_speedup']:.2f}x), passage once {data['passage_gflops_once']:.2f} GFLOPs")
    _emit(as_json, data, text)


@main.command(name="report")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--device-for-pareto", help="Column for the plot's x axis (e.g. 'host 1T' or 'host') [default: the fullest].")
@click.option("--y", "y_axis", type=click.Choice(["parity", "accuracy"]), default="parity", show_default=True)
@click.option("--out", default="report", show_default=True, type=click.Path(), help="Directory for report.md/csv/json and pareto.png.")
@click.option("--max-accuracy-drop", type=click.FloatRange(min=0), help="Name, per device, the fastest artefact "
              "within this many points of the teacher's accuracy.")
@click.option("--json", "as_json", is_flag=True, help="Print report.json instead of the markdown table.")
def report_cmd(paths, device_for_pareto, y_axis, out, max_accuracy_drop, as_json) -> None:
    """Models x devices table (markdown, csv, json) and Pareto plots from bundles or results files."""
    from .report.compare import write_report

    written = write_report(list(paths), Path(out), device_for_pareto, y_axis, max_accuracy_drop)
    _emit_report(Path(out), as_json, f"wrote {', '.join(written['files'])} to {out} (pareto x: "
                 f"{written['plot']['column']}, front: {', '.join(written['plot']['front']) or '-'})")


def _emit_report(out: Path, as_json: bool, summary: str) -> None:
    if as_json:
        click.echo((out / "report.json").read_text())
    else:
        click.echo((out / "report.md").read_text())
        click.echo(summary)


@main.command(name="compare")
@click.option("--recipes", "names", required=True, help="Comma-separated recipe names.")
@click.option("--device", default="host", show_default=True, help="Device to profile on (host, cuda, ...).")
@click.option("--out", default="compare", show_default=True, type=click.Path(), help="Bundles go to OUT/bundles, the report to OUT.")
@click.option("--threads", multiple=True, type=click.IntRange(min=1), help="Thread counts [default: 1 and all cores].")
@click.option("--runs", default=30, show_default=True, type=click.IntRange(min=20))
@click.option("--force", is_flag=True, help="Re-export bundles that already exist.")
@click.option("--json", "as_json", is_flag=True, help="Print report.json instead of the markdown table.")
def compare_cmd(names, device, out, threads, runs, force, as_json) -> None:
    """Export, profile and report several recipes together: which small BERT is best."""
    from .profile import ProfileOptions
    from .report.compare import compare_recipes

    result = compare_recipes([n.strip() for n in names.split(",") if n.strip()], Path(out), device,
                             ProfileOptions(tuple(threads), runs), force=force,
                             log=lambda msg: click.echo(f"  {msg}", err=True))
    _emit_report(Path(out), as_json, f"wrote {', '.join(result['files'])} to {out}")


@main.command(name="transplant")
@click.option("--to", "to", required=True, help="Architecture to move the weights into: distilbert, roberta or electra.")
@click.option("--out", required=True, type=click.Path(), help="New checkpoint directory (Hugging Face layout).")
@click.option("--json", "as_json", is_flag=True, help="Print what was written (transplant.json) as JSON.")
def transplant_cmd(to, out, as_json) -> None:
    """all-MiniLM-L6-v2's trained weights in another architecture's layout (the same function): real
    weights for `export --checkpoint OUT`."""
    from .load.transplant import transplant

    written = transplant(to, Path(out))
    _emit(as_json, {"path": str(written), **json.loads((written / "transplant.json").read_text())},
          f"wrote {written} ({to}, from all-MiniLM-L6-v2)")
