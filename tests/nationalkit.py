"""The service on BART's real timetable with a realtime source, for the national-feed tests (issue 24 item 3):
a faithful producer's full datasets, the service's clock and HTTP answers."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from feedkit import SHARED
from google.transit import gtfs_realtime_pb2 as rt
from rtkit import stu, trip_update

from displays.config.parse import load_config
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from displays.web.http import make_app
from feeds.cache import open_timetable
from feeds.guard import AHEAD, BEFORE
from feeds.live import LiveState
from feeds.times import format_service_date, local_date, service_day_origin
from feeds.timetable import Timetable

BART = SHARED / "bart"
DISPLAYS = [{"id": "embr", "stops": ["EMBR"], "layout": "epaper-800x480"},
            {"id": "mlbr", "stops": ["MLBR"], "layout": "epaper-800x480"}]


def load_bart(cache: Path) -> tuple[Timetable, bytes, int, Path]:
    """BART's timetable, its real TripUpdates, their header time, and the timetable cache folder."""
    if not (BART / "bart-rt.zip").exists():
        pytest.skip(f"real feed {BART} is absent (../shared/data is not beside the checkout)")
    payload = (BART / "bart-trip-updates.pb").read_bytes()
    at = rt.FeedMessage.FromString(payload).header.timestamp  # 2019-08-07 10:45 in the Bay Area
    return open_timetable(BART / "bart-rt.zip", cache), payload, at, cache


def running(tt: Timetable, now: int) -> list[tuple[int, dt.date]]:
    """The trip instances a faithful producer's full dataset covers: under way, or starting within the hour."""
    out = []
    for offset in (-1, 0):
        day = local_date(now, tt.timezone) + dt.timedelta(days=offset)
        origin = service_day_origin(day, tt.timezone)
        active = tt.calendar.active(day)
        for trip in range(len(tt.trip_ids)):
            start = origin + int(tt.st_dep[tt.trip_first[trip]])
            end = origin + int(tt.st_dep[tt.trip_first[trip + 1] - 1])
            if active[tt.trip_service[trip]] and start <= now + AHEAD and end >= now - BEFORE:
                out.append((trip, day))
    return out


def dataset(tt: Timetable, now: int, delay: int = 120, keep: int | None = None, header: int | None = None) -> bytes:
    """A FULL_DATASET: every running trip `delay` seconds late (only the first `keep` of them: a collapse)."""
    msg = rt.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.timestamp = now if header is None else header
    for trip, day in running(tt, now)[:keep]:
        update = trip_update(tt.trip_ids[trip], stu(seq=int(tt.st_seq[tt.trip_first[trip]]), dep_delay=delay),
                             start_date=format_service_date(day), timestamp=now)
        msg.entity.append(update)
    return msg.SerializeToString()


@asynccontextmanager
async def serving(tmp_path: Path, bart: tuple, at: int, realtime: str, **feeds: Any) -> AsyncIterator[tuple]:
    """The service on BART with one realtime source, its HTTP app, and its clock."""
    doc = {"feeds": {"gtfs": str(BART / "bart-rt.zip"), "realtime": [realtime], **feeds},
           "mqtt": {"url": "mqtt://127.0.0.1:1"}, "http": {"listen": "127.0.0.1:0"}, "displays": DISPLAYS}
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "stopcast.toml"
    config.write_text(tomli_w.dumps(doc))
    clock = FixedClock(at)
    service = Service(load_config(config), clock, config_path=config, cache_dir=bart[3])
    await service.prepare()
    client = TestClient(TestServer(make_app(service), host="127.0.0.1"))
    await client.start_server()
    try:
        yield service, client, clock
    finally:
        await client.close()
        await service.close()


async def turn(service: Service, clock: FixedClock, now: int) -> None:
    """The service at `now`: every source fetched once, every board made."""
    clock.at = now
    await service.fetch_all()
    await service.refresh(now)


async def seen(client: TestClient, display: str = "embr") -> tuple[dict, dict]:
    """(/healthz, the display's board.json): what ops and riders see."""
    health = await client.get("/healthz")
    board = await client.get(f"/displays/{display}/board.json")
    assert health.status == 200 and board.status == 200
    return await health.json(), await board.json()


def live_rows(board: dict) -> list[tuple[str, str, str]]:
    """Each live row's key, time and delay as shown: in the delay column, or beside the destination where the
    board's wording ("2 min late" on BART's English boards) does not fit that column."""
    return [(r["key"], r["clock_text"], r["delay_text"] or r["note"]) for r in board["rows"] if r["live"]]


def late(minutes: int) -> str:
    """A delay as BART's English boards word it."""
    return f"{minutes} min late"


def run_of(tt: Timetable, trip: int, day: dt.date) -> str:
    """A board row's key without its stop: trip and service date."""
    return f"{tt.trip_ids[trip]}|{format_service_date(day)}"


def added_trips(live: LiveState) -> set[str]:
    return {call.trip_id for calls in live.added.values() for call in calls}


def first_departures(tt: Timetable, stop_id: str, after: int, until: int) -> list[tuple[int, dt.date, int]]:
    """(trip, service day, scheduled departure) of the trips that start at `stop_id` in (after, until]."""
    stop = tt.stop_index[stop_id]
    day = local_date(after, tt.timezone)
    origin = service_day_origin(day, tt.timezone)
    active = tt.calendar.active(day)
    out = []
    for trip in range(len(tt.trip_ids)):
        row = int(tt.trip_first[trip])
        when = origin + int(tt.st_dep[row])
        if int(tt.st_stop[row]) == stop and active[tt.trip_service[trip]] and after < when <= until:
            out.append((trip, day, when))
    return sorted(out, key=lambda item: item[2])


@asynccontextmanager
async def producer(handler: Callable[[web.Request], Any]) -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_get("/tu.pb", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


async def until(check: Callable[[], Any], seconds: float = 20.0) -> Any:
    """Poll the running service's HTTP answers until `check` holds (bounded)."""
    deadline = time.monotonic() + seconds
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)


def message(*entities: rt.FeedEntity, at: int) -> bytes:
    """A FULL_DATASET of these entities written at `at`."""
    msg = rt.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.timestamp = at
    msg.entity.extend(entities)
    return msg.SerializeToString()
