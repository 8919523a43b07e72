"""The admin API (Bearer token, see http_guard.admin_auth): displays, layouts, reload, audit.
Changes go through displays/ops/admin.py (validated, written into the config as ops wrote it,
applied live, audited)."""

from __future__ import annotations

import tomllib
from dataclasses import asdict
from pathlib import Path

from aiohttp import web

from displays.core.stop_search import search_stops
from displays.ops.admin import delete_display, delete_layout, put_display, put_layout
from displays.ops.config_edit import display_doc
from displays.shell.audit import AuditEntry
from displays.shell.sharing import reload_shared
from displays.web.display_preview import preview_display
from displays.web.http_guard import JSON_LIMIT, SERVICE, error_response, json_body, parse_json, read_body, who
from layouts.spec import builtin_names, builtin_text

__all__ = ["add_admin_routes"]


async def audit(request: web.Request) -> web.Response:
    """GET /api/audit: the admin changes, newest first (?limit=N, at most 500)."""
    try:
        limit = max(1, min(500, int(request.query.get("limit", "100"))))
    except ValueError:
        raise web.HTTPBadRequest(text="limit must be a whole number") from None
    return web.json_response([asdict(e) for e in request.app[SERVICE].audit.recent(limit)])


async def list_displays(request: web.Request) -> web.Response:
    """GET /api/displays."""
    return web.json_response([display_doc(d) for d in request.app[SERVICE].config.displays])


async def get_display(request: web.Request) -> web.Response:
    """GET /api/displays/{id}."""
    found = request.app[SERVICE].config.display(request.match_info["id"])
    if found is None:
        return error_response(404, f"no display {request.match_info['id'][:64]!r}")
    return web.json_response(display_doc(found))


def _previewing(request: web.Request) -> bool:
    return request.query.get("preview", "") in ("1", "true", "yes")


async def post_display(request: web.Request) -> web.Response:
    """POST /api/displays: add a display (same fields as the config); ?preview=1: its frame, nothing saved."""
    service = request.app[SERVICE]
    if _previewing(request):
        return web.json_response(await preview_display(service, await json_body(request)))
    stored = await put_display(service, await json_body(request), who=who(request))
    return web.json_response(display_doc(service.config.display(stored["id"])), status=201)  # type: ignore[arg-type]


async def replace_display(request: web.Request) -> web.Response:
    """PUT /api/displays/{id}: replace a display; ?preview=1: its frame with the change, nothing saved."""
    service = request.app[SERVICE]
    if _previewing(request):
        if service.config.display(request.match_info["id"]) is None:
            return error_response(404, f"no display {request.match_info['id'][:64]!r}")
        return web.json_response(await preview_display(service, await json_body(request), request.match_info["id"]))
    stored = await put_display(service, await json_body(request), request.match_info["id"], who=who(request))
    return web.json_response(display_doc(service.config.display(stored["id"])))  # type: ignore[arg-type]


async def remove_display(request: web.Request) -> web.Response:
    """DELETE /api/displays/{id}."""
    await delete_display(request.app[SERVICE], request.match_info["id"], who=who(request))
    return web.Response(status=204)


async def stops(request: web.Request) -> web.Response:
    """GET /api/stops?q=TEXT: stops by name or id (accents and case ignored), best first, at most 20."""
    service = request.app[SERVICE]
    if service.timetable is None:
        return error_response(503, "no timetable loaded")
    return web.json_response(search_stops(service.timetable, request.query.get("q", "")[:100]))


async def list_layouts(request: web.Request) -> web.Response:
    """GET /api/layouts: built-in and custom layouts."""
    custom = dict(request.app[SERVICE].config.layouts)
    return web.json_response([{"name": n, "builtin": True} for n in builtin_names()]
                             + [{"name": n, "builtin": False, "file": f} for n, f in sorted(custom.items())])


async def get_layout(request: web.Request) -> web.Response:
    """GET /api/layouts/{name}: the layout's TOML."""
    service = request.app[SERVICE]
    name = request.match_info["name"]
    custom = dict(service.config.layouts)
    if name in custom:
        try:
            text = Path(service.config.resolve(custom[name])).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return error_response(404, f"layout {name!r}: its file cannot be read ({exc})")
        return web.Response(text=text, content_type="application/toml")
    if name in builtin_names():
        return web.Response(text=builtin_text(name), content_type="application/toml")
    return error_response(404, f"no layout {name[:64]!r}")


async def _layout_text(request: web.Request) -> tuple[str, str]:
    raw = await read_body(request, JSON_LIMIT)
    if request.content_type == "application/json":
        doc = parse_json(raw)
        if not isinstance(doc, dict) or not isinstance(doc.get("toml"), str):
            raise web.HTTPBadRequest(text='send {"name": ..., "toml": "..."} or the TOML itself as application/toml')
        return str(doc.get("name", "")), doc["toml"]
    try:
        return "", raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise web.HTTPBadRequest(text=f"the layout is not UTF-8 (byte {exc.start})") from None


async def post_layout(request: web.Request) -> web.Response:
    """POST /api/layouts: add a custom layout (TOML body, or JSON {"name", "toml"})."""
    name, text = await _layout_text(request)
    try:
        name = name or str(tomllib.loads(text).get("name", ""))
    except tomllib.TOMLDecodeError as exc:
        return error_response(422, f"not valid TOML ({exc})")
    await put_layout(request.app[SERVICE], name, text, create=True, who=who(request))
    return web.json_response({"name": name}, status=201)


async def replace_layout(request: web.Request) -> web.Response:
    """PUT /api/layouts/{name}: replace a custom layout."""
    _, text = await _layout_text(request)
    await put_layout(request.app[SERVICE], request.match_info["name"], text, create=False, who=who(request))
    return web.json_response({"name": request.match_info["name"]})


async def remove_layout(request: web.Request) -> web.Response:
    """DELETE /api/layouts/{name}: remove a custom layout that no display uses."""
    await delete_layout(request.app[SERVICE], request.match_info["name"], who=who(request))
    return web.Response(status=204)


async def reload(request: web.Request) -> web.Response:
    """POST /api/reload: re-read the config file (as SIGHUP does)."""
    service = request.app[SERVICE]
    if service.sharing is not None:
        status, error = await reload_shared(service, service.sharing)
    else:
        error = service.reload_config()
        status = 422 if error else 200
    service.audit.record(AuditEntry(int(service.clock.now()), who(request), "config.reload", "",
                                    f"failed: {error}" if error else "ok"))
    if error:
        return web.json_response({"error": error, "status": status, "kept": "the running config"}, status=status)
    return web.json_response({"reloaded": True})


def add_admin_routes(app: web.Application) -> None:
    """Register the admin API on `app`."""
    app.router.add_get("/api/displays", list_displays)
    app.router.add_post("/api/displays", post_display)
    app.router.add_get("/api/displays/{id}", get_display)
    app.router.add_put("/api/displays/{id}", replace_display)
    app.router.add_delete("/api/displays/{id}", remove_display)
    app.router.add_get("/api/stops", stops)
    app.router.add_get("/api/layouts", list_layouts)
    app.router.add_post("/api/layouts", post_layout)
    app.router.add_get("/api/layouts/{name}", get_layout)
    app.router.add_put("/api/layouts/{name}", replace_layout)
    app.router.add_delete("/api/layouts/{name}", remove_layout)
    app.router.add_post("/api/reload", reload)
    app.router.add_get("/api/audit", audit)
