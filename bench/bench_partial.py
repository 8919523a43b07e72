"""Partial redraws (issue 28): CPU milliseconds per frame drawn whole vs drawn only where the board changed, per
built-in layout, for the two changes a service renders most: a minute tick (the clock and every countdown move on)
and a realtime update half a minute later that delays one departure by two minutes (its row, or the rows it passes,
and the "as of" time).

Each frame is made by displays.core.frames.render as a render worker makes it: "full" without a screen key (the
board drawn whole, as the service does with partial redraws off), "partial" with the key of a screen whose last
frame is the board before (all colour modes turned on here: frames.PARTIAL_MODES). Text masks, stamps and LCD bands
are warm; the drawn list's cache is cleared before each (a service's boards are new ones). Medians of CPU time.

Boards: the renderer tests' board at STOPS stops (several departures leave every minute: rows move up), and with
--real the real feeds (BART at Montgomery St. with its trip updates and alert, Caltrain at Palo Alto with its trip
updates: 30 minutes, the boards of tests/displays/test_partial_redraws.py; needs ../shared/data).

Run: python bench/bench_partial.py [--real] [--json]
"""

from __future__ import annotations

import _venv  # the project's venv, whichever python3 started the bench

_venv.ensure()

import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the root first, so tests/layouts never shadows layouts

from boardkit import NOW, TZ, stop_departures  # noqa: E402

from displays.core import frames  # noqa: E402
from displays.core.frames import render  # noqa: E402
from firmware_bridge import codec  # noqa: E402
from layouts.board import Board, BoardInput, DisplaySettings, build_board  # noqa: E402
from layouts.drawn import _drawn  # noqa: E402
from layouts.spec import LayoutSpec, builtin_names, load_layout  # noqa: E402

frames.PARTIAL_MODES = frozenset(("mono", "gray4", "bwr", "rgb565", "rgb"))  # off by default: measured here
MINUTES = 6
STOPS = 6


def _inputs(stop: int, late: int = -1) -> BoardInput:
    """The test board of one stop (its departures some seconds after the others'), with departure `late` delayed
    by two more minutes (a realtime update)."""
    deps = []
    for i, d in enumerate(stop_departures().departures):
        later = None if d.expected is None else d.expected + 37 * stop
        d = replace(d, scheduled=d.scheduled + 37 * stop, expected=later)
        if i == late and d.expected is not None:
            d = replace(d, expected=d.expected + 120, delay=(d.delay or 0) + 120)
        deps.append(d)
    return BoardInput(stop_departures(tuple(deps)), TZ, data_as_of=NOW - 20, realtime_configured=True)


def _timed(spec: LayoutSpec, encoding: str, pairs: list[tuple[Board, Board]]) -> dict:
    """CPU ms per frame (median) of each pair's second board drawn whole and drawn over the first."""
    full, partial, partly = [], [], 0
    compress = encoding != "png"
    for s, (before, after) in enumerate(pairs):
        _drawn.cache_clear()  # a service's boards are new ones: their drawn lists are not cached
        t0 = time.process_time()
        render(after, spec, encoding, compress)
        full.append(time.process_time() - t0)
        render(before, spec, encoding, compress, f"bench-{s}")  # the screen's last frame
        count = frames.REDRAWS["partial"]
        t0 = time.process_time()
        render(after, spec, encoding, compress, f"bench-{s}")
        partial.append(time.process_time() - t0)
        partly += frames.REDRAWS["partial"] - count
    return {"full_ms": round(statistics.median(full) * 1000, 2),
            "partial_ms": round(statistics.median(partial) * 1000, 2), "partly": f"{partly}/{len(pairs)}"}


def _synthetic(spec: LayoutSpec) -> dict[str, list[tuple[Board, Board]]]:
    settings = DisplaySettings()
    ticks = [[build_board(spec, settings, _inputs(s), NOW + 60 * m) for s in range(STOPS)] for m in range(MINUTES)]
    updates = [[build_board(spec, settings, _inputs(s, late=(m + s) % 3), NOW + 60 * m + 30) for s in range(STOPS)]
               for m in range(MINUTES)]
    return {"tick": [p for a, b in zip(ticks, ticks[1:]) for p in zip(a, b)],
            "update": [p for a, b in zip(ticks, updates) for p in zip(a, b)]}


def _real(name: str) -> dict[str, list[tuple[Board, Board]]]:
    sys.path.append(str(ROOT / "tests" / "displays"))
    from test_partial_redraws import _boards  # the test's half hours of BART and Caltrain

    out: dict[str, list[tuple[Board, Board]]] = {"tick": [], "update": []}
    for feed in ("bart", "caltrain"):
        boards = _boards(feed, name)
        for before, after in zip(boards, boards[1:]):
            update = after.generated_at % 60 != before.generated_at % 60  # half a minute on: after an update
            out["update" if update else "tick"].append((before, after))
    return out


def measure(name: str, real: bool) -> dict:
    """CPU ms per frame of one layout, whole and partial, on minute ticks and on realtime updates."""
    spec = load_layout(name)
    encoding = codec.default_encoding(spec.color_mode)
    cases = _real(name) if real else _synthetic(spec)
    for _, after in cases["tick"] + cases["update"]:  # warm the text caches
        render(after, spec, encoding, encoding != "png")
    return {"layout": name, "encoding": encoding, **{kind: _timed(spec, encoding, p) for kind, p in cases.items()}}


def main() -> None:
    real = "--real" in sys.argv
    rows = [measure(name, real) for name in builtin_names()]
    if "--json" in sys.argv:
        print(json.dumps(rows))
        return
    print(f"CPU ms per frame (median), {'real feeds' if real else 'test board'}: drawn whole vs only what changed")
    for r in rows:
        line = f"{r['layout']:26s} {r['encoding']:6s}"
        for kind in ("tick", "update"):
            m = r[kind]
            line += f"   {kind:6s} full {m['full_ms']:6.2f}  partial {m['partial_ms']:6.2f} ({m['partly']} partly)"
        print(line)


if __name__ == "__main__":
    main()
