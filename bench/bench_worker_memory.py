"""A render worker's memory over two hours of service: does it level off at its cache budgets?

The service's own renderer (displays.shell.rendering.PoolRenderer: one spawned worker) draws the boards of
`--stops` HART stops, every built-in layout in turn, minute after minute for `--minutes` minutes of service
time (120 by default). Time is simulated: each minute's boards are composed at that minute with fresh
delays drawn for every departure (so countdowns, times and delays keep producing texts the worker has not
seen), and sent as fast as the worker takes them. Every ten minutes the worker reports its resident memory
and what its three render caches hold (text masks, pre-blended stamps, deflated LCD bands: bounded in
bytes, see docs/deploy.md "Memory"). The last line gives the growth over the last hour in MB per hour.

Run: python bench/bench_worker_memory.py [--stops 400] [--minutes 120] [--json]
"""

from __future__ import annotations

import _venv  # the project's venv, whichever python3 started the bench

_venv.ensure()

import argparse
import asyncio
import json
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from displays.core.frames import RenderJob  # noqa: E402
from displays.shell.rendering import PoolRenderer  # noqa: E402
from feeds.cache import open_timetable  # noqa: E402
from feeds.departures import timetable_departures  # noqa: E402
from feeds.merge import StopDepartures  # noqa: E402
from feeds.times import parse_instant  # noqa: E402
from firmware_bridge import codec  # noqa: E402
from layouts.board import BoardInput, DisplaySettings, build_board  # noqa: E402
from layouts.spec import builtin_names, load_layout  # noqa: E402

FEED = ROOT.parent / "shared" / "data" / "hart" / "hart-2021.zip"
START = parse_instant("2021-02-03T06:00:00-05:00")  # a Wednesday morning
BATCH = 128  # as the service sends them


def worker_report() -> dict[str, int]:
    """Runs in the worker: its resident memory and its render caches' fill, in MB."""
    from firmware_bridge import png
    from layouts import image

    status = Path("/proc/self/status").read_text()
    rss_kb = int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])
    return {"rss_mb": rss_kb // 1024, "masks_mb": image._masks.currsize >> 20,
            "stamps_mb": image._stamps.currsize >> 20, "bands_mb": png._bands.currsize >> 20}


def minute_jobs(tt, stops, specs, now: int, rnd: random.Random) -> list[RenderJob]:
    """Every stop's board at `now`, each departure with a delay drawn afresh (-1 .. +10 min)."""
    jobs: list[RenderJob] = []
    for i, stop_id in enumerate(stops):
        deps = []
        for d in timetable_departures(tt, stop_id, now, 3600, 12):
            delay = rnd.randint(-60, 600)
            deps.append(replace(d, expected=d.scheduled + delay, delay=delay, realtime=True,
                                status="delayed" if delay >= 60 else "on_time"))
        data = StopDepartures(tt.stops[tt.stop_index[stop_id]], now, tuple(deps), (), True, ("bench",), ())
        spec = specs[i % len(specs)]
        board = build_board(spec, DisplaySettings(), BoardInput(data, tt.timezone, data_as_of=now - 10,
                                                                realtime_configured=True), now)
        jobs.append((board, spec, codec.default_encoding(spec.color_mode), True))
    return jobs


async def run(stops_wanted: int, minutes: int, quiet: bool) -> list[dict[str, int]]:
    tt = open_timetable(FEED)
    stops = [s.stop_id for s in tt.stops][:stops_wanted]
    specs = [load_layout(name) for name in builtin_names()]
    rnd = random.Random(7)
    renderer = PoolRenderer(1)
    samples: list[dict[str, int]] = []
    started = time.perf_counter()
    try:
        for minute in range(minutes + 1):
            jobs = minute_jobs(tt, stops, specs, START + 60 * minute, rnd)
            for k in range(0, len(jobs), BATCH):
                await renderer.render(jobs[k : k + BATCH])
            if minute % 10 == 0:
                [report] = await renderer.call_each(worker_report)
                samples.append({"minute": minute, **report})
                if not quiet:
                    print(
                        f"minute {minute:4d} ({time.perf_counter() - started:5.0f} s)"
                        f"  worker RSS {report['rss_mb']:5d} MB"
                        f"   masks {report['masks_mb']:3d} MB  stamps {report['stamps_mb']:3d} MB"
                        f"  bands {report['bands_mb']:3d} MB",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        renderer.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stops", type=int, default=400)
    parser.add_argument("--minutes", type=int, default=120)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not FEED.exists():
        raise SystemExit(f"{FEED} is absent: this bench needs ../shared/data beside the checkout")
    samples = asyncio.run(run(args.stops, args.minutes, args.json))
    last_hour = [s for s in samples if s["minute"] >= samples[-1]["minute"] - 60]
    growth = (
        (last_hour[-1]["rss_mb"] - last_hour[0]["rss_mb"])
        * 60
        / max(1, last_hour[-1]["minute"] - last_hour[0]["minute"])
    )
    result = {"stops": args.stops, "minutes": args.minutes, "first_rss_mb": samples[0]["rss_mb"],
              "peak_rss_mb": max(s["rss_mb"] for s in samples), "last_hour_growth_mb_per_h": round(growth, 1),
              "samples": samples}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"worker RSS: {result['first_rss_mb']} MB at the start, peak {result['peak_rss_mb']} MB,"
              f" growth over the last hour {result['last_hour_growth_mb_per_h']} MB/h")


if __name__ == "__main__":
    main()
