"""stop_times.txt is streamed in batches (a national feed's never sits in memory as text): the timetable
and the warnings' line numbers are the same as reading the file whole, and a file out of the ordinary
still gets its exact error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from feedkit import shared_feed, write_feed

from feeds import tables
from feeds.errors import FeedError
from feeds.loader import load_timetable
from feeds.source import GtfsSource

STOP_TIMES = (
    "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
    + "".join(
        f"T1,07:{m // 60:02d}:{m % 60:02d},07:{m // 60:02d}:{m % 60:02d},{'HBF' if m % 2 else 'UNI'},{m}\n"
        for m in range(1, 1500)
    )
    + "T2,08:00:00,08:00:00,NOWHERE,1\nT2,08:05:00,08:05:00,HBF,2\nT2,08:09:00,08:09:00,UNI,3\n"
)


def _whole(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise tables.NotStreamable("test")
    monkeypatch.setattr("feeds.stop_times.read_batches", refuse)


def _arrays(tt: object) -> dict[str, np.ndarray]:
    return {
        k: getattr(tt, k)
        for k in ("st_trip", "st_stop", "st_seq", "st_arr", "st_dep", "st_headsign", "ix_dep", "ix_row")
    }


@pytest.mark.parametrize("as_zip", [True, False])
def test_many_small_batches_give_the_whole_file_s_timetable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_zip: bool
) -> None:
    feed = write_feed(tmp_path / "f", as_zip=as_zip, stop_times_txt=STOP_TIMES)
    monkeypatch.setattr(tables, "BATCH_BYTES", 4096)  # ~90 rows a batch: the unknown stop is in the 17th
    monkeypatch.setattr("feeds.stop_times.STREAM_FROM", 0)  # as if it were a national feed's
    batches = list(tables.read_batches(GtfsSource(feed), "stop_times.txt", ("trip_id", "stop_id")))
    assert len(batches) > 10 and sum(b.num_rows for b in batches) == 1502  # it did stream, in many batches
    streamed = load_timetable(GtfsSource(feed))
    with monkeypatch.context() as m:
        _whole(m)
        whole = load_timetable(GtfsSource(feed))
    for name, values in _arrays(whole).items():
        assert np.array_equal(_arrays(streamed)[name], values), name
    assert [str(w) for w in streamed.warnings] == [str(w) for w in whole.warnings]
    assert any("stop_times.txt:1501 column 'stop_id'" in str(w) for w in streamed.warnings)  # the line in the file


def test_broken_rows_and_bad_bytes_are_reported_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tables, "BATCH_BYTES", 4096)
    monkeypatch.setattr("feeds.stop_times.STREAM_FROM", 0)
    broken = write_feed(tmp_path / "a", stop_times_txt=STOP_TIMES + "T2,08:10:00\n")
    assert any(str(w).endswith("stop_times.txt:1504: 1 row(s) with the wrong number of fields skipped")
               for w in load_timetable(GtfsSource(broken)).warnings)
    latin1 = write_feed(
        tmp_path / "b", stop_times_txt=STOP_TIMES.encode() + "T2,08:11:00,08:11:00,Mühle,4\n".encode("latin-1")
    )
    with pytest.raises(FeedError, match=r"stop_times.txt:1504 column 'stop_id': not UTF-8: byte 0xfc"):
        load_timetable(GtfsSource(latin1))
    broken_latin1 = write_feed(tmp_path / "c", stop_times_txt=STOP_TIMES.encode() + "T2,M\xfchle\n".encode("latin-1"))
    with pytest.raises(FeedError, match=r"stop_times.txt:1504 column 'arrival_time': not UTF-8: byte 0xfc"):
        load_timetable(GtfsSource(broken_latin1))


@pytest.mark.realdata
def test_hart_streamed_equals_hart_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    feed = shared_feed("hart", "hart-2021.zip")
    monkeypatch.setattr(tables, "BATCH_BYTES", 1 << 20)  # HART's 20 MB of stop_times in ~20 batches
    monkeypatch.setattr("feeds.stop_times.STREAM_FROM", 0)
    streamed = load_timetable(GtfsSource(feed))
    _whole(monkeypatch)
    whole = load_timetable(GtfsSource(feed))
    for name, values in _arrays(whole).items():
        assert np.array_equal(_arrays(streamed)[name], values), name
