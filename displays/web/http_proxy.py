"""Any instance answers for any display: a request for a display that another live instance owns is
passed to that instance (streamed, so live pages' events pass too), so that a load balancer in front of
all instances needs no routing rules (docs/deploy.md). The owner's address comes from its announcement.

An announcement is only believed so far: requests go only to an instance that proves the deployment's shared
secret or whose address the config lists ([service] peers); a device's credentials (`ID`, `Access-Token`)
go only to one that proves the secret; and an HTML answer from another instance is served sandboxed (CSP
`sandbox`: an opaque origin, which cannot read what the dashboard keeps in this origin's sessionStorage)."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from aiohttp import web

from displays.core.instances import Member
from displays.shell.device_keys import normal_mac
from displays.shell.http_server import client_session
from displays.web.http_guard import SERVICE

log = logging.getLogger("stopcast.http")

FORWARDED_REQUEST = ("Accept", "If-None-Match", "X-Stopcast-Device", "Refresh-Rate", "Battery-Voltage", "FW-Version",
                     "RSSI", "Width", "Height", "Content-Type")
CREDENTIALS = ("ID", "Access-Token")  # a TRMNL device's: passed only to an instance that proves the shared secret
SANDBOX = "sandbox allow-scripts"  # a proxied page runs in an opaque origin (its events and fonts allow any origin)
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
    if (
        not display_id
        or display_id in service.displays
        or request.headers.get(HOP)
        or service.config.display(display_id) is None
    ):
        return await handler(request)
    member = service.membership.owner(display_id)
    if member is None or not member.http:
        return await handler(request)  # no owner known: answered here (404 or 'starting')
    if not trusted(service, member):
        raise web.HTTPServiceUnavailable(
            text=f"display '{display_id}' is owned by instance {member.name}, which neither proves the deployment's "
                 "shared secret ([service] secret_env) nor is listed in [service] peers: not passed on",
            headers={"Retry-After": "30"})
    owner = member.http
    passed = FORWARDED_REQUEST + (CREDENTIALS if member.proven else ())
    headers = {k: v for k in passed if (v := request.headers.get(k)) is not None}
    headers[HOP] = service.instance
    body = await request.read() if request.can_read_body else None
    try:
        async with request.app[SESSION].request(request.method, owner + request.path_qs, headers=headers, data=body,
                                                allow_redirects=False) as upstream:
            answer = {k: v for k in FORWARDED_RESPONSE if (v := upstream.headers.get(k))}
            answer["X-Content-Type-Options"] = "nosniff"
            if "html" in answer.get("Content-Type", "").lower() or "xml" in answer.get("Content-Type", "").lower():
                answer["Content-Security-Policy"] = SANDBOX  # never as a page of this origin
            response = web.StreamResponse(status=upstream.status, headers=answer)
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("display %s: its owner at %s did not answer (%s)", display_id, owner, exc)
        raise web.HTTPBadGateway(text=f"display '{display_id}' is served by another instance, which did not answer; "
                                      "try again") from None


def trusted(service: Any, member: Member) -> bool:
    """Whether requests may be passed to an instance: it proves the shared secret, or the config lists it."""
    return member.proven or member.http.rstrip("/") in service.config.service.peers


async def proxy_session(app: web.Application):  # type: ignore[no-untyped-def]
    """The client session for passing requests on (cleanup context)."""
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=60)
    async with client_session(timeout) as session:
        app[SESSION] = session
        yield


async def others_displays(app: web.Application, doc: dict[str, Any], timeout: float = 2.0) -> dict[str, Any]:
    """The dashboard of every display, wherever it is owned: the displays of the other live instances (from
    their own dashboard.json, which knows their pillars' acks and pulls) are added to this instance's, each
    with the instance that owns it; an instance that does not answer is a problem on the dashboard."""
    service = app[SERVICE]
    mine = {d["id"] for d in doc["displays"]}
    configured = {d.id for d in service.config.displays}
    others = [m for m in service.membership.members.values()
              if service.membership.alive(m) and m.http and m.name != service.instance and trusted(service, m)]
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
            problems.append(
                f"instance {member.name} ({member.http}) did not answer for its displays: {reason or 'not a dashboard'}"
            )
            continue
        for display in theirs["displays"]:
            cleaned = foreign_display(display)
            if cleaned is not None and cleaned["id"] in configured and cleaned["id"] not in mine:
                mine.add(cleaned["id"])
                displays.append({**cleaned, "instance": member.name})
    displays.sort(key=lambda d: str(d["id"]))
    return {**doc, "displays": displays, "online": sum(bool(d.get("online")) for d in displays), "problems": problems}


_TEXTS = ("id", "name", "layout", "size", "color_mode", "state", "via", "last_pull", "last_seen", "dark_reason",
          "pull_device", "last_ack", "last_frame", "rendered", "hash", "error", "error_at", "empty_text",
          "last_seen_ago", "last_ack_ago", "last_frame_ago")
_FLAGS = ("online", "in_sync", "timetable_only")


def foreign_display(raw: Any) -> dict[str, Any] | None:
    """Another instance's dashboard entry for one display, as far as it has the shape ours has (strings,
    flags, a bounded history of known states); None when it is not one. Never trusted: it is shown on our page."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        return None
    out: dict[str, Any] = {k: v[:300] if isinstance(v, str) else None for k in _TEXTS if (v := raw.get(k)) is not None}
    out.update({k: raw.get(k) is True for k in _FLAGS})
    rows = raw.get("rows")
    out["rows"] = rows if isinstance(rows, int) and not isinstance(rows, bool) and 0 <= rows < 1000 else 0
    names = raw.get("stop_names")
    out["stop_names"] = [n[:100] for n in names[:20] if isinstance(n, str)] if isinstance(names, list) else []
    history = raw.get("history")
    out["history"] = (
        [
            (int(h[0]), int(h[1]), h[2])
            for h in history[:500]
            if isinstance(h, (list, tuple))
            and len(h) == 3
            and all(isinstance(x, int) and not isinstance(x, bool) for x in h[:2])
            and isinstance(h[2], str)
            and len(h[2]) <= 32
            and abs(h[0]) < 1 << 40
            and abs(h[1]) < 1 << 40
        ]
        if isinstance(history, list)
        else []
    )
    for key in ("pillar", "device"):
        value = raw.get(key)
        out[key] = (
            {
                str(k)[:40]: v
                for k, v in list(value.items())[:20]
                if isinstance(v, (str, int, float)) and not isinstance(v, bool) and len(str(v)) <= 100
            }
            if isinstance(value, dict)
            else {}
        )
    return out
