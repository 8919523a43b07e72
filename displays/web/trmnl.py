"""TRMNL devices (BYOS API): setup, display, log. Routed with and without a trailing slash, as
the firmware asks for `/api/setup/`. An authentication problem answers HTTP 404 with a JSON body,
never `status: 500` (which the firmware takes as "erase yourself"); see docs/http.md.
"""

from __future__ import annotations

import io
import logging
from dataclasses import asdict, dataclass, field
from functools import cache

from aiohttp import web
from PIL import Image, ImageDraw, ImageFont

from displays.core.engine import DisplayRuntime
from displays.shell.audit import AuditEntry
from displays.shell.device_keys import DeviceKeys, normal_mac
from displays.shell.state import StateError
from displays.web.http_guard import RateLimit, escape_controls, read_body, who
from displays.web.pulls import PULLS
from displays.web.view import Node

log = logging.getLogger("stopcast.http")

LOG_LIMIT = 16 * 1024  # bytes of one device log post
LOG_RATE = (10, 60.0)  # posts per device per window of seconds
SETUP_RATES = {  # setup calls per window of seconds: per client address, per MAC asked for (known or not), overall
    "address": (10, 60.0), "mac": (5, 600.0), "all": (60, 60.0)}
SETUP_APPROVAL = 900  # seconds an ops approval of a new setup stays open
REFUSED = {
    "status": 404,
    "api_key": None,
    "friendly_id": None,
    "image_url": None,
    "message": "this device cannot be set up here: it is not configured (trmnl_id on a display), or it holds a "
    "key already (ops can allow a new setup)",
}  # the same for every MAC refused: probing learns nothing


@dataclass
class Devices:
    """What the HTTP side keeps for TRMNL devices: their keys (in the state folder) and the log rate."""

    service: Node
    keys: DeviceKeys | None = None
    log_rate: RateLimit = field(default_factory=lambda: RateLimit(*LOG_RATE))
    setup_rates: dict[str, RateLimit] = field(
        default_factory=lambda: {k: RateLimit(*v) for k, v in SETUP_RATES.items()}
    )

    def setup_allowed(self, address: str, mac: str, now: float) -> bool:
        """Whether one more setup call is within the limits (checked before the MAC is looked up)."""
        keys = {"address": address, "mac": mac, "all": "*"}
        return all(limit.allow(keys[name], now) for name, limit in self.setup_rates.items())

    def store(self) -> DeviceKeys:
        """The key store of the service's state folder."""
        folder = self.service.config.state_dir()
        if self.keys is None or self.keys.folder != folder:
            self.keys = DeviceKeys(folder)
        return self.keys

    def runtime(self, device_id: str) -> DisplayRuntime | None:
        """The display a device's MAC is configured on."""
        wanted = normal_mac(device_id)
        return next((r for r in self.service.displays.values() if wanted and r.config.trmnl_id.upper() == wanted), None)

    def authenticated(self, request: web.Request) -> DisplayRuntime:
        """The device's display when ID and Access-Token match; else HTTP 404 with a JSON body."""
        device_id = request.headers.get("ID", "")
        runtime = self.runtime(device_id)
        token = request.headers.get("Access-Token", "")
        now = int(self.service.clock.now())
        if runtime is None or not _keys(lambda: self.store().check(device_id, token, now)):
            raise web.HTTPNotFound(text="unknown device or access token")
        return runtime


def _keys(action):  # type: ignore[no-untyped-def]
    """Run a key-store action; HTTP 503 (never a 500, never a reset) when the state folder fails."""
    try:
        return action()
    except StateError as exc:
        log.error("TRMNL: %s", exc)
        raise web.HTTPServiceUnavailable(text="device keys are unavailable (state folder)",
                                         headers={"Retry-After": "60"}) from None


DEVICES = web.AppKey("trmnl_devices", Devices)


def _base_url(request: web.Request, service: Node) -> str:
    return service.config.http.public_url or f"{request.scheme}://{request.host}"


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    return value if value is not None and abs(value) < 1e9 else None


async def setup(request: web.Request) -> web.Response:
    """GET /api/setup[/] with the ID header: the device's API key at its first setup; later only to a device
    presenting its key (Access-Token) or allowed a new setup by ops. Rate-limited before the MAC is looked up,
    and every refusal is the same answer, so that probing MACs tells nothing about which are configured."""
    devices = request.app[DEVICES]
    device_id = request.headers.get("ID", "")
    now = int(devices.service.clock.now())
    if not devices.setup_allowed(request.remote or "", normal_mac(device_id)[:32], now):
        return web.json_response({**REFUSED, "status": 429, "message": "too many setup requests; try again later"},
                                 status=429, headers={"Retry-After": "60"})
    runtime = devices.runtime(device_id)
    token = request.headers.get("Access-Token", "")
    key = _keys(lambda: devices.store().issue(device_id, now, token)) if runtime is not None else None
    if runtime is None or key is None:
        if runtime is not None:
            log.warning("TRMNL setup of %s refused: a key was issued and the request neither presents it nor has "
                        "ops approval", escape_controls(device_id[:32]))
        return web.json_response(REFUSED, status=404)
    return web.json_response({
        "status": 200, "api_key": key,
        "friendly_id": runtime.config.id.upper()[:16],
        "image_url": f"{_base_url(request, devices.service)}/trmnl/splash.bmp",  # kept by the firmware as its logo
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
        "battery_v": _number(request.headers.get("Battery-Voltage")),
        "rssi": _number(request.headers.get("RSSI")),
        "fw": escape_controls(request.headers.get("FW-Version", "")[:32]),
        "width": _number(request.headers.get("Width")),
        "height": _number(request.headers.get("Height")),
        "seen": now,
    }
    if runtime.frame is None or runtime.board is None:
        return web.json_response({"status": 0, "image_url": None, "filename": None, "refresh_rate": 30,
                                  "reset_firmware": False, "update_firmware": False, "firmware_url": None,
                                  "special_function": "none", "image_url_timeout": 0})
    filename = f"{runtime.frame.hash:08x}"
    request.app[PULLS].of(runtime.config.id).encoded(runtime.frame, "bmp")  # kept: image_url serves exactly this
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


@cache
def splash_bmp() -> bytes:
    """The neutral 800x480 1-bit image given as the setup image_url: the firmware keeps it as its logo and
    shows it under every later error, so it names the product, not a stop or a moment's departures."""
    image = Image.new("1", (800, 480), 1)
    draw = ImageDraw.Draw(image)
    for text, size, y in (("stopcast", 96, 150), ("Abfahrten / Departures", 36, 290)):
        font = ImageFont.load_default(size=size)
        left, _, right, _ = draw.textbbox((0, 0), text, font=font)
        draw.text(((800 - (right - left)) // 2, y), text, fill=0, font=font)
    out = io.BytesIO()
    image.save(out, format="BMP")
    return out.getvalue()


async def splash(request: web.Request) -> web.Response:
    """GET /trmnl/splash.bmp: the setup image, available before any board is rendered."""
    return web.Response(body=splash_bmp(), content_type="image/bmp", headers={"Cache-Control": "max-age=86400"})


async def list_keys(request: web.Request) -> web.Response:
    """GET /api/trmnl/keys (admin): every device that holds or held a key, with its display."""
    devices = request.app[DEVICES]
    records = _keys(lambda: devices.store().all())
    return web.json_response([{**asdict(r), "display": (rt.config.id if (rt := devices.runtime(r.mac)) else None)}
                              for r in records])


async def revoke_key(request: web.Request) -> web.Response:
    """DELETE /api/trmnl/keys/{mac} (admin): revoke a device's key; a new setup needs ops approval."""
    devices = request.app[DEVICES]
    service = devices.service
    now = int(service.clock.now())
    mac = request.match_info["mac"]
    revoked = _keys(lambda: devices.store().revoke(mac, now))
    if revoked is None:
        raise web.HTTPNotFound(text=f"no valid key for device {escape_controls(mac[:32])}")
    service.audit.record(AuditEntry(now, who(request), "trmnl.revoke", revoked.mac,
                                    f"key of generation {revoked.generation} revoked"))
    return web.json_response(asdict(revoked))


async def allow_setup(request: web.Request) -> web.Response:
    """POST /api/trmnl/keys/{mac}/setup (admin): allow the device one new setup within SETUP_APPROVAL seconds (it
    gets a key of the next generation; the one it held stops working)."""
    devices = request.app[DEVICES]
    service = devices.service
    now = int(service.clock.now())
    mac = request.match_info["mac"]
    allowed = _keys(lambda: devices.store().allow_setup(mac, now, SETUP_APPROVAL))
    if allowed is None:
        raise web.HTTPNotFound(
            text=f"device {escape_controls(mac[:32])} never had a key: its first setup needs no approval"
        )
    service.audit.record(AuditEntry(now, who(request), "trmnl.allow-setup", allowed.mac,
                                    f"one new setup allowed for {SETUP_APPROVAL} s"))
    return web.json_response(asdict(allowed))


def add_trmnl_routes(app: web.Application, service: Node) -> None:
    """Register the TRMNL device API on `app` (and the admin routes for device keys)."""
    app[DEVICES] = Devices(service)
    for path, method, handler in (("/api/setup", "GET", setup), ("/api/display", "GET", display),
                                  ("/api/log", "POST", device_log)):
        app.router.add_route(method, path, handler)
        app.router.add_route(method, path + "/", handler)
    app.router.add_get("/trmnl/splash.bmp", splash)
    app.router.add_get("/api/trmnl/keys", list_keys)
    app.router.add_delete("/api/trmnl/keys/{mac}", revoke_key)
    app.router.add_post("/api/trmnl/keys/{mac}/setup", allow_setup)
