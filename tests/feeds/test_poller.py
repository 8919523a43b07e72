"""The realtime poller against an aiohttp server on loopback: ETag, 304, errors, garbage, slowness."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from rtkit import feed, stu, trip_update

from feeds.poller import FeedPoller, backoff_delay
from feeds.realtime import RealtimeSource

NOW = 1_715_752_800
GOOD = feed(trip_update("T1", stu(seq=1, dep_delay=60)), timestamp=NOW)


class Behaviour:
    """What the fake producer answers next; counts requests and remembers their headers."""

    def __init__(self) -> None:
        self.mode = "good"
        self.requests: list[dict[str, str]] = []
        self.release = asyncio.Event()


@pytest.fixture
async def producer() -> AsyncIterator[tuple[TestServer, Behaviour]]:
    state = Behaviour()

    async def handler(request: web.Request) -> web.StreamResponse:
        state.requests.append(dict(request.headers))
        if request.headers.get("X-Api-Key") != "secret":
            return web.Response(status=401, text="unauthorized")
        mode = state.mode
        if mode == "good":
            if request.headers.get("If-None-Match") == '"v1"':
                return web.Response(status=304)
            return web.Response(body=GOOD, content_type="application/x-protobuf", headers={"ETag": '"v1"'})
        if mode == "500":
            return web.Response(status=500, text="boom")
        if mode == "html":
            return web.Response(text="<html><body>Maintenance</body></html>", content_type="text/html")
        if mode == "garbage":
            return web.Response(body=b"\x0a\xff\xff\xff\xff\x0f garbage", content_type="application/octet-stream")
        if mode == "truncated":
            return web.Response(body=GOOD[: len(GOOD) // 2], content_type="application/octet-stream")
        if mode == "huge":
            return web.Response(body=b"\x00" * 5000, content_type="application/octet-stream")
        if mode == "slow":
            await state.release.wait()
            return web.Response(body=GOOD, content_type="application/octet-stream")
        raise AssertionError(mode)

    app = web.Application()
    app.router.add_get("/tu.pb", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server, state
    state.release.set()
    await server.close()


def make_poller(server: TestServer, session: aiohttp.ClientSession, **kw: object) -> FeedPoller:
    source = RealtimeSource(str(server.make_url("/tu.pb")), headers={"X-Api-Key": "secret"}, **kw)  # type: ignore[arg-type]
    return FeedPoller(source, session, clock=lambda: NOW, random=lambda: 0.5)


async def test_etag_and_304_keep_the_data(producer: tuple[TestServer, Behaviour]) -> None:
    server, state = producer
    async with aiohttp.ClientSession() as session:
        poller = make_poller(server, session)
        assert await poller.fetch_once() is True
        assert poller.snapshot is not None and poller.snapshot.trip_updates == 1
        assert await poller.fetch_once() is False  # 304
        assert state.requests[1]["If-None-Match"] == '"v1"'
        assert poller.health.not_modified == 1
        assert (poller.health.last_success, poller.health.header_timestamp, poller.health.last_error) == (
            NOW,
            NOW,
            None,
        )


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("500", "HTTP 500 Internal Server Error: the producer is failing"),
        ("html", "wrong content type 'text/html' (expected protobuf)"),
        ("garbage", "corrupt or truncated GTFS-Realtime payload"),
        ("truncated", "corrupt or truncated GTFS-Realtime payload"),
        ("huge", "too large: 5000 bytes announced, over the cap of 1000 (max_bytes)"),
    ],
)
async def test_failures_keep_the_last_good_data_and_are_logged(
    producer: tuple[TestServer, Behaviour], mode: str, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    server, state = producer
    async with aiohttp.ClientSession() as session:
        poller = make_poller(server, session, max_bytes=1000)
        await poller.fetch_once()
        good = poller.snapshot
        state.mode = mode
        with caplog.at_level(logging.WARNING, logger="stopcast.feeds"):
            assert await poller.fetch_once() is False
        assert poller.snapshot is good
        assert poller.health.last_error is not None and poller.health.last_error.startswith(message)
        assert poller.health.consecutive_failures == 1
        assert f"realtime source {poller.source.url}: {message}" in caplog.text
        assert "keeping the last good data" in caplog.text


async def test_slow_producer_times_out(producer: tuple[TestServer, Behaviour]) -> None:
    server, state = producer
    state.mode = "slow"
    async with aiohttp.ClientSession() as session:
        poller = make_poller(server, session, timeout=0.2)
        assert await poller.fetch_once() is False
        assert poller.health.last_error == "timeout: connected, but no answer within 0.2 s"
        assert poller.snapshot is None


async def test_missing_api_key_is_reported(producer: tuple[TestServer, Behaviour]) -> None:
    server, state = producer
    async with aiohttp.ClientSession() as session:
        source = RealtimeSource(str(server.make_url("/tu.pb")))
        poller = FeedPoller(source, session, clock=lambda: NOW, random=lambda: 0.5)
        await poller.fetch_once()
        assert poller.health.last_error == "HTTP 401 Unauthorized: check the source's headers (API key)"


async def test_run_backs_off_while_failing_and_recovers(producer: tuple[TestServer, Behaviour]) -> None:
    server, state = producer
    state.mode = "500"
    waits: list[float] = []
    stop_after = 4

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            state.mode = "good"
        if len(waits) == stop_after:
            raise asyncio.CancelledError

    async with aiohttp.ClientSession() as session:
        poller = make_poller(server, session, interval=10.0)
        with pytest.raises(asyncio.CancelledError):
            await poller.run(sleep=fake_sleep)
    assert waits == [20.0, 40.0, 10.0, 10.0]
    assert poller.snapshot is not None


def test_backoff_doubles_caps_and_jitters() -> None:
    assert backoff_delay(30, 0, 300, 0.9) == 30
    assert [backoff_delay(30, n, 300, 0.5) for n in (1, 2, 3, 4, 50)] == [60, 120, 240, 300, 300]
    assert backoff_delay(30, 1, 300, 0.0) == 30 and backoff_delay(30, 1, 300, 0.99) == pytest.approx(89.4)


async def test_file_source_rereads_only_when_changed(tmp_path: Path) -> None:
    path = tmp_path / "tu.pb"
    path.write_bytes(GOOD)
    poller = FeedPoller(RealtimeSource(str(path)), None, clock=lambda: NOW, random=lambda: 0.5)
    assert await poller.fetch_once() is True
    assert await poller.fetch_once() is False
    path.write_bytes(b"<html>oops</html>")
    assert await poller.fetch_once() is False
    assert poller.health.last_error == "got a HTML/XML document, not a GTFS-Realtime protobuf"
    assert poller.snapshot is not None
    missing = FeedPoller(RealtimeSource(str(tmp_path / "nope.pb")), None, clock=lambda: NOW, random=lambda: 0.5)
    await missing.fetch_once()
    assert missing.health.last_error == "cannot be read (No such file or directory)"
