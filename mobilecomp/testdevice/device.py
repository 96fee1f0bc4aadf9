"""The device side of the adb wire protocol over TCP on 127.0.0.1: streams, shell v1/v2, sync.

A real adb server (`adb connect 127.0.0.1:PORT`) talks to this exactly as to a phone's adbd
in TCP mode: CNXN without AUTH, then OPEN/OKAY/WRTE/CLSE streams carrying the services
``shell:`` (v1: one merged byte stream), ``shell,v2,...:`` (packets with separate stdout,
stderr and the exit code), ``exec:`` and ``sync:`` (STAT/LIST/SEND/RECV/DATA/DONE/QUIT).
Commands really run, through :class:`Sandbox`, and pushed files are really stored.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

from .sandbox import Sandbox, read_props

log = logging.getLogger("mobilecomp.testdevice")

A_SYNC, A_CNXN, A_OPEN, A_OKAY = 0x434E5953, 0x4E584E43, 0x4E45504F, 0x59414B4F
A_CLSE, A_WRTE, A_AUTH, A_STLS = 0x45534C43, 0x45545257, 0x48545541, 0x534C5453
A_VERSION = 0x01000001  # checksums skipped by peers at this version; we still send them
MAX_PAYLOAD = 256 * 1024
FEATURES = "shell_v2,cmd,stat_v2,ls_v2,fixed_push_mkdir"
# shell v2 packet ids
SH_STDIN, SH_STDOUT, SH_STDERR, SH_EXIT, SH_CLOSE_STDIN, SH_WINDOW = range(6)
SYNC_DATA_MAX = 64 * 1024
S_IFREG, S_IFDIR = 0o100000, 0o040000


def _pack(cmd: int, arg0: int, arg1: int, data: bytes = b"") -> bytes:
    return struct.pack("<6I", cmd, arg0, arg1, len(data), sum(data) & 0xFFFFFFFF,
                       cmd ^ 0xFFFFFFFF) + data


class Closed(Exception):
    """The host closed the stream or the connection."""


class Stream:
    """One OPENed service: its writes wait for the host's OKAY (one WRTE in flight)."""

    def __init__(self, conn: Connection, local: int, remote: int) -> None:
        self.conn, self.local, self.remote = conn, local, remote
        self.okay = threading.Event()
        self.okay.set()
        self.closed = threading.Event()
        self.inbox: list[bytes] = []
        self.cond = threading.Condition()

    def write(self, data: bytes) -> None:
        step = max(1024, self.conn.max_payload)
        for i in range(0, len(data), step):
            while not self.okay.wait(0.5):
                if self.closed.is_set() or self.conn.dead.is_set():
                    raise Closed()
            if self.closed.is_set():
                raise Closed()
            self.okay.clear()
            self.conn.send(A_WRTE, self.local, self.remote, data[i:i + step])

    def deliver(self, data: bytes) -> None:
        with self.cond:
            self.inbox.append(data)
            self.cond.notify_all()
        self.conn.send(A_OKAY, self.local, self.remote)

    def read(self, timeout: float | None = None) -> bytes:
        """The next chunk the host wrote; b"" once it closed the stream."""
        with self.cond:
            while not self.inbox:
                if self.closed.is_set() or self.conn.dead.is_set():
                    return b""
                self.cond.wait(timeout or 0.5)
            return self.inbox.pop(0)

    def close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            with self.cond:
                self.cond.notify_all()
            self.conn.send(A_CLSE, self.local, self.remote)
            self.conn.streams.pop(self.local, None)


class Reader:
    """Exact-length reads over a stream's WRTE chunks (sync requests span chunk boundaries)."""

    def __init__(self, stream: Stream) -> None:
        self.stream, self.buf = stream, bytearray()

    def exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.stream.read()
            if not chunk:
                raise Closed()
            self.buf += chunk
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


class Connection:
    """One adb host connection: CNXN handshake, then a reader loop dispatching to streams."""

    def __init__(self, sock: socket.socket, device: TestDevice) -> None:
        self.sock, self.device = sock, device
        self.lock = threading.Lock()
        self.streams: dict[int, Stream] = {}
        self.next_id = 1
        self.max_payload = 4096
        self.dead = threading.Event()

    def send(self, cmd: int, arg0: int, arg1: int, data: bytes = b"") -> None:
        with self.lock:
            try:
                self.sock.sendall(_pack(cmd, arg0, arg1, data))
            except OSError:
                self.dead.set()

    def _recv(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise Closed()
            buf += chunk
        return bytes(buf)

    def serve(self) -> None:
        try:
            while True:
                cmd, arg0, arg1, length, _check, magic = struct.unpack("<6I", self._recv(24))
                if magic != cmd ^ 0xFFFFFFFF:
                    log.warning("bad magic, dropping connection")
                    return
                data = self._recv(length) if length else b""
                self.dispatch(cmd, arg0, arg1, data)
        except (Closed, OSError):
            pass
        finally:
            self.dead.set()
            for stream in list(self.streams.values()):
                stream.closed.set()
                stream.okay.set()
            try:
                self.sock.close()
            except OSError:
                pass

    def dispatch(self, cmd: int, arg0: int, arg1: int, data: bytes) -> None:
        if cmd == A_CNXN and self.device.unauthorized:  # ask for a key and never accept one
            self.send(A_AUTH, 1, 0, os.urandom(20))
        elif cmd == A_AUTH:
            if arg0 == 2:  # a signature: refuse it, as a phone whose user has not tapped "Allow"
                self.send(A_AUTH, 1, 0, os.urandom(20))
        elif cmd == A_CNXN:
            self.max_payload = min(arg1 or 4096, MAX_PAYLOAD)
            banner = ";".join(f"{k}={v}" for k, v in self.device.banner_props().items())
            self.send(A_CNXN, A_VERSION, MAX_PAYLOAD, f"device::{banner};features={FEATURES}".encode())
        elif cmd == A_OPEN:
            service = data.rstrip(b"\0").decode(errors="replace")
            local, self.next_id = self.next_id, self.next_id + 1
            stream = Stream(self, local, arg0)
            handler = self.device.handler(service)
            if handler is None:
                self.send(A_CLSE, 0, arg0)
                return
            self.streams[local] = stream
            self.send(A_OKAY, local, arg0)
            threading.Thread(target=self._run, args=(handler, stream, service), daemon=True).start()
        elif cmd == A_OKAY:
            stream = self.streams.get(arg1)
            if stream is not None:
                stream.remote = arg0
                stream.okay.set()
        elif cmd == A_WRTE:
            stream = self.streams.get(arg1)
            if stream is not None:
                stream.deliver(data)
        elif cmd == A_CLSE:
            stream = self.streams.pop(arg1, None)
            if stream is not None:
                stream.closed.set()
                stream.okay.set()
                with stream.cond:
                    stream.cond.notify_all()
        # A_STLS / A_SYNC: never asked for, ignored

    def _run(self, handler, stream: Stream, service: str) -> None:
        try:
            handler(stream, service)
        except Closed:
            pass
        except Exception:  # a handler bug must not take the device down
            log.exception("service %s failed", service)
        finally:
            stream.close()


class TestDevice:
    """Listens on 127.0.0.1:port and serves every adb host that connects."""

    def __init__(self, sandbox: Sandbox, port: int = 0, serialno: str = "mobilecomp-testdevice",
                 command_timeout: float = 900.0, unauthorized: bool = False) -> None:
        self.sandbox = sandbox
        self.unauthorized = unauthorized  # answer CNXN with AUTH and accept no key
        self.serialno = serialno
        self.command_timeout = command_timeout
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.procs: set[subprocess.Popen] = set()

    def banner_props(self) -> dict[str, str]:
        props = read_props(self.sandbox.props)
        return {"ro.product.name": props.get("ro.product.name", "mobilecomp_testdevice"),
                "ro.product.model": props.get("ro.product.model", "testdevice").replace(" ", "_"),
                "ro.product.device": props.get("ro.product.device", "testdevice")}

    def serve_forever(self) -> None:
        # accept() wakes twice a second so a SIGTERM (an unplug) that the kernel handed to a
        # worker thread still runs its Python handler in this thread promptly.
        self.listener.settimeout(0.5)
        while True:
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=Connection(sock, self).serve, daemon=True).start()

    # ---- services -------------------------------------------------------------------------

    def handler(self, service: str):
        if service.startswith("shell,") or service.startswith("shell:"):
            head, _, cmd = service.partition(":")
            args = head.split(",")[1:]
            if not cmd.strip():
                return None  # interactive shells are not offered
            if "v2" in args:
                return lambda s, _svc: self.shell_v2(s, cmd)
            return lambda s, _svc: self.shell_v1(s, cmd, merge=True)
        if service.startswith("exec:"):
            return lambda s, _svc: self.shell_v1(s, service[5:], merge=False)
        if service.startswith("sync:"):
            return lambda s, _svc: self.sync(s)
        return None

    def _spawn(self, cmd: str, merge: bool) -> subprocess.Popen:
        host_cmd = self.sandbox.command(cmd)
        proc = subprocess.Popen(["/bin/sh", "-c", host_cmd], cwd=self.sandbox.root,
                                env=self.sandbox.env(), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT if merge else subprocess.PIPE,
                                start_new_session=True)
        self.procs.add(proc)
        # Logged once registered: whoever reads the log to unplug the device mid-command finds the
        # command among those the unplug takes down.
        log.info("exec %s", cmd)
        return proc

    def _reap(self, proc: subprocess.Popen, stream: Stream) -> int:
        deadline = time.monotonic() + self.command_timeout
        while True:
            try:
                return proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                if stream.closed.is_set() or self.conn_dead(stream) or time.monotonic() > deadline:
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            finally:
                if proc.returncode is not None:
                    self.procs.discard(proc)

    @staticmethod
    def conn_dead(stream: Stream) -> bool:
        return stream.conn.dead.is_set()

    def shell_v1(self, stream: Stream, cmd: str, merge: bool) -> None:
        proc = self._spawn(cmd, merge)
        proc.stdin.close()
        if not merge:
            threading.Thread(target=proc.stderr.read, daemon=True).start()
        try:
            for chunk in iter(lambda: os.read(proc.stdout.fileno(), 65536), b""):
                stream.write(chunk)
        finally:
            self._reap(proc, stream)

    def shell_v2(self, stream: Stream, cmd: str) -> None:
        proc = self._spawn(cmd, merge=False)

        def pump(pipe, ident: int) -> None:
            try:
                for chunk in iter(lambda: os.read(pipe.fileno(), 65536), b""):
                    stream.write(struct.pack("<BI", ident, len(chunk)) + chunk)
            except Closed:
                pass

        def feed_stdin() -> None:
            reader = Reader(stream)
            try:
                while True:
                    ident, length = struct.unpack("<BI", reader.exact(5))
                    data = reader.exact(length) if length else b""
                    if ident == SH_STDIN:
                        proc.stdin.write(data)
                        proc.stdin.flush()
                    elif ident == SH_CLOSE_STDIN:
                        proc.stdin.close()
            except (Closed, OSError, ValueError):
                pass
            finally:
                try:
                    proc.stdin.close()
                except OSError:
                    pass

        pumps = [threading.Thread(target=pump, args=(proc.stdout, SH_STDOUT), daemon=True),
                 threading.Thread(target=pump, args=(proc.stderr, SH_STDERR), daemon=True)]
        for t in pumps:
            t.start()
        threading.Thread(target=feed_stdin, daemon=True).start()
        code = self._reap(proc, stream)
        for t in pumps:
            t.join()
        code = code if code >= 0 else 128 - code  # killed by signal N: the shell's 128+N
        stream.write(struct.pack("<BIB", SH_EXIT, 1, code & 0xFF))

    def sync(self, stream: Stream) -> None:
        reader = Reader(stream)
        while True:
            ident, length = struct.unpack("<4sI", reader.exact(8))
            if ident == b"QUIT":
                return
            path = reader.exact(length).decode(errors="replace")
            if ident in (b"STAT", b"LST2", b"STA2"):
                self._stat(stream, ident, path)
            elif ident in (b"LIST", b"LIS2"):
                self._list(stream, ident, path)
            elif ident == b"SEND":
                self._send(stream, reader, path)
            elif ident == b"RECV":
                self._recv(stream, path)
            else:
                stream.write(_fail(f"unknown sync request {ident!r}"))
                return

    def _stat(self, stream: Stream, ident: bytes, path: str) -> None:
        host = self.sandbox.host_path(path)
        try:
            st = os.stat(host)
        except OSError as exc:
            if ident == b"STAT":
                stream.write(b"STAT" + struct.pack("<3I", 0, 0, 0))
            else:
                stream.write(ident + struct.pack("<I", exc.errno or 2) + bytes(64))
            return
        if ident == b"STAT":
            stream.write(b"STAT" + struct.pack("<3I", st.st_mode & 0xFFFFFFFF, st.st_size & 0xFFFFFFFF,
                                               int(st.st_mtime)))
        else:  # stat_v2: error, dev, ino, mode, nlink, uid, gid, size, atime, mtime, ctime
            stream.write(ident + struct.pack("<IQQIIIIQqqq", 0, st.st_dev, st.st_ino, st.st_mode,
                                             st.st_nlink, st.st_uid, st.st_gid, st.st_size,
                                             int(st.st_atime), int(st.st_mtime), int(st.st_ctime)))

    def _list(self, stream: Stream, ident: bytes, path: str) -> None:
        host = self.sandbox.host_path(path)
        names = sorted(os.listdir(host)) if host and os.path.isdir(host) else []
        for name in names:
            try:
                st = os.lstat(os.path.join(host, name))
            except OSError:
                continue
            raw = name.encode()
            if ident == b"LIST":
                stream.write(b"DENT" + struct.pack("<4I", st.st_mode, st.st_size & 0xFFFFFFFF,
                                                   int(st.st_mtime), len(raw)) + raw)
            else:
                stream.write(b"DNT2" + struct.pack("<IQQIIIIQqqqI", 0, st.st_dev, st.st_ino, st.st_mode,
                                                   st.st_nlink, st.st_uid, st.st_gid, st.st_size,
                                                   int(st.st_atime), int(st.st_mtime),
                                                   int(st.st_ctime), len(raw)) + raw)
        if ident == b"LIST":
            stream.write(b"DONE" + bytes(16))
        else:
            stream.write(b"DONE" + bytes(72))

    def _send(self, stream: Stream, reader: Reader, spec: str) -> None:
        path, _, mode = spec.rpartition(",")
        host = self.sandbox.host_path(path, for_write=True)
        error = None if host is not None else f"{path}: Read-only file system"
        quota = self.sandbox.quota_bytes
        used = self.sandbox.used_bytes() if quota is not None else 0
        chunks = []
        while True:
            ident, length = struct.unpack("<4sI", reader.exact(8))
            if ident == b"DATA":
                data = reader.exact(length)
                used += len(data)
                if quota is not None and used > quota and error is None:
                    error = f"{path}: No space left on device"
                if error is None:
                    chunks.append(data)
            elif ident == b"DONE":
                mtime = length
                break
            else:
                stream.write(_fail(f"unexpected sync id {ident!r} during SEND"))
                raise Closed()
        if error is None:
            try:
                host.parent.mkdir(parents=True, exist_ok=True)
                tmp = host.with_name(f".{host.name}.part")
                with open(tmp, "wb") as fh:
                    for data in chunks:
                        fh.write(data)
                os.chmod(tmp, int(mode or "644", 10) & 0o7777)
                os.replace(tmp, host)
                os.utime(host, (mtime, mtime))
            except OSError as exc:
                error = f"{path}: {exc.strerror}"
        stream.write(_fail(error) if error else b"OKAY" + struct.pack("<I", 0))

    def _recv(self, stream: Stream, path: str) -> None:
        host = self.sandbox.host_path(path)
        try:
            with open(host, "rb") as fh:
                while chunk := fh.read(SYNC_DATA_MAX):
                    stream.write(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
        except OSError as exc:
            stream.write(_fail(f"{path}: {exc.strerror}"))
            return
        stream.write(b"DONE" + struct.pack("<I", 0))


def _fail(message: str) -> bytes:
    raw = message.encode()
    return b"FAIL" + struct.pack("<I", len(raw)) + raw


def start(root: Path, props: Path, port: int = 0, **kw) -> TestDevice:
    """A device serving in a background thread (for in-process use; tests use the command)."""
    device = TestDevice(Sandbox(Path(root), Path(props), **kw), port)
    threading.Thread(target=device.serve_forever, daemon=True).start()
    return device
