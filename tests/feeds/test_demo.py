"""The generated demo network is a valid feed with the cases a real city has."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from feeds.demo import MAIN_STATION, write_demo_feed
from feeds.departures import timetable_departures
from feeds.loader import load_timetable
from feeds.source import GtfsSource
from feeds.times import parse_instant


def test_demo_feed_is_clean_and_stable(tmp_path: Path) -> None:
    day = dt.date(2026, 11, 23)
    path = write_demo_feed(tmp_path / "demo.zip", day)
    first = path.read_bytes()
    assert write_demo_feed(tmp_path / "demo.zip", day).read_bytes() == first
    tt = load_timetable(GtfsSource(path))
    assert tt.warnings == ()
    assert len(tt.platforms(MAIN_STATION)) == 6


def test_demo_has_night_service_past_midnight_and_holidays(tmp_path: Path) -> None:
    tt = load_timetable(GtfsSource(write_demo_feed(tmp_path / "demo.zip", dt.date(2026, 11, 23))))
    night = timetable_departures(tt, MAIN_STATION, parse_instant("2026-11-26T01:00:00+01:00"), 3600, 20)
    assert [(d.route_short_name, d.service_date) for d in night] == [("91", "20261125")]
    christmas = timetable_departures(tt, "UNI", parse_instant("2026-12-25T08:00:00+01:00"), 3600, 50)
    weekday = timetable_departures(tt, "UNI", parse_instant("2026-12-23T08:00:00+01:00"), 3600, 50)
    assert 0 < len(christmas) < len(weekday)
