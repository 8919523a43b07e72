"""The "Memory" table of docs/mqtt.md, for pillar vendors: per built-in layout and encoding, the frame
buffer, the largest full-frame message (worst case, and measured on the demo's busiest stop with realtime
and alerts over 15 minutes), the largest delta and the forecast measured the same way, the recommended
`max_packet`, and the memory a pillar needs besides its panel's own buffer.

Run: python3 bench/vendor_sizes.py      (prints the Markdown table; about half a minute)
"""

from __future__ import annotations

import _venv  # the project's venv, whichever python3 started the bench

_venv.ensure()

import datetime as dt  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from displays.core.boards import compose_board  # noqa: E402
from displays.core.forecasting import forecast_board, forecast_times  # noqa: E402
from displays.core.frames import frame_of, render  # noqa: E402
from feeds.demo import simulated_realtime, write_demo_feed  # noqa: E402
from feeds.live import build_live  # noqa: E402
from feeds.loader import load_timetable  # noqa: E402
from feeds.realtime import RealtimeRules, parse_feed  # noqa: E402
from feeds.source import GtfsSource  # noqa: E402
from feeds.times import parse_instant  # noqa: E402
from firmware_bridge import codec  # noqa: E402
from firmware_bridge.forecast import ForecastStep, forecast_payload  # noqa: E402
from firmware_bridge.sizing import needs, recommended_max_packet  # noqa: E402
from layouts.board import DisplaySettings  # noqa: E402
from layouts.spec import builtin_names, load_layout  # noqa: E402

AT = parse_instant("2026-11-25T08:00:05+01:00")
MINUTES = 15
STOP = "HBF"


def measured(tt, spec, encoding: str) -> tuple[int, int, int, int]:  # type: ignore[no-untyped-def]
    """Largest full-frame message and delta message over MINUTES minutes, and the forecast (bytes, steps)."""
    live = build_live(tt, [parse_feed(simulated_realtime(tt, AT), "rt.pb", AT)], AT, RealtimeRules())
    full = delta = 0
    before = None
    board = None
    for minute in range(MINUTES):
        now = AT + 60 * minute
        board = compose_board(tt, live, STOP, spec, DisplaySettings(), now, board, realtime_configured=True)
        frame = frame_of(render(board, spec, encoding, True), b"")
        full = max(full, codec.HEADER.size + len(frame.full_body or b""))
        if before is not None:
            h, w = frame.shape
            rects = codec.changed_rects(before.raw, frame.raw, frame.color_mode, w, h)
            body = codec.delta_body(frame.raw, rects, encoding, frame.color_mode, w, h)
            size = codec.HEADER.size + len(codec.deflate(body) if encoding != "png" else body)
            delta = max(delta, min(size, codec.HEADER.size + len(frame.full_body or b"")))  # else the full frame goes
        before = frame
    board = compose_board(tt, live, STOP, spec, DisplaySettings(), AT, None, realtime_configured=True)
    starts = forecast_times(board.true_until, AT, 10 * 90)
    steps, previous, page = [], board, None
    for i, start in enumerate(starts):
        previous = compose_board(tt, live, STOP, spec, DisplaySettings(), start, previous, realtime_configured=True)
        page = previous.alert_page if page is None else page
        until = starts[i + 1] - 1 if i + 1 < len(starts) else start + 59
        steps.append(
            ForecastStep(start, until, frame_of(render(forecast_board(previous, page), spec, encoding, True), b""))
        )
    return full, delta, len(forecast_payload(steps, 10, 0, 0)), len(steps)


def kib(n: int) -> str:
    return f"{n / 1024:,.1f} KiB"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        tt = load_timetable(GtfsSource(write_demo_feed(Path(folder) / "demo.zip", dt.date(2026, 11, 1))))
    print("| layout | encoding | frame buffer | full frame: worst / measured | largest delta | forecast (steps) "
          "| inflater | `max_packet` | RAM besides the frame buffer |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in builtin_names():
        spec = load_layout(name)
        for encoding in codec.encodings_for(spec.color_mode):
            need = needs(spec.color_mode, encoding, spec.width, spec.height)
            full, delta, forecast, count = measured(tt, spec, encoding)
            packet = recommended_max_packet(max(full, forecast))
            ram = packet + need.inflater + forecast  # one packet received, the inflater, the forecast kept
            if encoding == "png":  # and a zlib inflater for the forecast's stream around its PNG steps
                ram += needs(spec.color_mode, codec.RAW_FOR_MODE[spec.color_mode], spec.width, spec.height).inflater
            print(f"| {name} | {encoding} | {kib(need.frame_buffer)} | {kib(need.worst_message)} / {kib(full)} "
                  f"| {kib(delta)} | {kib(forecast)} ({count}) | {kib(need.inflater)} | {packet:,} | {kib(ram)} |")


if __name__ == "__main__":
    main()
