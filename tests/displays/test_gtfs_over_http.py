"""A timetable fetched over loopback HTTP as a transit company publishes it: downloaded into the
state folder, re-checked with If-None-Match, and kept when the producer fails."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from feedkit import write_feed

from displays.shell.gtfs_fetch import fetch_gtfs
from feeds.errors import FeedError


class Producer:
    def __init__(self, feed: bytes) -> None:
        self.feed, self.mode, self.requests = feed, "ok", []  # type: ignore[var-annotated]


@pytest.fixture
async def producer(tmp_path: Path) -> AsyncIterator[tuple[TestServer, Producer]]:
    state = Producer(write_feed(tmp_path / "feed", as_zip=True).read_bytes())

    async def handler(request: web.Request) -> web.StreamResponse:
        state.requests.append(request.headers.get("If-None-Match"))
        if state.mode == "fail":
            return web.Response(status=503, text="maintenance")
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        response = web.StreamResponse(headers={"ETag": '"v1"', "Content-Type": "application/zip"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(state.feed), 512):
            await response.write(state.feed[start : start + 512])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/gtfs.zip", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server, state
    await server.close()


async def test_download_recheck_and_keep(producer: tuple[TestServer, Producer], tmp_path: Path) -> None:
    server, state = producer
    url = str(server.make_url("/gtfs.zip"))
    folder = tmp_path / "state" / "gtfs"
    async with aiohttp.ClientSession() as session:
        path = await fetch_gtfs(url, session, folder)
        assert path.parent == folder and path.read_bytes() == state.feed
        assert await fetch_gtfs(url, session, folder) == path  # 304: the same file
        state.mode = "fail"
        assert (await fetch_gtfs(url, session, folder)).read_bytes() == state.feed  # kept while failing
        with pytest.raises(FeedError, match=r"could not be fetched: HTTP 503"):
            await fetch_gtfs(url, session, tmp_path / "elsewhere")  # nothing downloaded there yet
    assert state.requests[:2] == [None, '"v1"']
