"""The timetable cache gives the same answers warm, and is invalidated when the feed changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from feedkit import write_feed

from feeds.cache import open_timetable
from feeds.departures import timetable_departures
from feeds.times import parse_instant

AT = parse_instant("2024-05-15T07:30:00+02:00")


def test_warm_load_equals_cold_and_writes_one_entry(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "f", as_zip=True)
    cache = tmp_path / "cache"
    cold = open_timetable(feed, cache)
    assert len(list(cache.glob("timetable-v*"))) == 1
    warm = open_timetable(feed, cache)
    assert isinstance(warm.st_dep.base, np.memmap) and not warm.st_dep.flags.writeable  # mapped, shared, never written
    assert timetable_departures(warm, "HBF", AT, 3600, 9) == timetable_departures(cold, "HBF", AT, 3600, 9)


def test_changed_feed_is_not_served_from_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    feed = write_feed(tmp_path / "f", as_zip=True)
    assert [d.headsign for d in timetable_departures(open_timetable(feed, cache), "UNI", AT, 3600, 9)] == ["Finthen"]
    feed = write_feed(
        tmp_path / "f",
        as_zip=True,
        trips_txt="route_id,service_id,trip_id,trip_headsign\n50,WD,T1,Mombach\n68,WD,T2,X\n",
    )
    assert [d.headsign for d in timetable_departures(open_timetable(feed, cache), "UNI", AT, 3600, 9)] == ["Mombach"]


def test_unwritable_or_corrupt_cache_is_ignored(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "f", as_zip=True)
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    assert open_timetable(feed, blocker / "cache").stops  # cannot create the folder: still loads
    cache = tmp_path / "cache"
    open_timetable(feed, cache)
    for entry in cache.glob("timetable-v*/*"):
        entry.write_bytes(b"garbage")
    assert open_timetable(feed, cache).stops
    assert isinstance(open_timetable(feed, cache).st_dep.base, np.memmap)  # the broken entry was written anew
    for array in cache.glob("timetable-v*/*.npy"):  # arrays cut short (a disk that filled up)
        array.write_bytes(array.read_bytes()[:90])
    assert open_timetable(feed, cache).stops


def test_a_cache_that_cannot_be_written_leaves_nothing_half_written(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    feed = write_feed(tmp_path / "f", as_zip=True)
    cache = tmp_path / "cache"

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("feeds.cache.np.save", disk_full)
    assert open_timetable(feed, cache).stops  # served from memory
    assert list(cache.iterdir()) == []  # no temporary folder left behind
