"""Bad feeds get errors naming file, line and column; skippable rows load with warnings."""

from __future__ import annotations

from pathlib import Path

import pytest
from feedkit import write_feed

from displays.cli.cli import main
from feeds.errors import FeedError
from feeds.loader import load_timetable
from feeds.source import GtfsSource

ST_HEADER = "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"


@pytest.mark.parametrize(
    ("files", "drop", "message"),
    [
        ({}, ("stops.txt",), "stops.txt: required file is missing"),
        (
            {},
            ("calendar.txt",),
            "calendar.txt: required file is missing (a feed needs calendar.txt, calendar_dates.txt or both)",
        ),
        (
            {"trips_txt": "route_id,trip_id\n50,T1\n"},
            (),
            "trips.txt:1 column 'service_id': required column 'service_id' is missing",
        ),
        ({"routes_txt": ""}, (), "routes.txt:1: file is empty (no header line)"),
        (
            {"stop_times_txt": ST_HEADER + "T1,08:00:00,08:00:00,HBF:A,1\nT1,08:10:00,8h11,UNI,2\n"},
            (),
            "stop_times.txt:3 column 'departure_time': unparsable time '8h11' (expected HH:MM:SS)",
        ),
        (
            {"stop_times_txt": ST_HEADER + "T1,08:00:00,08:61:00,HBF:A,1\n"},
            (),
            "stop_times.txt:2 column 'departure_time': unparsable time '08:61:00' (expected HH:MM:SS)",
        ),
        (
            {"stop_times_txt": ST_HEADER + "T1,08:00:00,08:00:00,HBF:A,first\n"},
            (),
            "stop_times.txt:2 column 'stop_sequence': 'first' is not a whole number",
        ),
        (
            {"agency_txt": "agency_name,agency_url,agency_timezone\nMVG,https://x,Europe/Mainz\n"},
            (),
            "agency.txt:2 column 'agency_timezone': unknown time zone 'Europe/Mainz'",
        ),
        (
            {
                "calendar_txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
                "start_date,end_date\n"
                "WD,1,1,1,1,1,0,0,2024-01-01,20241231\n"
            },
            (),
            "calendar.txt:2 column 'start_date': '2024-01-01' is not a date YYYYMMDD",
        ),
        (
            {
                "calendar_txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
                "start_date,end_date\n"
                "WD,1,1,1,1,1,0,2,20240101,20241231\n"
            },
            (),
            "calendar.txt:2 column 'sunday': 2 is not one of 0, 1",
        ),
        ({"stops_txt": "stop_id,stop_name\nA,x\nA,y\n"}, (), "stops.txt:3 column 'stop_id': duplicate stop_id 'A'"),
    ],
)
def test_errors_name_file_line_and_column(
    tmp_path: Path, files: dict[str, str], drop: tuple[str, ...], message: str
) -> None:
    feed = write_feed(tmp_path / "feed", drop=drop, **files)
    with pytest.raises(FeedError) as caught:
        load_timetable(GtfsSource(feed))
    assert str(caught.value) == f"{feed}/{message}"


def test_error_in_a_zip_names_the_archive_member(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed", as_zip=True, stop_times_txt=ST_HEADER + "T1,08:00:00,x,HBF:A,1\n")
    with pytest.raises(FeedError, match=r"^feed\.zip/stop_times\.txt:2 column 'departure_time': unparsable time 'x'"):
        load_timetable(GtfsSource(feed))


def test_not_a_zip_and_missing_path(tmp_path: Path) -> None:
    junk = tmp_path / "feed.zip"
    junk.write_text("<html>404</html>")
    with pytest.raises(FeedError, match="feed.zip: not a GTFS zip archive"):
        GtfsSource(junk)
    with pytest.raises(FeedError, match="nothing.zip: no such file or folder"):
        GtfsSource(tmp_path / "nothing.zip")


def test_skippable_inconsistencies_load_with_warnings(tmp_path: Path) -> None:
    feed = write_feed(
        tmp_path / "feed",
        stop_times_txt=ST_HEADER
        + "T1,08:00:00,08:00:00,HBF:A,1\n"
        + "T1,08:10:00,08:11:00,NOWHERE,2\n"
        + "T1,08:20:00,08:20:00,GON,3\n"
        + "T9,08:20:00,08:20:00,GON,1\n"
        + "T2,08:05:00,08:05:00\n"
        + "T2,08:05:00,08:05:00,HBF:B,1\n"
        + "T2,08:15:00,08:15:00,GON,2\n",
    )
    tt = load_timetable(GtfsSource(feed))
    assert sorted(str(w).removeprefix(f"{feed}/") for w in tt.warnings) == [
        "stop_times.txt:3 column 'stop_id': 1 row(s) skipped: unknown stop_id",
        "stop_times.txt:5 column 'trip_id': 1 row(s) skipped: unknown trip_id",
        "stop_times.txt:6: 1 row(s) with the wrong number of fields skipped",
    ]
    assert len(tt.trip_ids) == 2


def test_cli_prints_the_error_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = write_feed(tmp_path / "feed", stop_times_txt=ST_HEADER + "T1,08:00:00,25:99:00,HBF:A,1\n")
    status = main(["departures", "--gtfs", str(feed), "--stop", "HBF", "--at", "1715752800"])
    err = capsys.readouterr().err
    assert status == 1
    assert err == (
        f"stopcast: error: {feed}/stop_times.txt:2 column 'departure_time': "
        "unparsable time '25:99:00' (expected HH:MM:SS)\n"
    )


def test_cli_unknown_stop_suggests_close_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = write_feed(tmp_path / "feed")
    assert main(["departures", "--gtfs", str(feed), "--stop", "HBF:C"]) == 1
    err = capsys.readouterr().err
    assert "stop 'HBF:C' is not in" in err
    assert "(did you mean HBF:B, HBF:A, HBF?)" in err
