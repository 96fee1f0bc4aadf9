"""DeviceFarmer/STF as a source of adb devices, through its documented REST API (/api/v1).

List the devices (``GET /devices``), claim the free ones (``POST /user/devices``), ask each for an
adb address (``POST /user/devices/{serial}/remoteConnect``), and on the way out, in a finally,
disconnect and release every claimed one (``DELETE .../remoteConnect``, ``DELETE
/user/devices/{serial}``). The access token comes from $MOBILECOMP_STF_TOKEN (STF: Settings >
Keys > Access Tokens) and travels as ``Authorization: Bearer``.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import quote

from ...errors import DeviceError

TOKEN_ENV = "MOBILECOMP_STF_TOKEN"
CLAIM_MS = 30 * 60 * 1000  # STF frees a claimed device after this much idle time if we never release it
FIELDS = "serial,present,ready,using,owner,model,manufacturer,sdk"


class Stf:
    """A thin client of one STF server's REST API; every fault is a one-line DeviceError."""

    def __init__(self, url: str, token: str, timeout: float = 30) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise DeviceError(f"--stf {url!r}: not an http(s) URL of an STF server (e.g. https://stf.example:7100)")
        self.base = url.rstrip("/") + "/api/v1"
        self.token, self.timeout = token, timeout

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = _description(exc.read())
            if exc.code == 401:
                raise DeviceError(f"STF {self.base} refused the token ({detail or 'HTTP 401'}); put a valid "
                                  f"access token in ${TOKEN_ENV}") from None
            raise DeviceError(f"STF {method} {path} failed: HTTP {exc.code} {detail}".rstrip()) from None
        except (urllib.error.URLError, OSError, json.JSONDecodeError) as exc:
            raise DeviceError(f"STF {self.base} did not answer {method} {path} ({getattr(exc, 'reason', exc)}); "
                              "check --stf URL") from None

    def devices(self) -> list[dict]:
        return self.call("GET", f"/devices?fields={FIELDS}").get("devices", [])

    def claim(self, serial: str) -> None:
        self.call("POST", "/user/devices", {"serial": serial, "timeout": CLAIM_MS})

    def remote_connect(self, serial: str) -> str:
        url = self.call("POST", f"/user/devices/{quote(serial, safe='')}/remoteConnect").get("remoteConnectUrl")
        if not url:
            raise DeviceError(f"STF gave no remoteConnectUrl for {serial}; is remote debugging allowed on that server?")
        return url

    def release(self, serial: str) -> None:
        path = f"/user/devices/{quote(serial, safe='')}"
        try:
            self.call("DELETE", f"{path}/remoteConnect")
        finally:
            self.call("DELETE", path)


def _description(raw: bytes) -> str:
    try:
        return str(json.loads(raw).get("description", "")).strip()
    except (json.JSONDecodeError, AttributeError):
        return raw.decode(errors="replace").strip()[:120]


def free(device: dict) -> bool:
    """Present, ready and nobody's: the devices STF lets us claim."""
    return bool(device.get("present") and device.get("ready") and not device.get("using") and not device.get("owner"))


@contextmanager
def stf_devices(url: str, serials: list[str], say: Callable[[str], None]) -> Iterator[list[str]]:
    """The adb addresses of the claimed devices (all free ones, or ``serials``); released on exit."""
    token = os.environ.get(TOKEN_ENV)
    if not token:
        raise DeviceError(f"--stf needs an access token in ${TOKEN_ENV} (STF: Settings > Keys > Access Tokens)")
    stf = Stf(url, token)
    listed = stf.devices()
    ready = [d["serial"] for d in listed if free(d)]
    if serials:
        missing = [s for s in serials if s not in ready]
        if missing:
            raise DeviceError(f"STF {url} has no free device '{missing[0]}' (free: {', '.join(ready) or 'none'})")
        ready = serials
    if not ready:
        raise DeviceError(f"STF {url} has no free device ({len(listed)} listed, all in use, absent or not ready)")
    claimed: list[str] = []
    try:
        urls = []
        for serial in ready:
            stf.claim(serial)
            claimed.append(serial)
            urls.append(stf.remote_connect(serial))
            say(f"STF: claimed {serial}, adb at {urls[-1]}")
        yield urls
    finally:
        for serial in claimed:
            try:
                stf.release(serial)
                say(f"STF: released {serial}")
            except DeviceError as exc:  # the others must still be released
                say(f"STF: could not release {serial} ({exc}); it frees itself after {CLAIM_MS // 60000} min")
