"""Trips after midnight dated by the calendar (issue 24 item 2).

Producers (WMATA's and RIPTA's real feeds) send start_date = the calendar date, and sometimes start_time as
the clock time, for a trip scheduled at 24:30 of the previous service day. Read literally that matches no
run (the update is lost) or the next night's run (a -23 h prediction). Such an update is attached to the
previous service day's run when that run fits it, and counted; otherwise it is left alone."""

from __future__ import annotations

import datetime as dt

import pytest
from feedkit import write_feed
from rtkit import feed, stu, trip_update

from feeds.live import build_live
from feeds.loader import load_timetable
from feeds.merge import stop_departures
from feeds.realtime import RealtimeRules, parse_feed
from feeds.source import GtfsSource
from feeds.times import parse_instant
from feeds.timetable import Timetable

TRIPS = (
    "route_id,service_id,trip_id,trip_headsign,direction_id\n"
    "50,DAILY,N1,Finthen,0\n"  # a night bus every night at 24:30
    "50,FRI,F1,Finthen,0\n"  # Friday nights only, at 24:17 (Saturday 00:17)
    "50,WD,W1,Finthen,0\n"  # the nights after Monday to Friday, at 24:40
    "68,DAILY,L1,Gonsenheim,1\n"  # a very long run, 06:00 to 04:00 the next morning, every day
)
CALENDAR = (
    "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
    "DAILY,1,1,1,1,1,1,1,20240101,20241231\n"
    "FRI,0,0,0,0,1,0,0,20240101,20241231\n"
    "WD,1,1,1,1,1,0,0,20240101,20241231\n"
)
STOP_TIMES = (
    "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
    "N1,24:30:00,24:30:00,HBF:A,1\nN1,24:40:00,24:40:00,UNI,2\nN1,24:50:00,24:50:00,GON,3\n"
    "F1,24:17:00,24:17:00,HBF:A,1\nF1,24:27:00,24:27:00,UNI,2\nF1,24:37:00,24:37:00,GON,3\n"
    "W1,24:40:00,24:40:00,HBF:A,1\nW1,24:50:00,24:50:00,UNI,2\nW1,25:00:00,25:00:00,GON,3\n"
    "L1,06:00:00,06:00:00,UNI,1\nL1,28:00:00,28:00:00,GON,2\n"
)
WED = "2024-05-15"  # calendar Wednesday: the Tuesday service day's 24:30 runs at Wednesday 00:30


def at(text: str) -> int:
    return parse_instant(f"{text}+02:00")


@pytest.fixture(scope="module")
def tt(tmp_path_factory: pytest.TempPathFactory) -> Timetable:
    folder = write_feed(tmp_path_factory.mktemp("night"), trips_txt=TRIPS, calendar_txt=CALENDAR,
                        stop_times_txt=STOP_TIMES)
    return load_timetable(GtfsSource(folder))


def board(tt: Timetable, payload: bytes, now: int, trip: str | None = None
          ) -> tuple[list[tuple[str, str, int | None, int | None]], int]:
    """(trip, service date, expected, delay) of the departures at HBF in the next hour (of `trip` only, when
    given); and the re-datings counted."""
    live = build_live(tt, [parse_feed(payload, "rt.pb", now)], now, RealtimeRules())
    deps = stop_departures(tt, live, "HBF", now, 3600, 10).departures
    rows = [(d.trip_id, d.service_date, d.expected, d.delay) for d in deps if trip is None or d.trip_id == trip]
    return rows, live.findings["rt.pb"].redated


def test_calendar_date_with_times_goes_to_the_previous_service_day(tt: Timetable) -> None:
    now = at(f"{WED}T00:20:00")
    update = trip_update("N1", stu(seq=1, dep_time=at(f"{WED}T00:32:00")), start_date="20240515")
    deps, redated = board(tt, feed(update, timestamp=now), now, "N1")
    assert deps == [("N1", "20240514", at(f"{WED}T00:32:00"), 120)]  # not a -23 h prediction, not lost
    assert redated == 1


def test_clock_time_start_time_on_the_calendar_date(tt: Timetable) -> None:
    now = at("2024-05-18T00:05:00")  # Saturday: F1 runs on the Friday service day only
    update = trip_update("F1", stu(seq=1, dep_delay=180), start_date="20240518", start_time="00:17:00")
    deps, redated = board(tt, feed(update, timestamp=now), now, "F1")
    assert deps == [("F1", "20240517", at("2024-05-18T00:20:00"), 180)]
    assert redated == 1


def test_clock_time_start_time_of_a_daily_trip_with_delays_only(tt: Timetable) -> None:
    now = at(f"{WED}T00:20:00")  # N1 runs every day: the literal run exists (tomorrow night), the start_time says not
    update = trip_update("N1", stu(seq=1, dep_delay=60), start_date="20240515", start_time="00:30:00")
    deps, redated = board(tt, feed(update, timestamp=now), now, "N1")
    assert deps == [("N1", "20240514", at(f"{WED}T00:31:00"), 60)]
    assert redated == 1


def test_without_start_date_the_run_nearest_in_time(tt: Timetable) -> None:
    now = at(f"{WED}T00:20:00")
    update = trip_update("N1", stu(seq=1, dep_time=at(f"{WED}T00:33:00")))
    deps, redated = board(tt, feed(update, timestamp=now), now, "N1")
    assert deps == [("N1", "20240514", at(f"{WED}T00:33:00"), 180)]
    assert redated == 0  # nothing to re-date: there was no date
    later = at(f"{WED}T23:50:00")  # the same trip the next night: tonight's run, not last night's
    update = trip_update("N1", stu(seq=1, dep_time=at("2024-05-16T00:34:00")))
    deps, _ = board(tt, feed(update, timestamp=later), later, "N1")
    assert deps == [("N1", "20240515", at("2024-05-16T00:34:00"), 240)]


def test_left_alone_when_the_previous_day_has_no_such_run(tt: Timetable) -> None:
    now = at("2024-05-13T00:20:00")  # Monday: W1 does not run on the Sunday service day
    update = trip_update("W1", stu(seq=1, dep_time=at("2024-05-13T00:41:00")), start_date="20240513")
    deps, redated = board(tt, feed(update, timestamp=now), now)
    assert redated == 0
    assert [d for d in deps if d[0] == "W1"] == []  # no run at 00:40 tonight; nothing was invented
    assert ("N1", "20240512", None, None) in deps  # the rest of the board is the timetable


def test_left_alone_when_the_previous_days_run_is_far_from_the_update(tt: Timetable) -> None:
    now = at(f"{WED}T12:00:00")
    update = trip_update("N1", stu(seq=1, dep_time=at(f"{WED}T12:10:00")), start_date="20240515")
    live = build_live(tt, [parse_feed(feed(update, timestamp=now), "rt.pb", now)], now, RealtimeRules())
    assert live.findings["rt.pb"].redated == 0
    assert [key[1] for key in live.updates] == [dt.date(2024, 5, 15).toordinal()]  # the literal run


def test_a_literal_run_that_fits_is_never_re_dated(tt: Timetable) -> None:
    now = at(f"{WED}T23:50:00")
    update = trip_update("N1", stu(seq=1, dep_time=at("2024-05-16T00:31:00")), start_date="20240515")
    deps, redated = board(tt, feed(update, timestamp=now), now, "N1")
    assert deps == [("N1", "20240515", at("2024-05-16T00:31:00"), 60)] and redated == 0


def test_without_start_date_two_plausible_runs_mean_none(tt: Timetable) -> None:
    now = at(f"{WED}T07:00:00")  # today's L1 left at 06:00; yesterday's arrives at 04:00: both within 3 h
    update = trip_update("L1", stu(seq=2, arr_delay=60))
    live = build_live(tt, [parse_feed(feed(update, timestamp=now), "rt.pb", now)], now, RealtimeRules())
    assert live.updates == {} and live.stats.unknown_trips == 1
