"""Issue 28, render only what changed: a render worker keeps each screen's last frame and draws only the parts of
the next board that changed (the clock, a row's countdown, an alert page). The frame must be the one a full
render makes, byte for byte: checked on every built-in layout over 30 minutes of the real feeds (BART and
Caltrain with their GTFS-RT trip updates, BART's alert), minute by minute and with realtime updates between."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import pytest
from feedkit import shared_feed

from displays.core import frames
from displays.core.frames import render
from firmware_bridge.codec import encodings_for
from layouts.board import Board, BoardInput, DisplaySettings, build_board
from layouts.spec import builtin_names, load_layout

MINUTES = 30
FEEDS = {  # feed: (stop, start of the half hour, the GTFS-RT files)
    "bart": ("MONT", "2019-08-07T17:45:21Z", ("bart-trip-updates.pb", "bart-alerts.pb")),
    "caltrain": ("palo_alto", "2023-11-08T01:05:34Z", ("ct-trip-updates.pb", "ct-service-alerts.pb")),
}


@pytest.fixture(autouse=True)
def _partly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Partial redraws on in every colour mode (off by default: displays.core.frames.PARTIAL_MODES)."""
    monkeypatch.setattr(frames, "PARTIAL_MODES", frozenset(("mono", "gray4", "bwr", "rgb565", "rgb")))


@cache
def _feed(name: str) -> tuple:
    """(timetable, live state, stop, start) of a real feed with its realtime."""
    from feeds.live import build_live
    from feeds.loader import load_timetable
    from feeds.realtime import RealtimeRules, parse_feed
    from feeds.source import GtfsSource
    from feeds.times import parse_instant

    stop, start, files = FEEDS[name]
    tt = load_timetable(GtfsSource(shared_feed(name, "bart-rt.zip" if name == "bart" else "ct.zip")))
    at = parse_instant(start)
    snaps = [parse_feed(shared_feed(name, f).read_bytes(), f, at) for f in files]
    return tt, build_live(tt, snaps, at, RealtimeRules()), stop, at


def _later(board_input: BoardInput, index: int, seconds: int) -> BoardInput:
    """The input after a realtime update that moves one departure by `seconds`."""
    result = board_input.departures
    assert result is not None and result.departures
    deps = list(result.departures)
    dep = deps[index % len(deps)]
    deps[index % len(deps)] = replace(dep, expected=dep.time + seconds, delay=(dep.delay or 0) + seconds,
                                      realtime=True)
    return replace(board_input, departures=replace(result, departures=tuple(deps)))


@cache
def _boards(feed: str, layout: str) -> tuple[Board, ...]:
    """Half an hour of one stop's boards: one a minute (countdowns and clock move on) and, every fifth minute, one
    half a minute later after a realtime update that delays one departure by two minutes."""
    from displays.core.boards import compose_board

    tt, live, stop, start = _feed(feed)
    spec = load_layout(layout)
    out = []
    for minute in range(MINUTES):
        at = start + 60 * minute
        shared: dict = {}
        out.append(compose_board(tt, live, stop, spec, DisplaySettings(), at, realtime_configured=True,
                                 shared=shared))
        if minute % 5 == 4:
            (result, _), = shared.values()
            data = BoardInput(result, tt.timezone, data_as_of=at + 30, realtime_configured=True)
            clock = "12h" if out[-1].clock_text.endswith("M") else "24h"  # as compose_board chose for the feed
            settings = DisplaySettings(language=out[-1].language, clock=clock)
            out.append(build_board(spec, settings, _later(data, minute, 120), at + 30))
    return tuple(out)


def _cases() -> list[tuple[str, str, str]]:
    """(layout, feed, encoding): every built-in layout in each of its encodings with both feeds."""
    out = []
    for layout in builtin_names():
        out += [(layout, feed, encoding) for feed in sorted(FEEDS)
                for encoding in encodings_for(load_layout(layout).color_mode)]
    return out


@pytest.mark.parametrize(("layout", "feed", "encoding"), _cases())
def test_partial_redraws_make_the_frames_of_full_ones(layout: str, feed: str, encoding: str) -> None:
    spec = load_layout(layout)
    boards = _boards(feed, layout)
    lcd = spec.color_mode == "rgb"  # an RGB PNG is drawn whole (displays.core.frames._partial): a few frames
    if lcd:
        boards = boards[:4]
    before = dict(frames.REDRAWS)
    key = f"{feed}-{layout}-{encoding}"
    compress = encoding != "png"
    for i, board in enumerate(boards):
        full = render(board, spec, encoding, compress)  # no key: drawn whole, as before partial redraws
        assert render(board, spec, encoding, compress, key) == full, f"board {i} of {feed} on {layout}"
    if lcd:
        return
    partial = frames.REDRAWS["partial"] - before.get("partial", 0)
    assert partial >= len(boards) * 2 // 3, f"only {partial} of {len(boards)} frames were drawn partly"
    # a countdown that moved on is its time cell alone where nothing else of its row changed
    assert frames.REDRAWS["time cells"] - before.get("time cells", 0) >= len(boards) // 2


def test_a_board_whose_texts_leave_their_rows_is_drawn_whole() -> None:
    """Rows too short for their type (a layout squeezed to more rows than it has room for): a destination's text
    reaches into the next row, so no row can be drawn again alone (clearing its box would not clear the text of
    it drawn into its neighbour): every frame is drawn whole, and is the full render's."""
    spec = replace(load_layout("epaper-800x480"), rows=12, row_size=40)
    boards = _boards("caltrain", "epaper-800x480")
    from displays.core.boards import compose_board

    tt, live, stop, start = _feed("caltrain")
    before = dict(frames.REDRAWS)
    for minute in range(8):
        board = compose_board(tt, live, stop, spec, DisplaySettings(language=boards[0].language), start + 60 * minute,
                              realtime_configured=True)
        assert render(board, spec, "mono1", True, "squeezed") == render(board, spec, "mono1", True), minute
    assert frames.REDRAWS["partial"] == before.get("partial", 0)
