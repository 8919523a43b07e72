"""Render + PNG-encode benchmarks per built-in layout on the fixed German test board.

Run: python bench/bench_render.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the root first, so tests/layouts never shadows layouts

from boardkit import NOW, TZ, stop_departures  # noqa: E402

from layouts.board import BoardInput, DisplaySettings, build_board  # noqa: E402
from layouts.image import _text_mask, encode_png, render_image  # noqa: E402
from layouts.spec import builtin_names, load_layout  # noqa: E402


def main() -> None:
    for name in builtin_names():
        spec = load_layout(name)
        data = BoardInput(stop_departures(), TZ, data_as_of=NOW - 20, realtime_configured=True)
        build = []
        for k in range(30):
            t0 = time.perf_counter()
            board = build_board(spec, DisplaySettings(), data, NOW + k)
            build.append(time.perf_counter() - t0)
        render, encode = [], []
        size = 0
        for _ in range(30):
            t0 = time.perf_counter()
            image = render_image(board, spec)
            t1 = time.perf_counter()
            png = encode_png(image)
            t2 = time.perf_counter()
            render.append(t1 - t0)
            encode.append(t2 - t1)
            size = len(png)
        total = [a + b for a, b in zip(render, encode)]
        cold = []
        for _ in range(10):
            _text_mask.cache_clear()
            t0 = time.perf_counter()
            encode_png(render_image(board, spec))
            cold.append(time.perf_counter() - t0)
        print(f"{name:26s} board {statistics.median(build) * 1000:5.2f} ms   render {statistics.median(render) * 1000:6.2f} ms"
              f"   png {statistics.median(encode) * 1000:6.2f} ms   render+png {statistics.median(total) * 1000:6.2f} ms"
              f" (cold text cache {statistics.median(cold) * 1000:6.2f} ms)   {size / 1024:6.1f} KiB")


if __name__ == "__main__":
    main()
