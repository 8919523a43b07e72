"""Hostile GTFS input: zip bombs refused before inflating, encodings and line ends that are not
plain UTF-8 CSV, numbers that overflow; always a clear error naming file, line and column."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from feedkit import DEFAULTS, write_feed

from feeds.errors import FeedError
from feeds.loader import load_timetable
from feeds.source import GtfsSource

ST_HEADER = "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
CAL_HEADER = "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"


def bomb(path: Path, rows: int, level: int = 9) -> Path:
    """A feed whose stop_times.txt is `rows` identical lines: tiny compressed, huge inflated."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, text in DEFAULTS.items():
            if name != "stop_times.txt":
                archive.writestr(name, text)
        with archive.open("stop_times.txt", "w", force_zip64=True) as fh:
            fh.write(ST_HEADER.encode())
            block = b"T1,08:00:00,08:00:00,HBF:A,1\n" * 20_000
            for _ in range(rows // 20_000):
                fh.write(block)
    return path


def test_zip_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    feed = bomb(tmp_path / "bomb.zip", 2_000_000)  # 58 MB of rows in about 0.1 MB
    assert feed.stat().st_size < 500_000
    with pytest.raises(FeedError, match=r"^bomb\.zip/stop_times\.txt: compressed \d+:1 .* refused as a zip bomb$"):
        load_timetable(GtfsSource(feed))


def test_3gb_zip_bomb_via_the_cli_stays_small(tmp_path: Path) -> None:
    """The issue's case: 3 GB of stop_times in a few MB; refused with little memory and no traceback."""
    feed = bomb(tmp_path / "bomb.zip", 100_000_000, level=1)  # level 1: built in seconds, still ~150:1
    # VmHWM: this process's own peak (ru_maxrss would include the forked pytest's memory).
    code = ("import re, sys; from displays.cli.cli import main; status = main(sys.argv[1:]); "
            "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1), file=sys.stderr); "
            "sys.exit(status)")
    done = subprocess.run(
        [sys.executable, "-c", code, "departures", "--gtfs", str(feed), "--stop", "HBF", "--no-cache"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    *said, peak_kb = done.stderr.strip().splitlines()
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    errors = [line for line in said if line.startswith("stopcast: error: ")]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("stopcast: error: bomb.zip/stop_times.txt: compressed ") and "zip bomb" in errors[0]
    assert int(peak_kb) < 400_000  # KB: the interpreter and its libraries, not the 3 GB


def test_member_over_the_cap_is_refused(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed", as_zip=True)
    with pytest.raises(
        FeedError,
        match=r"^feed\.zip/agency\.txt: inflates to 121 bytes, over the cap of 100; refused before inflating$",
    ):
        load_timetable(GtfsSource(feed, max_member_bytes=100))
    folder = write_feed(tmp_path / "folder")
    with pytest.raises(FeedError, match=r"agency\.txt: is 121 bytes, over the cap of 100$"):
        load_timetable(GtfsSource(folder, max_member_bytes=100))


def _deflated_feed(path: Path, offset: int, change: int) -> Path:
    """The default feed zipped with deflate (as publishers zip), `stops.txt`'s central directory field at
    `offset` (what zipfile reads as its size or CRC) changed by `change`."""
    folder = write_feed(path.with_suffix(""))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.iterdir()):
            archive.write(file, file.name)
    raw = bytearray(path.read_bytes())
    at = raw.find(b"PK\x01\x02")
    while raw[at + 46 : at + 46 + len("stops.txt")] != b"stops.txt":
        at = raw.find(b"PK\x01\x02", at + 4)
    value = (int.from_bytes(raw[at + offset : at + offset + 4], "little") + change) % 2**32
    raw[at + offset : at + offset + 4] = value.to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize(("offset", "change", "message"), [
    (0, 0, None),  # unchanged: it loads
    (24, -10, r"inflates beyond the \d+ bytes its header declares; refused"),  # uncompressed size, 10 bytes short
    (24, 10, r"cannot be read \(truncated or corrupt: bad CRC-32 for stops\.txt\)"),  # 10 bytes more than it has
    (16, 1, r"cannot be read \(truncated or corrupt: bad CRC-32 for stops\.txt\)"),
])
def test_a_deflated_member_that_lies_about_its_size_or_crc_is_refused(tmp_path: Path, offset: int, change: int,
                                                                       message: str | None) -> None:
    """Deflated members are inflated in one call (ISA-L), not through zipfile's stream: the same caps and checks."""
    feed = _deflated_feed(tmp_path / "feed.zip", offset, change)
    if message is None:
        assert len(load_timetable(GtfsSource(feed)).stops) == len(DEFAULTS["stops.txt"].splitlines()) - 1
        return
    with pytest.raises(FeedError, match=rf"^feed\.zip/stops\.txt: {message}$"):
        load_timetable(GtfsSource(feed))


def test_a_genuine_large_member_still_loads(tmp_path: Path) -> None:
    """Real CSV compresses far below 100:1: a few MB of varied stop_times load."""
    lines = [ST_HEADER] + [
        f"T1,08:{m:02d}:00,08:{m:02d}:00,HBF:A,{i}\n" for i, m in ((i, i % 60) for i in range(1, 150_000))
    ]
    feed = write_feed(tmp_path / "big", as_zip=True, stop_times_txt="".join(lines))
    info = zipfile.ZipFile(feed).getinfo("stop_times.txt")
    assert info.file_size > 4_000_000 and info.file_size / info.compress_size < 100
    assert len(load_timetable(GtfsSource(feed)).st_seq) > 100_000


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"stops_txt": DEFAULTS["stops.txt"].encode("utf-16")},
            "stops.txt:1: is UTF-16 or another encoding with NUL bytes; GTFS files must be UTF-8",
        ),
        (
            {"stops_txt": b"stop_id\xff,stop_name\nA,x\n"},
            "stops.txt:1: the header line is not UTF-8: byte 0xff at position 8",
        ),
        (
            {"stops_txt": DEFAULTS["stops.txt"].encode() + b"X,Gonsen\xe4heim,0,,\n"},
            "stops.txt:7 column 'stop_name': not UTF-8: byte 0xe4 (GTFS files must be UTF-8)",
        ),
        (
            {"stop_times_txt": ST_HEADER + "T1,08:00:00,08:00:00,HBF:A,99999999999999999999999\n"},
            "stop_times.txt:2 column 'stop_sequence': 99999999999999999999999 is out of range (at most 18 digits)",
        ),
        (
            {"routes_txt": "route_id,route_short_name,route_type\n50,50,1" + "0" * 60 + "\n"},
            "routes.txt:2 column 'route_type': 1000000000000000000000000000000000000000… "
            "is out of range (at most 18 digits)",
        ),
        (
            {"calendar_dates_txt": "service_id,date,exception_type\nWD,20240231,1\n"},
            "calendar_dates.txt:2 column 'date': '20240231' is not a date YYYYMMDD (day is out of range for month)",
        ),
    ],
)
def test_clear_errors_for_encodings_and_overflow(tmp_path: Path, files: dict, message: str) -> None:
    feed = write_feed(tmp_path / "feed", **files)
    with pytest.raises(FeedError) as caught:
        load_timetable(GtfsSource(feed))
    assert str(caught.value) == f"{feed}/{message}"


def test_cr_only_line_ends_load(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed", stops_txt=DEFAULTS["stops.txt"].replace("\n", "\r"),
                      stop_times_txt=DEFAULTS["stop_times.txt"].replace("\n", "\r"))
    tt = load_timetable(GtfsSource(feed))
    assert [s.stop_id for s in tt.stops] == ["HBF", "HBF:A", "HBF:B", "UNI", "GON"] and len(tt.st_seq) == 5


@pytest.mark.parametrize(
    ("files", "warning"),
    [
        (
            {"calendar_txt": CAL_HEADER + "WD,1,1,1,1,1,0,0,20241231,20240101\n"},
            "calendar.txt:2 column 'end_date': 1 service(s) end before they start (end_date < start_date): "
            "they never run by calendar.txt",
        ),
        (
            {"stop_times_txt": ST_HEADER},
            "stop_times.txt:2: has no rows: no trip stops anywhere, every board stays empty",
        ),
        (
            {"stops_txt": DEFAULTS["stops.txt"] + "X,Child,0,HBF:A,\n"},
            "stops.txt:7 column 'parent_station': parent_station 'HBF:A' is location_type 0, not a station; "
            "ignored (the two stops are not treated as one place)",
        ),
        (
            {"frequencies_txt": "trip_id,start_time,end_time,headway_secs\nT1,00:00:00,999:00:00,1\n"},
            "frequencies.txt:2 column 'end_time': 1 row(s) skipped: end_time before start_time, "
            "or more than 5000 departures in one window",
        ),
    ],
)
def test_warnings_not_silence(tmp_path: Path, files: dict, warning: str) -> None:
    feed = write_feed(tmp_path / "feed", **files)
    assert [str(w).removeprefix(f"{feed}/") for w in load_timetable(GtfsSource(feed)).warnings] == [warning]
