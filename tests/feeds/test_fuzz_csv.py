"""Any bytes in any file of a feed: a timetable (with warnings) or a FeedError naming the file,
never another exception."""

from __future__ import annotations

import tempfile
from pathlib import Path

from feedkit import DEFAULTS, write_feed
from hypothesis import example, given
from hypothesis import strategies as st

from feeds.errors import FeedError
from feeds.loader import load_timetable
from feeds.source import GtfsSource
from feeds.timetable import Timetable

FILES = sorted(DEFAULTS) + ["calendar_dates.txt", "frequencies.txt"]
CELLS = st.one_of(
    st.sampled_from(
        [
            "",
            "0",
            "1",
            "-1",
            "HBF",
            "HBF:A",
            "T1",
            "WD",
            "50",
            "08:00:00",
            "25:00:00",
            "99:99:99",
            "20240515",
            "99999999999999999999999",
            "1e999",
            "NaN",
            '"',
            '""',
            ",",
            "\n",
            "\r",
            "\x00",
            "ü",
            "\ufeff",
        ]
    ),
    st.text(max_size=12),
)


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """The original file with a few bytes inserted, deleted or replaced."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        chunk = draw(st.binary(min_size=1, max_size=6))
        if kind == "insert":
            data[at:at] = chunk
        elif kind == "delete":
            del data[at : at + len(chunk)]
        else:
            data[at : at + len(chunk)] = chunk
    return bytes(data)


@st.composite
def csv_like(draw: st.DrawFn, original: bytes) -> bytes:
    """The original header with rows of hostile cells."""
    header = original.split(b"\n", 1)[0].decode()
    width = header.count(",") + 1
    rows = draw(st.lists(st.lists(CELLS, min_size=width - 1, max_size=width + 1), max_size=5))
    return (header + "\n" + "".join(",".join(row) + "\n" for row in rows)).encode("utf-8", "surrogatepass")


@st.composite
def feeds(draw: st.DrawFn) -> dict[str, bytes]:
    name = draw(st.sampled_from(FILES))
    original = DEFAULTS.get(
        name,
        {
            "calendar_dates.txt": "service_id,date,exception_type\nWD,20240515,2\n",
            "frequencies.txt": "trip_id,start_time,end_time,headway_secs\nT1,08:00:00,09:00:00,600\n",
        }.get(name, ""),
    ).encode()
    content = draw(st.one_of(st.binary(max_size=200), mutated(original), csv_like(original)))
    return {name.replace(".txt", "_txt"): content}


@given(files=feeds(), as_zip=st.booleans())
@example(files={"agency_txt": b"\r\x01\n"}, as_zip=False)  # found by the fuzzer: a bare CR in the header
@example(files={"agency_txt": b"\n\r\x01\x80"}, as_zip=False)  # found by the fuzzer: a CR before a bad byte
@example(files={"stops_txt": b"stop_id,stop_name\nA,x\nB,\x98y,z\n"}, as_zip=False)  # a broken row that is not UTF-8
def test_any_bytes_load_or_fail_with_a_feed_error(files: dict[str, bytes], as_zip: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write_feed(Path(folder) / "feed", as_zip=as_zip, **files)  # type: ignore[arg-type]
        try:
            source = GtfsSource(path)
            try:
                timetable = load_timetable(source)
            finally:
                source.close()
        except FeedError as exc:
            assert str(exc).startswith(str(path) if not as_zip else "feed.zip")
            return
    assert isinstance(timetable, Timetable)
