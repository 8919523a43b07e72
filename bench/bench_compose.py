"""Composing micro-benchmark (issue 28, "compose only what changed"): the engine alone (no service, broker or
renderer) with displays at HART's busiest stops, as bench_service.py builds them, fed bench_service's
TripUpdates (5,000 trips x 20 stop updates, bench/feed_modes.py). Times `Engine.composed` for a minute tick
and for one realtime update in each mode (and one in which only 50 of the 5,000 trips change), against
composing every display from scratch (what the engine did before on every update and minute: `force`).
Seconds, one process; the boards are taken as shown without rendering. Figures: (seconds, displays composed).

Run: python bench/bench_compose.py [--displays 2000] [--runs 3]

Measured (branch compose, 2,000 displays, medians of 5 runs on the shared 2-core machine; composed / from scratch):
minute tick 0.54-0.59 s / 0.76-0.83 s (every display is due with the clock; rows of unchanged departures are
shifted); update, pessimistic 0.80 / 0.77 s and realistic 0.74 / 0.83 s, both composing 1,909 of 2,000 displays
(every trip's delay changes at every update in both modes, so every stop a trip calls at is touched: no gain, as
expected); 50 of 5,000 trips changing: 786 displays, 0.36 / 0.84 s.
"""

from __future__ import annotations

import _venv  # the project's venv, whichever python3 started the bench

_venv.ensure()

import argparse
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]

import enginekit  # noqa: E402
from bench_realtime import build_feed  # noqa: E402
from feed_modes import MODES, delay_states  # noqa: E402

from displays.core.engine import Engine  # noqa: E402
from feeds.cache import default_cache_dir, open_timetable  # noqa: E402
from feeds.realtime import Snapshot, parse_feed  # noqa: E402
from feeds.times import parse_instant  # noqa: E402

HART = ROOT.parent / "shared" / "data" / "hart" / "hart-2021.zip"
AT = parse_instant("2021-02-03T12:00:20-05:00")  # bench_service's instant: the feed is built for this midday
FEW = 50  # trips that change in the third scenario
STALE_AFTER = 3600  # the feed's header stays at 12:00 while the runs go on
LAYOUTS = ["epaper-800x480"] * 5 + ["epaper-bwr-800x480"] * 2 + ["tft-320x240", "led-192x64", "tft-320x240",
                                                                  "lcd-portrait-1080x1920"]


def engine_of(displays: int, folder: Path) -> Engine:
    """An engine with `displays` displays at HART's busiest stops, the layouts mixed as in bench_service."""
    tt = open_timetable(HART, default_cache_dir())
    busy = sorted(range(len(tt.stops)), key=lambda s: -(int(tt.ix_offsets[s + 1] - tt.ix_offsets[s])))
    stops = [tt.stops[s].stop_id for s in busy[:displays]]
    doc = {"feeds": {"gtfs": str(HART), "realtime": [{"url": "tu.pb", "stale_after": STALE_AFTER}]},
           "mqtt": {"url": "mqtt://127.0.0.1:1"}, "http": {"listen": "127.0.0.1:0"},
           "displays": [{"id": f"p{i:04d}", "stops": [stops[i % len(stops)]], "layout": LAYOUTS[i % len(LAYOUTS)]}
                        for i in range(displays)]}
    return enginekit.engine_of(folder, doc, tt, AT, instance="bench")


def settle(engine: Engine, now: int, snapshots: list[Snapshot | None], force: bool = False) -> tuple[float, int]:
    """Seconds `composed` takes at `now` and how many displays it composed; its boards taken as shown."""
    count = 0
    plain = engine.compose

    def counted(*args: object, **kw: object):  # noqa: ANN202 - the engine's own signature
        nonlocal count
        count += 1
        return plain(*args, **kw)  # type: ignore[arg-type]

    engine.compose = counted  # type: ignore[method-assign]
    started = time.perf_counter()
    boards = list(engine.composed(now, snapshots, force))
    seconds = time.perf_counter() - started
    del engine.compose
    for runtime, board in boards:
        runtime.board, runtime.frame = board, runtime.frame or object()  # type: ignore[assignment]
    return seconds, count


def _few(runs: int) -> list[list[list[int]]]:
    """States in which only FEW trips (others each time) change by two minutes: what trip-level attribution
    can spare (in both bench modes every trip changes at every update)."""
    rng = random.Random(5)
    states = []
    for state in delay_states("pessimistic", 5000, 20, 2 * runs + 2)[::2]:
        moved = set(rng.sample(range(5000), FEW))
        states += [state, [[d + 120 for d in delays] if n in moved else delays for n, delays in enumerate(state)]]
    return states


def snapshot(payload: bytes, at: int) -> Snapshot:
    """The feed as the service holds it, with its source's stale_after (the feed says it was written at 12:00)."""
    return replace(parse_feed(payload, "tu.pb", at), stale_after=STALE_AFTER)


def scenario(engine: Engine, mode: str, runs: int) -> dict[str, tuple[float, int]]:
    """Medians of: a minute tick, an update of `mode` 15 s later, each as the engine does it now and composing
    every display from scratch (`force`: what the engine did before, on every update and at every minute)."""
    tt = engine.timetable
    states = delay_states(mode, 5000, 20, 2 * runs + 2) if mode in MODES else _few(runs)
    out: dict[str, list[tuple[float, int]]] = {"tick": [], "tick_all": [], "update": [], "update_all": []}
    minute = (AT // 60 + 1) * 60
    for run in range(runs):
        base = minute + 180 * run
        first = snapshot(build_feed(tt, 5000, 20, delays=states[2 * run]), base - 20)
        settle(engine, base - 20, [first], force=True)  # every board shown
        out["tick"].append(settle(engine, base, [first]))
        out["tick_all"].append(settle(engine, base + 60, [first], force=True))
        update = build_feed(tt, 5000, 20, delays=states[2 * run + 1])
        out["update"].append(settle(engine, base + 75, [snapshot(update, base + 75)]))
        settle(engine, base + 80, [first], force=True)
        out["update_all"].append(settle(engine, base + 95, [snapshot(update, base + 95)], force=True))
    return {k: (statistics.median(s for s, _ in v), statistics.median(c for _, c in v)) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--displays", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not HART.exists():
        raise SystemExit(f"{HART} is absent")
    with tempfile.TemporaryDirectory() as folder:
        engine = engine_of(args.displays, Path(folder))
        print(f"{args.displays} displays at HART's busiest stops; medians of {args.runs} runs (seconds, displays "
              "composed)")
        for mode in (*MODES, f"{FEW} trips"):
            found = scenario(engine, mode, args.runs)
            print(f"{mode:>12}: " + "; ".join(
                f"{name} {found[key][0]:.2f} s ({found[key][1]}) vs {found[key + '_all'][0]:.2f} s from scratch"
                for name, key in (("minute tick", "tick"), ("update", "update"))))


if __name__ == "__main__":
    main()
