"""Growth to national feeds: HART's trips replicated under new ids into synthetic feeds of 1x, 5x and 25x
its stop_times (25x: 11 million), generated here into a temporary folder and never committed.

For each size: a cold `stopcast departures --no-cache` process (the index built from the zip; stderr is
not a terminal, so no progress bar), its wall time and peak RSS (VmHWM), peak bytes per stop_time; then the
warm process (the index mapped from the cache) answering one stop's query, and its peak RSS, which should
follow what the query touches, not the feed's size. The OS page cache holds the zip (written just before)
and the cache files.

Run: python3 bench/bench_growth.py [--factors 1,5,25] [--json]
"""

from __future__ import annotations

import _venv  # the project's venv, whichever python3 started the bench

_venv.ensure()

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from bench_timetable import AT, run_process

HART = Path(__file__).resolve().parents[2] / "shared" / "data" / "hart" / "hart-2021.zip"
STOP = "4913"  # a stop in the middle of HART's list, served on AT's day


def replicate(source: Path, factor: int, target: Path) -> int:
    """A copy of the feed with every trip `factor` times (trip_id 'T' as 'T', 'T~1', ... 'T~{factor-1}'), written
    as a zip member by member in streaming fashion; returns the number of stop_times rows."""
    rows = 0
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for name in src.namelist():
            data = src.read(name)
            if name not in ("trips.txt", "stop_times.txt"):
                out.writestr(name, data)
                continue
            header, _, body = data.partition(b"\n")
            if not body.endswith(b"\n"):
                body += b"\n"  # copies must not run into each other
            column = header.decode().rstrip("\r").split(",").index("trip_id")
            pattern = re.compile(rb"^" + rb"[^,\n]*," * column + rb"([^,\n\r]+)", re.M)  # not the empty end
            with out.open(name, "w", force_zip64=True) as fh:
                fh.write(header + b"\n")
                fh.write(body)
                for k in range(1, factor):
                    fh.write(pattern.sub(lambda m: m.group(0) + b"~%d" % k, body))  # noqa: B023 - used at once
            if name == "stop_times.txt":
                rows = body.count(b"\n") * factor
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--factors", default="1,5,25")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not HART.exists():
        raise SystemExit(f"{HART} is absent")
    table = []
    with tempfile.TemporaryDirectory() as folder:
        for factor in (int(f) for f in args.factors.split(",")):
            feed = Path(folder) / f"hart-x{factor}.zip"
            t0 = time.perf_counter()
            rows = replicate(HART, factor, feed)
            made = time.perf_counter() - t0
            cache = Path(folder) / f"cache-x{factor}"
            env = dict(os.environ, STOPCAST_CACHE_DIR=str(cache))
            base = ["departures", "--gtfs", str(feed), "--stop", STOP, "--at", AT]
            cold = [run_process([*base, "--no-cache"], env) for _ in range(args.runs)]
            run_process(base, env)  # builds and stores the index
            warm = [run_process(base, env) for _ in range(args.runs)]
            row = {"factor": factor, "stop_times": rows, "zip_mb": round(feed.stat().st_size / 2**20),
                   "cold_s": round(statistics.median(t for t, _ in cold), 2), "cold_peak_mb": max(m for _, m in cold),
                   "warm_s": round(statistics.median(t for t, _ in warm), 3), "warm_peak_mb": max(m for _, m in warm)}
            row["bytes_per_stop_time"] = round(row["cold_peak_mb"] * 2**20 / rows)
            table.append(row)
            print(f"x{factor}: {rows} stop_times (zip {row['zip_mb']} MB, made in {made:.0f} s)", file=sys.stderr)
            feed.unlink()
    if args.json:
        print(json.dumps(table))
        return
    print("feed          stop_times   cold index   peak RSS   bytes/stop_time   warm query   warm peak RSS")
    for r in table:
        print(f"HART x{r['factor']:<5d} {r['stop_times']:>12,d} {r['cold_s']:>10.2f} s {r['cold_peak_mb']:>7d} MB"
              f" {r['bytes_per_stop_time']:>13d} {r['warm_s']:>12.3f} s {r['warm_peak_mb']:>10d} MB")


if __name__ == "__main__":
    main()
