"""Guard rails of the HTTP side: every refusal as a JSON body with a 4xx status, bounded request
bodies, JSON that cannot exhaust the parser, and the admin API's bearer token.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from displays.ops.admin import AdminError
from displays.web.view import Node

log = logging.getLogger("stopcast.http")
request_log = logging.getLogger("stopcast.http.requests")  # aiohttp's server messages, tamed below

SERVICE: web.AppKey[Node] = web.AppKey("service")
ADMIN_TOKEN: web.AppKey[Callable[[], tuple[tuple[str, str], ...]]] = web.AppKey("admin_token")  # (operator, token)s now
JSON_LIMIT = 256 * 1024  # bytes of a JSON request body
MAX_DEPTH = 32  # nesting of a JSON request body
ADMIN_PATHS = ("/api/displays", "/api/layouts", "/api/reload", "/api/audit", "/api/trmnl/", "/api/messages",
               "/api/suppressions")
TOKEN_LABEL = web.RequestKey("token_label", str)  # the label of the admin token a request used


def who(request: web.Request) -> str:
    """The operator whose admin token a request came with (what the audit log records; "admin" for the unnamed
    http.admin_token)."""
    return str(request.get(TOKEN_LABEL, "admin"))


def error_response(status: int, message: str, headers: Any = None) -> web.Response:
    """A refusal as JSON {"error", "status"} (the one shape of every error the HTTP side answers)."""
    kept = {k: v for k, v in (headers or {}).items() if k in ("WWW-Authenticate", "Retry-After", "Allow", "ETag")}
    return web.json_response({"error": message, "status": status}, status=status, headers=kept)


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Refusals answer JSON {"error", "status"}; an unexpected failure is logged once and answers a
    JSON 500 rather than a traceback page (no request ever takes the service down)."""
    try:
        return await handler(request)
    except AdminError as exc:
        return error_response(exc.status, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(
            exc.status, exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason, exc.headers
        )
    except (ConnectionResetError, TimeoutError):
        raise
    except Exception:  # noqa: BLE001 - the last line of defence; the tests hold that it is never reached
        log.exception("HTTP %s %s failed", request.method, request.path[:200])
        return error_response(500, "internal error; the service log has the details")


@web.middleware
async def admin_auth(request: web.Request, handler: Any) -> web.StreamResponse:
    """Bearer token for the admin API: 401 without a well-formed one, 403 when it is wrong."""
    if request.path.startswith(ADMIN_PATHS):
        tokens = request.app[ADMIN_TOKEN]()
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        given = given.strip()
        if scheme != "Bearer" or not given or not given.isascii() or not given.isprintable():
            raise web.HTTPUnauthorized(text="admin API: send Authorization: Bearer <token> (printable ASCII)",
                                       headers={"WWW-Authenticate": "Bearer"})
        if not tokens:
            raise web.HTTPForbidden(text="admin API disabled: set http.admin_token or [[http.operators]]")
        matches = [
            name for name, token in tokens if hmac.compare_digest(given.encode(), token.encode())
        ]  # all compared
        if not matches:
            raise web.HTTPForbidden(text="admin API: wrong token")
        request[TOKEN_LABEL] = matches[0]
    return await handler(request)




async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole request body; 413 naming the limit when it is larger."""
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length,
                                            text=f"the body has {request.content_length} bytes; the limit is {limit}")
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(body),
                                            text=f"the body is over the limit of {limit} bytes")
    return body


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def parse_json(raw: bytes, what: str = "the body") -> Any:
    """JSON from request bytes; 400 naming the problem (syntax, encoding, nesting, number size)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise web.HTTPBadRequest(text=f"{what} is not UTF-8 (byte {exc.start})") from None
    if text.count("[") + text.count("{") > 10_000:
        raise web.HTTPBadRequest(text=f"{what} has too many arrays and objects")
    try:
        value = json.loads(text or "null", parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise web.HTTPBadRequest(
            text=f"{what} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise web.HTTPBadRequest(text=f"{what} is nested too deeply (at most {MAX_DEPTH} levels)") from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise web.HTTPBadRequest(text=f"{what} is not acceptable JSON: {exc}") from None
    if _depth(value) > MAX_DEPTH:
        raise web.HTTPBadRequest(text=f"{what} is nested too deeply (at most {MAX_DEPTH} levels)")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


async def json_body(request: web.Request, limit: int = JSON_LIMIT) -> Any:
    """The request's JSON body, bounded in size and depth."""
    return parse_json(await read_body(request, limit))


class _OneLineBadRequests(logging.Filter):
    """aiohttp logs a malformed request (a scanner, a broken client) as an ERROR with a traceback;
    ops get one WARNING line saying what was wrong instead. Other records pass unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            peer = record.args[-1] if isinstance(record.args, tuple) and record.args else "?"
            what = " ".join(str(exc.message).split())[:200]
            record.msg, record.args, record.exc_info, record.exc_text = (
                "malformed HTTP request from %s: %s",
                (peer, what),
                None,
                None,
            )
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


request_log.addFilter(_OneLineBadRequests())


def runner_options(header_timeout: float) -> dict[str, Any]:
    """aiohttp AppRunner options: no access log, our request logger, and a bound on how long a
    connection may take to send a request's headers (or stay idle between requests)."""
    return {"access_log": None, "shutdown_timeout": 3, "keepalive_timeout": header_timeout, "logger": request_log}


def escape_controls(text: str) -> str:
    """`text` with every control character written as an escape (\\n, \\x1b, ...), for log lines."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class RateLimit:
    """At most `count` events per key within a sliding `window` of seconds (times are passed in)."""

    def __init__(self, count: int, window: float) -> None:
        self.count, self.window = count, window
        self._events: dict[str, list[float]] = {}

    def allow(self, key: str, now: float) -> bool:
        """Whether one more event for `key` at `now` is within the limit (and count it if so)."""
        recent = [t for t in self._events.get(key, ()) if now - t < self.window]
        allowed = len(recent) < self.count
        if allowed:
            recent.append(now)
        self._events[key] = recent
        return allowed
