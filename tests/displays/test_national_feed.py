"""The national feed's known failures (DELFI, mfdz/GTFS-Issues), through the service: what riders see on the
boards and what ops see on /healthz and /metrics (issue 24 item 3, issue 26 item 16).

Each failure is built from the real BART timetable and TripUpdates in ../shared/data: a full dataset that
collapses and comes back (#157, #205), a producer that freezes while its server still answers (#175), an
ADDED trip through a wormhole (#192), and a prediction from nearest-time matching (#269)."""

from __future__ import annotations

import datetime as dt
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
from rtkit import TD, stu, trip_update

from displays.clock import FixedClock
from displays.config import load_config
from displays.http import make_app
from displays.service import Service
from feeds.cache import open_timetable
from feeds.guard import AHEAD, BEFORE
from feeds.live import LiveState, build_live
from feeds.realtime import RealtimeRules, parse_feed
from feeds.times import format_service_date, hhmm, local_date, service_day_origin
from feeds.timetable import Timetable

pytestmark = pytest.mark.realdata
BART = SHARED / "bart"
DISPLAYS = [{"id": "embr", "stops": ["EMBR"], "layout": "epaper-800x480"},
            {"id": "mlbr", "stops": ["MLBR"], "layout": "epaper-800x480"}]


@pytest.fixture(scope="module")
def bart(tmp_path_factory: pytest.TempPathFactory) -> tuple[Timetable, bytes, int, Path]:
    if not (BART / "bart-rt.zip").exists():
        pytest.skip(f"real feed {BART} is absent (../shared/data is not beside the checkout)")
    cache = tmp_path_factory.mktemp("cache")
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
    return [(r["key"], r["clock_text"], r["delay_text"]) for r in board["rows"] if r["live"]]


# --- Collapse -------------------------------------------------------------------------------------------


async def test_a_collapsed_full_dataset_keeps_the_missing_trips_until_they_are_stale(tmp_path: Path, bart: tuple) -> None:
    tt, _, at, _ = bart
    path = tmp_path / "tu.pb"
    async with serving(tmp_path, bart, at, str(path)) as (service, client, clock):
        for k in range(4):  # a healthy feed: about 150 trips every 30 s
            path.write_bytes(dataset(tt, at + 30 * k))
            await turn(service, clock, at + 30 * k)
        health, board = await seen(client)
        before = live_rows(board)
        assert len(before) >= 5 and all(delay == "+2" for _, _, delay in before)
        assert health["feeds"][0]["collapse"] is None and not any("collapsed" in p for p in health["problems"])

        path.write_bytes(dataset(tt, at + 120, keep=5))  # a few trips instead of ~150, within a minute
        await turn(service, clock, at + 120)
        health, board = await seen(client)
        assert live_rows(board) == before  # riders keep the predictions of the trips the dataset lost
        feed = health["feeds"][0]
        assert feed["collapse"].startswith("full dataset collapsed: 5 trip updates")
        assert feed["kept_trip_updates"] > 100 and not feed["stale"]
        assert any(p.startswith(f"realtime {path}: full dataset collapsed") for p in health["problems"])
        metrics = await (await client.get("/metrics")).text()
        assert f'stopcast_feed_collapsed{{source="{path}"}} 1' in metrics

        later = at + 120 + 660  # still collapsed, and the kept predictions are older than trip_stale_after
        path.write_bytes(dataset(tt, later, keep=5))
        await turn(service, clock, later)
        health, board = await seen(client)
        assert health["feeds"][0]["collapse"] and health["feeds"][0]["kept_trip_updates"] == 0
        kept_keys = {key.rsplit("|", 1)[0] for key, _, _ in live_rows(board)}
        assert kept_keys <= {_key(tt, t, d) for t, d in running(tt, later)[:5]}  # only the dataset's own trips

        path.write_bytes(dataset(tt, later + 30))  # the dataset comes back
        await turn(service, clock, later + 30)
        health, board = await seen(client)
        assert health["feeds"][0]["collapse"] is None
        assert not any("collapsed" in p for p in health["problems"])
        assert len(live_rows(board)) >= 5


def _key(tt: Timetable, trip: int, day: dt.date) -> str:
    """A board row's key without its stop: trip and service date."""
    return f"{tt.trip_ids[trip]}|{format_service_date(day)}"


async def test_the_end_of_service_at_night_is_no_collapse(tmp_path: Path, bart: tuple) -> None:
    tt, _, at, _ = bart
    evening = at - at % 3600 + 12 * 3600  # 22:00 that day
    path = tmp_path / "tu.pb"
    counts = []
    async with serving(tmp_path, bart, evening, str(path)) as (service, client, clock):
        for k in range(0, 5 * 3600, 600):  # 22:00 to 03:00, every ten minutes: 80 trips, then none
            path.write_bytes(dataset(tt, evening + k))
            await turn(service, clock, evening + k)
            health, _ = await seen(client)
            counts.append(health["feeds"][0]["trip_updates"])
            assert health["feeds"][0]["collapse"] is None, health["feeds"][0]
            assert not any("collapsed" in p for p in health["problems"])
    assert counts[0] > 60 and counts[-1] == 0


# --- Frozen ---------------------------------------------------------------------------------------------


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
            assert any(p == f"realtime {server.make_url('/tu.pb')} is stale" for p in health["problems"])


# --- Wormholes ------------------------------------------------------------------------------------------


async def test_an_added_trip_through_a_wormhole_is_dropped_and_counted(tmp_path: Path, bart: tuple) -> None:
    tt, payload, at, _ = bart
    message = rt.FeedMessage.FromString(payload)
    real_added = sum(e.trip_update.trip.schedule_relationship == TD.ADDED for e in message.entity)
    wormhole = trip_update("WORMHOLE-1", stu(stop_id="MLBR", dep_time=at + 300),  # Millbrae to Antioch, 58 km:
                           stu(stop_id="ANTC", arr_time=at + 360), rel=TD.ADDED, route_id="1")  # in one minute
    message.entity.append(wormhole)
    path = tmp_path / "tu.pb"
    path.write_bytes(message.SerializeToString())
    async with serving(tmp_path, bart, at, str(path)) as (service, client, clock):
        await turn(service, clock, at)
        health, board = await seen(client, "mlbr")
        assert not any(r["key"].startswith("WORMHOLE-1|") for r in board["rows"])
        assert real_added == 8 and health["feeds"][0]["wormhole_trips_dropped"] == 1  # BART's own ADDED trips stay
        live, real = service.live_state(at), build_live(tt, [parse_feed(payload, "real", at)], at, RealtimeRules())
        assert live is not None and _added(live) == _added(real) and len(_added(real)) >= 7
        metrics = await (await client.get("/metrics")).text()
        assert f'stopcast_feed_wormhole_trips_dropped{{source="{path}"}} 1' in metrics
    message.entity[-1].trip_update.stop_time_update[1].arrival.time = at + 300 + 50 * 60  # 58 km in 50 min: fine
    path.write_bytes(message.SerializeToString())
    async with serving(tmp_path / "again", bart, at, str(path)) as (service, client, clock):
        await turn(service, clock, at)
        health, board = await seen(client, "mlbr")
        assert any(r["key"].startswith("WORMHOLE-1|") for r in board["rows"])
        assert health["feeds"][0]["wormhole_trips_dropped"] == 0


def _added(live: LiveState) -> set[str]:
    return {call.trip_id for calls in live.added.values() for call in calls}


# --- Nearest-time matching ------------------------------------------------------------------------------


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


@pytest.mark.parametrize("max_early", [None, 3600])
async def test_a_prediction_far_before_schedule_of_a_trip_not_yet_started_shows_the_timetable(
        tmp_path: Path, bart: tuple, max_early: int | None) -> None:
    tt, _, at, _ = bart
    trip, day, scheduled = first_departures(tt, "MLBR", at + 5 * 60, at + 60 * 60)[0]
    update = trip_update(tt.trip_ids[trip], stu(seq=int(tt.st_seq[tt.trip_first[trip]]), dep_delay=-3133),
                         start_date=format_service_date(day), timestamp=at)
    msg = rt.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.timestamp = at
    msg.entity.append(update)
    path = tmp_path / "tu.pb"
    path.write_bytes(msg.SerializeToString())
    extra = {} if max_early is None else {"max_early": max_early}
    async with serving(tmp_path, bart, at, str(path), **extra) as (service, client, clock):
        await turn(service, clock, at)
        health, board = await seen(client, "mlbr")
        rows = [r for r in board["rows"] if r["key"].startswith(f"{tt.trip_ids[trip]}|")]
        ignored = health["feeds"][0]["early_predictions_ignored"]
        metrics = await (await client.get("/metrics")).text()
        if max_early is None:  # the default, 10 minutes: not believed, the timetable time shows
            assert [(r["live"], r["clock_text"], r["delay_text"]) for r in rows] == [
                (False, hhmm(scheduled, tt.timezone), "")]
            assert ignored == 1 and f'stopcast_feed_early_predictions_ignored{{source="{path}"}} 1' in metrics
        else:  # configured to believe up to an hour early: the train left 52 minutes early, it is gone
            assert rows == [] and ignored == 0


async def test_a_trip_under_way_may_run_early(tmp_path: Path, bart: tuple) -> None:
    tt, _, at, _ = bart
    trip, day, scheduled = first_departures(tt, "MLBR", at - 40 * 60, at - 5 * 60)[-1]
    a, b = int(tt.trip_first[trip]), int(tt.trip_first[trip + 1])
    later = next(r for r in range(a, b) if service_day_origin(day, tt.timezone) + int(tt.st_dep[r]) > at + 20 * 60)
    update = trip_update(tt.trip_ids[trip], stu(seq=int(tt.st_seq[later]), dep_delay=-15 * 60),
                         start_date=format_service_date(day), timestamp=at)
    msg = rt.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.timestamp = at
    msg.entity.append(update)
    path = tmp_path / "tu.pb"
    path.write_bytes(msg.SerializeToString())
    async with serving(tmp_path, bart, at, str(path)) as (service, client, clock):
        await turn(service, clock, at)
        health, _ = await seen(client)
        assert health["feeds"][0]["early_predictions_ignored"] == 0
        live = service.live_state(at)
        assert live is not None
        prediction = live.prediction((trip, day.toordinal(), -1))
        assert prediction is not None and int(prediction.expected[later - a]) == (
            service_day_origin(day, tt.timezone) + int(tt.st_dep[later]) - 15 * 60)


# --- Re-dating, as ops see it ---------------------------------------------------------------------------


async def test_re_datings_are_counted_on_healthz_and_metrics(tmp_path: Path, bart: tuple) -> None:
    tt, _, at, _ = bart
    night = at - at % 86400 + 86400 + 7 * 3600 + 10 * 60  # 00:10 the next night (PDT is UTC-7)
    service_day = local_date(night, tt.timezone) - dt.timedelta(days=1)
    origin = service_day_origin(service_day, tt.timezone)
    active = tt.calendar.active(service_day)
    late = [t for t in range(len(tt.trip_ids)) if active[tt.trip_service[t]]
            and night < origin + int(tt.st_dep[tt.trip_first[t]]) <= night + 40 * 60]
    assert late, "BART runs trips past midnight"
    trip = late[0]
    first = int(tt.st_dep[tt.trip_first[trip]])
    clock_time = f"{first // 3600 - 24:02d}:{first // 60 % 60:02d}:{first % 60:02d}"
    update = trip_update(tt.trip_ids[trip], stu(seq=int(tt.st_seq[tt.trip_first[trip]]), dep_delay=240),
                         start_date=format_service_date(service_day + dt.timedelta(days=1)), start_time=clock_time)
    msg = rt.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.timestamp = night
    msg.entity.append(update)
    path = tmp_path / "tu.pb"
    path.write_bytes(msg.SerializeToString())
    async with serving(tmp_path, bart, night, str(path)) as (service, client, clock):
        await turn(service, clock, night)
        health = await (await client.get("/healthz")).json()
        assert health["feeds"][0]["redated_trip_updates"] == 1
        metrics = await (await client.get("/metrics")).text()
        assert f'stopcast_feed_redated_trip_updates{{source="{path}"}} 1' in metrics
        live = service.live_state(night)
        assert live is not None and set(live.updates) == {(trip, service_day.toordinal(), -1)}
        prediction = live.prediction((trip, service_day.toordinal(), -1))
        assert prediction is not None and int(prediction.expected[0]) == origin + first + 240


# --- The whole running service ---------------------------------------------------------------------------


async def until(check: Callable[[], Any], seconds: float = 20.0) -> Any:
    """Poll the running service's HTTP answers until `check` holds (bounded)."""
    import asyncio
    import time

    deadline = time.monotonic() + seconds
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)


@pytest.mark.broker
async def test_a_collapse_seen_through_the_running_service(tmp_path: Path, bart: tuple) -> None:
    """`serve` as it runs (pollers on their interval, the ticker, MQTT, HTTP): a producer on loopback sends four
    full datasets, then one with two trips of the board (now 5 min late) and nothing else."""
    import asyncio

    import aiohttp
    from brokerkit import mosquitto

    from displays.http import serve_http

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
                        if answer.status != 200 or (health["feeds"][0]["header_timestamp"] or "") < "2019-08-07T10:46:51":
                            return None
                        board = await answer.json()
                        return board if len(live_rows(board)) >= 5 else None

                    board = await until(board_after_four)
                    assert board is not None, "the healthy datasets never reached the board"
                    before = live_rows(board)
                    assert all(delay == "+2" for _, _, delay in before)
                    first_two = [key.rsplit("|", 1)[0] for key, _, _ in before[:2]]
                    msg = rt.FeedMessage()
                    msg.header.gtfs_realtime_version = "2.0"
                    msg.header.timestamp = at + 120
                    for key in first_two:
                        trip_id, date = key.split("|")
                        trip = tt.trip_index[trip_id]
                        msg.entity.append(trip_update(trip_id, stu(seq=int(tt.st_seq[tt.trip_first[trip]]), dep_delay=300),
                                                      start_date=date, timestamp=at + 120))
                    collapsed["payload"] = msg.SerializeToString()
                    go.set()

                    async def collapse_on_board() -> tuple[dict, dict] | None:
                        health = await (await http.get(f"{service.http_url}/healthz")).json()
                        board = await (await http.get(f"{service.http_url}/displays/embr/board.json")).json()
                        rows = {key.rsplit("|", 1)[0]: delay for key, _, delay in live_rows(board)}
                        if health["feeds"][0]["collapse"] and all(rows.get(k) == "+5" for k in first_two):
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
    from displays.config import ConfigError

    doc = {"feeds": {"gtfs": "feed.zip", key: value}, "displays": []}
    config = tmp_path / "stopcast.toml"
    config.write_text(tomli_w.dumps(doc))
    with pytest.raises(ConfigError) as error:
        load_config(config)
    assert f"feeds.{key}" in str(error.value) and said in str(error.value) and str(config) in str(error.value)
