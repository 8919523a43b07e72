"""Real-size realtime feeds over loopback HTTP: chunked or with Content-Length, paced or not, from
aiohttp and from Python's own http.server; and producers that stall, cut off, loop or overflow."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import http.server
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from feedkit import SHARED
from google.transit import gtfs_realtime_pb2 as rt
from rtkit import big_trip_updates, feed, stu, trip_update

from feeds.cache import open_timetable
from feeds.live import build_live
from feeds.merge import stop_departures
from feeds.poller import FeedPoller
from feeds.realtime import RealtimeRules, RealtimeSource
from feeds.timetable import Timetable

HART = SHARED / "hart" / "hart-2021.zip"
NOW = 1_615_381_200  # 2021-03-10 08:00 America/New_York, a weekday of HART's feed
PIECE = 1 << 18


@pytest.fixture(scope="session")
def hart_feeds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Timetable, dict[str, Path]]:
    """HART's timetable and TripUpdates for all its trips, as files of 24 MB and 30 MB."""
    if not HART.exists():
        pytest.skip(f"real feed {HART} is absent (../shared/data not beside the checkout)")
    tt = open_timetable(HART)
    folder = tmp_path_factory.mktemp("hart-rt")
    full = big_trip_updates(tt, dt.date(2021, 3, 10), 30_500_000, NOW)
    message = rt.FeedMessage.FromString(full)
    keep = 0
    size = 0
    while size < 24_000_000:
        size += message.entity[keep].ByteSize() + 5
        keep += 1
    del message.entity[keep:]
    files = {"30mb": folder / "tu-30mb.pb", "24mb": folder / "tu-24mb.pb"}
    files["30mb"].write_bytes(full)
    files["24mb"].write_bytes(message.SerializeToString())
    return tt, files


def producer_app(files: dict[str, Path]) -> web.Application:
    """Serves each file chunked (no Content-Length) or with a Content-Length, paced or not."""

    async def handler(request: web.Request) -> web.StreamResponse:
        body = files[request.match_info["name"]].read_bytes()
        response = web.StreamResponse(headers={"Content-Type": "application/x-protobuf"})
        if request.match_info["framing"] == "chunked":
            response.enable_chunked_encoding()
        else:
            response.content_length = len(body)
        await response.prepare(request)
        paced = request.match_info["pace"] == "paced"
        for start in range(0, len(body), PIECE):
            await response.write(body[start:start + PIECE])
            if paced:
                await asyncio.sleep(0.002)  # a slow link: the body arrives over many reads
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/{name}/{framing}/{pace}", handler)
    return app


async def fetch_snapshot(source: RealtimeSource, session: aiohttp.ClientSession | None = None) -> FeedPoller:
    poller = FeedPoller(source, session, clock=lambda: NOW, random=lambda: 0.5)
    assert await poller.fetch_once() is True, poller.health.last_error
    return poller


def boards(tt: Timetable, poller: FeedPoller) -> list[object]:
    """The boards of HART's 40 busiest stops at NOW with that poller's snapshot merged."""
    assert poller.snapshot is not None
    live = build_live(tt, [poller.snapshot], NOW, RealtimeRules())
    busiest = sorted(range(len(tt.stops)), key=lambda s: int(tt.ix_offsets[s] - tt.ix_offsets[s + 1]))[:40]
    return [stop_departures(tt, live, tt.stops[s].stop_id, NOW, 3600, 12).departures for s in busiest]


@pytest.mark.realdata
@pytest.mark.parametrize("framing", ["chunked", "length"])
@pytest.mark.parametrize("pace", ["paced", "unpaced"])
async def test_30mb_feed_over_http_gives_the_boards_of_the_file(
    hart_feeds: tuple[Timetable, dict[str, Path]], framing: str, pace: str
) -> None:
    size = "30mb"
    tt, files = hart_feeds
    server = TestServer(producer_app(files), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            over_http = await fetch_snapshot(RealtimeSource(str(server.make_url(f"/{size}/{framing}/{pace}"))), session)
    finally:
        await server.close()
    from_file = await fetch_snapshot(RealtimeSource(str(files[size])))
    assert over_http.snapshot is not None and from_file.snapshot is not None
    assert over_http.snapshot.trip_updates == from_file.snapshot.trip_updates > 10_000
    http_boards, file_boards = boards(tt, over_http), boards(tt, from_file)
    assert http_boards == file_boards
    shown = [d for board in http_boards for d in board]  # type: ignore[attr-defined]
    assert sum(1 for d in shown if d.realtime and d.delay) > 100  # the predictions really are on the boards


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def stdlib_server(hart_feeds: tuple[Timetable, dict[str, Path]]) -> Iterator[str]:
    """`python3 -m http.server` over the feed folder, as a transit company's plain web server."""
    folder = hart_feeds[1]["24mb"].parent
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.realdata
async def test_24mb_feed_from_pythons_http_server(
    hart_feeds: tuple[Timetable, dict[str, Path]], stdlib_server: str
) -> None:
    tt, files = hart_feeds
    async with aiohttp.ClientSession() as session:
        over_http = await fetch_snapshot(RealtimeSource(f"{stdlib_server}/tu-24mb.pb"), session)
    from_file = await fetch_snapshot(RealtimeSource(str(files["24mb"])))
    assert boards(tt, over_http) == boards(tt, from_file)


# --- producers that misbehave (raw sockets: exactly the bytes a broken server sends) -------------

GOOD = feed(trip_update("T1", stu(seq=1, dep_delay=60)), timestamp=NOW)


class RawProducer:
    """An HTTP/1.1 server on loopback that answers with the raw bytes of `script`."""

    def __init__(self) -> None:
        self.script: list[bytes | None] = []  # None: stall until the test ends
        self.release = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        for part in self.script:
            if part is None:
                await self.release.wait()
                break
            writer.write(part)
            await writer.drain()
        writer.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/tu.pb"


@pytest.fixture
async def raw() -> AsyncIterator[RawProducer]:
    producer = RawProducer()
    producer.server = await asyncio.start_server(producer.handle, "127.0.0.1", 0)
    yield producer
    producer.release.set()
    producer.server.close()


def head(status: str = "200 OK", **headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", "Content-Type: application/octet-stream", "Connection: close"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def failure(url: str, **kw: object) -> str:
    async with aiohttp.ClientSession() as session:
        poller = FeedPoller(RealtimeSource(url, **kw), session, clock=lambda: NOW, random=lambda: 0.5)  # type: ignore[arg-type]
        assert await poller.fetch_once() is False
    assert poller.health.consecutive_failures == 1 and poller.health.last_error is not None
    return poller.health.last_error


async def test_body_that_stalls_times_out_saying_how_far_it_got(raw: RawProducer) -> None:
    raw.script = [head(Content_Length="5000"), b"\x0a" * 1000, None]
    assert await failure(raw.url, timeout=0.3) == (
        "timeout while reading the body: 1000 of 5000 bytes received (no data for 0.3 s, or over the total of 120 s)"
    )


async def test_no_first_byte_times_out(raw: RawProducer) -> None:
    raw.script = [None]
    assert await failure(raw.url, timeout=0.3) == "timeout: connected, but no answer within 0.3 s"


async def test_body_cut_off_is_not_called_corrupt(raw: RawProducer) -> None:
    raw.script = [head(Content_Length=str(len(GOOD))), GOOD[: len(GOOD) // 2]]
    message = await failure(raw.url)
    assert message.startswith(f"the body broke off after {len(GOOD) // 2} bytes")


async def test_chunked_body_over_the_cap_is_too_large(raw: RawProducer) -> None:
    chunk = b"\x00" * 4096
    raw.script = [head(Transfer_Encoding="chunked")] + [b"1000\r\n" + chunk + b"\r\n"] * 4 + [b"0\r\n\r\n"]
    assert await failure(raw.url, max_bytes=10_000) == "too large: more than 10000 bytes (max_bytes)"


async def test_redirect_loop(raw: RawProducer) -> None:
    raw.script = [head("302 Found", Location="/tu.pb", Content_Length="0")]
    assert await failure(raw.url) == "redirect loop: more than 10 redirects"


async def test_nobody_listening(unused_tcp_port: int) -> None:
    message = await failure(f"http://127.0.0.1:{unused_tcp_port}/tu.pb")
    assert message.startswith("cannot connect (")


async def test_corrupt_payload_with_an_etag_stays_failing(raw: RawProducer) -> None:
    """A corrupt body's ETag is not remembered, so the next poll is not a 304 'success'."""
    corrupt = b"\x0a\xff\xff\xff\xff\x0f garbage"
    raw.script = [head(ETag='"v1"', Content_Length=str(len(corrupt))), corrupt]
    seen: list[str] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        seen.append(request.decode())
        if b"If-None-Match" in request:
            writer.write(head("304 Not Modified"))
        else:
            writer.write(raw.script[0] + corrupt)  # type: ignore[operator]
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(record, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/tu.pb"
    async with aiohttp.ClientSession() as session:
        poller = FeedPoller(RealtimeSource(url), session, clock=lambda: NOW, random=lambda: 0.5)
        for attempt in (1, 2, 3):
            assert await poller.fetch_once() is False
            assert poller.health.consecutive_failures == attempt
            assert poller.health.last_error is not None and "corrupt" in poller.health.last_error
    server.close()
    assert not any("If-None-Match" in r for r in seen)


async def test_unchanged_corrupt_file_stays_failing(tmp_path: Path) -> None:
    path = tmp_path / "tu.pb"
    path.write_bytes(GOOD)
    poller = FeedPoller(RealtimeSource(str(path)), None, clock=lambda: NOW, random=lambda: 0.5)
    assert await poller.fetch_once() is True
    path.write_bytes(b"\x0a\xff\xff\xff\xff\x0f garbage")
    for attempt in (1, 2, 3):
        assert await poller.fetch_once() is False
        assert poller.health.consecutive_failures == attempt
        assert poller.health.last_error is not None and poller.health.last_error.startswith("corrupt or truncated")
    path.write_bytes(GOOD)
    assert await poller.fetch_once() is True
    assert poller.health.consecutive_failures == 0
