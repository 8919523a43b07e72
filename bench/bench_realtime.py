"""Realtime benchmarks on HART: parse + merge a TripUpdates feed of 5,000 trips x 20 stop updates,
then recompute the boards of all stops.

Run: python bench/bench_realtime.py [FEED]   (default ../shared/data/hart/hart-2021.zip)
"""

from __future__ import annotations

import _venv  # the project's venv, whichever python3 started the bench

_venv.ensure()

import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

from google.transit import gtfs_realtime_pb2 as rt

from feeds.cache import default_cache_dir, open_timetable
from feeds.live import build_live
from feeds.merge import stop_departures
from feeds.realtime import RealtimeRules, parse_feed
from feeds.times import parse_instant, service_day_origin
from feeds.timetable import Timetable

DEFAULT_FEED = Path(__file__).resolve().parents[2] / "shared" / "data" / "hart" / "hart-2021.zip"
NOW = parse_instant("2021-02-03T12:00:00-05:00")  # a Wednesday midday


def build_feed(tt: Timetable, trips: int, updates: int, seed: int = 7, by: str = "stop_sequence",
               delays: list[list[int]] | None = None) -> bytes:
    """A FULL_DATASET feed: `trips` running trips, each with `updates` stop updates (delay or time), naming
    their stops by stop_sequence or, as BART's feed does, by stop_id only. The delays are `delays[trip][k]`
    when given (bench/feed_modes.py), else drawn from `seed` (-60..600 s)."""
    day = dt.date(2021, 2, 3)
    origin = service_day_origin(day, tt.timezone)
    running = tt.calendar.active(day)
    long_enough = (tt.trip_first[1:] - tt.trip_first[:-1]) >= updates
    candidates = [t for t in range(len(tt.trip_ids)) if running[tt.trip_service[t]] and long_enough[t]]
    rng = random.Random(seed)
    msg = rt.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.timestamp = NOW
    for n in range(trips):
        trip = candidates[n % len(candidates)]
        entity = msg.entity.add(id=f"e{n}")
        tu = entity.trip_update
        tu.trip.trip_id = tt.trip_ids[trip]
        tu.trip.start_date = "20210203"
        a, b = int(tt.trip_first[trip]), int(tt.trip_first[trip + 1])
        for k in range(updates):
            row = a + k * ((b - a) // updates)
            stu = tu.stop_time_update.add()
            if by == "stop_id":
                stu.stop_id = tt.stops[int(tt.st_stop[row])].stop_id
            else:
                stu.stop_sequence = int(tt.st_seq[row])
            delay = delays[n][k] if delays is not None else rng.randint(-60, 600)
            if k % 2:
                stu.departure.time = origin + int(tt.st_dep[row]) + delay
            else:
                stu.departure.delay = delay
    return msg.SerializeToString()


def timed(tt: Timetable, payload: bytes, now: int, runs: int) -> tuple[float, float, int, int]:
    """Median seconds of parse + merge alone, and of parse + merge + every stop's board (which computes the
    prediction of every trip the boards show); departures shown, and how many with realtime."""
    stops = [s.stop_id for s in tt.stops]
    merge, whole = [], []
    shown = live_rows = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        live = build_live(tt, [parse_feed(payload, "bench.pb", now)], now, RealtimeRules())
        t1 = time.perf_counter()
        boards = [stop_departures(tt, live, s, now, 90 * 60, 20).departures for s in stops]
        t2 = time.perf_counter()
        merge.append(t1 - t0)
        whole.append(t2 - t0)
        shown = sum(len(b) for b in boards)
        live_rows = sum(d.realtime for b in boards for d in b)
    return statistics.median(merge), statistics.median(whole), shown, live_rows


def main() -> None:
    feed = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_FEED
    tt = open_timetable(feed, default_cache_dir())
    print(f"{feed.name}: {len(tt.stops)} stops; medians of 5 runs, timetable warm in memory")
    for by in ("stop_sequence", "stop_id"):
        payload = build_feed(tt, 5000, 20, by=by)
        merge, whole, shown, live_rows = timed(tt, payload, NOW, 5)
        print(f"TripUpdates, 5,000 trips x 20 stop updates by {by} ({len(payload) / 1e6:.1f} MB): parse + merge "
              f"{merge * 1000:.0f} ms; with the boards of all {len(tt.stops)} stops (every shown trip's predictions) "
              f"{whole * 1000:.0f} ms; {shown} departures shown, {live_rows} with realtime")
    bart = DEFAULT_FEED.parents[1] / "bart"
    if (bart / "bart-rt.zip").exists():
        btt = open_timetable(bart / "bart-rt.zip", default_cache_dir())
        payload = (bart / "bart-trip-updates.pb").read_bytes()
        header = rt.FeedMessage()
        header.ParseFromString(payload)
        merge, whole, shown, live_rows = timed(btt, payload, int(header.header.timestamp), 5)
        print(f"BART's own TripUpdates (stop_id only, ADDED trips; {len(payload) / 1e3:.0f} kB): parse + merge "
              f"{merge * 1000:.1f} ms; with the boards of all {len(btt.stops)} stops {whole * 1000:.0f} ms; "
              f"{shown} departures shown, {live_rows} with realtime")


if __name__ == "__main__":
    main()
