"""Realtime merged as the GTFS-Realtime reference defines it, one rule per test."""

from __future__ import annotations

import dataclasses

import pytest
from feedkit import write_feed
from google.transit import gtfs_realtime_pb2 as rt
from rtkit import STU, TD, feed, stu, trip_update, vehicle

from feeds.live import build_live
from feeds.loader import load_timetable
from feeds.merge import StopDepartures, stop_departures
from feeds.realtime import RealtimeRules, parse_feed
from feeds.source import GtfsSource
from feeds.times import parse_instant
from feeds.timetable import Timetable

T = parse_instant("2024-05-15T08:00:00+02:00")  # L1 leaves S1; a Wednesday
MIN = 60


@pytest.fixture(scope="module")
def tt(tmp_path_factory: pytest.TempPathFactory) -> Timetable:
    path = write_feed(
        tmp_path_factory.mktemp("rt") / "feed",
        stops_txt=(
            "stop_id,stop_name,location_type,parent_station,platform_code\n"
            "S1,Hechtsheim,0,,\nP,Hauptbahnhof,1,,\nS2,Hauptbahnhof,0,P,1\nS2B,Hauptbahnhof,0,P,2\n"
            "S3,Universität,0,,\nS4,Gonsenheim,0,,\nS5,Finthen,0,,\n"
        ),
        trips_txt=(
            "route_id,service_id,trip_id,trip_headsign,direction_id\n"
            "50,WD,L1,Finthen,0\n68,WD,L2,Gonsenheim,1\n68,WD,F1,Gonsenheim,1\n"
        ),
        stop_times_txt=(
            "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
            "L1,08:00:00,08:00:00,S1,1\nL1,08:10:00,08:10:00,S2,2\nL1,08:20:00,08:20:00,S3,3\n"
            "L1,08:30:00,08:30:00,S4,4\nL1,08:40:00,08:40:00,S5,5\n"
            "L2,09:00:00,09:00:00,S1,10\nL2,09:30:00,09:30:00,S4,20\n"
            "F1,06:00:00,06:00:00,S5,1\nF1,06:05:00,06:05:00,S3,2\nF1,06:10:00,06:10:00,S4,3\n"
        ),
        frequencies_txt="trip_id,start_time,end_time,headway_secs,exact_times\nF1,10:00:00,11:00:00,900,1\n",
    )
    return load_timetable(GtfsSource(path))


def board(
    tt: Timetable, stop: str, now: int, *entities: rt.FeedEntity, feed_age: int = 0,
    rules: RealtimeRules = RealtimeRules(), horizon: int = 3 * 3600, language: str = "en",
) -> StopDepartures:
    snapshot = parse_feed(feed(*entities, timestamp=now - feed_age), "test.pb", now)
    return stop_departures(tt, build_live(tt, [snapshot], now, rules), stop, now, horizon, 50, language)


def rows(result: StopDepartures) -> list[tuple[str, int, int | None, str]]:
    """(trip, scheduled minute offset from T, expected offset or None, status) per departure."""
    return [
        (d.trip_id, (d.scheduled - T) // MIN, None if d.expected is None else (d.expected - T) // MIN, d.status)
        for d in result.departures
    ]


def test_delay_propagates_to_later_stops_not_earlier_ones(tt: Timetable) -> None:
    update = trip_update("L1", stu(seq=2, dep_delay=2 * MIN), start_date="20240515")
    assert rows(board(tt, "S1", T - 5 * MIN, update))[0] == ("L1", 0, None, "scheduled")
    assert rows(board(tt, "S3", T, update))[0] == ("L1", 20, 22, "delayed")
    assert rows(board(tt, "S4", T, update))[0] == ("L1", 30, 32, "delayed")


def test_a_later_update_replaces_the_propagated_delay(tt: Timetable) -> None:
    update = trip_update("L1", stu(seq=2, dep_delay=5 * MIN), stu(seq=4, dep_delay=1 * MIN), start_date="20240515")
    assert rows(board(tt, "S3", T, update))[0] == ("L1", 20, 25, "delayed")
    assert rows(board(tt, "S4", T, update))[0] == ("L1", 30, 31, "on_time")


def test_absolute_time_takes_precedence_over_delay(tt: Timetable) -> None:
    update = trip_update("L1", stu(seq=3, dep_time=T + 27 * MIN, dep_delay=60 * MIN), start_date="20240515")
    assert rows(board(tt, "S3", T, update))[0] == ("L1", 20, 27, "delayed")
    assert rows(board(tt, "S4", T, update))[0] == ("L1", 30, 37, "delayed")  # the time's delay propagates


def test_stop_id_matches_when_no_stop_sequence(tt: Timetable) -> None:
    update = trip_update("L1", stu(stop_id="S3", dep_delay=-2 * MIN), start_date="20240515")
    assert rows(board(tt, "S3", T, update))[0] == ("L1", 20, 18, "early")


def test_arrival_only_delay_carries_to_departure(tt: Timetable) -> None:
    update = trip_update("L1", stu(seq=3, arr_time=T + 24 * MIN), start_date="20240515")
    assert rows(board(tt, "S3", T, update))[0] == ("L1", 20, 24, "delayed")


def test_trip_level_delay_is_the_fallback(tt: Timetable) -> None:
    update = trip_update("L1", delay=3 * MIN, start_date="20240515")
    assert rows(board(tt, "S3", T, update))[0] == ("L1", 20, 23, "delayed")
    with_stop = trip_update("L1", stu(seq=3, dep_delay=MIN), delay=10 * MIN, start_date="20240515")
    assert rows(board(tt, "S2", T, with_stop))[0] == ("L1", 10, 20, "delayed")  # before the stop update
    assert rows(board(tt, "S3", T, with_stop))[0] == ("L1", 20, 21, "on_time")


def test_on_time_window_is_60_seconds(tt: Timetable) -> None:
    for delay, status in ((60, "on_time"), (-60, "on_time"), (61, "delayed"), (-61, "early")):
        update = trip_update("L1", stu(seq=3, dep_delay=delay), start_date="20240515")
        result = board(tt, "S3", T, update)
        assert (result.departures[0].status, result.departures[0].delay) == (status, delay)


def test_no_data_stops_the_prediction(tt: Timetable) -> None:
    update = trip_update("L1", stu(seq=2, dep_delay=5 * MIN), stu(seq=3, rel=STU.NO_DATA), start_date="20240515")
    assert rows(board(tt, "S3", T, update))[0] == ("L1", 20, None, "scheduled")
    assert rows(board(tt, "S4", T, update))[0] == ("L1", 30, None, "scheduled")
    assert not board(tt, "S4", T, update).departures[0].realtime


def test_skipped_stop_stays_on_board_and_delay_propagates_over_it(tt: Timetable) -> None:
    update = trip_update("L1", stu(seq=2, dep_delay=4 * MIN), stu(seq=3, rel=STU.SKIPPED), start_date="20240515")
    assert rows(board(tt, "S3", T, update))[0] == ("L1", 20, None, "skipped")
    assert rows(board(tt, "S4", T, update))[0] == ("L1", 30, 34, "delayed")


def test_cancelled_trip_stays_on_board_deleted_trip_does_not(tt: Timetable) -> None:
    cancelled = trip_update("L1", rel=TD.CANCELED, start_date="20240515")
    result = board(tt, "S3", T, cancelled)
    assert rows(result)[0] == ("L1", 20, None, "cancelled")
    assert result.departures[0].realtime
    deleted = trip_update("L1", rel=TD.DELETED, start_date="20240515")
    assert "L1" not in [d.trip_id for d in board(tt, "S3", T, deleted).departures]


def test_cancellation_is_for_the_service_day_it_names(tt: Timetable) -> None:
    tomorrow = trip_update("L1", rel=TD.CANCELED, start_date="20240516")
    assert rows(board(tt, "S3", T, tomorrow))[0] == ("L1", 20, None, "scheduled")


def test_added_trip_appears_with_its_own_times_but_not_at_its_last_stop(tt: Timetable) -> None:
    added = trip_update(
        "EXTRA-1", stu(stop_id="S2", dep_time=T + 15 * MIN), stu(stop_id="S3", dep_time=T + 25 * MIN),
        stu(stop_id="S5", arr_time=T + 45 * MIN), rel=TD.ADDED, route_id="50",
    )
    result = board(tt, "S3", T, added)
    assert ("EXTRA-1", 25, 25, "added") in rows(result)
    extra = next(d for d in result.departures if d.trip_id == "EXTRA-1")
    assert (extra.route_short_name, extra.headsign, extra.route_color) == ("50", "Finthen", "E30613")
    assert "EXTRA-1" not in [d.trip_id for d in board(tt, "S5", T, added).departures]


def test_new_trip_takes_headsign_from_trip_properties(tt: Timetable) -> None:
    new = trip_update(
        "NEW-1", stu(stop_id="S1", dep_time=T + 3 * MIN), stu(stop_id="S4", arr_time=T + 30 * MIN),
        rel=TD.NEW, route_id="68", headsign="Sonderfahrt Gonsenheim",
    )
    first = next(d for d in board(tt, "S1", T, new).departures if d.trip_id == "NEW-1")
    assert (first.trip_id, first.headsign, first.status, first.route_short_name) == (
        "NEW-1",
        "Sonderfahrt Gonsenheim",
        "added",
        "68",
    )


def test_duplicated_trip_copies_the_timetable_at_a_new_start(tt: Timetable) -> None:
    dup = trip_update(
        "L1", rel=TD.DUPLICATED, new_trip_id="L1-copy", new_start_date="20240515", new_start_time="08:45:00",
    )
    result = board(tt, "S3", T, dup)
    assert ("L1", 20, None, "scheduled") in rows(result)  # the original still runs
    assert ("L1-copy", 65, 65, "added") in rows(result)


def test_platform_change_from_assigned_stop_id(tt: Timetable) -> None:
    update = trip_update("L1", stu(seq=2, dep_delay=0, assigned_stop="S2B"), start_date="20240515")
    dep = board(tt, "P", T, update).departures[0]
    assert (dep.stop_id, dep.platform, dep.scheduled_platform, dep.platform_changed) == ("S2B", "2", "1", True)


def test_occupancy_from_vehicle_positions(tt: Timetable) -> None:
    full = vehicle("L1", rt.VehiclePosition.FULL, timestamp=T)
    assert board(tt, "S3", T, full).departures[0].occupancy == "FULL"


def test_stale_feed_is_not_live(tt: Timetable) -> None:
    update = trip_update("L1", stu(seq=3, dep_delay=5 * MIN), start_date="20240515")
    result = board(tt, "S3", T, update, feed_age=181)
    assert (result.live, result.stale_sources) == (False, ("test.pb",))
    assert rows(result)[0] == ("L1", 20, None, "scheduled")
    assert board(tt, "S3", T, update, feed_age=180).live


def test_a_started_trip_with_an_old_update_is_not_live(tt: Timetable) -> None:
    """L1 left S1 at 08:02 by its own update, which is 20 minutes old: its times are not live."""
    old = trip_update("L1", stu(seq=1, dep_delay=2 * MIN), start_date="20240515", timestamp=T + 5 * MIN - 1200)
    result = board(tt, "S3", T + 5 * MIN, old)
    assert result.live
    assert rows(result)[0] == ("L1", 20, None, "scheduled")


def test_a_trip_waiting_at_its_terminus_keeps_an_old_update(tt: Timetable) -> None:
    """Light rail waiting for its next run: the update is as old, but the trip has not started."""
    old = trip_update("L1", stu(seq=1, dep_delay=2 * MIN), start_date="20240515", timestamp=T - 5 * MIN - 1200)
    result = board(tt, "S3", T - 5 * MIN, old)
    assert rows(result)[0] == ("L1", 20, 22, "delayed")


def test_an_old_update_still_cancels_and_skips(tt: Timetable) -> None:
    cancelled = trip_update("L1", start_date="20240515", rel=TD.CANCELED, timestamp=T + 5 * MIN - 3600)
    assert rows(board(tt, "S3", T + 5 * MIN, cancelled))[0] == ("L1", 20, None, "cancelled")
    skipped = trip_update("L1", stu(seq=1, dep_delay=0), stu(seq=3, rel=STU.SKIPPED), start_date="20240515",
                          timestamp=T + 5 * MIN - 3600)
    assert rows(board(tt, "S3", T + 5 * MIN, skipped))[0][3] == "skipped"


def test_a_source_with_its_own_stale_after_stays_live(tt: Timetable) -> None:
    update = trip_update("L1", stu(seq=3, dep_delay=5 * MIN), start_date="20240515")
    snapshot = parse_feed(feed(update, timestamp=T - 300), "slow.pb", T)
    assert not build_live(tt, [snapshot], T, RealtimeRules()).is_live  # 300 s > the global 180 s
    own = dataclasses.replace(snapshot, stale_after=600)
    result = stop_departures(tt, build_live(tt, [own], T, RealtimeRules()), "S3", T, 3 * 3600, 50)
    assert result.live and rows(result)[0] == ("L1", 20, 25, "delayed")


def test_departure_scheduled_over_3h_ago_never_shows(tt: Timetable) -> None:
    lenient = RealtimeRules(max_deviation=10 * 3600)
    now = T + 20 * MIN + 3 * 3600 + 60  # S3's departure was scheduled 3 h 1 min ago
    update = trip_update("L1", stu(seq=3, dep_delay=3 * 3600 + 5 * MIN), start_date="20240515")
    assert "L1" not in [d.trip_id for d in board(tt, "S3", now, update, rules=lenient).departures]
    now = T + 20 * MIN + 3 * 3600 - 60
    assert rows(board(tt, "S3", now, update, rules=lenient))[0][0] == "L1"


def test_implausible_prediction_is_kept_off_and_counted(tt: Timetable) -> None:
    update = trip_update("L1", stu(seq=3, dep_delay=3 * 3600 + 1), start_date="20240515")
    now = T
    snapshot = parse_feed(feed(update, timestamp=now), "test.pb", now)
    live = build_live(tt, [snapshot], now, RealtimeRules())
    result = stop_departures(tt, live, "S3", now, 3 * 3600, 50)
    assert rows(result)[0] == ("L1", 20, None, "scheduled")
    assert live.stats.implausible_predictions == 2  # S3 and, propagated, S4 (S5 is the terminus)


def test_without_start_date_the_instance_nearest_now_is_meant(tt: Timetable) -> None:
    update = trip_update("L1", stu(seq=3, dep_delay=4 * MIN))
    assert rows(board(tt, "S3", T, update))[0] == ("L1", 20, 24, "delayed")


def test_frequency_trip_matched_by_start_time(tt: Timetable) -> None:
    update = trip_update("F1", stu(seq=2, dep_delay=3 * MIN), start_date="20240515", start_time="10:15:00")
    result = board(tt, "S3", T + 2 * 3600, update, horizon=3600)
    assert [(d.start_time, (d.scheduled - T) // MIN, d.status) for d in result.departures] == [
        ("10:00:00", 125, "scheduled"),
        ("10:15:00", 140, "delayed"),
        ("10:30:00", 155, "scheduled"),
        ("10:45:00", 170, "scheduled"),
    ]


def test_unknown_trips_are_counted_not_shown(tt: Timetable) -> None:
    now = T
    unknown = trip_update("GHOST", stu(seq=1, dep_delay=0), start_date="20240515")
    live = build_live(tt, [parse_feed(feed(unknown, timestamp=now), "test.pb", now)], now, RealtimeRules())
    assert live.stats.unknown_trips == 1
    assert "GHOST" not in [d.trip_id for d in stop_departures(tt, live, "S1", now, 3600, 50).departures]


def test_contradicting_stop_sequence_and_stop_id_trust_the_stop_and_order_by_trip(tt: Timetable) -> None:
    update = trip_update(
        "L1",
        stu(seq=4, stop_id="S4", dep_delay=MIN),  # out of order: S4 before S2
        stu(seq=1, stop_id="S2", dep_delay=6 * MIN),  # seq 1 is S1 in the timetable; the stop id says S2
        start_date="20240515",
    )
    assert rows(board(tt, "S1", T - MIN, update))[0] == ("L1", 0, None, "scheduled")
    assert rows(board(tt, "S3", T, update))[0] == ("L1", 20, 26, "delayed")
    assert rows(board(tt, "S4", T, update))[0] == ("L1", 30, 31, "on_time")


def test_update_naming_the_parent_station_matches_its_platform(tt: Timetable) -> None:
    update = trip_update("L1", stu(stop_id="P", dep_delay=3 * MIN), start_date="20240515")
    assert rows(board(tt, "P", T, update))[0] == ("L1", 10, 13, "delayed")


def test_stop_time_properties_headsign_and_no_pickup(tt: Timetable) -> None:
    redirected = stu(seq=3, dep_delay=0)
    redirected.stop_time_properties.stop_headsign = "Gonsenheim (Umleitung)"
    closed = stu(seq=4, dep_delay=0)
    closed.stop_time_properties.pickup_type = STU.StopTimeProperties.NONE
    update = trip_update("L1", redirected, closed, start_date="20240515")
    assert board(tt, "S3", T, update).departures[0].headsign == "Gonsenheim (Umleitung)"
    assert "L1" not in [d.trip_id for d in board(tt, "S4", T, update).departures]
    renamed = trip_update("L1", start_date="20240515", headsign="Finthen Sonderziel", delay=0)
    assert board(tt, "S3", T, renamed).departures[0].headsign == "Finthen Sonderziel"


def test_departure_occupancy_beats_vehicle_occupancy(tt: Timetable) -> None:
    busy = stu(seq=3, dep_delay=0)
    busy.departure_occupancy_status = rt.VehiclePosition.STANDING_ROOM_ONLY
    update = trip_update("L1", busy, start_date="20240515")
    empty_bus = vehicle("L1", rt.VehiclePosition.EMPTY, timestamp=T)
    assert board(tt, "S3", T, update, empty_bus).departures[0].occupancy == "STANDING_ROOM_ONLY"
    assert board(tt, "S4", T, update, empty_bus).departures[0].occupancy == "EMPTY"
