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


def build_feed(tt: Timetable, trips: int, updates: int, seed: int = 7) -> bytes:
    """A FULL_DATASET feed: `trips` running trips, each with `updates` stop updates (delay or time)."""
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
            stu = tu.stop_time_update.add(stop_sequence=int(tt.st_seq[row]))
            delay = rng.randint(-60, 600)
            if k % 2:
                stu.departure.time = origin + int(tt.st_dep[row]) + delay
            else:
                stu.departure.delay = delay
    return msg.SerializeToString()


def main() -> None:
    feed = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_FEED
    tt = open_timetable(feed, default_cache_dir())
    payload = build_feed(tt, 5000, 20)
    print(f"TripUpdates feed: 5,000 trips x 20 stop updates, {len(payload) / 1e6:.1f} MB")
    merges = []
    for _ in range(7):
        t0 = time.perf_counter()
        live = build_live(tt, [parse_feed(payload, "bench.pb", NOW)], NOW, RealtimeRules())
        merges.append(time.perf_counter() - t0)
    print(f"parse + merge: median {statistics.median(merges) * 1000:.1f} ms")
    stops = [s.stop_id for s in tt.stops]
    rounds = []
    for _ in range(3):
        live = build_live(tt, [parse_feed(payload, "bench.pb", NOW)], NOW, RealtimeRules())
        t0 = time.perf_counter()
        shown = sum(len(stop_departures(tt, live, s, NOW, 90 * 60, 20).departures) for s in stops)
        rounds.append(time.perf_counter() - t0)
    live_rows = sum(
        sum(d.realtime for d in stop_departures(tt, live, s, NOW, 90 * 60, 20).departures) for s in stops
    )
    print(f"boards of all {len(stops)} stops after it (fresh predictions): best {min(rounds):.3f} s, "
          f"{shown} departures, {live_rows} with realtime; {live.stats}")


if __name__ == "__main__":
    main()
