"""The national feed's known failures (DELFI, mfdz/GTFS-Issues), through the service: what riders see on the
boards and what ops see on /healthz and /metrics (issue 24 items 2 and 3).

Each failure is built from the real BART timetable and TripUpdates in ../shared/data: a full dataset that
collapses and comes back (#157, #205), an ADDED trip through a wormhole (#192), a prediction from nearest-time
matching (#269), and a trip past midnight dated by the calendar. Frozen producers: test_frozen_feed.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from google.transit import gtfs_realtime_pb2 as rt
from nationalkit import (
    added_trips,
    dataset,
    first_departures,
    late,
    live_rows,
    load_bart,
    message,
    run_of,
    running,
    seen,
    serving,
    turn,
)
from rtkit import TD, stu, trip_update

from feeds.live import build_live
from feeds.realtime import RealtimeRules, parse_feed
from feeds.times import format_service_date, hhmm, local_date, service_day_origin
from feeds.timetable import Timetable

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def bart(tmp_path_factory: pytest.TempPathFactory) -> tuple[Timetable, bytes, int, Path]:
    return load_bart(tmp_path_factory.mktemp("cache"))


# --- Collapse -------------------------------------------------------------------------------------------


async def test_a_collapsed_full_dataset_keeps_the_missing_trips_until_they_are_stale(
    tmp_path: Path, bart: tuple
) -> None:
    tt, _, at, _ = bart
    path = tmp_path / "tu.pb"
    async with serving(tmp_path, bart, at, str(path)) as (service, client, clock):
        for k in range(4):  # a healthy feed: about 150 trips every 30 s
            path.write_bytes(dataset(tt, at + 30 * k))
            await turn(service, clock, at + 30 * k)
        health, board = await seen(client)
        before = live_rows(board)
        assert len(before) >= 5 and all(delay == late(2) for _, _, delay in before)
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
        assert kept_keys <= {run_of(tt, t, d) for t, d in running(tt, later)[:5]}  # only the dataset's own trips

        path.write_bytes(dataset(tt, later + 30))  # the dataset comes back
        await turn(service, clock, later + 30)
        health, board = await seen(client)
        assert health["feeds"][0]["collapse"] is None
        assert not any("collapsed" in p for p in health["problems"])
        assert len(live_rows(board)) >= 5


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


# --- Wormholes ------------------------------------------------------------------------------------------


async def test_an_added_trip_through_a_wormhole_is_dropped_and_counted(tmp_path: Path, bart: tuple) -> None:
    tt, payload, at, _ = bart
    feed = rt.FeedMessage.FromString(payload)
    real_added = sum(e.trip_update.trip.schedule_relationship == TD.ADDED for e in feed.entity)
    wormhole = trip_update("WORMHOLE-1", stu(stop_id="MLBR", dep_time=at + 300),  # Millbrae to Antioch, 58 km:
                           stu(stop_id="ANTC", arr_time=at + 360), rel=TD.ADDED, route_id="1")  # in one minute
    feed.entity.append(wormhole)
    path = tmp_path / "tu.pb"
    path.write_bytes(feed.SerializeToString())
    async with serving(tmp_path, bart, at, str(path)) as (service, client, clock):
        await turn(service, clock, at)
        health, board = await seen(client, "mlbr")
        assert not any(r["key"].startswith("WORMHOLE-1|") for r in board["rows"])
        assert real_added == 8 and health["feeds"][0]["wormhole_trips_dropped"] == 1  # BART's own ADDED trips stay
        live, real = service.live_state(at), build_live(tt, [parse_feed(payload, "real", at)], at, RealtimeRules())
        assert live is not None and added_trips(live) == added_trips(real) and len(added_trips(real)) >= 7
        metrics = await (await client.get("/metrics")).text()
        assert f'stopcast_feed_wormhole_trips_dropped{{source="{path}"}} 1' in metrics
    feed.entity[-1].trip_update.stop_time_update[1].arrival.time = at + 300 + 50 * 60  # 58 km in 50 min: fine
    path.write_bytes(feed.SerializeToString())
    async with serving(tmp_path / "again", bart, at, str(path)) as (service, client, clock):
        await turn(service, clock, at)
        health, board = await seen(client, "mlbr")
        assert any(r["key"].startswith("WORMHOLE-1|") for r in board["rows"])
        assert health["feeds"][0]["wormhole_trips_dropped"] == 0


# --- Nearest-time matching ------------------------------------------------------------------------------


@pytest.mark.parametrize("max_early", [None, 3600])
async def test_a_prediction_far_before_schedule_of_a_trip_not_yet_started_shows_the_timetable(
        tmp_path: Path, bart: tuple, max_early: int | None) -> None:
    tt, _, at, _ = bart
    trip, day, scheduled = first_departures(tt, "MLBR", at + 5 * 60, at + 60 * 60)[0]
    update = trip_update(tt.trip_ids[trip], stu(seq=int(tt.st_seq[tt.trip_first[trip]]), dep_delay=-3133),
                         start_date=format_service_date(day), timestamp=at)
    path = tmp_path / "tu.pb"
    path.write_bytes(message(update, at=at))
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
    path = tmp_path / "tu.pb"
    path.write_bytes(message(update, at=at))
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
    past_midnight = [t for t in range(len(tt.trip_ids)) if active[tt.trip_service[t]]
            and night < origin + int(tt.st_dep[tt.trip_first[t]]) <= night + 40 * 60]
    assert past_midnight, "BART runs trips past midnight"
    trip = past_midnight[0]
    first = int(tt.st_dep[tt.trip_first[trip]])
    clock_time = f"{first // 3600 - 24:02d}:{first // 60 % 60:02d}:{first % 60:02d}"
    update = trip_update(tt.trip_ids[trip], stu(seq=int(tt.st_seq[tt.trip_first[trip]]), dep_delay=240),
                         start_date=format_service_date(service_day + dt.timedelta(days=1)), start_time=clock_time)
    path = tmp_path / "tu.pb"
    path.write_bytes(message(update, at=night))
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
