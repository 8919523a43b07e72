"""A realtime source's credentials stay on its own origin (issue 26 item 12): a redirect to another host
or port gets no API key, as browsers and requests do; a redirect on the same origin keeps it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from rtkit import feed, stu, trip_update

from feeds.poller import FeedPoller
from feeds.realtime import RealtimeSource

NOW = 1_715_752_800
GOOD = feed(trip_update("T1", stu(seq=1, dep_delay=60)), timestamp=NOW)
SECRET = {"X-Api-Key": "secret", "Authorization": "Bearer secret"}


class Seen:
    """The headers each server received, by path."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []


async def start(app: web.Application) -> TestServer:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


@pytest.fixture
async def servers() -> AsyncIterator[tuple[TestServer, TestServer, Seen]]:
    seen = Seen()

    async def elsewhere(request: web.Request) -> web.Response:
        seen.requests.append((f"other{request.path}", dict(request.headers)))
        return web.Response(body=GOOD, content_type="application/x-protobuf")

    other = await start(_app({"/tu.pb": elsewhere}))

    async def moved(request: web.Request) -> web.Response:
        seen.requests.append((request.path, dict(request.headers)))
        raise web.HTTPFound(str(other.make_url("/tu.pb")))

    async def renamed(request: web.Request) -> web.Response:
        seen.requests.append((request.path, dict(request.headers)))
        raise web.HTTPMovedPermanently("/tu.pb")  # relative: the same origin

    async def protected(request: web.Request) -> web.Response:
        seen.requests.append((request.path, dict(request.headers)))
        if request.headers.get("X-Api-Key") != "secret":
            return web.Response(status=401)
        return web.Response(body=GOOD, content_type="application/x-protobuf")

    origin = await start(_app({"/moved.pb": moved, "/renamed.pb": renamed, "/tu.pb": protected}))
    assert origin.port != other.port
    yield origin, other, seen
    await origin.close()
    await other.close()


def _app(routes: dict) -> web.Application:
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    return app


async def fetch(url: str) -> FeedPoller:
    async with aiohttp.ClientSession() as session:
        poller = FeedPoller(RealtimeSource(url, headers=SECRET), session, clock=lambda: NOW, random=lambda: 0.5)
        await poller.fetch_once()
    return poller


async def test_a_cross_origin_redirect_gets_no_credentials(servers: tuple[TestServer, TestServer, Seen]) -> None:
    origin, _, seen = servers
    poller = await fetch(str(origin.make_url("/moved.pb")))
    assert poller.snapshot is not None and poller.snapshot.trip_updates == 1, poller.health.last_error
    (first, sent), (second, received) = seen.requests
    assert (first, sent["X-Api-Key"], sent["Authorization"]) == ("/moved.pb", "secret", "Bearer secret")
    assert second == "other/tu.pb"
    assert not {"x-api-key", "authorization"} & {k.lower() for k in received}


async def test_a_same_origin_redirect_keeps_them(servers: tuple[TestServer, TestServer, Seen]) -> None:
    origin, _, seen = servers
    poller = await fetch(str(origin.make_url("/renamed.pb")))
    assert poller.snapshot is not None, poller.health.last_error
    assert [(path, headers.get("X-Api-Key")) for path, headers in seen.requests] == [("/renamed.pb", "secret"),
                                                                                    ("/tu.pb", "secret")]
