"""`stopcast departures`: the JSON contract and the table for people."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from feedkit import write_feed

from displays.cli.cli import main

REQUIRED = {
    "trip_id", "service_date", "route_id", "route_short_name", "route_color", "route_text_color", "headsign",
    "stop_id", "platform", "scheduled_departure", "expected_departure", "delay_seconds", "realtime", "status",
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def test_json_has_the_documented_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = write_feed(tmp_path / "f")
    status, out, _ = run(
        capsys,
        "departures",
        "--gtfs",
        str(feed),
        "--stop",
        "HBF",
        "--at",
        "2024-05-15T07:30:00+02:00",
        "--format",
        "json",
    )
    assert status == 0
    doc = json.loads(out)
    assert doc["stop"] == {"stop_id": "HBF", "stop_name": "Mainz Hauptbahnhof"}
    assert doc["at"] == "2024-05-15T07:30:00+02:00"
    assert doc["alerts"] == []
    first = doc["departures"][0]
    assert REQUIRED <= set(first)
    assert (first["trip_id"], first["service_date"], first["route_short_name"], first["headsign"]) == (
        "T1",
        "20240515",
        "50",
        "Finthen",
    )
    assert (first["stop_id"], first["platform"], first["route_color"], first["route_text_color"]) == (
        "HBF:A",
        "A",
        "E30613",
        "FFFFFF",
    )
    assert (first["scheduled_departure"], first["expected_departure"], first["delay_seconds"]) == (
        "2024-05-15T08:00:00+02:00",
        None,
        None,
    )
    assert (first["realtime"], first["status"]) == (False, "scheduled")


def test_unix_seconds_horizon_and_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = write_feed(tmp_path / "f")
    at = "1715751000"  # 2024-05-15T07:30:00+02:00
    _, out, _ = run(
        capsys, "departures", "--gtfs", str(feed), "--stop", "HBF", "--at", at, "--format", "json", "--limit", "1"
    )
    assert [d["trip_id"] for d in json.loads(out)["departures"]] == ["T1"]
    _, out, _ = run(
        capsys, "departures", "--gtfs", str(feed), "--stop", "HBF", "--at", at, "--format", "json", "--horizon", "20"
    )
    assert json.loads(out)["departures"] == []


def test_table_shows_local_time_line_destination_platform_minutes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = write_feed(tmp_path / "f")
    status, out, _ = run(
        capsys, "departures", "--gtfs", str(feed), "--stop", "HBF", "--at", "2024-05-15T07:30:00+02:00"
    )
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "Mainz Hauptbahnhof (HBF) at 07:30 Europe/Berlin"
    assert lines[1].split() == ["Time", "Line", "Destination", "Platform", "Min", "Status"]
    assert lines[2].split() == ["08:00", "50", "Finthen", "A", "30", "scheduled"]
    assert lines[3].split() == ["08:05", "68", "Gonsenheim", "B", "35", "scheduled"]


def test_bad_at_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = write_feed(tmp_path / "f")
    with pytest.raises(SystemExit) as caught:
        main(["departures", "--gtfs", str(feed), "--stop", "HBF", "--at", "tomorrow"])
    assert caught.value.code == 2
    assert "'tomorrow' is neither ISO 8601 nor Unix seconds" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["departures", "--gtfs", str(feed), "--stop", "HBF", "--at", "2024-05-15T07:30:00"])
    assert "has no UTC offset" in capsys.readouterr().err


def test_corrupt_realtime_is_a_warning_and_the_timetable_is_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = write_feed(tmp_path / "f")
    corrupt = tmp_path / "tripupdates.pb"
    corrupt.write_bytes(b"\x0a\x05\x0a\x03\x32\x2e")  # truncated header
    status, out, err = run(
        capsys,
        "departures",
        "--gtfs",
        str(feed),
        "--stop",
        "HBF",
        "--at",
        "2024-05-15T07:30:00+02:00",
        "--realtime",
        str(corrupt),
    )
    assert status == 0
    assert err.startswith(f"stopcast: warning: realtime source {corrupt}: corrupt or truncated GTFS-Realtime payload")
    assert "08:00  50" in out
    assert out.rstrip().endswith("timetable only (no current realtime data)")


def test_json_with_realtime_carries_health_predictions_and_alerts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rtkit import alert, stu, trip_update
    from rtkit import feed as rt_feed

    at = 1715751000  # 2024-05-15T07:30:00+02:00
    gtfs = write_feed(tmp_path / "f")
    pb = tmp_path / "rt.pb"
    pb.write_bytes(rt_feed(
        trip_update("T1", stu(seq=1, dep_delay=240), start_date="20240515"),
        alert("works", [{"route_id": "50"}], {"de": "Gleisbauarbeiten", "en": "Track works"}),
        timestamp=at - 30,
    ))
    _, out, _ = run(capsys, "departures", "--gtfs", str(gtfs), "--stop", "HBF", "--at", str(at), "--format", "json",
                    "--realtime", str(pb))
    doc = json.loads(out)
    assert doc["realtime"]["live"] is True
    (source,) = doc["realtime"]["sources"]
    assert (source["ok"], source["age_seconds"], source["trip_updates"], source["alerts"]) == (True, 30, 1, 1)
    first = doc["departures"][0]
    assert (
        first["trip_id"],
        first["expected_departure"],
        first["delay_seconds"],
        first["status"],
        first["realtime"],
    ) == ("T1", "2024-05-15T08:04:00+02:00", 240, "delayed", True)
    assert [(a["id"], a["header"], a["language"]) for a in doc["alerts"]] == [("works", "Gleisbauarbeiten", "de")]


def test_the_table_says_statuses_in_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from displays.cli.cli import status_words
    from feeds.departures import Departure

    base = dict(
        trip_id="t",
        service_date="20240515",
        route_id="50",
        route_short_name="50",
        route_long_name="",
        route_type=3,
        route_color="000000",
        route_text_color="FFFFFF",
        headsign="Finthen",
        direction_id=0,
        stop_id="HBF",
        stop_sequence=1,
        platform="A",
        scheduled_platform="A",
        scheduled=0,
        expected=0,
        realtime=True,
    )
    assert status_words(Departure(**base, delay=0, status="on_time")) == "on time"
    assert status_words(Departure(**base, delay=38 * 60, status="delayed")) == "38 min late"
    assert status_words(Departure(**base, delay=None, status="cancelled")) == "cancelled"
    assert status_words(Departure(**base, delay=None, status="skipped")) == "stop skipped"
