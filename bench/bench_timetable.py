"""Timetable benchmarks on HART (438k stop_times): `stopcast departures` as a whole process, cold (index
built from the zip) and warm (index mapped from the cache), side by side with gtfs-kit answering the same
question in the same run: the next 20 departures at one stop from 08:00 on a weekday, with route and
headsign. Then one board and all boards, in this process.

gtfs-kit runs in a fresh venv of its own with the newest gtfs-kit and pandas from PyPI, made by this bench
with `python3 -m venv` under $XDG_CACHE_HOME/stopcast-bench (~/.cache) and made anew after a week or with
--fresh-peer (the versions are printed); without it (no network, say) the bench says why and goes on
without the side-by-side figures.

Runs alternate (stopcast cold, gtfs-kit, stopcast warm, ...) so that both meet the same machine; medians of
wall time, of CPU time (user + system; steadier than wall time on a busy machine) and of each process's own
peak RSS (VmHWM from its /proc, read as it exits: the rusage of a child
of this process would count this process's memory, which the child inherits until it execs). The OS page
cache holds the feed's zip (read once before timing) and, for the warm runs, the cache files: "cold" means a
fresh process whose index is built from the zip, not a cold disk. Both answers are compared: the same 20
trips at the same times, or the bench says where they differ.

Run: python3 bench/bench_timetable.py [FEED] [--runs N] [--json] [--fresh-peer]
     (default ../shared/data/hart/hart-2021.zip)
"""

from __future__ import annotations

import _venv  # the project's venv, whichever python3 started the bench

_venv.ensure()

import argparse
import json
import os
import resource
import shutil
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
LIMIT = 20
STOPCAST = Path(sys.executable).with_name("stopcast")  # the console script, as a user runs it
PEER_PACKAGES = ("gtfs-kit", "pandas")
PEER_MAX_AGE_S = 7 * 24 * 3600

PEAK = (  # prepended to each child's program: its own peak RSS on stderr as it exits
    "import atexit, sys\n"
    "def _peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            sys.stderr.write('PEAK_KB ' + line.split()[1] + '\\n')\n"
    "atexit.register(_peak)\n"
)

STOPCAST_RUN = (
    PEAK
    + "import runpy\nsys.argv[0] = sys.argv[1]\ndel sys.argv[1]\nrunpy.run_path(sys.argv[0], run_name='__main__')\n"
)

GTFS_KIT = PEAK + (  # the same question in gtfs-kit, as its documentation answers it (build_stop_timetable)
    "import gtfs_kit as gk\n"
    "path, stop, date, since, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])\n"
    "feed = gk.read_feed(path, dist_units='km')\n"
    "table = gk.build_stop_timetable(feed, stop, [date])\n"  # sorted by departure time (in seconds)
    "seconds = table['departure_time'].map(gk.timestr_to_seconds)\n"  # HART writes 8:05:00: strings do not sort
    "table = table[seconds >= since].head(limit).merge(feed.routes[['route_id', 'route_short_name']], on='route_id')\n"
    "for row in table.itertuples():\n"
    "    print(row.trip_id, gk.timestr_to_seconds(row.departure_time), row.route_short_name, row.trip_headsign,"
    " sep='\\t')\n"
)


def run_child(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int, float, str]:
    """Wall seconds, peak RSS (MB, the child's own VmHWM), CPU seconds (user + system, its own: children run
    one at a time) and standard output of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or "PEAK_KB " not in done.stderr:
        raise SystemExit(f"{argv[:4]} ... failed: {done.stderr[-2000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return elapsed, int(done.stderr.rsplit("PEAK_KB ", 1)[1].split()[0]) // 1024, cpu, done.stdout


def peer_python(fresh: bool) -> tuple[Path | None, str]:
    """The Python of gtfs-kit's own venv (made or renewed here), and its versions or why there is none."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "stopcast-bench"
    venv = base / "gtfs-kit-venv"
    python = venv / "bin" / "python"
    stale = not python.exists() or fresh or time.time() - (venv / "pyvenv.cfg").stat().st_mtime > PEER_MAX_AGE_S
    if stale:
        base.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=base, prefix="gtfs-kit-venv."))
        base_python = Path(sys.base_prefix) / "bin" / "python3"  # the machine's Python, not this venv's
        print(f"making gtfs-kit's own venv ({' '.join(PEER_PACKAGES)}, newest from PyPI) ...", file=sys.stderr)
        for step in ([str(base_python), "-m", "venv", str(work)],
                     [str(work / "bin" / "python"), "-m", "pip", "install", "-q", "--upgrade", *PEER_PACKAGES]):
            try:
                done = subprocess.run(step, capture_output=True, text=True, timeout=900)
            except subprocess.TimeoutExpired:
                shutil.rmtree(work, ignore_errors=True)
                return None, f"{' '.join(step[:4])} took over 900 s"
            if done.returncode != 0:
                shutil.rmtree(work, ignore_errors=True)
                said = [line for line in (done.stderr or done.stdout).splitlines() if not line.startswith("WARNING:")]
                return None, f"{' '.join(step[:4])} failed: {' '.join(said[-3:])[-500:]}"
        shutil.rmtree(venv, ignore_errors=True)
        work.rename(venv)  # a venv's own python finds its packages from where it lies
    done = subprocess.run(
        [
            str(python),
            "-c",
            "import gtfs_kit, pandas, numpy; "
            "print(f'gtfs-kit {gtfs_kit.__version__}, pandas {pandas.__version__}, numpy {numpy.__version__}')",
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        return None, f"gtfs-kit does not import in {venv}: {done.stderr.strip()[-500:]}"
    return python, done.stdout.strip()


def stopcast_answer(stdout: str) -> list[tuple[str, int, str, str]]:
    """(trip, departure in seconds of the service day, route, headsign) of `departures --format json`."""
    rows = []
    for d in json.loads(stdout)["departures"]:
        when = d["scheduled_departure"]  # ISO 8601 in the agency's offset
        hh, mm, ss = (int(x) for x in when[11:19].split(":"))
        day_offset = 86400 if when[:10] != AT[:10] else 0  # past midnight
        rows.append((d["trip_id"], day_offset + hh * 3600 + mm * 60 + ss, d["route_short_name"], d["headsign"]))
    return rows


def peer_answer(stdout: str) -> list[tuple[str, int, str, str]]:
    rows = []
    for line in stdout.splitlines():
        trip, seconds, route, headsign = line.split("\t")
        rows.append((trip, int(seconds), route, headsign))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("feed", nargs="?", type=Path, default=DEFAULT_FEED)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--fresh-peer", action="store_true", help="make gtfs-kit's venv anew (newest releases)")
    args = parser.parse_args()
    feed = args.feed
    if not feed.exists():
        raise SystemExit(f"{feed} is absent: pass a GTFS feed")
    peer, peer_about = peer_python(args.fresh_peer)
    tt = open_timetable(feed, None)
    stop = tt.stops[len(tt.stops) // 2].stop_id
    feed.read_bytes()  # the zip in the OS page cache for every run alike
    cold, warm, kit = [], [], []
    answers: dict[str, list] = {}
    date = AT[:10].replace("-", "")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, STOPCAST_CACHE_DIR=cache)
        base = [sys.executable, "-c", STOPCAST_RUN, str(STOPCAST), "departures", "--gtfs", str(feed), "--stop", stop,
                "--at", AT, "--horizon", str(24 * 60), "--limit", str(LIMIT), "--format", "json"]
        run_child(base, env)  # fills the cache
        for _ in range(args.runs):
            *figures, out = run_child([*base, "--no-cache"], env)
            cold.append(figures)
            answers["stopcast"] = stopcast_answer(out)
            if peer is not None:
                *figures, out = run_child([str(peer), "-c", GTFS_KIT, str(feed), stop, date, "28800", str(LIMIT)])
                kit.append(figures)
                answers["gtfs-kit"] = peer_answer(out)
            warm.append(run_child(base, env)[:3])
    figures = {"feed": feed.name, "stop_times": len(tt.st_trip), "stop": stop, "runs": args.runs,
               "cold_s": _median(t for t, _, _ in cold), "cold_rss_mb": _median(m for _, m, _ in cold),
               "cold_cpu_s": _median(c for _, _, c in cold),
               "warm_s": _median(t for t, _, _ in warm), "warm_rss_mb": _median(m for _, m, _ in warm),
               "cold_s_range": _range(t for t, _, _ in cold), "cold_rss_mb_range": _range(m for _, m, _ in cold)}
    if kit:
        same = answers["stopcast"] == answers["gtfs-kit"]
        figures |= {
            "gtfs_kit": peer_about,
            "gtfs_kit_s": _median(t for t, _, _ in kit),
            "gtfs_kit_rss_mb": _median(m for _, m, _ in kit),
            "gtfs_kit_cpu_s": _median(c for _, _, c in kit),
            "gtfs_kit_s_range": _range(t for t, _, _ in kit),
            "gtfs_kit_rss_mb_range": _range(m for _, m, _ in kit),
            "same_departures": same,
        }
        figures |= {"cold_ratio": round(figures["cold_s"] / figures["gtfs_kit_s"], 2),
                    "warm_ratio": round(figures["warm_s"] / figures["gtfs_kit_s"], 2),
                    "cold_rss_ratio": round(figures["cold_rss_mb"] / figures["gtfs_kit_rss_mb"], 2),
                    "cold_cpu_ratio": round(figures["cold_cpu_s"] / figures["gtfs_kit_cpu_s"], 2)}
    else:
        figures |= {"gtfs_kit": None, "gtfs_kit_skipped": peer_about}
    if args.json:
        print(json.dumps(figures))
        return
    print(f"feed {feed.name}: {len(tt.stops)} stops, {len(tt.trip_ids)} trips, {len(tt.st_trip)} stop_times; the next "
          f"{LIMIT} departures at stop {stop} from {AT}; {args.runs} alternating runs, medians [min-max]")
    print(f"stopcast cold process: {figures['cold_s']:.3f} s {figures['cold_s_range']}, "
          f"peak RSS {figures['cold_rss_mb']} MB {figures['cold_rss_mb_range']}, CPU {figures['cold_cpu_s']:.3f} s")
    print(f"stopcast warm process: {figures['warm_s']:.3f} s, peak RSS {figures['warm_rss_mb']} MB")
    if kit:
        print(
            f"gtfs-kit process:      {figures['gtfs_kit_s']:.3f} s {figures['gtfs_kit_s_range']}, peak RSS "
            f"{figures['gtfs_kit_rss_mb']} MB {figures['gtfs_kit_rss_mb_range']}, "
            f"CPU {figures['gtfs_kit_cpu_s']:.3f} s   "
            f"({peer_about}, own venv)"
        )
        print(f"stopcast/gtfs-kit: cold {figures['cold_ratio']}x (peak RSS {figures['cold_rss_ratio']}x, CPU "
              f"{figures['cold_cpu_ratio']}x), warm {figures['warm_ratio']}x")
        if figures["same_departures"]:
            print(f"both answer with the same {len(answers['stopcast'])} departures (trip, time, route, headsign)")
        else:
            print("the answers DIFFER:")
            for ours, theirs in zip(answers["stopcast"], answers["gtfs-kit"]):
                print(f"  stopcast {ours}{'  ' if ours == theirs else ' <> '}gtfs-kit {theirs}")
            print(f"  ({len(answers['stopcast'])} and {len(answers['gtfs-kit'])} rows)")
    else:
        print(f"no side-by-side figures: {peer_about}")
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


def _range(values) -> list[float]:
    ordered = sorted(values)
    return [round(ordered[0], 3), round(ordered[-1], 3)]


if __name__ == "__main__":
    main()
