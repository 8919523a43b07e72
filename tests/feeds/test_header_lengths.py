"""A valid feed is never refused for what its first bytes look like (issue 24 item 1).

Every FeedMessage starts with 0x0A (the header, field 1) and the header's length: a header of 123 bytes
made the payload start with '{' once whitespace was stripped, and the feed was refused as JSON (a real
NYC subway feed, on every poll). Caltrain's real TripUpdates with their header padded (an unknown field
in the header's extension range, as NYC's own extension is) to 123, 0x20, 0x0D (Caltrain's own) and 0x09
bytes, through `stopcast departures` and through the HTTP poller."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from feedkit import shared_feed
from google.transit import gtfs_realtime_pb2 as rt

from displays.cli.cli import main
from feeds.errors import FeedError
from feeds.poller import FeedPoller
from feeds.realtime import RealtimeSource, parse_feed

pytestmark = pytest.mark.realdata
LENGTHS = [123, 0x20, 0x0D, 0x09]
STOP = "70142"  # a platform with 8 realtime departures in the feed


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def padded(payload: bytes, length: int) -> bytes:
    """The feed with its header re-encoded to exactly `length` bytes (entities untouched)."""
    message = rt.FeedMessage.FromString(payload)
    header = rt.FeedHeader()
    header.CopyFrom(message.header)
    if length < header.ByteSize():  # too short for Caltrain's own: the shortest version and default incrementality
        header.ClearField("incrementality")
        header.gtfs_realtime_version = "1"
    raw = header.SerializeToString()
    tag = _varint(1999 << 3 | 2)  # an unknown length-delimited field in FeedHeader's extension range
    for fill in range(0, length):
        candidate = raw + tag + _varint(fill) + b"p" * fill
        if len(candidate) == length:
            raw = candidate
            break
    else:
        assert len(raw) == length, f"cannot pad a header of {len(raw)} bytes to {length}"
    body = b"\x0a" + _varint(len(raw)) + raw + b"".join(
        b"\x12" + _varint(e.ByteSize()) + e.SerializeToString() for e in message.entity)
    assert body[1] == length and rt.FeedMessage.FromString(body).entity == message.entity
    return body


@pytest.fixture(scope="module")
def caltrain() -> tuple[Path, bytes, int]:
    folder = shared_feed("caltrain")
    payload = (folder / "ct-trip-updates.pb").read_bytes()
    return folder / "ct.zip", payload, rt.FeedMessage.FromString(payload).header.timestamp


def test_a_123_byte_header_starts_like_json_once_stripped(caltrain: tuple[Path, bytes, int]) -> None:
    _, payload, at = caltrain
    feed = padded(payload, 123)
    assert feed.lstrip().startswith(b"{")  # what the old sniffing saw
    snapshot = parse_feed(feed, "nyc-like.pb", at)
    assert snapshot.trip_updates == 19 and snapshot.header_timestamp == at


def test_json_html_and_garbage_are_still_named() -> None:
    for payload, said in [(b' {"entity": []}', "got a JSON document"), (b"\n<!DOCTYPE html><html>", "got a HTML/XML"),
                          (b"\x0a\xff\xff\xff\xff\x0f", "corrupt or truncated GTFS-Realtime payload")]:
        with pytest.raises(FeedError, match=said):
            parse_feed(payload, "x.pb", 0)


def departures_json(capsys: pytest.CaptureFixture[str], gtfs: Path, realtime: str, at: int) -> tuple[dict, str]:
    status = main(["departures", "--gtfs", str(gtfs), "--realtime", realtime, "--stop", STOP, "--at", str(at),
                   "--horizon", "240", "--format", "json"])
    out = capsys.readouterr()
    assert status == 0, out.err
    return json.loads(out.out), out.err


@pytest.mark.parametrize("length", LENGTHS)
def test_cli_departures_take_the_padded_feed(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             caltrain: tuple[Path, bytes, int], length: int) -> None:
    gtfs, payload, at = caltrain
    (tmp_path / "real.pb").write_bytes(payload)
    (tmp_path / "padded.pb").write_bytes(padded(payload, length))
    expected, _ = departures_json(capsys, gtfs, str(tmp_path / "real.pb"), at)
    got, err = departures_json(capsys, gtfs, str(tmp_path / "padded.pb"), at)
    assert "warning" not in err
    assert any(d["realtime"] and d["expected_departure"] for d in got["departures"])
    assert got["departures"] == expected["departures"]


@pytest.fixture
async def producer(caltrain: tuple[Path, bytes, int]) -> AsyncIterator[TestServer]:
    _, payload, _ = caltrain

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=padded(payload, int(request.match_info["length"])),
                            content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_get("/ct/{length}.pb", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


@pytest.mark.parametrize("length", LENGTHS)
async def test_http_poller_takes_the_padded_feed(producer: TestServer, caltrain: tuple[Path, bytes, int],
                                                 length: int) -> None:
    _, _, at = caltrain
    async with aiohttp.ClientSession() as session:
        poller = FeedPoller(RealtimeSource(str(producer.make_url(f"/ct/{length}.pb"))), session, clock=lambda: at,
                            random=lambda: 0.5)
        assert await poller.fetch_once() is True, poller.health.last_error
        assert poller.snapshot is not None and poller.snapshot.trip_updates == 19
        assert poller.health.last_error is None and not poller.health.is_stale(at + 30, 180)
