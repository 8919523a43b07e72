"""The HTTP side: frames for pillars that pull, the live HTML board, TRMNL devices, the ops
dashboard, the admin API, health and metrics (see docs/http.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import jinja2
import markupsafe
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from displays.core.engine import DisplayRuntime
from displays.ops.config_edit import display_doc
from displays.shell.http_server import serve_app
from displays.shell.voice import SpeechError
from displays.web.history import timeline_svg
from displays.web.http_admin import add_admin_routes
from displays.web.http_guard import (
    ADMIN_TOKEN,
    SERVICE,
    admin_auth,
    json_errors,
    runner_options,
)
from displays.web.http_notices import add_notice_routes
from displays.web.http_proxy import HOP, others_displays, proxy_session, to_owner
from displays.web.pulls import PULLS, Pulls, device_of, pull_counts
from displays.web.status import dashboard_doc, display_status, health_doc, metrics_text, presences
from displays.web.trmnl import add_trmnl_routes
from displays.web.view import Node
from firmware_bridge import codec
from firmware_bridge.messages import text_hash
from firmware_bridge.topics import is_name
from layouts.export import board_doc
from layouts.fonts import FONT_DIR
from layouts.html import render_fragment, render_html, served_fonts
from layouts.speech import DETAILS, LANGUAGES

log = logging.getLogger("stopcast.http")
RAW_FORMATS = ("mono1", "gray2", "bwr", "rgb565")


@lru_cache(maxsize=1)
def _templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("displays.web", "templates"), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["timeline"] = lambda segments, now: markupsafe.Markup(timeline_svg(segments, now))
    return env


def _runtime(request: web.Request, pulled: bool = False) -> DisplayRuntime:
    display_id = request.match_info["id"]
    if not is_name(display_id):
        raise web.HTTPNotFound(text=f"no display {display_id[:64]!r}")
    service = request.app[SERVICE]
    runtime = service.displays.get(display_id)
    if runtime is None:
        raise web.HTTPNotFound(text=f"no display '{display_id}'")
    device = device_of(request.query, request.headers) if pulled else ""
    if device and pull_counts(runtime.config.pull_key, request.query, request.headers):
        request.app[PULLS].of(display_id).pulled_by(device, int(service.clock.now()))
    return runtime


def _conditional(request: web.Request, etag: str, body: bytes, content_type: str, extra: dict | None = None,
                 charset: str | None = None) -> web.Response:
    service = request.app[SERVICE]
    quoted = f'"{etag}"'
    headers = {"ETag": quoted, "Cache-Control": "no-cache", **(extra or {})}
    if quoted in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        service.metrics.http_not_modified.inc()
        return web.Response(status=304, headers=headers)
    service.metrics.http_frames.inc()
    return web.Response(body=body, content_type=content_type, charset=charset, headers=headers)


# --- frames, boards, live page ------------------------------------------------------------------


def _is_hash(text: str) -> bool:
    return len(text) == 8 and all(c in "0123456789abcdefABCDEF" for c in text)


async def frame(request: web.Request) -> web.Response:
    """GET /displays/{id}/frame.{png,bmp,bin,mono1,gray2,bwr,rgb565}: the current screen, with ETag/304."""
    runtime = _runtime(request, pulled=True)
    fmt = request.match_info["fmt"]
    current = runtime.frame
    if current is None:
        raise web.HTTPServiceUnavailable(text="no frame rendered yet", headers={"Retry-After": "5"})
    etag = f"{current.hash:08x}-{fmt}"
    if fmt in ("png", "bmp"):
        state = request.app[PULLS].of(runtime.config.id)
        wanted = request.query.get("h", "")
        if wanted and wanted.lower() != f"{current.hash:08x}":  # exactly the frame a TRMNL `filename` named
            kept = state.kept(int(wanted, 16), fmt) if _is_hash(wanted) else None
            if kept is None:
                raise web.HTTPNotFound(text=f"frame {wanted[:16]!r} is no longer kept; ask /api/display again")
            return _conditional(request, f"{wanted.lower()}-{fmt}", kept, f"image/{fmt}")
        return _conditional(request, etag, state.encoded(current, fmt), f"image/{fmt}")
    if fmt == "bin":
        payload = request.app[SERVICE].bridge.frame_payload(runtime.config.id)
        if payload is None:
            raise web.HTTPServiceUnavailable(text="no frame rendered yet", headers={"Retry-After": "5"})
        return _conditional(request, etag, payload, "application/octet-stream")
    if fmt in RAW_FORMATS:
        if codec.default_encoding(current.color_mode) != fmt and not (
            fmt == "rgb565" and current.color_mode == "rgb565"
        ):
            raise web.HTTPNotFound(text=f"this display's colour mode is {current.color_mode}, not {fmt}")
        body = (
            current.raw
            if codec.RAW_FOR_MODE[current.color_mode] == fmt
            else codec.pack(current.raster, fmt, current.color_mode)
        )
        return _conditional(request, etag, body, "application/octet-stream")
    raise web.HTTPNotFound(text=f"no frame format '{fmt}' (png, bmp, bin, {', '.join(RAW_FORMATS)})")


async def board_json(request: web.Request) -> web.Response:
    """GET /displays/{id}/board.json."""
    runtime = _runtime(request)
    if runtime.board is None:
        raise web.HTTPServiceUnavailable(text="no board yet", headers={"Retry-After": "5"})
    body = json.dumps(board_doc(runtime.board, runtime.spec, runtime.config.id), ensure_ascii=False).encode()
    return _conditional(request, hashlib.blake2b(body, digest_size=8).hexdigest(), body, "application/json")


async def speech(request: web.Request) -> web.Response:
    """GET /displays/{id}/speech.ogg?lang=de|en|es&detail=short|full: the board read aloud, Opus in Ogg (about
    35 KB for a first press); speech.wav the same as a WAV (for older clients); speech.txt the text that is
    spoken. ETag/304 by the spoken text; X-Stopcast-Volume: the display's volume now."""
    runtime = _runtime(request, pulled=True)
    if runtime.board is None:
        raise web.HTTPServiceUnavailable(text="no board yet", headers={"Retry-After": "5"})
    language = request.query.get("lang") or runtime.config.language or runtime.board.language
    if language not in LANGUAGES:
        raise web.HTTPBadRequest(text=f"lang must be one of {', '.join(LANGUAGES)}")
    detail = request.query.get("detail") or "short"
    if detail not in DETAILS:
        raise web.HTTPBadRequest(text=f"detail must be one of {', '.join(DETAILS)}")
    speaker = request.app[SERVICE].speaker
    said = speaker.text(runtime, language, detail)
    fmt = request.match_info["fmt"]
    etag = f"{text_hash(said):08x}-{language}-{detail}"
    if fmt == "txt":
        return _conditional(request, etag + "-txt", said.encode("utf-8"), "text/plain", charset="utf-8")
    if fmt not in ("wav", "ogg"):
        raise web.HTTPNotFound(text=f"no speech format '{fmt}' (ogg, wav, txt)")
    if request.headers.get("If-None-Match", "").strip('"') == f"{etag}-{fmt}":
        return web.Response(status=304, headers={"ETag": f'"{etag}-{fmt}"'})
    try:
        if fmt == "ogg":
            said, body = await speaker.ogg(runtime, language, detail)
        else:
            said, body = await speaker.announcement(runtime, language, detail)
    except SpeechError as exc:
        raise web.HTTPServiceUnavailable(text=f"no speech: {exc}; speech.txt has the text") from None
    etag = f"{text_hash(said):08x}-{language}-{detail}-{fmt}"
    return _conditional(request, etag, body, "audio/ogg" if fmt == "ogg" else "audio/wav",
                        {"X-Stopcast-Volume": f"{speaker.volume(runtime):.2f}"})


STARTING_PAGE = """<!doctype html><html lang="de"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>stopcast</title><style>body{margin:0;height:100vh;display:flex;align-items:center;justify-content:center;
font:6vmin sans-serif;background:#fff;color:#000;text-align:center}</style></head>
<body><p>Abfahrten werden geladen …<br><span lang="en">Loading departures …</span></p></body></html>"""


async def live_page(request: web.Request) -> web.Response:
    """GET /displays/{id}: the live HTML board (updates itself over server-sent events)."""
    runtime = _runtime(request)
    if runtime.board is None:  # starting: a page that asks again by itself (a kiosk browser never would)
        return web.Response(status=503, text=STARTING_PAGE, content_type="text/html",
                            headers={"Retry-After": "5", "Cache-Control": "no-store"})
    device = device_of(request.query, request.headers)
    key = request.query.get("key", "")
    events_url = f"/displays/{runtime.config.id}/events" + (f"?device={quote(device)}" if device else "") + (
        f"{'&' if device else '?'}key={quote(key)}" if key else "")
    page = render_html(runtime.board, runtime.spec, served_fonts(), events_url=events_url,
                       speech_url=f"/displays/{runtime.config.id}/speech.wav")
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})


def _event(fragment: str) -> bytes:
    return ("event: board\n" + "".join(f"data: {line}\n" for line in fragment.split("\n")) + "\n").encode()


async def events(request: web.Request) -> web.StreamResponse:
    """GET /displays/{id}/events: the board's markup each time it changes (text/event-stream)."""
    runtime = _runtime(request, pulled=True)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "Access-Control-Allow-Origin": "*"})  # a public board; a page another
    # instance answered runs sandboxed (an opaque origin) and reads its events from here
    await response.prepare(request)
    queue: asyncio.Queue[str] = asyncio.Queue(maxsize=8)
    subscribers = request.app[PULLS].of(runtime.config.id).subscribers
    subscribers.add(queue)
    try:
        if runtime.board is not None:
            await response.write(_event(render_fragment(runtime.board, runtime.spec)))
        while True:
            try:
                signal = await asyncio.wait_for(queue.get(), 25)
            except asyncio.TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            while not queue.empty():
                signal = queue.get_nowait() if signal != "close" else signal
            if signal == "close":
                break
            current = request.app[SERVICE].displays.get(runtime.config.id)
            if current is None:
                break
            runtime = current
            if runtime.board is not None:
                await response.write(_event(render_fragment(runtime.board, runtime.spec)))
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        subscribers.discard(queue)
    return response


async def fonts(request: web.Request) -> web.FileResponse:
    """GET /fonts/{name}: the shipped fonts, by exact file name only."""
    name = request.match_info["name"]
    allowed = {p.name for p in FONT_DIR.iterdir() if p.suffix in (".ttf", ".otb")}
    if name not in allowed:
        raise web.HTTPNotFound()
    return web.FileResponse(
        FONT_DIR / name, headers={"Cache-Control": "max-age=86400", "Access-Control-Allow-Origin": "*"}
    )


# --- ops ----------------------------------------------------------------------------------------


async def _dashboard_doc(request: web.Request) -> dict:
    """This instance's dashboard, with the other live instances' displays unless ?local=1 (what they ask)."""
    doc = dashboard_doc(request.app[SERVICE], request.app[PULLS])
    if request.query.get("local") == "1" or request.headers.get(HOP):
        return doc
    return await others_displays(request.app, doc)


async def dashboard(request: web.Request) -> web.Response:
    """GET /: every display at a glance (of every instance)."""
    page = _templates().get_template("dashboard.html.j2").render(doc=await _dashboard_doc(request))
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})


async def dashboard_parts(request: web.Request) -> web.Response:
    """GET /dashboard/parts.json: the dashboard's changing parts as HTML, which the open page puts in place."""
    doc = await _dashboard_doc(request)
    parts = _templates().get_template("dashboard_parts.html.j2").module
    return web.json_response({
        "badges": str(parts.badges(doc)), "problems": str(parts.problems(doc)),  # type: ignore[attr-defined]
        "problems_class": "bad" if doc["problems"] else "ok",
        "feeds": str(parts.feeds(doc)), "audit": str(parts.audit(doc)),  # type: ignore[attr-defined]
        "rows": {d["id"]: str(parts.display_row(d, doc["now_ts"])).strip() for d in doc["displays"]},  # type: ignore[attr-defined]
    }, headers={"Cache-Control": "no-store"})


STATIC = Path(__file__).parent / "static"


async def static(request: web.Request) -> web.FileResponse:
    """GET /static/{name}: the dashboard's script, by exact file name only."""
    name = request.match_info["name"]
    if name not in {p.name for p in STATIC.iterdir()}:
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})


async def frames_json(request: web.Request) -> web.Response:
    """GET /frames.json: the frame each of this instance's displays should show now (content hash and when it
    was rendered), in one small answer for scripts that check what pillars show against it."""
    service = request.app[SERVICE]
    frames = {display_id: {"hash": f"{r.frame.hash:08x}", "rendered": r.rendered_at}
              for display_id, r in service.displays.items() if r.frame is not None}
    return web.json_response({"now": int(service.clock.now()), "frames": frames})


async def dashboard_json(request: web.Request) -> web.Response:
    """GET /dashboard.json: what the dashboard shows (it polls this); ?local=1: this instance's displays only."""
    return web.json_response(await _dashboard_doc(request))


async def display_page(request: web.Request) -> web.Response:
    """GET /ops/displays/{id}: one display's preview and settings."""
    runtime = _runtime(request)
    service = request.app[SERVICE]
    doc = display_status(service, runtime.config.id, runtime, request.app[PULLS], int(service.clock.now()))
    page = (
        _templates()
        .get_template("display.html.j2")
        .render(d=doc, settings=display_doc(runtime.config), spec=runtime.spec, now_ts=int(service.clock.now()))
    )
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz: 503 "starting" until every display has its first frame, then 200 "ok" or
    "degraded" with the problems (feeds, broker, timetable, failed reloads, displays that fail)."""
    doc = health_doc(request.app[SERVICE], request.app[PULLS])
    return web.json_response(doc, status=503 if doc["status"] == "starting" else 200)


async def metrics(request: web.Request) -> web.Response:
    """GET /metrics: Prometheus text."""
    return web.Response(body=metrics_text(request.app[SERVICE], request.app[PULLS]).encode(),
                        headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


async def _pull_state(app: web.Application) -> AsyncIterator[None]:
    """The HTTP side's per-display state lives in the app; the service tells it when boards change.
    At shutdown every live board's event stream ends (they would otherwise hold the server open)."""
    pulls = app[PULLS] = Pulls()
    service = app[SERVICE]
    service.board_listeners.append(pulls.board_changed)
    sampler = asyncio.create_task(_sample_presence(service, pulls), name="presence history")
    yield
    sampler.cancel()
    service.board_listeners.remove(pulls.board_changed)


async def _sample_presence(service: Node, pulls: Pulls, every: float = 60) -> None:
    """Record every display's presence each minute, so its 24-hour timeline has no gaps."""
    while True:
        presences(service, pulls, int(service.clock.now()))
        await asyncio.sleep(every)


async def _close_streams(app: web.Application) -> None:
    app[PULLS].close_all()


def make_app(service: Node) -> web.Application:
    """The aiohttp application of a service."""
    app = web.Application(middlewares=[json_errors, admin_auth, to_owner], client_max_size=1024 * 1024)
    app[SERVICE] = service
    app[ADMIN_TOKEN] = lambda: service.config.http.admin_tokens()
    app.cleanup_ctx.append(_pull_state)
    app.cleanup_ctx.append(proxy_session)
    app.on_shutdown.append(_close_streams)
    app.router.add_get("/", dashboard)
    app.router.add_get("/dashboard.json", dashboard_json)
    app.router.add_get("/dashboard/parts.json", dashboard_parts)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/frames.json", frames_json)
    app.router.add_get("/ops/displays/{id}", display_page)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/fonts/{name}", fonts)
    app.router.add_get("/displays/{id}", live_page)
    app.router.add_get("/displays/{id}/events", events)
    app.router.add_get("/displays/{id}/board.json", board_json)
    app.router.add_get("/displays/{id}/frame.{fmt}", frame)
    app.router.add_get("/displays/{id}/speech.{fmt}", speech)
    add_trmnl_routes(app, service)
    add_admin_routes(app)
    add_notice_routes(app)
    return app


async def serve_http(service: Node) -> None:
    """Run the HTTP server for the service's lifetime; the bound address is in service.http_url."""
    await serve_app(service, make_app(service), runner_options(service.config.http.header_timeout))
