"""TRMNL devices (BYOS API): setup, display, log. Routed with and without a trailing slash, as
the firmware asks for `/api/setup/`. An authentication problem answers HTTP 404 with a JSON body,
never `status: 500` (which the firmware takes as "erase yourself"); see docs/http.md.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field

from aiohttp import web

from .http_guard import RateLimit, escape_controls, read_body
from .pulls import PULLS
from .service import DisplayRuntime, Service
from .state import StateError, device_secret

log = logging.getLogger("stopcast.http")

LOG_LIMIT = 16 * 1024  # bytes of one device log post
LOG_RATE = (10, 60.0)  # posts per device per window of seconds


@dataclass
class Devices:
    """What the HTTP side keeps for TRMNL devices: the key secret (read once) and the log rate."""

    service: Service
    secret: bytes | None = None
    log_rate: RateLimit = field(default_factory=lambda: RateLimit(*LOG_RATE))

    def key(self, device_id: str) -> str:
        """The API key of a device: HMAC of its MAC with the state folder's random secret
        (HTTP 503 when the state folder cannot keep the secret)."""
        if self.secret is None:
            try:
                self.secret = device_secret(self.service.config.state_dir())
            except StateError as exc:
                log.error("TRMNL: %s", exc)
                raise web.HTTPServiceUnavailable(text="device keys are unavailable (state folder)",
                                                 headers={"Retry-After": "60"}) from None
        return hmac.new(self.secret, device_id.strip().upper().encode(), hashlib.sha256).hexdigest()[:22]

    def runtime(self, device_id: str) -> DisplayRuntime | None:
        """The display a device's MAC is configured on."""
        wanted = device_id.strip().upper()
        return next((r for r in self.service.displays.values() if wanted and r.config.trmnl_id.upper() == wanted), None)

    def authenticated(self, request: web.Request) -> DisplayRuntime:
        """The device's display when ID and Access-Token match; else HTTP 404 with a JSON body."""
        device_id = request.headers.get("ID", "")
        runtime = self.runtime(device_id)
        expected = self.key(device_id) if runtime is not None else ""
        token = request.headers.get("Access-Token", "")
        if runtime is None or not token.isascii() or not hmac.compare_digest(token.encode(), expected.encode()):
            raise web.HTTPNotFound(text="unknown device or access token")
        return runtime


DEVICES = web.AppKey("trmnl_devices", Devices)


def _base_url(request: web.Request, service: Service) -> str:
    return service.config.http.public_url or f"{request.scheme}://{request.host}"


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    return value if value is not None and abs(value) < 1e9 else None


async def setup(request: web.Request) -> web.Response:
    """GET /api/setup[/] with the ID header: the device's API key."""
    devices = request.app[DEVICES]
    device_id = request.headers.get("ID", "")
    runtime = devices.runtime(device_id)
    if runtime is None:
        return web.json_response({"status": 404, "api_key": None, "friendly_id": None, "image_url": None,
                                  "message": f"device {escape_controls(device_id[:32])} is not configured "
                                             "(set trmnl_id on a display)"}, status=404)
    return web.json_response({
        "status": 200, "api_key": devices.key(device_id), "friendly_id": runtime.config.id.upper()[:16],
        "image_url": f"{_base_url(request, devices.service)}/displays/{runtime.config.id}/frame.bmp",
        "message": "Welcome to stopcast",
    })


async def display(request: web.Request) -> web.Response:
    """GET /api/display[/]: what to show and when to wake next."""
    devices = request.app[DEVICES]
    service = devices.service
    runtime = devices.authenticated(request)
    now = int(service.clock.now())
    state = request.app[PULLS].of(runtime.config.id)
    state.pulled_by(f"TRMNL {request.headers.get('ID', '')[:32]}", now)
    state.device = {
        "battery_v": _number(request.headers.get("Battery-Voltage")), "rssi": _number(request.headers.get("RSSI")),
        "fw": escape_controls(request.headers.get("FW-Version", "")[:32]), "width": _number(request.headers.get("Width")),
        "height": _number(request.headers.get("Height")), "seen": now,
    }
    if runtime.frame is None or runtime.board is None:
        return web.json_response({"status": 0, "image_url": None, "filename": None, "refresh_rate": 30,
                                  "reset_firmware": False, "update_firmware": False, "firmware_url": None,
                                  "special_function": "none", "image_url_timeout": 0})
    filename = f"{runtime.frame.hash:08x}"
    refresh = max(runtime.config.trmnl_refresh, runtime.board.next_change - now)
    return web.json_response({
        "status": 0,
        "image_url": f"{_base_url(request, service)}/displays/{runtime.config.id}/frame.bmp?h={filename}",
        "filename": filename,
        "refresh_rate": refresh,
        "reset_firmware": False,
        "update_firmware": False,
        "firmware_url": None,
        "special_function": "none",
        "image_url_timeout": 0,
    })


async def device_log(request: web.Request) -> web.Response:
    """POST /api/log[/]: the device's log, kept in the service log (authenticated, bounded, rate-limited,
    control characters escaped so that a device cannot forge log lines)."""
    devices = request.app[DEVICES]
    runtime = devices.authenticated(request)
    display_id = runtime.config.id
    if not devices.log_rate.allow(display_id, devices.service.clock.now()):
        raise web.HTTPTooManyRequests(text=f"at most {LOG_RATE[0]} log posts per {LOG_RATE[1]:g} s per device",
                                      headers={"Retry-After": str(int(LOG_RATE[1]))})
    body = await read_body(request, LOG_LIMIT)
    log.info("TRMNL %s log: %s", display_id, escape_controls(body[:2000].decode("utf-8", "replace")))
    return web.Response(status=204)


def add_trmnl_routes(app: web.Application, service: Service) -> None:
    """Register the TRMNL device API on `app`."""
    app[DEVICES] = Devices(service)
    for path, method, handler in (("/api/setup", "GET", setup), ("/api/display", "GET", display),
                                  ("/api/log", "POST", device_log)):
        app.router.add_route(method, path, handler)
        app.router.add_route(method, path + "/", handler)
