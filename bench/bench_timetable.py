"""Timetable benchmarks on HART (438k stop_times): cold and warm CLI process, one board, all boards.

Run: python bench/bench_timetable.py [FEED]   (default ../shared/data/hart/hart-2021.zip)
"""

from __future__ import annotations

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
    "from displays.cli import main\n"
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


def main() -> None:
    feed = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_FEED
    if not feed.exists():
        raise SystemExit(f"{feed} is absent: pass a GTFS feed")
    tt = open_timetable(feed, None)
    stop = tt.stops[len(tt.stops) // 2].stop_id
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, STOPCAST_CACHE_DIR=cache)
        base = ["departures", "--gtfs", str(feed), "--stop", stop, "--at", AT]
        cold = [run_process([*base, "--no-cache"], env) for _ in range(5)]
        run_process(base, env)  # fills the cache
        warm = [run_process(base, env) for _ in range(5)]
    print(f"feed {feed.name}: {len(tt.stops)} stops, {len(tt.trip_ids)} trips, {len(tt.st_trip)} stop_times")
    print(f"cold process: median {statistics.median(t for t, _ in cold):.3f} s, peak RSS {max(m for _, m in cold)} MB")
    print(f"warm process: median {statistics.median(t for t, _ in warm):.3f} s, peak RSS {max(m for _, m in warm)} MB")
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


if __name__ == "__main__":
    main()
