"""Phone latency over adb: push each artefact once, run a benchmark program pinned to the big cores.

``profile_adb`` profiles every device of a lab (:mod:`.lab`: serials, a remote adb server, STF) in
parallel, one thread each. Per device it reads the phone's device row in one shell call, pushes runner and artefacts to
/data/local/tmp/mobilecomp/<sha256>/ (skipped when that hash is already there), each artefact with
the inputs its own graph names (a DeFormer bundle's passage, question and undecomposed graphs
take different ones; each row's sequence length is its graph's), checks each
artefact's parity on the device where its runner can dump outputs (:mod:`.parity`; every row says
in words whether it did), runs every (threads, artefact) configuration (a .tflite: the signature of
the row's sequence length, by name) in one shell call that also records the thermal zones
before and after, pulls the runner's output and parses it into rows with provenance
``measured-adb`` and device ``adb:SERIAL``. A device lost mid-run costs only its own rows: what
every device measured is kept in results.jsonl and a resume file records, per device, what is
done, so rerunning the same command measures only what is missing.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ...bundle import read_inputs
from ...errors import BundleError, DeviceError, MobilecompError
from ...types import Latency, ProfileRow
from .. import ProfileOptions, selected
from .device import (DEVICE_SCRIPT, THERMAL, PhoneState, big_core_count, big_cores, hottest, mask,
                     parse_state, parse_thermal, sections)
from .parity import PARITY_SENTENCES
from .parity import check as check_parity
from .parsers import without_warmup
from .runners import (DEFAULT_FOR_FORMAT, RUNNERS, Runner, make_runner, parse_choice, write_inputs, write_perf_test_data,
                      write_raw_inputs)
from .transport import Adb, DeviceLost

REMOTE_ROOT = "/data/local/tmp/mobilecomp"
APP_FORMATS = ("onnx", "tflite", "executorch")  # the demo app's runners (android_demo RUNNABLE_FORMATS)
RESUME = ".adb-resume.json"
COOLDOWN_C = 45.0  # wait before a configuration while the hottest CPU zone is above this
COOLDOWN_MAX_S = 180.0


def profile_adb(bundle: Path, manifest: dict, spec: str, options: ProfileOptions) -> list[ProfileRow]:
    """Every device the options name (see :mod:`.lab`), profiled in parallel, one thread per device.

    Each device's rows are its own (device ``adb:SERIAL``). A device that fails or is lost costs
    only its rows: the others' rows and its own measured ones are appended, the resume file keeps
    what each device finished, and one DeviceError names every failed device.
    """
    from concurrent.futures import ThreadPoolExecutor

    from .lab import lab_devices

    resume = load_resume(bundle)
    feeds = read_feeds(bundle, manifest, options)
    with lab_devices(spec, options.extra, say) as adbs:
        many = len(adbs) > 1
        with ThreadPoolExecutor(max_workers=len(adbs), thread_name_prefix="adb-device") as pool:
            outcomes = list(pool.map(lambda adb: _run_device(adb, bundle, manifest, feeds, options, resume, many),
                                     adbs))
    return settle(bundle, outcomes)


@dataclass
class Feeds:
    """What each artefact is fed, read once before the device threads: numpy parses .npy headers
    with ast.literal_eval, and CPython 3.11.7's ast fails ("recursion depth mismatch") when two
    threads parse at once."""

    profile: dict[str, dict[str, np.ndarray]]  # artefact name -> its own inputs from profile.npz
    parity: dict[str, np.ndarray]  # all of parity.npz; each artefact takes its inputs' names from it


def read_feeds(bundle: Path, manifest: dict, options: ProfileOptions) -> Feeds:
    inputs = read_inputs(bundle, "profile.npz")
    profile = {a["name"]: {n: inputs[n] for n in input_names(bundle, manifest, a, inputs, "profile.npz")}
               for a in selected(manifest, options) if a["format"] in DEFAULT_FOR_FORMAT}
    return Feeds(profile, read_inputs(bundle, "parity.npz"))


def input_names(bundle: Path, manifest: dict, art: dict, inputs: dict, where: str) -> list[str]:
    """The inputs ``art`` takes, all present in ``inputs`` (the bundle's inputs/WHERE). An ONNX
    graph's are read from the graph: a DeFormer bundle's question, passage and undecomposed graphs
    each take their own. A .tflite's are the manifest's (the runner picks a signature by length)."""
    if art["format"] == "onnx":
        import onnx

        graph = onnx.load(str(bundle / art["file"]), load_external_data=False).graph
        weights = {t.name for t in graph.initializer}  # an older exporter lists weights as inputs too
        names = [i.name for i in graph.input if i.name not in weights]
    else:
        names = list(manifest["model"]["inputs"])
    missing = [n for n in names if n not in inputs]
    if missing:
        raise BundleError(f"inputs/{where}: no '{missing[0]}', which {art['file']} takes (it has: "
                          f"{', '.join(inputs)}); re-export the bundle")
    return names


def token_shape(feed: dict[str, np.ndarray], art: dict) -> tuple[int, int]:
    """(batch, tokens) of an artefact's inputs: its first integer input of two dimensions, the
    token ids (a DeFormer question graph's row counts its question tokens, a passage graph's its
    passage tokens)."""
    ids = next((v for v in feed.values() if v.ndim == 2 and v.dtype.kind in "iu"), None)
    if ids is None:
        raise BundleError(f"{art['file']}: no token-id input among its inputs "
                          f"({', '.join(f'{k} {v.dtype} {v.shape}' for k, v in feed.items())}); re-export the bundle")
    return int(ids.shape[0]), int(ids.shape[1])


@dataclass
class Outcome:
    """One device's share of a lab run: its rows, the configurations it has done, its fault."""

    serial: str
    fingerprint: str | None = None
    rows: list[ProfileRow] = field(default_factory=list)
    done: set[str] = field(default_factory=set)
    error: MobilecompError | None = None


def _run_device(adb: Adb, bundle: Path, manifest: dict, feeds: Feeds, options: ProfileOptions,
                resume: dict[str, list[str]], many: bool) -> Outcome:
    outcome = Outcome(adb.serial or "the attached device")
    log = (lambda m: say(f"[{outcome.serial}] {m}")) if many else say
    try:
        profile_device(adb, bundle, manifest, feeds, options, resume, outcome, log)
    except MobilecompError as exc:
        outcome.error = exc
    return outcome


def settle(bundle: Path, outcomes: list[Outcome]) -> list[ProfileRow]:
    """The rows when every device finished; otherwise keep every measured row and raise one line."""
    rows = [r for o in outcomes for r in o.rows]
    failed = [o for o in outcomes if o.error is not None]
    if not failed:
        drop_resume(bundle, [o.fingerprint for o in outcomes if o.fingerprint])
        return rows
    kept = ""
    if rows:  # keep what was measured; the rerun resumes after it
        from ...bundle import append_results

        append_results(bundle, rows)
        save_resume(bundle, {o.fingerprint: sorted(o.done) for o in outcomes if o.fingerprint})
        kept = f"; {len(rows)} row(s) measured before it are in {bundle.name}/results.jsonl"
    if len(outcomes) == 1:
        exc = failed[0].error
        if isinstance(exc, DeviceLost):
            raise DeviceError(f"{exc}{kept}; reconnect the device and rerun the same command to resume") from None
        if kept:
            raise type(exc)(f"{exc}{kept}; rerun to resume") from None
        raise exc
    faults = "; ".join(f"{o.serial}: {o.error}" for o in failed)
    raise DeviceError(f"{len(failed)} of {len(outcomes)} adb devices failed ({faults}){kept}; the other devices' "
                      "rows are complete; reconnect the failed ones and rerun the same command to resume")


def profile_device(adb: Adb, bundle: Path, manifest: dict, feeds: Feeds, options: ProfileOptions,
                   resume: dict[str, list[str]], outcome: Outcome, say) -> None:
    """One device: its row, push, run every configuration; rows and done keys land in ``outcome``."""
    extra = options.extra
    serial = outcome.serial = adb.ensure_device()
    state = read_state(adb)
    info = state.info(serial)
    info.extra["adb"] = adb.version()
    info.extra["adb_server"] = adb.server
    say(device_line(info, state))

    if extra.get("runner") == "app":
        from .app import profile_app

        artefacts = [a for a in selected(manifest, options) if a["format"] in APP_FORMATS]
        threads_list = options.threads or tuple(dict.fromkeys((1, big_core_count(state.cores))))
        outcome.rows = profile_app(adb, bundle, manifest, artefacts, threads_list, options, state.android,
                                   REMOTE_ROOT, say)
        return
    choice, path = parse_choice(extra.get("runner"))
    formats = {RUNNERS[choice]} if choice else set(DEFAULT_FOR_FORMAT)
    artefacts = [a for a in selected(manifest, options) if a["format"] in formats]
    if not artefacts:
        return
    platform = platform_of(state)
    runners, problems = {}, []
    for fmt in sorted({a["format"] for a in artefacts}):
        try:
            runners[fmt] = make_runner(choice or DEFAULT_FOR_FORMAT[fmt], path, platform)
        except DeviceError as exc:
            if choice:
                raise
            problems.append(exc)
            say(f"skipping {fmt} artefacts: {exc}")
    if not runners and problems:
        raise problems[0]
    for fmt, runner in list(runners.items()):
        if runner.platform.startswith("android") and not platform.startswith("android"):
            if choice and not path:  # the pinned Android binary cannot run on a non-Android device
                raise DeviceError(f"{runner.name} is an {runner.platform} binary and {serial} is {platform}; "
                                  f"pass --runner {runner.name}=PATH built for it")
            if not choice:
                say(f"skipping {fmt} artefacts: {runner.name} is {runner.platform}, the device is {platform}")
                del runners[fmt]
                continue
        say(f"runner: {runner.name} ({runner.platform}, sha256 {runner.sha256[:12]})")
    artefacts = [a for a in artefacts if a["format"] in runners]
    if not artefacts:
        return

    shapes = {a["name"]: token_shape(feeds.profile[a["name"]], a) for a in artefacts}  # (batch, tokens)
    vocab = vocab_size(bundle, manifest)
    threads_list = options.threads or tuple(dict.fromkeys((1, big_core_count(state.cores))))

    outcome.fingerprint = f"{serial}|{state.props.get('ro.build.fingerprint', '')}|{options.runs}|{options.warmup}"
    outcome.done = set(resume.get(outcome.fingerprint, []))
    check_space(state, artefacts, runners, bundle)
    remote_runner = {fmt: push_runner(adb, r) for fmt, r in runners.items()}
    signatures = {a["name"]: timed_signature(bundle, a, shapes[a["name"]][1])
                  for a in artefacts if a["format"] in BUCKETED}
    timed_feeds = {a["name"]: bucket_feed(feeds.profile[a["name"]], a, signatures.get(a["name"])) for a in artefacts}
    with tempfile.TemporaryDirectory(prefix="mobilecomp-adb-") as tmp:
        remote_art = {a["name"]: push_artefact(adb, bundle, a, timed_feeds[a["name"]], runners[a["format"]],
                                               Path(tmp)) for a in artefacts}
        parity = {}  # artefact -> (report or None, words): run once, before its timed configurations
        for art in artefacts:
            runner = runners[art["format"]]
            if all(f"{art['sha256']}:{runner.name}:{t}" in outcome.done for t in threads_list):
                continue
            parity[art["name"]] = check_parity(adb, bundle, manifest, art, runner, remote_runner[art["format"]],
                                               remote_art[art["name"]], Path(tmp), feeds.parity,
                                               list(feeds.profile[art["name"]]),
                                               int(extra.get("parity_sentences") or PARITY_SENTENCES))
            say(f"{art['name']}: {parity[art['name']][1]['words']}")
        for threads in threads_list:
            cpus = big_cores(state.cores, threads)
            for art in artefacts:
                runner = runners[art["format"]]
                key = f"{art['sha256']}:{runner.name}:{threads}"
                if key in outcome.done:
                    continue
                waited = cool_down(adb, extra)
                signature = signatures.get(art["name"])
                batch, length = shapes[art["name"]]
                length = signature[1] if signature else length
                feed = timed_feeds[art["name"]]
                stats, thermal = run_one(adb, runner, remote_runner[art["format"]], remote_art[art["name"]],
                                         art, threads, cpus, options, feed, vocab, Path(tmp), extra, signature)
                say(f"{art['name']} {threads}t on cpus {cpus or 'any'}: p50 {stats.get('p50', stats['mean']):.2f} ms "
                    f"(mean {stats['mean']:.2f} ms, {stats.get('n', '?')} runs)")
                outcome.rows.append(make_row(manifest, art, runner, stats, thermal, info, threads, length,
                                             batch, cpus, waited, signature, parity.get(art["name"]), feed))
                outcome.done.add(key)


def say(message: str) -> None:
    """A progress line on stderr (stdout carries the table or the JSON)."""
    print(f"  adb: {message}", file=sys.stderr, flush=True)


def device_line(info, state: PhoneState) -> str:
    temps = hottest(state.thermal_c)
    parts = [f"{info.extra['serial']}: {info.manufacturer or '?'} {info.model or '?'}", f"SoC {info.soc or '?'}",
             info.cpu, info.os, f"abi {info.extra['abi']}",
             f"big cores {big_cores(state.cores, big_core_count(state.cores)) or 'unknown'}",
             f"hottest zone {temps:.1f} C" if temps is not None else "no thermal zones",
             f"battery {state.battery.get('level') or state.battery.get('capacity') or '?'}%"]
    if "testdevice" in info.extra:
        parts.append(f"[{info.extra['testdevice']}]")
    return ", ".join(parts)


# ---- device state -------------------------------------------------------------------------------


def read_state(adb: Adb) -> PhoneState:
    res = adb.shell(DEVICE_SCRIPT, timeout=60)
    try:
        return parse_state(res.out)
    except ValueError as exc:
        raise DeviceError(f"{adb.serial}: could not read the device row ({exc}); is this an Android shell?") from None


def platform_of(state: PhoneState) -> str:
    if state.android:
        return "android-arm64" if state.arch == "aarch64" else f"android-{state.arch}"
    return f"linux-{state.arch}"


def vocab_size(bundle: Path, manifest: dict) -> int | None:
    vocab = manifest.get("tokenizer", {}).get("vocab_file")
    if vocab and (bundle / vocab).exists():
        return sum(1 for line in (bundle / vocab).read_text(encoding="utf-8").splitlines() if line)
    return None


def check_space(state: PhoneState, artefacts: list[dict], runners: dict[str, Runner], bundle: Path) -> None:
    if state.data_free_kb is None:
        return
    need = sum((bundle / a["file"]).stat().st_size for a in artefacts)
    need += sum(r.exe.stat().st_size + sum(lib.stat().st_size for lib in r.libs) for r in runners.values())
    if state.data_free_kb * 1024 < need + 16 * 1024 * 1024:
        raise DeviceError(f"/data on the phone has {state.data_free_kb // 1024} MB free, {need // 2**20 + 16} MB "
                          "needed; free space (`adb shell rm -r /data/local/tmp/mobilecomp`, uninstall apps)")


# ---- pushing ------------------------------------------------------------------------------------


def _present(adb: Adb, directory: str, stamp: str) -> bool:
    res = adb.shell(f"cat {directory}/.complete 2>/dev/null", timeout=30)
    return res.out.strip() == stamp


def _push_all(adb: Adb, files: list[tuple[Path, str]], directory: str, stamp: str) -> None:
    adb.shell(f"rm -rf {directory} && mkdir -p {directory}", timeout=60, check=True)
    for local, name in files:
        adb.push(local, f"{directory}/{name}")
    adb.shell(f"chmod 755 {directory}/* 2>/dev/null; echo {stamp} > {directory}/.complete", timeout=30, check=True)


def push_runner(adb: Adb, runner: Runner) -> str:
    sha = runner.sha256
    directory = f"{REMOTE_ROOT}/runners/{sha[:16]}"
    if not _present(adb, directory, sha):
        _push_all(adb, [(runner.exe, runner.exe.name)] + [(lib, lib.name) for lib in runner.libs], directory, sha)
    return f"{directory}/{runner.exe.name}"


def push_artefact(adb: Adb, bundle: Path, art: dict, feed: dict, runner: Runner, tmp: Path) -> str:
    """/data/local/tmp/mobilecomp/<sha256>/ with the model and its inputs; nothing pushed when both are there."""
    import hashlib

    directory = f"{REMOTE_ROOT}/{art['sha256']}"
    model = Path(art["file"]).name
    inputs = tmp / f"{art['sha256'][:12]}.inputs.bin"
    write_inputs(feed, inputs)
    # one graph (one sha256) may be timed on another bundle's inputs (another seq_len): the stamp holds both
    stamp = f"{art['sha256']}:{hashlib.sha256(inputs.read_bytes()).hexdigest()[:16]}"
    if _present(adb, directory, stamp):
        return f"{directory}/{model}"
    files = [(bundle / art["file"], model), (inputs, "inputs.bin")]
    if art["format"] == "onnx":
        pbs = write_perf_test_data(feed, tmp / f"{art['sha256'][:12]}-data")
        files += [(pb, f"test_data_set_0/{pb.name}") for pb in pbs]
    if art["format"] == "executorch":
        raw = write_raw_inputs(feed, tmp / f"{art['sha256'][:12]}-input")
        files += [(path, path.name.split("-", 1)[1]) for path in raw]  # input-0.bin, ...
    _push_all(adb, files, directory, stamp)
    res = adb.shell(f"sha256sum {directory}/{model} 2>/dev/null", timeout=120)
    if res.rc == 0 and res.out.split() and res.out.split()[0] != art["sha256"]:
        adb.shell(f"rm -rf {directory}", timeout=60)
        raise DeviceError(f"{model} arrived on {adb.serial} with a different sha256; rerun (the push is retried)")
    return f"{directory}/{model}"


# ---- running ------------------------------------------------------------------------------------


def cool_down(adb: Adb, extra: dict) -> float:
    limit = float(extra.get("cooldown_c", COOLDOWN_C))
    start = time.monotonic()
    while True:
        temp = hottest(parse_thermal(adb.shell(THERMAL, timeout=30).out.splitlines()))
        waited = time.monotonic() - start
        if temp is None or temp <= limit or waited >= float(extra.get("cooldown_max_s", COOLDOWN_MAX_S)):
            return round(waited, 1)
        time.sleep(10)


BUCKETED = ("tflite", "executorch")  # a signature / method per length; the runner is told which


def timed_signature(bundle: Path, art: dict, seq_len: int) -> tuple[str, int]:
    """(signature, its length): the .tflite signature or .pte method that holds the row's
    ``seq_len`` tokens, read from the file on this machine (the phone's runner is told to run
    exactly that one)."""
    try:
        if art["format"] == "executorch":
            from ...runtime.pte import PteModel

            model = PteModel(bundle / art["file"], threads=1)
            pick = model.method_for
        else:
            from ...runtime.litert import TFLiteModel

            model = TFLiteModel(bundle / art["file"], threads=1)
            pick = model.signature_for
    except ModuleNotFoundError:
        setup = "17-executorch.sh" if art["format"] == "executorch" else "15-litert.sh"
        raise DeviceError(f"{art['file']}: picking its {'method' if art['format'] == 'executorch' else 'signature'} "
                          f"needs its runtime on this machine; install it with scripts/setup.d/{setup}") from None
    try:
        signature = pick(seq_len)
    except ValueError as exc:
        raise DeviceError(f"{exc}; re-export with tflite_seq_lens covering {seq_len}") from None
    return signature, model.lengths[signature]


def bucket_feed(feed: dict[str, np.ndarray], art: dict, signature: tuple[str, int] | None) -> dict[str, np.ndarray]:
    """What the runner reads: a .pte method's inputs are int64 [1, its length], padded as on the host."""
    if art["format"] != "executorch" or signature is None:
        return feed
    from ...runtime.buckets import padded

    return padded(feed, signature[1], dict.fromkeys(feed, np.int64))


def check_signature(stats: dict, asked: str, runner: Runner, art: dict) -> None:
    """The runner ran the signature it was asked for, by its own word; otherwise one line."""
    ran = stats.get("signature_used") or stats.get("signature")
    if not ran:
        raise DeviceError(f"{runner.name} did not say which signature of {art['name']} it ran (asked '{asked}'); "
                          "use a benchmark_model with --signature_to_run_for (TFLite 2.7 or later)")
    if ran != asked:
        raise DeviceError(f"{runner.name} timed signature '{ran}' of {art['name']}, not '{asked}' that the row's "
                          "sequence length needs; its numbers are not this row's, so none were kept")


def timed_command(runner: Runner, exe: str, model: str, threads: int, options: ProfileOptions, feed: dict,
                  vocab: int | None, signature: tuple[str, int] | None = None) -> str:
    """The runner's command for one timed configuration; with a .tflite ``signature`` (name, length)
    it runs that signature, on inputs of its shape (benchmark_model makes its own inputs)."""
    if signature:
        feed = {k: np.zeros((v.shape[0], signature[1]), v.dtype) for k, v in feed.items()}
    directory = model.rsplit("/", 1)[0]
    inputs = f"{directory}/input" if runner.name == "executor_runner" else f"{directory}/inputs.bin"
    return runner.command(exe, model, inputs, threads, options.runs, options.warmup, feed, vocab,
                          signature=signature[0] if signature else None)


def run_one(adb: Adb, runner: Runner, exe: str, model: str, art: dict, threads: int, cpus: list[int],
            options: ProfileOptions, feed: dict, vocab: int | None, tmp: Path, extra: dict,
            signature: tuple[str, int] | None = None):
    """Times one configuration; ``signature``: (name, length) of the .tflite signature to run."""
    directory = model.rsplit("/", 1)[0]
    out_name = f"out-{runner.name}-t{threads}.txt"
    cmd = timed_command(runner, exe, model, threads, options, feed, vocab, signature)
    pin = f"taskset {mask(cpus)} " if cpus else ""
    libdir = exe.rsplit("/", 1)[0]
    script = "; ".join([
        f"cd {directory}", "echo @@before", THERMAL,
        f"LD_LIBRARY_PATH={libdir} {pin}{cmd} > {out_name} 2>&1", "rc=$?",
        "echo @@after", THERMAL, "echo @@end", "exit $rc"])
    res = adb.shell(script, timeout=float(extra.get("timeout_s", 900)))
    sec = sections(res.out)
    if "end" not in sec:  # adb returns 0 when the link drops mid-command, so the script marks its end
        raise DeviceLost(f"lost adb device {adb.serial} while {runner.name} ran {art['name']} (the shell "
                         "ended before the script did)")
    local = tmp / f"{art['sha256'][:12]}-{out_name}"
    adb.pull(f"{directory}/{out_name}", local)
    text = local.read_text(errors="replace")
    thermal = {"before": parse_thermal(sec.get("before", [])), "after": parse_thermal(sec.get("after", []))}
    if res.rc != 0:
        tail = next((line.strip() for line in reversed(text.splitlines()) if line.strip()), "no output")
        if res.rc >= 128 and res.rc - 128 in signal.Signals._value2member_map_:
            sig = signal.Signals(res.rc - 128).name
            raise DeviceError(f"{runner.name} crashed ({sig}) on {art['name']} with {threads} thread(s): {tail}; "
                              "try --threads 1, another --runner, or check the artefact runs on the host")
        raise DeviceError(f"{runner.name} exited {res.rc} on {art['name']}: {tail}; check the runner matches "
                          f"the phone's ABI or pass your own with --runner {runner.name}=PATH")
    try:
        stats = runner.parse(text)
    except ValueError as exc:
        raise DeviceError(f"{runner.name} output on {art['name']} not understood ({exc}); "
                          f"see {local.name}: {text.strip()[-200:]}") from None
    if runner.warmup_in_samples:
        stats = without_warmup(stats, options.warmup)
    if signature:
        check_signature(stats, signature[0], runner, art)
    stats["raw_tail"] = text.strip().splitlines()[-12:]
    return stats, thermal


def make_row(manifest: dict, art: dict, runner: Runner, stats: dict, thermal: dict, info, threads: int,
             seq_len: int, batch: int, cpus: list[int], waited: float, signature: tuple[str, int] | None = None,
             parity: tuple[dict | None, dict] | None = None, feed: dict | None = None) -> ProfileRow:
    """One row; ``signature``: the .tflite signature timed; ``parity``: (report, words) from the device;
    ``feed``: the inputs the runner was given (their shapes go in the row)."""
    samples = stats.pop("samples", None)
    latency = Latency(samples) if samples else Latency([stats["mean"]])
    describe = dict(runner.describe)
    describe.setdefault("version", stats.pop("version", None) or describe.get("source"))
    describe["platform"] = runner.platform
    describe["samples"] = "every run" if samples else "summary only (mean)"
    if signature:
        describe["signature"] = signature[0]
    report, words = parity or (None, {"checked": False, "words": "parity not checked on device: resumed run"})
    return ProfileRow(
        artefact=art["name"], artefact_sha256=art["sha256"], model=manifest["recipe"]["name"],
        variant=art["variant"], device=info.name, provenance="measured-adb", threads=threads, seq_len=seq_len,
        batch=batch, latency_ms=latency, cpu_ms=None, device_info=info, runner=describe,
        label=manifest["checkpoint"].get("label"),
        timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"), parity=report,
        extra={"measured_by": runner.name, "device_parity": words["words"],
               **({"signature": signature[0]} if signature else {}),
               **({"input_shapes": {k: list(v.shape) for k, v in feed.items()}} if feed else {}),
               "taskset_cpus": cpus, "taskset_mask": mask(cpus) if cpus else None,
               "thermal_c_before": thermal["before"], "thermal_c_after": thermal["after"],
               "cooldown_wait_s": waited, "runner_stats": stats,
               "remote_dir": f"{REMOTE_ROOT}/{art['sha256']}"})


# ---- resume -------------------------------------------------------------------------------------


def load_resume(bundle: Path) -> dict[str, list[str]]:
    """Done configurations per device fingerprint (serial, build, runs, warm-up)."""
    from ...bundle import member
    from ...errors import BundleError
    from ...files import read_json

    if not os.path.lexists(bundle / RESUME):
        return {}
    try:  # inside the bundle, a regular file, bounded: a broken one only loses the resume state
        data = read_json(member(bundle, RESUME, "adb resume state"), BundleError, "delete it")
    except BundleError:
        return {}
    devices = data.get("devices") if isinstance(data, dict) else None
    return devices if isinstance(devices, dict) else {}


def save_resume(bundle: Path, done: dict[str, list[str]]) -> None:
    (bundle / RESUME).write_text(json.dumps({"devices": {**load_resume(bundle), **done}}, indent=1) + "\n")


def drop_resume(bundle: Path, fingerprints: list[str]) -> None:
    """Forget the devices that finished; the file goes when no device is left in it."""
    left = {k: v for k, v in load_resume(bundle).items() if k not in fingerprints}
    if left:
        (bundle / RESUME).write_text(json.dumps({"devices": left}, indent=1) + "\n")
    else:
        (bundle / RESUME).unlink(missing_ok=True)
