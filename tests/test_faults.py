"""Hostile input at every boundary ends as one line `mobilecomp: error: ...`, never a traceback.

CASES is the one table: each row names the boundary, what it feeds and the exit code (the error
class) it must get; its ``make`` builds the bad input in a fresh directory and returns the command
line. Every case drives the real CLI (in process with click's runner; the signal cases as a
subprocess) and must end with that exit code, exactly one ``mobilecomp: error:`` line, no traceback,
and nothing that looks valid left behind (no manifest.json at --out, no .partial-* directory).
bench/reliability.py runs the same table and writes docs/reliability.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from mobilecomp.bundle import PARTIAL_PREFIX
from mobilecomp.errors import BundleError, CheckpointError, ConfigError, DataError, DeviceError
from mobilecomp.testdevice.lab import reserved_port

DATA = Path(__file__).parent / "data"
TINY = DATA / "tiny-bert.yaml"
CLASSIFIER = DATA / "tiny-classifier.yaml"
ERROR = "mobilecomp: error:"
BAD_BYTES = b"\xff\xfe\x00binary\x00"


class Unavailable(Exception):
    """The case needs something this machine lacks (root for a mount, adb, qemu); the reason says what."""


class Materials:
    """What the cases start from, made once: a tiny bundle and a tiny Hugging Face checkpoint."""

    def __init__(self, root: Path, bundle: Path | None = None) -> None:
        self.root = Path(root)
        self._bundle = bundle
        self._checkpoint: Path | None = None

    def bundle(self) -> Path:
        if self._bundle is None:
            from mobilecomp.pipeline import export_bundle
            from mobilecomp.recipe import load_recipe

            self._bundle = self.root / "tiny-bert"
            export_bundle(load_recipe(str(TINY)), self._bundle)
        return self._bundle

    def pte_bundle(self) -> Path:
        """The tiny recipe exported as ONNX and ExecuTorch fp32: a bundle every adb runner has work in."""
        path = self.root / "tiny-pte"
        if not path.exists():
            from mobilecomp.pipeline import export_bundle
            from mobilecomp.recipe import load_recipe

            recipe = load_recipe(str(TINY))
            export_bundle(replace(recipe, name="tiny-pte", formats=("onnx", "executorch"), variants=("fp32",)), path)
        return path

    def checkpoint(self) -> Path:
        """A 2-layer x 32 BERT saved by transformers, with the shipped 4,928-word vocabulary."""
        if self._checkpoint is None:
            import torch
            import transformers

            from mobilecomp.load.vocabs import vocab_dir

            path = self.root / "tiny-checkpoint"
            torch.manual_seed(0)
            config = transformers.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                             intermediate_size=64, vocab_size=4928)
            transformers.BertModel(config).save_pretrained(path)
            for file in vocab_dir("wordpiece-4928").iterdir():
                shutil.copyfile(file, path / file.name)
            self._checkpoint = path
        return self._checkpoint

    def checkpoint_with_head(self, cls_name: str) -> Path:
        """The tiny checkpoint's config and vocabulary saved as transformers' ``cls_name`` (a task head)."""
        path = self.root / f"tiny-{cls_name}"
        if not path.exists():
            import torch
            import transformers

            base = self.checkpoint()
            torch.manual_seed(0)
            config = transformers.BertConfig.from_pretrained(base)
            getattr(transformers, cls_name)(config).save_pretrained(path)
            for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"):
                if (base / name).exists():
                    shutil.copyfile(base / name, path / name)
        return path


class Scene:
    """One case's directory: copies of the materials to spoil, the --out it must leave empty, cleanups."""

    def __init__(self, root: Path, materials: Materials) -> None:
        self.root = Path(root)
        self.materials = materials
        self.out = self.root / "out" / "bundle"
        self.env: dict[str, str] = {}
        self.cwd: Path | None = None  # where the CLI runs (the test's own directory unless told)
        self.cleanups: list[Callable[[], None]] = []

    def file(self, name: str, content: str | bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    def recipe(self, name: str = "bad", base: Path = TINY, **changes) -> Path:
        """The tiny recipe with top-level fields replaced (None removes one), saved as NAME.yaml."""
        import yaml

        data = yaml.safe_load(base.read_text())
        data["name"] = name
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        return self.file(f"{name}.yaml", yaml.safe_dump(data))

    def config(self, **fields) -> Path:
        """The tiny recipe with checkpoint.config fields replaced."""
        import yaml

        checkpoint = yaml.safe_load(TINY.read_text())["checkpoint"]
        checkpoint["config"] = {**checkpoint["config"], **fields}
        return self.recipe(checkpoint=checkpoint)

    def checkpoint(self, head: str | None = None) -> Path:
        path = self.root / "checkpoint"
        shutil.copytree(self.materials.checkpoint_with_head(head) if head else self.materials.checkpoint(), path)
        return path

    def bundle(self) -> Path:
        path = self.root / "bundle-copy"
        shutil.copytree(self.materials.bundle(), path)
        return path

    def manifest(self, bundle: Path, change: Callable[[dict], object]) -> Path:
        data = json.loads((bundle / "manifest.json").read_text())
        change(data)
        (bundle / "manifest.json").write_text(json.dumps(data))
        return bundle

    def export(self, *args: str) -> list[str]:
        return ["export", *args, "--out", str(self.out)]

    def profile(self, bundle: Path, *args: str) -> list[str]:
        return ["profile", str(bundle), "--runs", "20", "--warmup", "1", "--threads", "1", *args]

    def close(self) -> None:
        for cleanup in reversed(self.cleanups):
            cleanup()


@dataclass(frozen=True)
class Case:
    id: str
    boundary: str
    feeds: str
    code: int  # the exit code of the error class the case must end in
    says: str  # a fragment the error line must hold: the file, field or fault it is about
    make: Callable[[Scene], list[str]]  # builds the bad input, returns the CLI arguments
    drive: str = "cli"  # cli: click's runner in process; sigint/sigterm: a subprocess signalled mid-export;
    # appear: a subprocess whose --out is created by someone else mid-export; fill: its disk filled mid-export
    never: str = ""  # text stderr must not hold: work that must not have started before the refusal


@dataclass
class Outcome:
    code: int
    stderr: str
    traceback: bool
    leftovers: list[str]
    changed: list[str] = ()  # the user's files (the scene's inputs) that the command changed or removed

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith(ERROR)]


# ---- spoilers ----------------------------------------------------------------------------------


def truncate(path: Path, size: int | None = None) -> None:
    os.truncate(path, path.stat().st_size // 2 if size is None else size)


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def edit_json(path: Path, **fields) -> None:
    data = json.loads(path.read_text())
    data.update(fields)
    path.write_text(json.dumps(data))


def _ckpt(spoil: Callable[[Path], object]) -> Callable[[Scene], list[str]]:
    """A --checkpoint case: the tiny checkpoint, spoiled, given to the 2-layer x 128 recipe."""
    def make(scene: Scene) -> list[str]:
        path = scene.checkpoint()
        spoil(path)
        return scene.export("--recipe", "wrs-2-128-int8", "--checkpoint", str(path))
    return make


def _profile(spoil: Callable[[Path], object], *args: str) -> Callable[[Scene], list[str]]:
    """A profile case on a copy of the tiny bundle, spoiled."""
    def make(scene: Scene) -> list[str]:
        bundle = scene.bundle()
        spoil(bundle)
        return scene.profile(bundle, *args)
    return make


def _device_profile(text: str | bytes) -> Callable[[Scene], list[str]]:
    """An emulated-arm profile given as a .yaml path; its stem is the profile's name."""
    def make(scene: Scene) -> list[str]:
        path = scene.file("phone.yaml", text)
        return scene.profile(scene.bundle(), "--device", f"emulated-arm:{path}")
    return make


def _eval_data(name: str, content: str | bytes | None) -> Callable[[Scene], list[str]]:
    """--eval-data for the tiny classifier recipe: read before any work, so it fails fast."""
    def make(scene: Scene) -> list[str]:
        path = scene.root / name if content is None else scene.file(name, content)
        return scene.export("--recipe", str(CLASSIFIER), "--eval-data", str(path))
    return make


def _parity(content: str | bytes | None, directory: bool = False) -> Callable[[Scene], list[str]]:
    def make(scene: Scene) -> list[str]:
        path = scene.root / "parity.txt"
        if directory:
            path.mkdir()
        elif content is not None:
            scene.file("parity.txt", content)
        return scene.export("--recipe", str(TINY), "--parity-text", str(path))
    return make


def _report(name: str | None, content: str | bytes | None) -> Callable[[Scene], list[str]]:
    """report of a copy of the tiny bundle holding ``name`` (results.jsonl, accuracy.jsonl), or of a
    loose results file ``rows.jsonl``, or (both None) of a directory with no bundle in it."""
    def make(scene: Scene) -> list[str]:
        bundle = scene.bundle()
        if name is None and content is None:
            target = scene.root / "out"
            target.mkdir(parents=True)
        elif name is None:
            target = scene.file("rows.jsonl", content)
        else:
            (bundle / name).write_bytes(content.encode() if isinstance(content, str) else content)
            target = bundle
        return ["report", str(target), "--out", str(scene.root / "report")]
    return make


GOOD_DEVICE = (Path(__file__).parent.parent / "devices" / "pixel-4.yaml").read_text().replace(
    "name: pixel-4", "name: phone")
MANY = "\n".join(f"The quick brown fox number {i} jumps over the lazy dog." for i in range(60))


def _config_json(**fields) -> Callable[[Path], None]:
    return lambda path: edit_json(path / "config.json", **fields)


def _mount_full(scene: Scene) -> list[str]:
    """--out on a 1 MB tmpfs: the first model file fills it."""
    mount = scene.root / "full"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise Unavailable(f"cannot mount a tmpfs here ({(proc.stderr.strip() or 'not root')[:80]})")
    scene.cleanups.append(lambda: subprocess.run(["umount", "-l", str(mount)], capture_output=True))
    scene.out = mount / "bundle"
    return scene.export("--recipe", str(TINY))


def _fake_cache(scene: Scene, python: bytes | None) -> Path:
    """MOBILECOMP_CACHE with an ARM toolchain that setup would recognise, whose guest Python is
    ``python`` (None: no sysroot at all)."""
    from mobilecomp.profile.emulated_arm import setup

    cache = scene.root / "cache"
    scene.env["MOBILECOMP_CACHE"] = str(cache)
    if python is None:
        return cache
    if not os.access(setup.QEMU, os.X_OK):
        raise Unavailable(f"no {setup.QEMU} (apt-get install qemu-user)")
    with pytest.MonkeyPatch.context() as patch:  # where setup looks, as the CLI will see it
        patch.setenv("MOBILECOMP_CACHE", str(cache))
        tc_root = setup.sysroot_path(setup.guests()["ort"])
        digest = hashlib.sha256(setup.PLUGIN_SOURCE.read_bytes()).hexdigest()[:12]
        plugin = setup.arm_root() / f"plugin-qemu{setup.qemu_version()}-{digest}.so"
    (tc_root / "usr" / "bin").mkdir(parents=True)
    (tc_root / "VERSION").write_text("fake\n")
    (tc_root / "usr" / "bin" / "python3.11").write_bytes(python)
    (tc_root / "usr" / "bin" / "python3.11").chmod(0o755)
    plugin.write_bytes(b"not a plugin")
    return cache


def _qemu(python: bytes | None) -> Callable[[Scene], list[str]]:
    def make(scene: Scene) -> list[str]:
        bundle = scene.bundle()
        _fake_cache(scene, python)
        return scene.profile(bundle, "--device", "emulated-arm:pixel-4", "--artefact", "onnx-fp32")
    return make


# ---- adb: a private adb server and the loopback test device -------------------------------------

PROPS = """ro.product.model=Faultphone
ro.product.manufacturer=mobilecomp
ro.product.cpu.abi=x86_64
ro.build.version.release=14
ro.build.version.sdk=34
ro.build.fingerprint=mobilecomp/faultphone/faultphone:14/TEST/1:user/test-keys
"""


def _adb_server(scene: Scene) -> None:
    from mobilecomp.profile.adb.transport import adb_binary

    try:
        binary = adb_binary()
    except DeviceError as exc:
        raise Unavailable(str(exc)) from None
    port = reserved_port()
    scene.env["MOBILECOMP_ADB_PORT"] = str(port)
    scene.cleanups.append(lambda: subprocess.run([binary, "-P", str(port), "kill-server"], capture_output=True,
                                                 timeout=30))


def _phone(scene: Scene, *extra: str) -> tuple[subprocess.Popen, int, Path]:
    """A loopback test device (see mobilecomp.testdevice): (process, port, command log)."""
    root = scene.root / "phone"
    props = scene.file("phone.props", PROPS)
    log = scene.root / "phone.log"
    proc = subprocess.Popen([sys.executable, "-m", "mobilecomp.testdevice", "--port", "0", "--props", str(props),
                             "--root", str(root), "--cpufreq", "1800000,2400000", "--log", str(log), *extra],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("listening 127.0.0.1:"):
        proc.kill()
        raise Unavailable(f"the loopback test device did not start ({line.strip() or 'no output'})")

    def stop() -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
    scene.cleanups.append(stop)
    return proc, int(line.rsplit(":", 1)[1]), log


def _runner(scene: Scene, script: str) -> str:
    path = scene.file("runner/ort-runner", "#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)
    return f"ort-runner={path}"


def _adb(*args: str, phone: tuple[str, ...] | None = None, runner: str | None = None,
         runner_path: str | None = None, unplug_on: str | None = None) -> Callable[[Scene], list[str]]:
    """An adb profile of the tiny bundle's int8 artefact: ``phone`` starts a test device with those
    flags and connects to it; ``runner`` is the shell script it runs (``runner_path``: a file name
    that does not exist); ``unplug_on`` kills the device once its command log shows that text."""
    def make(scene: Scene) -> list[str]:
        bundle = scene.bundle()
        _adb_server(scene)
        extra = [a.replace("{closed}", str(reserved_port())) for a in args]
        if phone is not None:
            proc, port, log = _phone(scene, *phone)
            extra += ["--connect", f"127.0.0.1:{port}"]
            if unplug_on:
                _kill_when(proc, log, unplug_on)
        if runner is not None:
            extra += ["--runner", _runner(scene, runner)]
        if runner_path is not None:
            extra += ["--runner", f"ort-runner={scene.root / runner_path}"]
        return scene.profile(bundle, "--device", "adb", "--artefact", "onnx-int8-dynamic", *extra)
    return make


def _kill_when(proc: subprocess.Popen, log: Path, needle: str) -> None:
    def watch() -> None:
        deadline = time.monotonic() + 600  # the profile starts an adb server and connects first
        while time.monotonic() < deadline and proc.poll() is None:
            if log.exists() and needle in log.read_text(errors="replace"):
                proc.send_signal(signal.SIGTERM)
                return
            time.sleep(0.05)
    threading.Thread(target=watch, daemon=True).start()


# ---- mounts, links, FIFOs --------------------------------------------------------------------------


def _mount(scene: Scene, *args: str, at: Path) -> Path:
    """`mount ARGS AT` (root only), unmounted when the case ends."""
    at.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", *args, str(at)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise Unavailable(f"cannot mount here ({(proc.stderr.strip() or 'not root')[:80]})")
    scene.cleanups.append(lambda: subprocess.run(["umount", "-l", str(at)], capture_output=True))
    return at


def _read_only(scene: Scene, directory: Path) -> Path:
    """``directory`` bind-mounted read-only onto itself."""
    _mount(scene, "--bind", str(directory), at=directory)
    proc = subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise Unavailable(f"cannot remount read-only ({proc.stderr.strip()[:80]})")
    return directory


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    os.mkfifo(path)
    return path


def _link(path: Path, target: Path | str) -> Path:
    path.unlink(missing_ok=True)
    path.symlink_to(target)
    return path


def _rehash(bundle: Path, file: str) -> None:
    """Make manifest.json agree with ``file`` as it is now (size, sha256): only containment can refuse it."""
    from mobilecomp.load.checkpoints import sha256_file

    data = json.loads((bundle / "manifest.json").read_text())
    for art in data["artefacts"]:
        if art["file"] == file:
            art["size_bytes"], art["sha256"] = (bundle / file).stat().st_size, sha256_file(bundle / file)
    (bundle / "manifest.json").write_text(json.dumps(data))


def _outside_artefact(scene: Scene) -> Path:
    """The int8 artefact replaced by a link to a file outside the bundle, the manifest edited to match."""
    bundle = scene.bundle()
    outside = scene.file("outside.onnx", (bundle / BUNDLE_ARTEFACT).read_bytes())
    _link(bundle / BUNDLE_ARTEFACT, outside)
    _rehash(bundle, BUNDLE_ARTEFACT)
    return bundle


def _garbage_artefact(bundle: Path) -> None:
    (bundle / BUNDLE_ARTEFACT).write_bytes(b"\x08\x07garbage, not a model" * 100)
    _rehash(bundle, BUNDLE_ARTEFACT)


def _user_dir(scene: Scene, name: str = "mine") -> Path:
    path = scene.root / name
    path.mkdir()
    (path / "notes.txt").write_text("the user's notes\n")
    (path / "sub").mkdir()
    (path / "sub" / "data.bin").write_bytes(b"\x00\x01")
    return path


def _force_into(target: Callable[[Scene], Path]) -> Callable[[Scene], list[str]]:
    def make(scene: Scene) -> list[str]:
        scene.out = target(scene)
        return ["export", "--recipe", str(TINY), "--out", str(scene.out), "--force"]
    return make


def _out_is_checkpoint(scene: Scene) -> list[str]:
    """export --force with --out naming the very checkpoint being read."""
    ckpt = scene.checkpoint()
    (ckpt / "notes.txt").write_text("mine")
    return ["export", "--recipe", str(TINY), "--checkpoint", str(ckpt), "--out", str(ckpt), "--force"]


def _out_holds_checkpoint(scene: Scene) -> list[str]:
    ckpt = scene.checkpoint()
    return ["export", "--recipe", str(TINY), "--checkpoint", str(ckpt), "--out", str(scene.root), "--force"]


def _out_is_cwd(scene: Scene) -> list[str]:
    scene.cwd = scene.bundle()  # the current directory is even a bundle: still never replaced
    return ["export", "--recipe", str(TINY), "--out", ".", "--force"]


def _out_read_only(scene: Scene) -> list[str]:
    scene.out = _read_only(scene, scene.root / "ro") / "bundle"
    return ["export", "--recipe", str(TINY), "--out", str(scene.out)]


def _profile_read_only(scene: Scene) -> list[str]:
    bundle = scene.bundle()
    _read_only(scene, bundle)
    return scene.profile(bundle)


def _tmpfs(scene: Scene, size: str) -> list[str]:
    mount = _mount(scene, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", at=scene.root / "disk")
    scene.out = mount / "bundle"
    return scene.export("--recipe", str(TINY))


def _midway(args: list[str], scene: Scene, drive: str) -> tuple[int, str]:
    """The CLI as a subprocess; once its temporary bundle holds its inputs, another process creates
    --out holding its own file (appear) or fills the disk (fill)."""
    proc = _started(args, scene)
    theirs = "another process's file\n"
    if drive == "appear":
        scene.out.mkdir()
        (scene.out / "theirs.txt").write_text(theirs)
    else:
        with open(scene.out.parent / "filler", "wb") as fh:
            try:
                while True:
                    fh.write(b"\0" * (1 << 20))
                    fh.flush()
            except OSError:
                pass
    _, stderr = proc.communicate(timeout=300)
    if drive == "appear":
        assert (scene.out / "theirs.txt").read_text() == theirs and not (scene.out / "manifest.json").exists()
        shutil.rmtree(scene.out)  # theirs, intact: only then out of the way of the leftover check
    return proc.returncode, stderr


def _recipe_special(kind: str) -> Callable[[Scene], list[str]]:
    def make(scene: Scene) -> list[str]:
        path = scene.root / "bad.yaml"
        _fifo(path) if kind == "fifo" else _link(path, "/dev/zero")
        return scene.export("--recipe", str(path))
    return make


def _bundle_special(name: str, kind: str, *args: str, command: str = "profile") -> Callable[[Scene], list[str]]:
    """A bundle whose ``name`` is a FIFO, a link to /dev/zero or a link to a file outside it."""
    def make(scene: Scene) -> list[str]:
        bundle = scene.bundle()
        if kind == "fifo":
            _fifo(bundle / name)
        elif kind == "zero":
            _link(bundle / name, "/dev/zero")
        else:
            _link(bundle / name, scene.file("outside.txt", (bundle / name).read_bytes()))
        if command == "report":
            return ["report", str(bundle), "--out", str(scene.root / "report")]
        return scene.profile(bundle, *args)
    return make


def _classifier(scene: Scene, **changes) -> Path:
    return scene.recipe(name="cls", base=CLASSIFIER, **changes)


# ---- the table -----------------------------------------------------------------------------------

C, K, D, B, V = ConfigError.exit_code, CheckpointError.exit_code, DataError.exit_code, BundleError.exit_code, \
    DeviceError.exit_code
BUNDLE_ARTEFACT = "model-int8-dynamic.onnx"

CASES: list[Case] = [
    # recipes (export --recipe)
    Case("recipe-unknown-name", "recipe", "a recipe name that does not exist", C, "unknown recipe",
         lambda s: s.export("--recipe", "no-such-recipe")),
    Case("recipe-binary", "recipe", "a .yaml whose first byte is 0xff", C, "not UTF-8",
         lambda s: s.export("--recipe", str(s.file("bad.yaml", BAD_BYTES)))),
    Case("recipe-invalid-yaml", "recipe", "YAML with an unclosed bracket", C, "not valid YAML",
         lambda s: s.export("--recipe", str(s.file("bad.yaml", "name: bad\nformats: [onnx\n")))),
    Case("recipe-empty", "recipe", "an empty .yaml", C, "expected a mapping",
         lambda s: s.export("--recipe", str(s.file("bad.yaml", "")))),
    Case("recipe-list", "recipe", "a YAML list instead of a mapping", C, "expected a mapping",
         lambda s: s.export("--recipe", str(s.file("bad.yaml", "- name: bad\n")))),
    Case("recipe-unknown-field", "recipe", "a field no recipe has (batch_size)", C, "batch_size",
         lambda s: s.export("--recipe", str(s.recipe(batch_size=4)))),
    Case("recipe-missing-field", "recipe", "no description", C, "description",
         lambda s: s.export("--recipe", str(s.recipe(description=None)))),
    Case("recipe-wrong-type", "recipe", "seq_len: long", C, "seq_len",
         lambda s: s.export("--recipe", str(s.recipe(seq_len="long")))),
    Case("recipe-seq-len-range", "recipe", "seq_len: 4", C, "seq_len 4",
         lambda s: s.export("--recipe", str(s.recipe(seq_len=4)))),
    Case("recipe-name-mismatch", "recipe", "name differs from the file name", C, "must match the file name",
         lambda s: s.export("--recipe", str(s.file("other.yaml", s.recipe().read_text())))),
    Case("recipe-unknown-variant", "recipe", "variants: [fp32, int3]", C, "int3",
         lambda s: s.export("--recipe", str(s.recipe(variants=["fp32", "int3"])))),
    Case("recipe-no-fp32", "recipe", "variants without fp32", C, "fp32",
         lambda s: s.export("--recipe", str(s.recipe(variants=["int8-dynamic"])))),
    Case("recipe-parity-unknown-variant", "recipe", "a parity budget for a variant not built", C, "parity",
         lambda s: s.export("--recipe", str(s.recipe(parity={"fp16": {"cos_min": 0.9}})))),
    Case("recipe-unknown-architecture", "recipe", "checkpoint.architecture: gpt9", C, "gpt9",
         lambda s: s.export("--recipe", str(s.recipe(checkpoint={"source": "architecture", "architecture": "gpt9"})))),
    Case("recipe-heads-not-divisor", "recipe", "hidden_size 128 with num_attention_heads 3", C, "attention heads",
         lambda s: s.export("--recipe", str(s.config(hidden_size=128, num_attention_heads=3)))),
    Case("recipe-negative-size", "recipe", "hidden_size -8", C, "hidden_size is -8",
         lambda s: s.export("--recipe", str(s.config(hidden_size=-8)))),
    Case("recipe-size-not-integer", "recipe", "num_hidden_layers: two", C, "num_hidden_layers",
         lambda s: s.export("--recipe", str(s.config(num_hidden_layers="two")))),
    Case("recipe-unknown-config-field", "recipe", "checkpoint.config.hidden_sise", C, "hidden_sise",
         lambda s: s.export("--recipe", str(s.config(hidden_sise=32)))),
    Case("recipe-hf-dir-missing", "recipe", "source hf-dir whose path is not a directory", C, "not a directory",
         lambda s: s.export("--recipe", str(s.recipe(checkpoint={"source": "hf-dir", "path": "nowhere"})))),
    Case("recipe-unknown-tokenizer", "recipe", "checkpoint.tokenizer no-such-vocab", C, "no-such-vocab",
         lambda s: s.export("--recipe", str(s.recipe(checkpoint={"source": "architecture",
                                                                  "tokenizer": "no-such-vocab"})))),
    # checkpoint directories (export --checkpoint)
    Case("checkpoint-missing-dir", "checkpoint", "--checkpoint naming no directory", K, "not a directory",
         lambda s: s.export("--recipe", "wrs-2-128-int8", "--checkpoint", str(s.root / "nowhere"))),
    Case("checkpoint-no-config", "checkpoint", "no config.json", K, "config.json: missing",
         _ckpt(lambda p: (p / "config.json").unlink())),
    Case("checkpoint-config-invalid-json", "checkpoint", "config.json cut mid-object", K, "config.json: not valid JSON",
         _ckpt(lambda p: (p / "config.json").write_text('{"model_type": "bert",\n'))),
    Case("checkpoint-config-list", "checkpoint", "config.json that is a JSON list", K, "config.json: expected",
         _ckpt(lambda p: (p / "config.json").write_text("[1, 2]\n"))),
    Case("checkpoint-config-binary", "checkpoint", "config.json of binary bytes", K, "config.json: not UTF-8",
         _ckpt(lambda p: (p / "config.json").write_bytes(BAD_BYTES))),
    Case("checkpoint-config-wrong-type", "checkpoint", "config.json hidden_size \"wide\"", K, "hidden_size",
         _ckpt(_config_json(hidden_size="wide"))),
    Case("checkpoint-config-heads", "checkpoint", "config.json with 3 heads for hidden 32", K, "attention heads",
         _ckpt(_config_json(num_attention_heads=3))),
    Case("checkpoint-model-type", "checkpoint", "model_type mobilebert, a bert recipe", K, "model_type 'mobilebert'",
         _ckpt(_config_json(model_type="mobilebert"))),
    Case("checkpoint-no-weights", "checkpoint", "no model.safetensors or pytorch_model.bin", K, "no model.safetensors",
         _ckpt(lambda p: (p / "model.safetensors").unlink())),
    Case("checkpoint-safetensors-half", "checkpoint", "model.safetensors cut to half", K, "safetensors: not a whole",
         _ckpt(lambda p: truncate(p / "model.safetensors"))),
    Case("checkpoint-safetensors-4-bytes", "checkpoint", "model.safetensors cut to 4 bytes", K, "not a whole",
         _ckpt(lambda p: truncate(p / "model.safetensors", 4))),
    Case("checkpoint-shape-mismatch", "checkpoint", "weights of FFN 64, config.json FFN 96", K, "intermediate.dense",
         _ckpt(_config_json(intermediate_size=96))),
    Case("checkpoint-pickle-refused", "checkpoint", "a pytorch_model.bin pickle calling os.system", K, "weights_only",
         _ckpt(lambda p: ((p / "model.safetensors").unlink(),
                          (p / "pytorch_model.bin").write_bytes(b"\x80\x04cos\nsystem\n.")))),
    Case("tokenizer-missing", "tokenizer", "no vocab.txt or tokenizer.json", K, "no tokenizer.json or vocab.txt",
         _ckpt(lambda p: (p / "vocab.txt").unlink())),
    Case("tokenizer-vocab-binary", "tokenizer", "vocab.txt of binary bytes", K, "vocab.txt: not UTF-8",
         _ckpt(lambda p: (p / "vocab.txt").write_bytes(BAD_BYTES))),
    Case("tokenizer-vocab-empty", "tokenizer", "an empty vocab.txt", K, "vocab.txt: empty",
         _ckpt(lambda p: (p / "vocab.txt").write_text(""))),
    Case("tokenizer-config-invalid-json", "tokenizer", "tokenizer_config.json cut short", K, "_config.json: not valid",
         _ckpt(lambda p: (p / "tokenizer_config.json").write_text("{\n"))),
    Case("tokenizer-json-invalid", "tokenizer", "tokenizer.json that is not JSON", K, "tokenizer.json: not valid JSON",
         _ckpt(lambda p: (p / "tokenizer.json").write_text('{"model":\n'))),
    Case("tokenizer-json-empty-object", "tokenizer", "tokenizer.json that is {}", K, "tokenizer files do not load",
         _ckpt(lambda p: (p / "tokenizer.json").write_text("{}\n"))),
    # parity text (export --parity-text)
    Case("parity-missing", "parity text", "--parity-text naming no file", D, "parity.txt", _parity(None)),
    Case("parity-directory", "parity text", "--parity-text naming a directory", D, "parity.txt",
         _parity(None, directory=True)),
    Case("parity-binary", "parity text", "binary bytes", D, "not UTF-8", _parity(BAD_BYTES)),
    Case("parity-too-short", "parity text", "three sentences", D, "3 sentences", _parity("One.\nTwo.\nThree.\n")),
    # labelled eval data (export --eval-data; eval --data)
    Case("eval-missing", "eval data", "--eval-data naming no file", D, "none.tsv", _eval_data("none.tsv", None)),
    Case("eval-binary", "eval data", "binary bytes", D, "not UTF-8", _eval_data("bad.tsv", BAD_BYTES)),
    Case("eval-empty", "eval data", "an empty .tsv", D, "no labelled examples", _eval_data("bad.tsv", "")),
    Case("eval-tsv-fields", "eval data", "a line with four tab-separated fields", D, "4 fields",
         _eval_data("bad.tsv", "a\tb\tc\t1\n")),
    Case("eval-tsv-label", "eval data", "label 'positive' after the header line", D, "bad.tsv:3",
         _eval_data("bad.tsv", "sentence\tlabel\ngood film\t1\nbad film\tpositive\n")),
    Case("eval-label-range", "eval data", "label 7 for a 2-class recipe", D, "label 7",
         _eval_data("bad.tsv", "good film\t7\n")),
    Case("eval-mixed-pairs", "eval data", "single sentences and pairs mixed", D, "second sentence",
         _eval_data("bad.tsv", "good film\t1\nq\tp\t0\n")),
    Case("eval-jsonl-invalid", "eval data", "a .jsonl line cut mid-object", D, "bad.jsonl:2",
         _eval_data("bad.jsonl", '{"sentence": "good", "label": 1}\n{"sentence": \n')),
    Case("eval-jsonl-not-object", "eval data", "a .jsonl line that is a list", D, "bad.jsonl:1",
         _eval_data("bad.jsonl", "[1, 2]\n")),
    Case("eval-jsonl-keys", "eval data", "a .jsonl record without label", D, "expected keys",
         _eval_data("bad.jsonl", '{"sentence": "good"}\n')),
    Case("eval-jsonl-sentence-type", "eval data", "a .jsonl sentence that is a number", D, "must be strings",
         _eval_data("bad.jsonl", '{"sentence": 5, "label": 1}\n')),
    Case("eval-label-bool", "eval data", "a .jsonl label true", D, "label True",
         _eval_data("bad.jsonl", '{"sentence": "good", "label": true}\n')),
    Case("eval-data-encoder", "eval data", "--eval-data for an encoder recipe", C, "classifier recipe",
         lambda s: s.export("--recipe", str(TINY), "--eval-data", str(s.file("ok.tsv", "good film\t1\n")))),
    Case("eval-cmd-encoder-bundle", "eval data", "mobilecomp eval on an encoder bundle", C, "classifier bundle",
         lambda s: ["eval", str(s.bundle()), "--data", str(s.file("ok.tsv", "good film\t1\n"))]),
    # command-line options
    Case("option-out-of-range", "option", "profile --runs 5 (at least 20)", C, "--runs",
         lambda s: ["profile", str(s.bundle()), "--runs", "5"]),
    Case("option-missing", "option", "export without --recipe", C, "--recipe", lambda s: ["export"]),
    Case("option-unknown", "option", "an option no command has (--speed)", C, "--speed",
         lambda s: ["profile", str(s.bundle()), "--speed", "fast"]),
    # export output (--out)
    Case("out-exists", "bundle", "--out naming an existing bundle, no --force", B, "already exists",
         lambda s: ["export", "--recipe", str(TINY), "--out", str(s.bundle())]),
    Case("out-under-file", "bundle", "--out under a regular file", B, "plain",
         lambda s: ["export", "--recipe", str(TINY), "--out", str(s.file("plain", "x") / "bundle")]),
    Case("out-disk-full", "bundle", "--out on a 1 MB tmpfs (disk full mid-export)", B, "no space left", _mount_full),
    Case("export-sigint", "bundle", "SIGINT once the .partial- directory has files", 128 + signal.SIGINT, "SIGINT",
         lambda s: s.export("--recipe", str(TINY)), drive="sigint"),
    Case("export-sigterm", "bundle", "SIGTERM once the .partial- directory has files", 128 + signal.SIGTERM, "SIGTERM",
         lambda s: s.export("--recipe", str(TINY)), drive="sigterm"),
    # bundles handed to profile, eval, report
    Case("bundle-not-a-bundle", "bundle", "profile of a directory without manifest.json", B, "manifest.json: missing",
         lambda s: s.profile(s.root)),
    Case("bundle-manifest-invalid", "bundle", "manifest.json cut mid-object", B, "manifest.json: not valid JSON",
         _profile(lambda b: (b / "manifest.json").write_text('{"recipe": {\n'))),
    Case("bundle-manifest-binary", "bundle", "manifest.json of binary bytes", B, "manifest.json: not UTF-8",
         _profile(lambda b: (b / "manifest.json").write_bytes(BAD_BYTES))),
    Case("bundle-manifest-list", "bundle", "manifest.json that is a JSON list", B, "expected a JSON object",
         _profile(lambda b: (b / "manifest.json").write_text("[]\n"))),
    Case("bundle-manifest-no-artefacts", "bundle", "manifest.json without artefacts", B, "'artefacts'",
         lambda s: s.profile(s.manifest(s.bundle(), lambda m: m.pop("artefacts")))),
    Case("bundle-artefact-no-sha", "bundle", "an artefact entry without sha256", B, "'sha256'",
         lambda s: s.profile(s.manifest(s.bundle(), lambda m: m["artefacts"][0].pop("sha256")))),
    Case("bundle-artefact-outside", "bundle", "an artefact file ../../etc/passwd", B, "outside the bundle",
         lambda s: s.profile(s.manifest(s.bundle(), lambda m: m["artefacts"][0].update(file="../../etc/passwd")))),
    Case("bundle-artefact-truncated", "bundle", "the int8 .onnx cut to half", B, "sha256 differs",
         _profile(lambda b: truncate(b / BUNDLE_ARTEFACT))),
    Case("bundle-artefact-changed", "bundle", "one byte of the int8 .onnx flipped (same size)", B, "sha256 differs",
         _profile(lambda b: flip_byte(b / BUNDLE_ARTEFACT))),
    Case("bundle-artefact-missing", "bundle", "the int8 .onnx deleted", B, "model-int8-dynamic.onnx: missing",
         _profile(lambda b: (b / BUNDLE_ARTEFACT).unlink())),
    Case("bundle-inputs-truncated", "bundle", "inputs/profile.npz cut to half", B, "profile.npz: not a readable",
         _profile(lambda b: truncate(b / "inputs" / "profile.npz"))),
    Case("bundle-inputs-missing", "bundle", "inputs/profile.npz deleted", B, "profile.npz: missing",
         _profile(lambda b: (b / "inputs" / "profile.npz").unlink())),
    Case("bundle-eval-changed", "bundle", "eval of a bundle whose manifest recipe has seq_len 4", B, "seq_len 4",
         lambda s: ["eval", str(s.manifest(s.bundle(), lambda m: m["recipe"].update(seq_len=4))),
                    "--data", str(s.file("ok.tsv", "good film\t1\n"))]),
    Case("profile-unknown-artefact", "bundle", "--artefact onnx-int2", V, "onnx-int2",
         _profile(lambda b: None, "--artefact", "onnx-int2")),
    Case("profile-unknown-device", "device", "--device phone", V, "unknown device 'phone'",
         _profile(lambda b: None, "--device", "phone")),
    Case("report-results-half-line", "bundle", "results.jsonl whose last line is cut", B, "results.jsonl:1",
         _report("results.jsonl", '{"model": "tiny-bert", "artefact": ')),
    Case("report-results-row-fields", "bundle", "a results .jsonl row without latency_ms", B, "rows.jsonl:1",
         _report(None, json.dumps({"model": "m", "artefact": "a"}) + "\n")),
    Case("report-results-binary", "bundle", "a results .jsonl of binary bytes", B, "rows.jsonl: not UTF-8",
         _report(None, BAD_BYTES)),
    Case("report-accuracy-invalid", "bundle", "accuracy.jsonl with a line that is not JSON", B, "accuracy.jsonl:1",
         _report("accuracy.jsonl", "not json\n")),
    Case("report-empty-dir", "bundle", "report of a directory without bundles", B, "no manifest.json",
         _report(None, None)),
    # device profiles (devices/*.yaml, or a path)
    Case("device-unknown", "device profile", "emulated-arm:pixel-99", C, "pixel-99",
         _profile(lambda b: None, "--device", "emulated-arm:pixel-99")),
    Case("device-none", "device profile", "emulated-arm with no profile", C, "names no phone profile",
         _profile(lambda b: None, "--device", "emulated-arm")),
    Case("device-invalid-yaml", "device profile", "a profile with an unclosed bracket", C, "phone.yaml: not valid YAML",
         _device_profile("name: phone\nclusters: [\n")),
    Case("device-binary", "device profile", "a profile of binary bytes", C, "phone.yaml: not UTF-8",
         _device_profile(BAD_BYTES)),
    Case("device-unknown-field", "device profile", "a profile with a field gpu", C, "'gpu'",
         _device_profile(GOOD_DEVICE + "gpu: adreno\n")),
    Case("device-threads", "device profile", "threads: 0", C, "threads 0",
         _device_profile(GOOD_DEVICE.replace("\nthreads: 4\n", "\nthreads: 0\n"))),
    Case("device-name-mismatch", "device profile", "name: pixel-4 in phone.yaml", C, "differs from the file name",
         _device_profile(GOOD_DEVICE.replace("name: phone", "name: pixel-4"))),
    Case("device-target-unknown", "device profile", "export --target naming no device profile", C, "pixel-99",
         lambda s: s.export("--recipe", str(TINY), "--target", "pixel-99")),
    # emulated ARM (qemu)
    Case("qemu-no-sysroot", "qemu", "MOBILECOMP_CACHE without an ARM sysroot", V, "no ARM sysroot", _qemu(None)),
    Case("qemu-corrupt-toolchain", "qemu", "a sysroot and plugin that are not binaries", V, "counting plugin) is broken",
         _qemu(b"#!corrupt\n" + BAD_BYTES)),
    # adb and the runner's output
    Case("adb-no-device", "adb", "no device attached to the adb server", V, "no adb device attached", _adb()),
    Case("adb-wrong-serial", "adb", "--serial ZX1234 that is not attached", V, "ZX1234", _adb("--serial", "ZX1234")),
    Case("adb-connect-closed-port", "adb", "--connect 127.0.0.1 on a closed port", V, "adb connect 127.0.0.1",
         _adb("--connect", "127.0.0.1:{closed}")),
    Case("adb-unauthorized", "adb", "a device that never authorises this host", V, "unauthorized",
         _adb(phone=("--unauthorized",))),
    Case("adb-data-full", "adb", "a device whose /data holds 200 kB", V, "/data is full",
         _adb(phone=("--quota", "200000"))),
    # the runner's first run on a phone is its parity run (outputs dumped to parity-out.bin)
    Case("adb-disconnect", "adb", "the device disconnects while the runner runs", V, "lost adb device",
         _adb(phone=(), runner="sleep 30", unplug_on="parity-out.bin")),
    Case("runner-crash", "runner output", "a runner that dies of SIGSEGV", V, "SIGSEGV",
         _adb(phone=(), runner="echo 'loading model'; kill -SEGV $$")),
    Case("runner-garbage", "runner output", "a runner that prints no timings and exits 0", V, "not understood",
         _adb(phone=(), runner="echo 'hello from a runner'")),
    Case("runner-missing", "runner output", "--runner ort-runner=PATH naming no file", V, "no such file",
         _adb(phone=(), runner=None, runner_path="none")),
]

# What a hostile user found beyond that table (issue 23): each failed before its fix.
T = 8  # ToolchainError
CASES += [
    # data loss
    Case("force-out-is-checkpoint", "data loss", "export --force --out naming the checkpoint it reads", B,
         "an input of this export", _out_is_checkpoint, never="loading"),
    Case("force-out-holds-checkpoint", "data loss", "export --force --out naming the checkpoint's parent", B,
         "an input of this export", _out_holds_checkpoint, never="loading"),
    Case("force-out-not-a-bundle", "data loss", "export --force --out naming a directory of the user's", B,
         "not a mobilecomp bundle", _force_into(_user_dir), never="loading"),
    Case("force-out-foreign-manifest", "data loss", "--force over a directory whose manifest.json is not ours", B,
         "not written by mobilecomp",
         _force_into(lambda s: (_user_dir(s), (s.root / "mine" / "manifest.json").write_text('{"a": 1}'))[0])),
    Case("force-out-file", "data loss", "export --force --out naming a regular file", B, "not a directory",
         _force_into(lambda s: s.file("plain.txt", "the user's"))),
    Case("force-out-cwd", "data loss", "export --out . --force inside a bundle", B, "current directory",
         _out_is_cwd, never="loading"),
    Case("out-lock-name-taken", "data loss", "a file of the user's named like export's lock beside --out", B,
         "not a mobilecomp lock file", lambda s: (s.file("out/.bundle.mobilecomp-lock", "the user's\n"),
                                                  s.export("--recipe", str(TINY)))[1], never="loading"),
    Case("out-appears-mid-export", "data loss", "another process creates --out while the export runs", B,
         "appeared while exporting", lambda s: s.export("--recipe", str(TINY)), drive="appear"),
    # silent wrong results
    Case("checkpoint-config-fewer-layers", "checkpoint", "config.json num_hidden_layers 1 over 2 layers of weights",
         K, "num_hidden_layers is 1", _ckpt(_config_json(num_hidden_layers=1))),
    Case("checkpoint-extra-tensor", "checkpoint", "a tensor no module of the config reads", K, "not used",
         lambda s: _extra_tensor(s)),
    Case("checkpoint-token-head-to-classifier", "checkpoint", "a BertForTokenClassification for a classifier",
         K, "token-classification head",
         lambda s: s.export("--recipe", str(_classifier(s)), "--checkpoint", str(s.checkpoint("BertForTokenClassification")))),
    Case("checkpoint-classifier-to-encoder", "checkpoint", "a BertForSequenceClassification for an encoder", K,
         "use head: classifier",
         lambda s: s.export("--recipe", str(TINY), "--checkpoint", str(s.checkpoint("BertForSequenceClassification")))),
    Case("checkpoint-base-to-classifier", "checkpoint", "a BertModel (no classifier) for a classifier recipe", K,
         "no trained classifier",
         lambda s: s.export("--recipe", str(_classifier(s)), "--checkpoint", str(s.checkpoint()))),
    Case("parity-nul-lines", "parity text", "60 lines of NUL bytes", D, "control character",
         _parity("\x00\x00\n" * 60)),
    Case("parity-form-feeds", "parity text", "25 lines holding a form feed (split only on newlines)", D,
         "control character", _parity("".join(f"page {i}\fnext part\n" for i in range(60)))),
    Case("parity-no-tokens", "parity text", "60 lines of zero-width spaces (no token survives)", D,
         "holds no token", _parity("\u200b\u200b\n" * 60)),
    Case("eval-no-tokens", "eval data", "a labelled sentence of zero-width spaces", D, "holds no token",
         _eval_data("bad.tsv", "good film\t1\n\u200b\u200b\t0\n")),
    Case("device-negative-ghz", "device profile", "max_ghz -2.0", C, "max_ghz",
         _device_profile(GOOD_DEVICE.replace("max_ghz: 2.42", "max_ghz: -2.0"))),
    Case("device-zero-cores", "device profile", "a cluster of 0 cores", C, "core count",
         _device_profile(GOOD_DEVICE.replace("count: 1", "count: 0", 1))),
    Case("device-negative-bandwidth", "device profile", "dram_gbps -5", C, "dram_gbps",
         _device_profile(re.sub(r"dram_gbps: [0-9.]+", "dram_gbps: -5", GOOD_DEVICE))),
    Case("option-threads-negative", "option", "profile --threads -3", C, "--threads",
         lambda s: ["profile", str(s.bundle()), "--threads", "-3"]),
    Case("recipe-num-labels-zero", "recipe", "num_labels: 0 on a classifier", C, "num_labels",
         lambda s: s.export("--recipe", str(_classifier(s, num_labels=0)))),
    # containment
    Case("bundle-artefact-link-outside", "containment", "an artefact linked to a file outside, hashes edited to match",
         B, "leads outside the bundle", lambda s: s.profile(_outside_artefact(s))),
    Case("adb-artefact-link-outside", "containment", "the same bundle profiled over adb (nothing may be pushed)",
         B, "leads outside the bundle",
         lambda s: s.profile(_outside_artefact(s), "--device", "adb", "--artefact", "onnx-int8-dynamic")),
    Case("bundle-vocab-file-outside", "containment", "tokenizer.vocab_file '../outside.txt'", B, "outside the bundle",
         lambda s: s.profile(s.manifest(s.bundle(), lambda m: m["tokenizer"].update(vocab_file="../outside.txt")))),
    Case("bundle-vocab-link-outside", "containment", "the tokenizer's vocabulary linked to a file outside", B,
         "leads outside the bundle", _bundle_special("tokenizer/vocab.txt", "outside")),
    Case("bundle-inputs-link-outside", "containment", "inputs/parity.npz linked to a file outside", B,
         "leads outside the bundle", _bundle_special("inputs/parity.npz", "outside")),
    Case("bundle-manifest-dev-zero", "containment", "manifest.json a link to /dev/zero", B, "leads outside the bundle",
         _bundle_special("manifest.json", "zero")),
    Case("bundle-manifest-fifo", "containment", "manifest.json a FIFO", B, "not a regular file",
         _bundle_special("manifest.json", "fifo")),
    Case("bundle-results-dev-zero", "containment", "results.jsonl a link to /dev/zero (report)", B,
         "leads outside the bundle", _bundle_special("results.jsonl", "zero", command="report")),
    Case("recipe-dev-zero", "recipe", "the recipe a link to /dev/zero", C, "not a regular file",
         _recipe_special("zero")),
    Case("recipe-fifo", "recipe", "the recipe a FIFO", C, "not a regular file", _recipe_special("fifo")),
    Case("device-profile-fifo", "device profile", "the device profile a FIFO", C, "not a regular file",
         lambda s: s.profile(s.bundle(), "--device", f"emulated-arm:{_fifo(s.root / 'phone.yaml')}")),
    # late failures: refused before the work
    Case("out-read-only", "bundle", "--out under a read-only mount", B, "not writable", _out_read_only,
         never="loading"),
    Case("profile-read-only", "bundle", "profile of a bundle on a read-only mount", B, "not writable",
         _profile_read_only),
    Case("out-disk-full-mid-export", "bundle", "the disk fills up while the export writes", B, "no space left",
         lambda s: _tmpfs(s, "40m"), drive="fill"),
    Case("recipe-seq-len-over-positions", "recipe", "max_position_embeddings 16 under seq_len 32", C,
         "max_position_embeddings 16", lambda s: s.export("--recipe", str(s.config(max_position_embeddings=16)))),
    Case("checkpoint-vocab-over-table", "checkpoint", "vocab.txt 20 words longer than the embedding table", K,
         "vocab_size is 4928",
         _ckpt(lambda p: (p / "vocab.txt").write_text((p / "vocab.txt").read_text() + "".join(
             f"extra{i}\n" for i in range(20))))),
    # tampered manifests
    Case("manifest-unknown-head", "bundle", "model.head 'tagger'", B, "model.head",
         lambda s: s.profile(s.manifest(s.bundle(), lambda m: m["model"].update(head="tagger")))),
    Case("manifest-unknown-architecture", "bundle", "model.architecture 'gpt9'", B, "model.architecture",
         lambda s: s.profile(s.manifest(s.bundle(), lambda m: m["model"].update(architecture="gpt9")))),
    Case("manifest-model-empty", "bundle", "model: {} (report)", B, "model.architecture",
         lambda s: ["report", str(s.manifest(s.bundle(), lambda m: m.update(model={}))), "--out",
                    str(s.root / "report")]),
    Case("manifest-recipe-tampered", "bundle", "recipe.variants [int3]", B, "int3",
         lambda s: s.profile(s.manifest(s.bundle(), lambda m: m["recipe"].update(variants=["fp32", "int3"])))),
    Case("results-row-wrong-type", "bundle", "a results row whose latency_ms is a string (report)", B,
         "latency_ms", _report("results.jsonl", json.dumps({
             "model": "tiny-bert", "artefact": "onnx-fp32", "variant": "fp32", "device": "host",
             "provenance": "measured-host", "threads": 1, "seq_len": 32, "batch": 1, "latency_ms": "fast",
             "runner": {}, "device_info": {}}) + "\n")),
    Case("bundle-artefact-garbage", "bundle", "garbage bytes, the manifest's hash edited to match", T,
         "does not load", _profile(_garbage_artefact, "--artefact", "onnx-int8-dynamic")),
    # misconfiguration
    Case("env-adb-missing", "adb", "MOBILECOMP_ADB naming no file", V, "MOBILECOMP_ADB",
         lambda s: (s.env.update(MOBILECOMP_ADB=str(s.root / "none")),
                    s.profile(s.bundle(), "--device", "adb"))[1]),
    Case("env-adb-not-executable", "adb", "MOBILECOMP_ADB naming a file that is not executable", V, "not executable",
         lambda s: (s.env.update(MOBILECOMP_ADB=str(s.file("adb", "#!/bin/sh\n"))),
                    s.profile(s.bundle(), "--device", "adb"))[1]),
    Case("env-cache-is-file", "qemu", "MOBILECOMP_CACHE naming a regular file", C, "MOBILECOMP_CACHE",
         lambda s: (s.env.update(MOBILECOMP_CACHE=str(s.file("cachefile", "x"))),
                    s.profile(s.bundle(), "--device", "emulated-arm:pixel-4"))[1]),
    Case("stf-not-a-url", "adb", "--stf 'not a url'", V, "not an http(s) URL",
         lambda s: (s.env.update(MOBILECOMP_STF_TOKEN="t"),
                    s.profile(s.bundle(), "--device", "adb", "--stf", "not a url"))[1]),
    Case("transplant-unknown-architecture", "option", "transplant --to albert (not transplantable)", C, "albert",
         lambda s: ["transplant", "--to", "albert", "--out", str(s.out)]),
    Case("transplant-out-file", "data loss", "transplant --out naming a regular file of the user's", B,
         "already exists", lambda s: (setattr(s, "out", s.file("plain.txt", "the user's")),
                                      ["transplant", "--to", "electra", "--out", str(s.out)])[1]),
    Case("transplant-out-user-dir", "data loss", "transplant --out naming a directory of the user's", B,
         "already exists", lambda s: (setattr(s, "out", _user_dir(s)),
                                      ["transplant", "--to", "roberta", "--out", str(s.out)])[1]),
    Case("report-out-file", "bundle", "report --out naming a regular file", B, "not a directory",
         lambda s: ["report", str(s.bundle()), "--out", str(s.file("report.txt", "the user's"))]),
    Case("report-out-user-dir", "bundle", "report --out naming a directory of the user's", B, "did not write",
         lambda s: ["report", str(s.bundle()), "--out", str(_user_dir(s))]),
]


def _extra_tensor(scene: Scene) -> list[str]:
    """The tiny checkpoint with one more tensor than its config's model has."""
    from safetensors.numpy import load_file, save_file

    path = scene.checkpoint()
    tensors = load_file(path / "model.safetensors")
    tensors["encoder.extra_projection.weight"] = tensors["pooler.dense.weight"]
    save_file(tensors, path / "model.safetensors", metadata={"format": "pt"})
    return scene.export("--recipe", str(TINY), "--checkpoint", str(path))


# ---- running a case ------------------------------------------------------------------------------


def run_case(case: Case, scene: Scene) -> Outcome:
    """Drive the real CLI with the case's input; what it printed, exited with, left behind and changed."""
    args = case.make(scene)
    before = snapshot(scene.root, skip=scene.out)
    theirs = snapshot(scene.out, skip=scene.out / "none")  # an --out the user already had must stay as it was
    if case.drive == "cli":
        code, stderr, uncaught = run_cli(args, scene)
    elif case.drive in ("sigint", "sigterm"):
        code, stderr = _interrupt(args, scene, signal.SIGINT if case.drive == "sigint" else signal.SIGTERM)
        uncaught = False
    else:
        code, stderr = _midway(args, scene, case.drive)
        uncaught = False
    after = snapshot(scene.root, skip=scene.out)
    changed = sorted(name for name in before if before[name] != after.get(name))
    leftovers = [str(p) for p in (scene.out / "manifest.json",) if p.exists()] if not theirs else []
    changed += [f"{scene.out}/{name}" for name in theirs if theirs[name] != snapshot(scene.out, scene.out / "none").get(name)]
    leftovers += [str(p) for root in {scene.root, scene.out.parent} if root.exists()
                  for p in root.rglob(f"{PARTIAL_PREFIX}*")]
    return Outcome(code, stderr, uncaught or "Traceback" in stderr, leftovers, changed)


def run_cli(args: list[str], scene: Scene) -> tuple[int, str, bool]:
    """(exit code, stderr, whether an exception escaped) of the CLI in process, run in ``scene.cwd``."""
    import contextlib

    from click.testing import CliRunner

    from mobilecomp.cli import main

    with contextlib.chdir(scene.cwd or Path.cwd()):
        result = CliRunner().invoke(main, args, env=scene.env)
    uncaught = result.exception is not None and not isinstance(result.exception, SystemExit)
    if uncaught:  # what the user would have seen
        import traceback

        return result.exit_code, result.stderr + "".join(traceback.format_exception(*result.exc_info)), True
    return result.exit_code, result.stderr, uncaught


def snapshot(root: Path, skip: Path) -> dict[str, str]:
    """Every file, link and directory under ``root`` (not ``skip``, the --out that must stay empty, nor a
    mount, nor the locks and caches mobilecomp keeps) with its content hash or link target."""
    found = {}
    if not root.exists():
        return found
    for path in sorted(root.rglob("*")):
        if skip in (path, *path.parents) or any(p.is_mount() for p in (path, *path.parents) if root in p.parents):
            continue
        if {"cache", "phone", "phone.log"} & set(path.relative_to(root).parts):
            continue  # mobilecomp's caches, the loopback phone's own storage and log
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = f"-> {os.readlink(path)}"
        elif path.is_file():
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            found[rel] = "dir" if path.is_dir() else "special"
    return found


def _started(args: list[str], scene: Scene) -> subprocess.Popen:
    """The CLI as a subprocess, returned once its temporary bundle directory holds its inputs."""
    proc = subprocess.Popen([sys.executable, "-m", "mobilecomp", *args], env={**os.environ, **scene.env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if list(scene.out.parent.glob(f"{PARTIAL_PREFIX}*/inputs")):
            return proc
        time.sleep(0.01)
    proc.kill()
    raise AssertionError(f"no {PARTIAL_PREFIX} directory was written: {proc.communicate()[1][-500:]}")


def _interrupt(args: list[str], scene: Scene, signum: int) -> tuple[int, str]:
    """The CLI as a subprocess, signalled once its temporary bundle directory holds files."""
    proc = _started(args, scene)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr


@pytest.fixture(scope="module")
def materials(tmp_path_factory, tiny_bundle) -> Materials:
    return Materials(tmp_path_factory.mktemp("faults"), bundle=tiny_bundle)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fault(case: Case, materials: Materials, tmp_path):
    scene = Scene(tmp_path, materials)
    try:
        outcome = run_case(case, scene)
    except Unavailable as exc:
        pytest.skip(str(exc))
    finally:
        scene.close()
    assert not outcome.traceback, outcome.stderr
    assert outcome.code == case.code, outcome.stderr
    assert len(outcome.error_lines) == 1, outcome.stderr
    assert case.says in outcome.error_lines[0], outcome.stderr
    assert not outcome.leftovers
    assert not outcome.changed, f"the user's files changed: {outcome.changed}"
    assert not case.never or case.never not in outcome.stderr, outcome.stderr


def test_table_covers_every_boundary_and_60_cases():
    assert len({c.id for c in CASES}) == len(CASES) >= 60
    assert {c.boundary for c in CASES} >= {"recipe", "checkpoint", "tokenizer", "parity text", "eval data",
                                           "bundle", "device profile", "qemu", "adb", "runner output"}


def test_a_bug_keeps_its_traceback_and_debug_shows_ours(monkeypatch):
    """Only MobilecompError becomes one line: anything else is a bug and must stay visible."""
    from click.testing import CliRunner

    from mobilecomp import recipe
    from mobilecomp.cli import main

    monkeypatch.setattr(recipe, "recipe_paths", lambda *a: 1 / 0)
    result = CliRunner().invoke(main, ["recipes"])
    assert isinstance(result.exception, ZeroDivisionError) and ERROR not in result.stderr
    monkeypatch.undo()
    result = CliRunner().invoke(main, ["--debug", "export", "--recipe", "no-such-recipe"])
    assert isinstance(result.exception, ConfigError) and "unknown recipe" in str(result.exception)


def test_interrupted_profile_keeps_whole_rows_and_resume_measures_the_rest(tiny_bundle, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from mobilecomp import pipeline
    from mobilecomp.bundle import read_results
    from mobilecomp.cli import main

    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle, ignore=shutil.ignore_patterns("results.*", "accuracy.jsonl"))
    real, calls = pipeline.profile, []

    def interrupted_on_second(*args):
        calls.append(args[-1].artefacts)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(pipeline, "profile", interrupted_on_second)
    args = ["profile", str(bundle), "--threads", "1", "--runs", "20", "--warmup", "1", "--resume", "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 130 and len([ln for ln in result.stderr.splitlines() if ln.startswith(ERROR)]) == 1
    assert calls == [("onnx-fp32",), ("onnx-int8-dynamic",)]  # one artefact at a time
    assert [r["artefact"] for r in read_results(bundle)] == ["onnx-fp32"]
    assert (bundle / "results.jsonl").read_text().endswith("}\n")
    monkeypatch.undo()

    def measured(extra: list[str]) -> list[str]:
        result = CliRunner().invoke(main, args + extra)
        assert result.exit_code == 0, result.output
        return [r["artefact"] for r in json.loads(result.stdout)]

    assert measured([]) == ["onnx-int8-dynamic"]  # the rerun resumes after the kept row
    assert measured([]) == []  # everything measured alike
    assert measured(["--runs", "21"]) == ["onnx-fp32", "onnx-int8-dynamic"]  # other runs: measured again
    assert len(read_results(bundle)) == 4
