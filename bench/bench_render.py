"""Rendering benchmarks per built-in layout: what the service does for each frame, in steady state.

A frame is timed as the service makes it (displays.core.frames.render): draw the board, take the colour mode's
raw bytes, encode the native body (mono1, bwr, rgb565 raw and zlib-compressed as displays are configured
by default; PNG for the RGB LCDs), CRC-32. Steady state: the text cache is warm from the minutes before,
and every board differs from the last (its clock and countdowns move on a minute), so nothing is served
from a cache of whole frames; several stops a minute, as in a service, share the new clock text, whose
rasterising the mean includes; text stamps and deflated LCD bands are kept from the minutes before, as a
render worker keeps them. The cold line clears all three caches (text masks, stamps, bands) first.

Run: python bench/bench_render.py [--json]
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

from displays.core.frames import render  # noqa: E402
from firmware_bridge import codec, png  # noqa: E402
from layouts.board import BoardInput, DisplaySettings, build_board  # noqa: E402
from layouts.image import _stamps, _text_mask, encode_png, render_image  # noqa: E402
from layouts.spec import builtin_names, load_layout  # noqa: E402

MINUTES = 30
STOPS = 8  # displays per minute: they share the minute's clock text, as a service's displays do


def _ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 3)


def variants(count: int) -> list[BoardInput]:
    """The test board of `count` stops: the same lines, each stop's departures some seconds later."""
    out = []
    for j in range(count):
        deps = tuple(
            replace(d, scheduled=d.scheduled + 37 * j, expected=None if d.expected is None else d.expected + 37 * j)
            for d in stop_departures().departures
        )
        out.append(BoardInput(stop_departures(deps), TZ, data_as_of=NOW - 20, realtime_configured=True))
    return out


def measure(name: str) -> dict:
    """Milliseconds per frame of one layout: STOPS displays, minute after minute."""
    spec = load_layout(name)
    encoding = codec.default_encoding(spec.color_mode)
    inputs = variants(STOPS)
    minutes, build = [], []
    for k in range(-3, MINUTES):
        boards = []
        for data in inputs:
            t0 = time.perf_counter()
            boards.append(build_board(spec, DisplaySettings(), data, NOW + 60 * k))
            build.append(time.perf_counter() - t0)
        minutes.append(boards)
    for boards in minutes[:3]:  # the minutes before: warm text cache
        for board in boards:
            render(board, spec, encoding, True)
    frame, size = [], 0
    for boards in minutes[3:]:
        for board in boards:
            t0 = time.perf_counter()
            size = len(render(board, spec, encoding, True).full_body)
            frame.append(time.perf_counter() - t0)
    draw, pull = [], []  # the same frames again, split into drawing and Pillow's PNG (for pulls)
    for boards in minutes[3:]:
        for board in boards:
            t0 = time.perf_counter()
            image = render_image(board, spec)
            t1 = time.perf_counter()
            encode_png(image)
            draw.append(t1 - t0)
            pull.append(time.perf_counter() - t1)
    cold = []
    for board in minutes[3][:10]:
        _text_mask.cache_clear()
        _stamps.clear()
        png._bands.clear()
        t0 = time.perf_counter()
        render(board, spec, encoding, True)
        cold.append(time.perf_counter() - t0)
    return {"layout": name, "encoding": encoding, "board_ms": _ms(build), "frame_ms": _ms(frame),
            "frame_mean_ms": round(statistics.fmean(frame) * 1000, 3), "draw_ms": _ms(draw),
            "frame_cold_ms": _ms(cold), "pull_png_ms": _ms(pull), "body_kib": round(size / 1024, 1)}


def main() -> None:
    rows = [measure(name) for name in builtin_names()]
    if "--json" in sys.argv:
        print(json.dumps(rows))
        return
    print(
        f"per frame: {STOPS} stops' boards a minute for {MINUTES} minutes (every board differs from the minute before;"
        " warm text, stamp and band caches; 'cold': all cleared); median, and mean with the minute's new clock text"
    )
    for r in rows:
        print(
            f"{r['layout']:26s} {r['encoding']:6s} board {r['board_ms']:5.2f} ms   frame (draw + {r['encoding']}, CRC)"
            f" {r['frame_ms']:6.2f} ms, mean {r['frame_mean_ms']:6.2f}   of which draw {r['draw_ms']:5.2f}"
            f"   cold {r['frame_cold_ms']:6.2f} ms   body {r['body_kib']:6.1f} KiB"
            f"   pull PNG (Pillow) {r['pull_png_ms']:6.2f} ms"
        )


if __name__ == "__main__":
    main()
