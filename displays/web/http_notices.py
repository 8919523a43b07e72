"""The admin API for ops messages and alert suppressions (Bearer token, docs/http.md): list, create,
read, replace, end now, delete; `?preview=1` on POST and PUT answers with the frames of every display
reached instead of saving anything."""

from __future__ import annotations

from aiohttp import web

from displays.ops.admin import Change
from displays.ops.editorial import end_now, find, item_doc, items, parse_item, preview, remove, save
from displays.web.http_guard import SERVICE, json_body, who

__all__ = ["add_notice_routes"]

COLLECTIONS = {"messages": "message", "suppressions": "suppression"}
STATES = ("scheduled", "active", "paused", "ended")


def _kind(request: web.Request) -> str:
    return COLLECTIONS[request.match_info["collection"]]


def _previewing(request: web.Request) -> bool:
    return request.query.get("preview", "") in ("1", "true", "yes")


async def list_items(request: web.Request) -> web.Response:
    """GET /api/messages, /api/suppressions (?state=scheduled|active|paused|ended to filter)."""
    service, wanted = request.app[SERVICE], request.query.get("state", "")
    if wanted and wanted not in STATES:
        raise web.HTTPBadRequest(text=f"state must be one of {', '.join(STATES)}")
    docs = [item_doc(service, i) for i in items(service, _kind(request))]
    return web.json_response([d for d in docs if not wanted or d["state"] == wanted])


async def create_item(request: web.Request) -> web.Response:
    """POST: a new message or suppression (201 with its id), or its preview (200) with ?preview=1."""
    service, kind = request.app[SERVICE], _kind(request)
    item = parse_item(service, kind, await json_body(request), None)
    if _previewing(request):
        return web.json_response(await preview(service, item))
    await save(service, item, Change(who(request), f"{kind}.add"))
    return web.json_response(item_doc(service, item), status=201)


async def get_item(request: web.Request) -> web.Response:
    """GET one by id."""
    service = request.app[SERVICE]
    return web.json_response(item_doc(service, find(service, _kind(request), request.match_info["id"])))


async def replace_item(request: web.Request) -> web.Response:
    """PUT: replace one (same fields as POST), or preview the replacement with ?preview=1."""
    service, kind, item_id = request.app[SERVICE], _kind(request), request.match_info["id"]
    find(service, kind, item_id)
    item = parse_item(service, kind, await json_body(request), item_id)
    if _previewing(request):
        return web.json_response(await preview(service, item))
    await save(service, item, Change(who(request), f"{kind}.change"))
    return web.json_response(item_doc(service, item))


async def end_item(request: web.Request) -> web.Response:
    """POST .../{id}/end: end it now (it stays listed as ended)."""
    service, kind = request.app[SERVICE], _kind(request)
    ended = await end_now(service, kind, request.match_info["id"], who(request))
    return web.json_response(item_doc(service, ended))


async def delete_item(request: web.Request) -> web.Response:
    """DELETE one."""
    await remove(request.app[SERVICE], _kind(request), request.match_info["id"], who(request))
    return web.Response(status=204)


def add_notice_routes(app: web.Application) -> None:
    """Register /api/messages and /api/suppressions on `app`."""
    base = "/api/{collection:messages|suppressions}"
    app.router.add_get(base, list_items)
    app.router.add_post(base, create_item)
    app.router.add_get(base + "/{id}", get_item)
    app.router.add_put(base + "/{id}", replace_item)
    app.router.add_delete(base + "/{id}", delete_item)
    app.router.add_post(base + "/{id}/end", end_item)
