"""The timetable as the GTFS reference defines it, on small feeds built for each rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from feedkit import write_feed

from feeds.departures import timetable_departures
from feeds.loader import load_timetable
from feeds.source import GtfsSource
from feeds.times import iso, parse_instant


def deps(feed: Path, stop: str, at: str, horizon_min: int = 90, limit: int = 50) -> list[tuple[str, str]]:
    tt = load_timetable(GtfsSource(feed))
    found = timetable_departures(tt, stop, parse_instant(at), horizon_min * 60, limit)
    return [(d.trip_id, iso(d.scheduled, tt.timezone)) for d in found]


def test_departures_in_window_sorted_by_time(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "f")
    # Wednesday 2024-05-15, Berlin (UTC+2 in summer).
    assert deps(feed, "HBF", "2024-05-15T07:30:00+02:00") == [
        ("T1", "2024-05-15T08:00:00+02:00"),
        ("T2", "2024-05-15T08:05:00+02:00"),
    ]
    # The window is [at, at + horizon], both ends included.
    assert deps(feed, "HBF", "2024-05-15T08:00:00+02:00", horizon_min=5) == [
        ("T1", "2024-05-15T08:00:00+02:00"),
        ("T2", "2024-05-15T08:05:00+02:00"),
    ]
    assert deps(feed, "HBF", "2024-05-15T08:00:01+02:00", horizon_min=1) == []


def test_limit_keeps_the_earliest(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "f")
    tt = load_timetable(GtfsSource(feed))
    found = timetable_departures(tt, "HBF", parse_instant("2024-05-15T07:00:00+02:00"), 7200, 1)
    assert [d.trip_id for d in found] == ["T1"]


def test_parent_station_lists_all_platforms_with_platform_codes(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "f")
    tt = load_timetable(GtfsSource(feed))
    found = timetable_departures(tt, "HBF", parse_instant("2024-05-15T07:30:00+02:00"), 3600, 10)
    assert [(d.stop_id, d.platform) for d in found] == [("HBF:A", "A"), ("HBF:B", "B")]
    single = timetable_departures(tt, "HBF:B", parse_instant("2024-05-15T07:30:00+02:00"), 3600, 10)
    assert [d.trip_id for d in single] == ["T2"]


def test_no_departure_at_last_stop_or_without_pickup(tmp_path: Path) -> None:
    feed = write_feed(
        tmp_path / "f",
        stop_times_txt=(
            "trip_id,arrival_time,departure_time,stop_id,stop_sequence,pickup_type\n"
            "T1,08:00:00,08:00:00,HBF:A,1,0\n"
            "T1,08:10:00,08:11:00,UNI,2,1\n"
            "T1,08:20:00,08:20:00,GON,3,0\n"
            "T2,08:05:00,08:05:00,UNI,1,\n"
            "T2,08:15:00,08:15:00,GON,2,0\n"
        ),
    )
    assert deps(feed, "GON", "2024-05-15T07:30:00+02:00") == []  # terminus of both trips
    assert deps(feed, "UNI", "2024-05-15T07:30:00+02:00") == [("T2", "2024-05-15T08:05:00+02:00")]


def test_times_past_24h_belong_to_the_previous_service_day(tmp_path: Path) -> None:
    feed = write_feed(
        tmp_path / "f",
        calendar_txt=(
            "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
            "WD,0,0,1,0,0,0,0,20240101,20241231\n"  # Wednesdays only
        ),
        stop_times_txt=(
            "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
            "T1,25:30:00,25:30:00,HBF:A,1\n"
            "T1,25:40:00,25:40:00,GON,2\n"
            "T2,23:50:00,23:50:00,HBF:B,1\n"
            "T2,24:10:00,24:10:00,GON,2\n"
        ),
    )
    # Wednesday's 25:30 is Thursday 01:30; Wednesday itself at 01:00 shows nothing (Tuesday does not run).
    assert deps(feed, "HBF", "2024-05-16T01:00:00+02:00") == [("T1", "2024-05-16T01:30:00+02:00")]
    assert deps(feed, "HBF", "2024-05-15T01:00:00+02:00") == []
    assert deps(feed, "HBF", "2024-05-15T23:45:00+02:00", horizon_min=120) == [
        ("T2", "2024-05-15T23:50:00+02:00"),
        ("T1", "2024-05-16T01:30:00+02:00"),
    ]
    tt = load_timetable(GtfsSource(feed))
    found = timetable_departures(tt, "HBF", parse_instant("2024-05-16T01:00:00+02:00"), 3600, 5)
    assert found[0].service_date == "20240515"


DST_CALENDAR = (
    "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
    "SU,0,0,0,0,0,0,1,20240101,20241231\n"
)
DST_TIMES = (
    "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
    "T1,01:00:00,01:00:00,HBF:A,1\n"
    "T1,01:30:00,01:30:00,GON,2\n"
    "T2,06:00:00,06:00:00,HBF:B,1\n"
    "T2,06:30:00,06:30:00,GON,2\n"
)
DST_TRIPS = "route_id,service_id,trip_id,trip_headsign\n50,SU,T1,Finthen\n68,SU,T2,Gonsenheim\n"


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # Spring forward, Sunday 2024-03-31: noon is UTC+2, so the day's origin is 23:00 the evening
        # before (UTC+1); "01:00:00" is 00:00 local and "06:00:00" is 06:00 local.
        ("2024-03-30T23:30:00+01:00", [("T1", "2024-03-31T00:00:00+01:00"), ("T2", "2024-03-31T06:00:00+02:00")]),
        # Fall back, Sunday 2024-10-27: noon is UTC+1, origin 23:00Z = 01:00 local (UTC+2); "01:00:00" is
        # 02:00 summer time and "06:00:00" is 05:00Z, 06:00 winter time (the extra hour lies between).
        ("2024-10-27T00:30:00+02:00", [("T1", "2024-10-27T02:00:00+02:00"), ("T2", "2024-10-27T06:00:00+01:00")]),
    ],
)
def test_dst_days_count_from_noon_minus_12h(tmp_path: Path, at: str, expected: list[tuple[str, str]]) -> None:
    feed = write_feed(tmp_path / "f", calendar_txt=DST_CALENDAR, trips_txt=DST_TRIPS, stop_times_txt=DST_TIMES)
    assert deps(feed, "HBF", at, horizon_min=8 * 60) == expected


def test_calendar_dates_remove_and_add_service(tmp_path: Path) -> None:
    feed = write_feed(
        tmp_path / "f",
        calendar_dates_txt=(
            "service_id,date,exception_type\n"
            "WD,20240501,2\n"  # Labour Day (a Wednesday): no weekday service
            "WD,20240504,1\n"  # an extra Saturday
        ),
    )
    assert deps(feed, "UNI", "2024-05-01T07:00:00+02:00") == []
    assert deps(feed, "UNI", "2024-05-02T07:00:00+02:00") == [("T1", "2024-05-02T08:11:00+02:00")]
    assert deps(feed, "UNI", "2024-05-04T07:00:00+02:00") == [("T1", "2024-05-04T08:11:00+02:00")]
    assert deps(feed, "UNI", "2024-05-05T07:00:00+02:00") == []


def test_feed_with_only_calendar_dates(tmp_path: Path) -> None:
    feed = write_feed(
        tmp_path / "f",
        drop=("calendar.txt",),
        calendar_dates_txt="service_id,date,exception_type\nWD,20240505,1\n",
    )
    assert deps(feed, "UNI", "2024-05-05T07:00:00+02:00") == [("T1", "2024-05-05T08:11:00+02:00")]
    assert deps(feed, "UNI", "2024-05-06T07:00:00+02:00") == []


def test_calendar_range_is_inclusive(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "f")
    assert deps(feed, "UNI", "2024-12-31T07:00:00+01:00") == [("T1", "2024-12-31T08:11:00+01:00")]
    assert deps(feed, "UNI", "2025-01-01T07:00:00+01:00") == []


@pytest.mark.parametrize("exact", ["0", "1"])
def test_frequencies_start_every_headway_before_end_time(tmp_path: Path, exact: str) -> None:
    feed = write_feed(
        tmp_path / "f",
        frequencies_txt=f"trip_id,start_time,end_time,headway_secs,exact_times\nT1,08:00:00,09:00:00,1200,{exact}\n",
    )
    tt = load_timetable(GtfsSource(feed))
    found = timetable_departures(tt, "UNI", parse_instant("2024-05-15T07:00:00+02:00"), 3 * 3600, 20)
    # The stop_times of T1 give only offsets: UNI departs 11 min after the first stop.
    assert [(iso(d.scheduled, tt.timezone), d.start_time) for d in found] == [
        ("2024-05-15T08:11:00+02:00", "08:00:00"),
        ("2024-05-15T08:31:00+02:00", "08:20:00"),
        ("2024-05-15T08:51:00+02:00", "08:40:00"),
    ]
    assert all(d.headway_based == (exact == "0") for d in found)


def test_stop_headsign_over_trip_headsign_and_last_stop_fallback(tmp_path: Path) -> None:
    feed = write_feed(
        tmp_path / "f",
        trips_txt="route_id,service_id,trip_id,trip_headsign\n50,WD,T1,Finthen\n68,WD,T2,\n",
        stop_times_txt=(
            "trip_id,arrival_time,departure_time,stop_id,stop_sequence,stop_headsign\n"
            "T1,08:00:00,08:00:00,HBF:A,1,Finthen über Uni\n"
            "T1,08:10:00,08:11:00,UNI,2,\n"
            "T1,08:20:00,08:20:00,GON,3,\n"
            "T2,08:05:00,08:05:00,HBF:B,1,\n"
            "T2,08:15:00,08:15:00,GON,2,\n"
        ),
    )
    tt = load_timetable(GtfsSource(feed))
    at = parse_instant("2024-05-15T07:30:00+02:00")
    assert [d.headsign for d in timetable_departures(tt, "HBF", at, 3600, 5)] == ["Finthen über Uni", "Gonsenheim"]
    assert [d.headsign for d in timetable_departures(tt, "UNI", at, 3600, 5)] == ["Finthen"]


def test_route_colours_with_defaults(tmp_path: Path) -> None:
    tt = load_timetable(GtfsSource(write_feed(tmp_path / "f")))
    found = timetable_departures(tt, "HBF", parse_instant("2024-05-15T07:30:00+02:00"), 3600, 5)
    assert [(d.route_color, d.route_text_color) for d in found] == [("E30613", "FFFFFF"), ("FFFFFF", "000000")]


def test_untimed_stops_are_interpolated(tmp_path: Path) -> None:
    feed = write_feed(
        tmp_path / "f",
        stop_times_txt=(
            "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
            "T1,08:00:00,08:00:00,HBF:A,1\n"
            "T1,,,UNI,2\n"
            "T1,08:20:00,08:20:00,GON,3\n"
            "T2,08:05:00,08:05:00,HBF:B,1\n"
            "T2,08:15:00,08:15:00,GON,2\n"
        ),
    )
    assert deps(feed, "UNI", "2024-05-15T07:30:00+02:00") == [("T1", "2024-05-15T08:10:00+02:00")]


def test_csv_dialects_bom_crlf_quotes_extra_and_reordered_columns(tmp_path: Path) -> None:
    stops = (
        "\ufeffstop_lat,stop_name,extra_col,stop_id,location_type,parent_station,platform_code\r\n"
        '50.0,"Mainz Hauptbahnhof",x,HBF,1,,\r\n'
        '50.0,"Mainz Hbf, Steig A",x,HBF:A,0,HBF,A\r\n'
        '50.0,"Mainz Hbf ""B""",x,HBF:B,0,HBF,B\r\n'
        "50.0,Universität,x,UNI,0,,\r\n"
        "50.0,Gonsenheim,x,GON,0,,\r\n"
    )
    stop_times = (
        "\ufeffstop_sequence,stop_id,departure_time,arrival_time,trip_id,shape_dist_traveled\r\n"
        "1,HBF:A,8:00:00,8:00:00,T1,0\r\n"
        "2,UNI, 08:11:00 ,08:10:00,T1,1\r\n"
        "3,GON,08:20:00,08:20:00,T1,2\r\n"
        '1,"HBF:B",08:05:00,08:05:00,"T2",0\r\n'
        "2,GON,08:15:00,08:15:00,T2,1\r\n"
    )
    for as_zip in (False, True):
        feed = write_feed(tmp_path / f"f{as_zip}", as_zip=as_zip, stops_txt=stops, stop_times_txt=stop_times)
        assert deps(feed, "HBF", "2024-05-15T07:30:00+02:00") == [
            ("T1", "2024-05-15T08:00:00+02:00"),
            ("T2", "2024-05-15T08:05:00+02:00"),
        ]
        assert deps(feed, "UNI", "2024-05-15T07:30:00+02:00") == [("T1", "2024-05-15T08:11:00+02:00")]
