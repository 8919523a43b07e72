"""Real feeds: stopcast's departures equal a naive, line-by-line reading of the GTFS reference."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from feedkit import shared_feed

from feeds.departures import timetable_departures
from feeds.loader import load_timetable
from feeds.source import GtfsSource
from feeds.times import parse_instant

pytestmark = pytest.mark.realdata


def _rows(z: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    if name not in z.namelist():
        return []
    return list(csv.DictReader(io.StringIO(z.read(name).decode("utf-8-sig"))))


def _secs(text: str) -> int:
    h, m, s = (int(x) for x in text.strip().split(":"))
    return h * 3600 + m * 60 + s


@lru_cache(maxsize=4)
def _naive_feed(path: Path) -> dict:
    z = zipfile.ZipFile(path)
    stop_times: dict[str, list[dict[str, str]]] = {}
    for r in _rows(z, "stop_times.txt"):
        stop_times.setdefault(r["trip_id"], []).append(r)
    for trip in stop_times.values():
        trip.sort(key=lambda r: int(r["stop_sequence"]))
    return {
        "tz": _rows(z, "agency.txt")[0]["agency_timezone"],
        "stops": {r["stop_id"]: r for r in _rows(z, "stops.txt")},
        "trips": {r["trip_id"]: r for r in _rows(z, "trips.txt")},
        "calendar": {r["service_id"]: r for r in _rows(z, "calendar.txt")},
        "dates": {(r["service_id"], r["date"]): r["exception_type"] for r in _rows(z, "calendar_dates.txt")},
        "stop_times": stop_times,
    }


def _runs(feed: dict, service: str, day: dt.date) -> bool:
    key = (service, day.strftime("%Y%m%d"))
    if key in feed["dates"]:
        return feed["dates"][key] == "1"
    cal = feed["calendar"].get(service)
    if cal is None:
        return False
    weekday = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")[day.weekday()]
    return cal[weekday] == "1" and cal["start_date"] <= key[1] <= cal["end_date"]


def naive_departures(path: Path, stop_id: str, at: int, horizon: int) -> list[tuple[str, int]]:
    """Every (trip_id, departure) at the stop or its platforms within [at, at + horizon]."""
    feed = _naive_feed(path)
    tz = ZoneInfo(feed["tz"])
    platforms = {
        s
        for s, r in feed["stops"].items()
        if r.get("parent_station") == stop_id and r.get("location_type", "0") in ("", "0")
    }
    platforms = platforms or {stop_id}
    today = dt.datetime.fromtimestamp(at, tz).date()
    found = []
    for offset in (-2, -1, 0, 1):
        day = today + dt.timedelta(days=offset)
        origin = int(dt.datetime(day.year, day.month, day.day, 12, tzinfo=tz).timestamp()) - 43200
        for trip_id, calls in feed["stop_times"].items():
            if trip_id not in feed["trips"] or not _runs(feed, feed["trips"][trip_id]["service_id"], day):
                continue
            for call in calls[:-1]:
                if call["stop_id"] in platforms and call.get("pickup_type", "") != "1":
                    when = origin + _secs(call["departure_time"] or call["arrival_time"])
                    if at <= when <= at + horizon:
                        found.append((trip_id, when))
    return sorted(found, key=lambda x: (x[1], x[0]))


CASES = [
    ("caltrain", "ct.zip", ["22nd_street", "70011", "sunnyvale", "sj_diridon"]),
    ("bart", "bart-rt.zip", ["12TH", "MONT", "SFIA"]),
]
INSTANTS = {
    "caltrain": [
        "2023-11-07T17:05:34-08:00",  # the moment of the recorded realtime
        "2023-11-05T00:30:00-07:00",  # DST ends that night
        "2024-03-09T23:00:00-08:00",  # DST starts that night
        "2024-01-01T09:00:00-08:00",  # holiday from calendar_dates
        "2023-11-11T23:55:00-08:00",  # Saturday night, trips past 24:00
    ],
    "bart": ["2019-08-07T10:45:21-07:00", "2019-08-11T00:20:00-07:00", "2019-11-03T00:10:00-07:00"],
}


@pytest.mark.parametrize(("agency", "archive", "stops"), CASES)
def test_departures_equal_the_reference_reading(agency: str, archive: str, stops: list[str]) -> None:
    path = shared_feed(agency, archive)
    tt = load_timetable(GtfsSource(path))
    for when in INSTANTS[agency]:
        at = parse_instant(when)
        for stop in stops:
            ours = [(d.trip_id, d.scheduled) for d in timetable_departures(tt, stop, at, 3 * 3600, 1000)]
            expected = naive_departures(path, stop, at, 3 * 3600)
            assert sorted(ours, key=lambda x: (x[1], x[0])) == expected, (stop, when)
            assert [t for _, t in ours] == sorted(t for _, t in ours)
    assert tt.warnings == ()


def test_wmata_calendar_dates_only_feed_loads_and_answers() -> None:
    tt = load_timetable(GtfsSource(shared_feed("wmata", "wmata.zip")))
    found = timetable_departures(tt, "STN_A01_C01", parse_instant("2026-05-06T08:00:00-04:00"), 1800, 50)
    assert found, "Metro Center has trains on a Wednesday morning"
    assert all(d.platform or d.stop_id for d in found)
