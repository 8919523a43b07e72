"""Timetable benchmarks on HART (438k stop_times): `stopcast departures` as a whole process, cold (index
built from the zip) and warm (index mapped from the cache), side by side with gtfs-kit answering the same
question (the next 20 departures at one stop on a date) in the same run; then one board and all boards.

Runs alternate (stopcast cold, gtfs-kit, stopcast warm, ...) so that both meet the same machine; medians
of wall time, and the median of each process's own peak RSS (VmHWM). The OS page cache holds the feed's
zip (read once before timing) and, for the warm runs, the cache files: "cold" means the index is built,
not that the disk is cold.

gtfs-kit is a bench-only extra: .venv/bin/pip install -e '.[bench]'

Run: python3 bench/bench_timetable.py [FEED] [--runs N] [--json]   (default ../shared/data/hart/hart-2021.zip)
"""

from __future__ import annotations

import _venv  # the project's venv, whichever python3 started the bench

_venv.ensure()

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from feeds.cache import open_timetable
from feeds.departures import timetable_departures
from feeds.times import parse_instant

DEFAULT_FEED = Path(__file__).resolve().parents[2] / "shared" / "data" / "hart" / "hart-2021.zip"
AT = "2021-02-03T08:00:00-05:00"  # a Wednesday inside HART's calendar


PEAK_WRAPPER = (
    "import atexit, sys\n"
    "def peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            sys.stderr.write('PEAK_KB ' + line.split()[1] + '\\n')\n"
    "atexit.register(peak)\n"
    "from displays.cli.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def run_process(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (MB, the child's own VmHWM) of one `stopcast` process."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK_WRAPPER, *args], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{args} failed: {done.stderr}")
    peak_kb = int(done.stderr.rsplit("PEAK_KB ", 1)[1].split()[0])
    return elapsed, peak_kb // 1024


GTFS_KIT = (  # the same question in gtfs-kit: the next 20 departures at the stop from 08:00 on the date
    "import sys\n"
    "import gtfs_kit as gk\n"
    "feed = gk.read_feed(sys.argv[1], dist_units='km')\n"
    "st = feed.get_stop_times(sys.argv[3])\n"
    "deps = st[(st['stop_id'] == sys.argv[2]) & (st['departure_time'] >= '08:00:00')].sort_values('departure_time').head(20)\n"
    "deps = deps.merge(feed.trips[['trip_id', 'route_id', 'trip_headsign']], on='trip_id')\n"
    "deps = deps.merge(feed.routes[['route_id', 'route_short_name']], on='route_id')\n"
    "print(deps[['departure_time', 'route_short_name', 'trip_headsign']].to_string())\n"
)


def run_gtfs_kit(feed: Path, stop: str) -> tuple[float, int]:
    """Wall seconds and peak RSS (MB) of one gtfs-kit process answering the same question."""
    wrapper = PEAK_WRAPPER.split("from displays.cli.cli")[0] + GTFS_KIT
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", wrapper, str(feed), stop, AT[:10].replace("-", "")], capture_output=True,
                          text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"gtfs-kit failed: {done.stderr[-2000:]}")
    return elapsed, int(done.stderr.rsplit("PEAK_KB ", 1)[1].split()[0]) // 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("feed", nargs="?", type=Path, default=DEFAULT_FEED)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    feed = args.feed
    if not feed.exists():
        raise SystemExit(f"{feed} is absent: pass a GTFS feed")
    has_gtfs_kit = importlib.util.find_spec("gtfs_kit") is not None
    tt = open_timetable(feed, None)
    stop = tt.stops[len(tt.stops) // 2].stop_id
    feed.read_bytes()  # the zip in the OS page cache for every run alike
    cold, warm, kit = [], [], []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, STOPCAST_CACHE_DIR=cache)
        base = ["departures", "--gtfs", str(feed), "--stop", stop, "--at", AT]
        run_process(base, env)  # fills the cache
        for _ in range(args.runs):
            cold.append(run_process([*base, "--no-cache"], env))
            if has_gtfs_kit:
                kit.append(run_gtfs_kit(feed, stop))
            warm.append(run_process(base, env))
    figures = {"feed": feed.name, "stop_times": len(tt.st_trip), "runs": args.runs,
               "cold_s": _median(t for t, _ in cold), "cold_rss_mb": _median(m for _, m in cold),
               "warm_s": _median(t for t, _ in warm), "warm_rss_mb": _median(m for _, m in warm)}
    if kit:
        figures |= {"gtfs_kit_s": _median(t for t, _ in kit), "gtfs_kit_rss_mb": _median(m for _, m in kit)}
        figures |= {"cold_ratio": round(figures["cold_s"] / figures["gtfs_kit_s"], 2),
                    "warm_ratio": round(figures["warm_s"] / figures["gtfs_kit_s"], 2)}
    if args.json:
        print(json.dumps(figures))
        return
    print(f"feed {feed.name}: {len(tt.stops)} stops, {len(tt.trip_ids)} trips, {len(tt.st_trip)} stop_times; "
          f"{args.runs} alternating runs, medians")
    print(f"stopcast cold process: {figures['cold_s']:.3f} s, peak RSS {figures['cold_rss_mb']} MB")
    print(f"stopcast warm process: {figures['warm_s']:.3f} s, peak RSS {figures['warm_rss_mb']} MB")
    if kit:
        print(f"gtfs-kit process:      {figures['gtfs_kit_s']:.3f} s, peak RSS {figures['gtfs_kit_rss_mb']} MB   "
              f"(stopcast/gtfs-kit: cold {figures['cold_ratio']}x, warm {figures['warm_ratio']}x)")
    else:
        print("gtfs-kit is not installed (.venv/bin/pip install -e '.[bench]'): no side-by-side figures")
    at = parse_instant(AT)
    stop_ids = [s.stop_id for s in tt.stops]
    one = []
    for stop_id in stop_ids[:500]:
        t0 = time.perf_counter()
        timetable_departures(tt, stop_id, at, 90 * 60, 20)
        one.append(time.perf_counter() - t0)
    print(f"one stop's board (90 min, 20 rows): median {statistics.median(one) * 1000:.3f} ms")
    rounds = []
    for _ in range(3):
        t0 = time.perf_counter()
        for stop_id in stop_ids:
            timetable_departures(tt, stop_id, at, 90 * 60, 20)
        rounds.append(time.perf_counter() - t0)
    print(f"boards for all {len(stop_ids)} stops: best {min(rounds):.3f} s")


def _median(values) -> float:
    return round(statistics.median(list(values)), 3)


if __name__ == "__main__":
    main()
