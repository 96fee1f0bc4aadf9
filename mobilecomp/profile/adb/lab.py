"""Which adb devices one `profile --device adb` call uses: serials, connects, a remote adb server, STF.

A lab is whatever infrastructure already serves adb: ``--serial A,B`` on the local server,
``--connect H:P,H2:P2`` (each `adb connect`ed), ``--adb-server HOST:PORT`` (every ready device of a
remote server, reached the standard way with `adb -H HOST -P PORT`), or ``--stf URL`` (a
DeviceFarmer/STF server: its devices are claimed, remote-connected and `adb connect`ed, and released
in a finally). The sources combine: ``--serial`` picks among a server's or STF's devices.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ...errors import ConfigError, DeviceError
from .transport import Adb


def split_list(value: str | None) -> list[str]:
    """'A, B,,C' -> ['A', 'B', 'C'] (order kept, repeats dropped)."""
    return list(dict.fromkeys(v.strip() for v in (value or "").split(",") if v.strip()))


def parse_server(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--adb-server '{value}' is not HOST:PORT (e.g. 10.0.0.5:5037)")
    return host, int(port)


@contextmanager
def lab_devices(spec: str, extra: dict, say: Callable[[str], None]) -> Iterator[list[Adb]]:
    """One :class:`Adb` per device to profile (not yet checked: each device's own thread does that)."""
    serials = split_list(extra.get("serial")) or ([spec.split(":", 1)[1]] if ":" in spec else [])
    if extra.get("stf"):
        if extra.get("adb_server"):
            raise ConfigError("--stf and --adb-server both name the lab; pass one of them")
        from .stf import stf_devices

        with stf_devices(extra["stf"], serials, say) as urls:
            yield _connected(urls, None, extra.get("adb_port"), say)
        return
    host, port = parse_server(extra["adb_server"]) if extra.get("adb_server") else (None, extra.get("adb_port"))
    adbs = _connected(split_list(extra.get("connect")), host, port, say)
    if serials:
        adbs += [Adb(serial=s, port=port, host=host) for s in serials if s not in {a.serial for a in adbs}]
    elif host and not adbs:
        adbs = _ready(Adb(port=port, host=host), say)
    yield adbs or [Adb(port=port, host=host)]  # no serial: the one attached device


def _connected(hostports: list[str], host: str | None, port: int | None, say) -> list[Adb]:
    adbs = []
    for hostport in hostports:
        adb = Adb(port=port, host=host)
        adb.connect(hostport)
        adbs.append(adb)
    if len(adbs) > 1:
        say(f"connected {len(adbs)} devices on adb server {adbs[0].server}")
    return adbs


def _ready(server: Adb, say) -> list[Adb]:
    """Every device of a server in state 'device'; the others are named and left out."""
    server.start_server()
    devices = server.devices()
    ready = [s for s, state in devices if state == "device"]
    others = [f"{s} ({state})" for s, state in devices if state != "device"]
    if others:
        say(f"leaving out {', '.join(others)}: not ready on {server.server}")
    if not ready:
        raise DeviceError(f"adb server {server.server} has no ready device (attached: "
                          f"{', '.join(others) or 'none'}); attach or authorise phones there, or fix --adb-server")
    say(f"adb server {server.server}: {len(ready)} ready device(s): {', '.join(ready)}")
    return [Adb(serial=s, port=server.port, host=server.host) for s in ready]
