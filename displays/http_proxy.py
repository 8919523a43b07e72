"""Any instance answers for any display: a request for a display that another live instance owns is
passed to that instance (streamed, so live pages' events pass too), so that a load balancer in front of
all instances needs no routing rules (docs/deploy.md). The owner's address comes from its announcement."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from aiohttp import web

from .device_keys import normal_mac
from .http_guard import SERVICE

log = logging.getLogger("stopcast.http")

FORWARDED_REQUEST = ("Accept", "If-None-Match", "X-Stopcast-Device", "ID", "Access-Token", "Refresh-Rate",
                     "Battery-Voltage", "FW-Version", "RSSI", "Width", "Height", "Content-Type")
FORWARDED_RESPONSE = ("Content-Type", "ETag", "Cache-Control", "Retry-After", "X-Stopcast-Volume")
HOP = "X-Stopcast-Proxied"  # set on a proxied request: it is answered where it arrives, never passed on again
SESSION = web.AppKey("proxy_session", aiohttp.ClientSession)


def _display_of(request: web.Request) -> str:
    """The display a request is about ('' for none): /displays/{id}... or a TRMNL device's MAC."""
    parts = request.path.split("/")
    if len(parts) >= 3 and parts[1] == "displays":
        return parts[2]
    if len(parts) >= 4 and parts[1:3] == ["ops", "displays"]:
        return parts[3]
    if request.path.rstrip("/") in ("/api/display", "/api/setup", "/api/log"):
        wanted = normal_mac(request.headers.get("ID", ""))
        service = request.app[SERVICE]
        found = next((d for d in service.config.displays if wanted and d.trmnl_id.upper() == wanted), None)
        return found.id if found is not None else ""
    return ""


@web.middleware
async def to_owner(request: web.Request, handler: Any) -> web.StreamResponse:
    """Pass a request for a display this instance does not own to the instance that does."""
    service = request.app[SERVICE]
    display_id = _display_of(request)
    if not display_id or display_id in service.displays or request.headers.get(HOP) or service.config.display(display_id) is None:
        return await handler(request)
    owner = service.membership.http_of(display_id)
    if not owner:
        return await handler(request)  # no owner known: answered here (404 or 'starting')
    headers = {k: v for k in FORWARDED_REQUEST if (v := request.headers.get(k)) is not None}
    headers[HOP] = service.instance
    body = await request.read() if request.can_read_body else None
    try:
        async with request.app[SESSION].request(request.method, owner + request.path_qs, headers=headers, data=body,
                                                allow_redirects=False) as upstream:
            response = web.StreamResponse(status=upstream.status,
                                          headers={k: v for k in FORWARDED_RESPONSE if (v := upstream.headers.get(k))})
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("display %s: its owner at %s did not answer (%s)", display_id, owner, exc)
        raise web.HTTPBadGateway(text=f"display '{display_id}' is served by another instance, which did not answer; "
                                      "try again") from None


async def proxy_session(app: web.Application):  # type: ignore[no-untyped-def]
    """The client session for passing requests on (cleanup context)."""
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        app[SESSION] = session
        yield


async def others_displays(app: web.Application, doc: dict[str, Any], timeout: float = 2.0) -> dict[str, Any]:
    """The dashboard of every display, wherever it is owned: the displays of the other live instances (from
    their own dashboard.json, which knows their pillars' acks and pulls) are added to this instance's, each
    with the instance that owns it; an instance that does not answer is a problem on the dashboard."""
    service = app[SERVICE]
    mine = {d["id"] for d in doc["displays"]}
    configured = {d.id for d in service.config.displays}
    others = [m for m in service.membership.members.values() if m.online and m.http and m.name != service.instance]
    if not others:
        return doc
    displays, problems = list(doc["displays"]), list(doc["problems"])
    for display in displays:
        display.setdefault("instance", service.instance)
    for member in sorted(others, key=lambda m: m.name):
        try:
            async with app[SESSION].get(member.http + "/dashboard.json?local=1", headers={HOP: service.instance},
                                        timeout=aiohttp.ClientTimeout(total=timeout)) as answer:
                theirs = await answer.json() if answer.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            theirs, reason = None, str(exc) or type(exc).__name__
        else:
            reason = "" if theirs is not None else f"HTTP {answer.status}"
        if not isinstance(theirs, dict) or not isinstance(theirs.get("displays"), list):
            problems.append(f"instance {member.name} ({member.http}) did not answer for its displays: {reason or 'not a dashboard'}")
            continue
        for display in theirs["displays"]:
            if isinstance(display, dict) and display.get("id") in configured and display["id"] not in mine:
                mine.add(display["id"])
                displays.append({**display, "instance": member.name})
    displays.sort(key=lambda d: str(d["id"]))
    return {**doc, "displays": displays, "online": sum(bool(d.get("online")) for d in displays), "problems": problems}
