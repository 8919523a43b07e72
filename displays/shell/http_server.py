"""The HTTP server's socket: an aiohttp app (made by displays/web/http.py) served on the configured address
for the service's lifetime, and the client session the app passes requests on with. The web room builds
the app; the shell owns what listens and connects."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from displays.config.model import ServiceConfig
from firmware_bridge.protocol import Publish

__all__ = ["ListenError", "client_session", "serve_app"]

log = logging.getLogger("stopcast.http")


class ListenError(Exception):
    """The HTTP server cannot bind its address; the message says which and what to do."""


class Listener(Protocol):
    """What serving needs of the service node: where to listen, and where to say it listens."""

    http_url: str
    http_ready: asyncio.Event
    pending: list[Publish]

    @property
    def config(self) -> ServiceConfig: ...

    def announcement(self, online: bool = True) -> Publish: ...


async def serve_app(node: Listener, app: web.Application, options: dict[str, Any]) -> None:
    """Serve `app` for the node's lifetime on [http] listen; the bound address goes to node.http_url and, in
    the node's next announcement, to the other instances (they pass requests on to it)."""
    runner = web.AppRunner(app, **options)
    await runner.setup()
    http = node.config.http
    site = web.TCPSite(runner, http.host, http.port)
    try:
        await site.start()
    except OSError as exc:
        raise ListenError(f"HTTP: cannot listen on {http.host}:{http.port} ({exc.strerror or exc}); "
                          "choose another port ([http] listen, or --port for the demo)") from None
    port = runner.addresses[0][1] if runner.addresses else http.port
    node.http_url = f"http://{http.host}:{port}"
    node.http_ready.set()
    node.pending.append(node.announcement())  # the other instances learn where to proxy to
    log.info("HTTP on %s", node.http_url)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


@asynccontextmanager
async def client_session(timeout: aiohttp.ClientTimeout) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client session for the app's lifetime (passing requests on to the other instances)."""
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield session
