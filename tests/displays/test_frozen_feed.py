"""A producer that freezes while its server still answers (DELFI, mfdz/GTFS-Issues #175; issue 26 item 16:
a source answering 304 forever), a collapse seen through the whole running service, and the new settings."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import tomli_w
from aiohttp import web
from google.transit import gtfs_realtime_pb2 as rt
from nationalkit import (
    BART,
    DISPLAYS,
    dataset,
    late,
    live_rows,
    load_bart,
    message,
    producer,
    seen,
    serving,
    turn,
    until,
)
from rtkit import stu, trip_update

from displays.config.parse import load_config
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from feeds.timetable import Timetable

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def bart(tmp_path_factory: pytest.TempPathFactory) -> tuple[Timetable, bytes, int, Path]:
    return load_bart(tmp_path_factory.mktemp("cache"))


async def test_a_frozen_feed_is_stale_whatever_its_header_and_last_modified_say(tmp_path: Path, bart: tuple) -> None:
    tt, _, at, _ = bart
    clock_box: list[FixedClock] = []
    frozen = rt.FeedMessage.FromString(dataset(tt, at))

    async def handler(request: web.Request) -> web.Response:
        now = int(clock_box[0].now())
        frozen.header.timestamp = now  # the header moves on, so does Last-Modified: the content never changes
        stamp = dt.datetime.fromtimestamp(now, dt.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
        return web.Response(body=frozen.SerializeToString(), content_type="application/x-protobuf",
                            headers={"Last-Modified": stamp})

    async with producer(handler) as server:
        async with serving(tmp_path, bart, at, str(server.make_url("/tu.pb"))) as (service, client, clock):
            clock_box.append(clock)
            for minute in range(0, 6):
                await turn(service, clock, at + 60 * minute)
            health, board = await seen(client)
            assert not health["feeds"][0]["stale"] and not board["timetable_only"] and live_rows(board)
            for minute in range(6, 12):
                await turn(service, clock, at + 60 * minute)
            health, board = await seen(client)
            feed = health["feeds"][0]
            assert feed["age_seconds"] == 0 and feed["unchanged_seconds"] == 660  # fresh header, content 11 min old
            assert feed["frozen"] and feed["stale"] and health["status"] == "degraded"
            assert any("is frozen: its content has not changed for 660 s" in p for p in health["problems"])
            assert board["timetable_only"] and not live_rows(board)
            metrics = await (await client.get("/metrics")).text()
            assert f'stopcast_feed_frozen{{source="{server.make_url("/tu.pb")}"}} 1' in metrics


@pytest.mark.parametrize("with_header", [True, False], ids=["header-timestamp", "no-header-timestamp"])
async def test_a_source_answering_304_forever_is_stale_on_healthz_as_on_the_boards(
        tmp_path: Path, bart: tuple, with_header: bool) -> None:
    tt, _, at, _ = bart
    payload = dataset(tt, at, header=at if with_header else 0)

    async def handler(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        return web.Response(body=payload, content_type="application/x-protobuf", headers={"ETag": '"v1"'})

    async with producer(handler) as server:
        async with serving(tmp_path, bart, at, str(server.make_url("/tu.pb"))) as (service, client, clock):
            await turn(service, clock, at)
            health, board = await seen(client)
            assert not health["feeds"][0]["stale"] and not board["timetable_only"]
            for seconds in range(30, 301, 30):
                await turn(service, clock, at + seconds)
            health, board = await seen(client)
            feed = health["feeds"][0]
            assert board["timetable_only"]
            assert feed["stale"] and feed["age_seconds"] == 300 and health["status"] == "degraded"
            assert any(
                p.startswith(f"realtime {server.make_url('/tu.pb')} is stale: last data 5 min ago")
                for p in health["problems"]
            )


# --- The whole running service ---------------------------------------------------------------------------


@pytest.mark.broker
async def test_a_collapse_seen_through_the_running_service(tmp_path: Path, bart: tuple) -> None:
    """`serve` as it runs (pollers on their interval, the ticker, MQTT, HTTP): a producer on loopback sends four
    full datasets, then one with two trips of the board (now 5 min late) and nothing else."""
    from brokerkit import mosquitto

    from displays.web.http import serve_http

    tt, _, at, cache = bart
    served: list[int] = []
    ready, go = asyncio.Event(), asyncio.Event()
    collapsed: dict[str, bytes] = {}
    clock = FixedClock(at)

    async def handler(request: web.Request) -> web.Response:
        n = len(served)
        served.append(n)
        if n < 4:
            clock.at = at + 30 * n
            body = dataset(tt, at + 30 * n)
            if n == 3:
                ready.set()
        else:
            await go.wait()
            clock.at = at + 120
            body = collapsed["payload"]
        return web.Response(body=body, content_type="application/x-protobuf")

    async with producer(handler) as server:
        with mosquitto(tmp_path / "broker") as broker:
            doc = {"feeds": {"gtfs": str(BART / "bart-rt.zip"),
                             "realtime": [{"url": str(server.make_url("/tu.pb")), "interval": 0.2}]},
                   "mqtt": {"url": broker.url}, "http": {"listen": "127.0.0.1:0"}, "displays": DISPLAYS}
            config = tmp_path / "stopcast.toml"
            config.write_text(tomli_w.dumps(doc))
            service = Service(load_config(config), clock, config_path=config, cache_dir=cache)
            runner = asyncio.create_task(service.run(extra_tasks=[serve_http(service)]))
            try:
                await asyncio.wait_for(ready.wait(), 30)
                async with aiohttp.ClientSession() as http:
                    async def board_after_four() -> dict | None:
                        if not service.http_url:
                            return None
                        health = await (await http.get(f"{service.http_url}/healthz")).json()
                        answer = await http.get(f"{service.http_url}/displays/embr/board.json")
                        if (
                            answer.status != 200
                            or (health["feeds"][0]["header_timestamp"] or "") < "2019-08-07T10:46:51"
                        ):
                            return None
                        board = await answer.json()
                        return board if len(live_rows(board)) >= 5 else None

                    board = await until(board_after_four)
                    assert board is not None, "the healthy datasets never reached the board"
                    before = live_rows(board)
                    assert all(delay == late(2) for _, _, delay in before)
                    first_two = [key.rsplit("|", 1)[0] for key, _, _ in before[:2]]
                    delayed = [trip_update(trip_id, stu(seq=int(tt.st_seq[tt.trip_first[tt.trip_index[trip_id]]]),
                                                     dep_delay=300), start_date=date, timestamp=at + 120)
                            for trip_id, date in (key.split("|") for key in first_two)]
                    collapsed["payload"] = message(*delayed, at=at + 120)
                    go.set()

                    async def collapse_on_board() -> tuple[dict, dict] | None:
                        health = await (await http.get(f"{service.http_url}/healthz")).json()
                        board = await (await http.get(f"{service.http_url}/displays/embr/board.json")).json()
                        rows = {key.rsplit("|", 1)[0]: delay for key, _, delay in live_rows(board)}
                        if health["feeds"][0]["collapse"] and all(rows.get(k) == late(5) for k in first_two):
                            return health, board
                        return None

                    seen_now = await until(collapse_on_board)
                    assert seen_now is not None, "the collapsed dataset never reached the board"
                    health, board = seen_now
                    rows = live_rows(board)
                    others = [(k, c, d) for k, c, d in rows if k.rsplit("|", 1)[0] not in first_two]
                    assert others == [r for r in before if r[0].rsplit("|", 1)[0] not in first_two]  # kept, +2
                    assert any("full dataset collapsed: 2 trip updates" in p for p in health["problems"])
            finally:
                service.stop()
                await asyncio.wait_for(runner, 15)


@pytest.mark.parametrize(("key", "value", "said"), [
    ("max_early", -5, "must be"), ("collapse_fraction", 2, "between 0.01 and 0.99"),
    ("frozen_after", "ten", "must be"), ("max_speed_kmh", 10, "must be"),
])
def test_the_new_feed_settings_are_checked(tmp_path: Path, key: str, value: Any, said: str) -> None:
    from displays.config.model import ConfigError

    doc = {"feeds": {"gtfs": "feed.zip", key: value}, "displays": []}
    config = tmp_path / "stopcast.toml"
    config.write_text(tomli_w.dumps(doc))
    with pytest.raises(ConfigError) as error:
        load_config(config)
    assert f"feeds.{key}" in str(error.value) and said in str(error.value) and str(config) in str(error.value)
