"""Any GTFS-Realtime message, however hostile its values, parses into a clear error or merges into
boards that render: nothing raises out of parse, merge, board, board.json or the renderer."""

from __future__ import annotations

from pathlib import Path

import pytest
from feedkit import write_feed
from hostile import NOW, feed_messages, near_now
from hypothesis import example, given
from hypothesis import strategies as st
from rtkit import feed, stu, trip_update

from displays.core.boards import compose_board
from displays.core.frames import render
from feeds.cache import open_timetable
from feeds.errors import FeedError
from feeds.live import build_live
from feeds.merge import stop_departures
from feeds.realtime import RealtimeRules, parse_feed
from feeds.timetable import Timetable
from layouts.board import DisplaySettings
from layouts.export import board_json
from layouts.spec import load_layout

SPEC = load_layout("epaper-800x480")
STOPS = ("HBF", "HBF:A", "HBF:B", "UNI", "GON")


@pytest.fixture(scope="module")
def timetable(tmp_path_factory: pytest.TempPathFactory) -> Timetable:
    return open_timetable(write_feed(Path(tmp_path_factory.mktemp("fuzz")) / "feed"), None)


def boards_of(tt: Timetable, payload: bytes, now: int, draw: bool = False) -> list:
    try:
        snapshot = parse_feed(payload, "fuzz.pb", now)
    except FeedError as exc:
        assert "fuzz.pb" in str(exc)
        return []
    live = build_live(tt, [snapshot], now, RealtimeRules())
    boards = []
    for stop in STOPS:
        board = compose_board(tt, live, (stop,), SPEC, DisplaySettings(), now, realtime_configured=True)
        board_json(board, SPEC, "fuzz")
        boards.append(board)
    if draw:
        render(boards[0], SPEC, "mono1", True)
    return boards


INT64_MIN = -(2**63)


@given(payload=feed_messages(), now=st.one_of(st.just(NOW), near_now(2 * 86400)))
@example(payload=feed(trip_update("T1", stu(seq=1, dep_time=INT64_MIN)), timestamp=NOW), now=NOW)
@example(payload=feed(trip_update("T1", stu(seq=1, arr_time=2**63 - 1)), timestamp=NOW), now=NOW)
@example(payload=feed(timestamp=2**64 - 1), now=NOW)
def test_any_message_gives_boards_or_a_clear_error(timetable: Timetable, payload: bytes, now: int) -> None:
    boards_of(timetable, payload, now, draw=True)


def test_int64_extreme_time_is_implausible_not_a_crash(timetable: Timetable) -> None:
    now = NOW - 600
    payload = feed(trip_update("T1", stu(seq=1, dep_time=INT64_MIN)), timestamp=now)
    snapshot = parse_feed(payload, "x.pb", now)
    live = build_live(timetable, [snapshot], now, RealtimeRules())
    result = stop_departures(timetable, live, "HBF:A", now, 7200, 5)
    t1 = [d for d in result.departures if d.trip_id == "T1"]
    assert len(t1) == 1 and t1[0].expected is None  # the timetable time, not a nonsense prediction
    assert live.stats.implausible_predictions >= 1


@pytest.mark.parametrize("headsign", ["\n", "Finthen\x00\x1b[2J", "Gonsenheim\u2028Bretzenheim", "\t"])
def test_control_characters_in_feed_texts_render(timetable: Timetable, headsign: str) -> None:
    """Found by the fuzzer: a stop_headsign of '\\n' made Pillow's text layout raise."""
    update = trip_update("T1", stu(seq=1, dep_delay=60), start_date="20240515")
    update.trip_update.stop_time_update[0].stop_time_properties.stop_headsign = headsign
    board = boards_of(timetable, feed(update, timestamp=NOW - 60), NOW - 60, draw=True)[1]
    row = board.rows[0]
    assert row.destination == " ".join(headsign.replace("\x00", " ").replace("\x1b", " ").split())
    assert row.destination.isprintable()


def test_a_megabyte_of_feed_text_does_not_stall_the_board(timetable: Timetable) -> None:
    update = trip_update("T1", stu(seq=1, dep_delay=60), start_date="20240515")
    update.trip_update.stop_time_update[0].stop_time_properties.stop_headsign = "Finthen " * 150_000
    message = feed(update, timestamp=NOW - 60)
    board = boards_of(timetable, message, NOW - 60, draw=True)[1]  # cut to 300 characters before measuring
    assert board.rows[0].destination.startswith("Finthen") and len(board.rows[0].destination) < 100


def test_header_from_the_future_is_not_live(timetable: Timetable) -> None:
    for ahead in (301, 76 * 365 * 86400, 2**64 - 1 - NOW):
        live = build_live(timetable, [parse_feed(feed(timestamp=NOW + ahead), "x.pb", NOW)], NOW, RealtimeRules())
        assert not live.is_live and live.stale_sources == ("x.pb",)
    live = build_live(timetable, [parse_feed(feed(timestamp=NOW + 299), "x.pb", NOW)], NOW, RealtimeRules())
    assert live.is_live
