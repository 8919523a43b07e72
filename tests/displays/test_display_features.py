"""Per-display features riders ask for (docs/config.md): walk_minutes, routes / exclude_routes, directions,
hide_ending_here, a night schedule (night screen, nothing sent during the night, back before the first
departure) and language = "es"; each validated with an error that names the field."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest
from boardkit import FULL, NOW, TZ, dep, stop_departures
from servicekit import write_config

from displays.config.model import ConfigError
from displays.config.parse import load_config, parse_config
from displays.core.ports import MemoryLink
from displays.ops.config_edit import display_doc
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from feeds.cache import open_timetable
from feeds.demo import write_demo_feed
from feeds.departures import make_departure
from feeds.times import parse_instant
from firmware_bridge.codec import FLAG_NIGHT, parse_header
from layouts.board import NIGHT_LEAD, BoardInput, DisplaySettings, build_board
from layouts.spec import load_layout
from layouts.speech import spoken_text

SPEC = load_layout("lcd-landscape-1920x1080")


def lines(
    settings: DisplaySettings, deps=FULL, now: int = NOW, next_departure: int | None = None
) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    data = BoardInput(stop_departures(deps, ()), TZ, data_as_of=now - 20, next_departure=next_departure)
    return [(r.line, r.headsign) for r in build_board(SPEC, settings, data, now).rows]


def test_walk_minutes_hides_departures_a_rider_cannot_reach() -> None:
    every = lines(DisplaySettings())
    walking = lines(DisplaySettings(walk_minutes=5))
    assert ("50", "Finthen Poststraße") in every and ("50", "Finthen Poststraße") not in walking  # in 30 s
    assert not any(headsign.startswith("Lerchenberg") for _, headsign in walking)  # in 3 min
    assert ("54", "Kastel Brückenkopf") in walking  # in 7 min: reachable
    assert ("68", "Gonsenheim Kapellenstraße") in walking  # cancelled: still said, so nobody walks for it


def test_routes_exclude_routes_and_directions_filter_the_board() -> None:
    assert {line for line, _ in lines(DisplaySettings(routes=("51",)))} == {"51"}
    assert "50" not in {line for line, _ in lines(DisplaySettings(exclude_routes=("50", "91")))}
    assert "91" not in {line for line, _ in lines(DisplaySettings(exclude_routes=("50", "91")))}
    assert {line for line, _ in lines(DisplaySettings(routes=("50", "51"), exclude_routes=("50",)))} == {"51"}
    backwards = (replace(dep("b1", "50", "00598C", "FFFFFF", "Hechtsheim", 4), direction_id=1),)
    assert lines(DisplaySettings(directions=(1,)), FULL + backwards) == [("50", "Hechtsheim")]
    assert lines(DisplaySettings(directions=(0,)), backwards) == []


def test_hide_ending_here_leaves_out_trips_that_end_at_this_stop(tmp_path: Path) -> None:
    ending = replace(dep("e1", "54", "B3000F", "FFFFFF", "Mainz Hauptbahnhof", 2), ends_here=True)
    assert ("54", "Mainz Hauptbahnhof") in lines(DisplaySettings(), (FULL[0], ending, *FULL[1:]))
    assert ("54", "Mainz Hauptbahnhof") not in lines(
        DisplaySettings(hide_ending_here=True), (FULL[0], ending, *FULL[1:])
    )
    # the flag comes from the timetable: a trip's last call (or a later one at the same station) ends here
    tt = open_timetable(write_demo_feed(tmp_path / "demo.zip", dt.date(2026, 11, 1)), None)
    first, last = int(tt.trip_first[0]), int(tt.trip_first[1]) - 1
    assert (
        make_departure(tt, last, NOW, 740000, -1).ends_here and not make_departure(tt, first, NOW, 740000, -1).ends_here
    )


NIGHT = (60, 270)  # 01:00 to 04:30


def test_the_night_screen_says_when_the_board_is_back_and_ends_before_the_first_departure() -> None:
    at = parse_instant("2026-11-25T01:30:00+01:00")
    board = build_board(
        SPEC, DisplaySettings(night=NIGHT), BoardInput(stop_departures((), ()), TZ, next_departure=None), at
    )
    assert (board.empty_reason, board.empty_text, board.clock_text, board.rows) == ("night", "Nachtruhe", "", ())
    assert board.night_until == board.next_change == parse_instant("2026-11-25T04:30:00+01:00")
    assert board.empty_detail == "Anzeige wieder ab 04:30"
    early = parse_instant("2026-11-25T04:05:00+01:00")  # a departure at 04:05: the board is back at 03:35
    board = build_board(
        SPEC, DisplaySettings(night=NIGHT), BoardInput(stop_departures((), ()), TZ, next_departure=early), at
    )
    assert board.night_until == early - NIGHT_LEAD * 60 and board.empty_detail == "nächste Abfahrt 04:05"
    assert spoken_text(board, "en") == "Stop Mainz Hauptbahnhof. Night break. Next departure 4 05."
    soon = build_board(
        SPEC, DisplaySettings(night=NIGHT), BoardInput(stop_departures((), ()), TZ, next_departure=at + 600), at
    )
    assert soon.night_until == 0 and soon.empty_reason != "night"  # a departure within NIGHT_LEAD: no night
    day = build_board(SPEC, DisplaySettings(night=NIGHT), BoardInput(stop_departures(), TZ, data_as_of=NOW - 20), NOW)
    assert day.night_until == 0 and day.rows
    evening = parse_instant("2026-11-25T00:59:30+01:00")  # the day board changes at 01:00 by itself
    board = build_board(
        SPEC, DisplaySettings(night=NIGHT), BoardInput(stop_departures((), ()), TZ, next_departure=None), evening
    )
    assert board.next_change == parse_instant("2026-11-25T01:00:00+01:00")


# spec: P-59
async def test_during_the_night_a_pillar_gets_one_night_frame_and_nothing_more(tmp_path: Path) -> None:
    at = parse_instant("2026-11-25T01:40:00+01:00")
    displays = [{"id": "gons-epd", "stops": ["GONS"], "layout": "epaper-800x480",
                 "night": {"from": "01:00", "to": "04:30"}}]
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), displays)
    clock, link = FixedClock(at), MemoryLink()
    service = Service(load_config(config), clock, config_path=config, cache_dir=tmp_path / "cache", link=link)
    await service.prepare()
    try:
        await service.refresh(at)
        frames = [p for p in link.take() if p.topic.endswith("/gons-epd/frame")]
        header = parse_header(frames[0].payload)
        board = service.displays["gons-epd"].board
        assert board is not None and board.empty_reason == "night"
        assert header.flags & FLAG_NIGHT and header.valid_until == board.night_until - 1 > at + 3600  # its last second
        for _ in range(10, 150, 10):  # the night goes by: nothing is sent, no validity extension either
            clock.advance(600)
            now = int(clock.now())
            await service.refresh(now)
            assert [p.topic for p in link.take() + service.bridge.tick(now) if "gons-epd" in p.topic] == []
        clock.advance(board.night_until - int(clock.now()))
        await service.refresh(board.night_until)
        day = [p for p in link.take() if p.topic.endswith("/gons-epd/frame")]
        assert day and not parse_header(day[0].payload).flags & FLAG_NIGHT
        assert service.displays["gons-epd"].board.rows  # the first departures, NIGHT_LEAD minutes ahead
    finally:
        await service.close()


def test_language_es_is_accepted_and_the_display_speaks_spanish(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1),
                          [{"id": "es", "stops": ["HBF"], "layout": "tft-320x240", "language": "es",
                            "exclude_routes": ["91"], "hide_ending_here": True, "walk_minutes": 3,
                            "night": {"from": "01:00", "to": "04:30"}}])
    display = load_config(config).displays[0]
    assert (display.language, display.exclude_routes, display.hide_ending_here, display.night) == \
        ("es", ("91",), True, (60, 270))
    assert display_doc(display)["night"] == {"from": "01:00", "to": "04:30"}  # the admin API writes it back as read


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"night": "01:00-04:30"}, "night", "must be a table like night = { from"),
    ({"night": {"from": "1:00", "to": "04:30"}}, "night.from", 'must be a local time "HH:MM"'),
    ({"night": {"from": "01:00", "to": "24:00"}}, "night.to", 'must be a local time "HH:MM"'),
    ({"night": {"from": "01:00"}}, "night.to", 'must be a local time "HH:MM"'),
    ({"night": {"from": "01:00", "to": "04:30", "until": "05:00"}}, "night.until", "unknown field"),
    ({"night": {"from": "03:00", "to": "03:00"}}, "night.to", "must differ from night.from"),
    ({"exclude_routes": 5}, "exclude_routes", ""),
    ({"hide_ending_here": "yes"}, "hide_ending_here", ""),
    ({"walk_minutes": -1}, "walk_minutes", ""),
    ({"directions": [2]}, "directions", ""),
    ({"language": "fr"}, "language", ""),
])
def test_bad_values_name_the_display_and_the_field(tmp_path: Path, fields: dict, field: str, message: str) -> None:
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1),
                          [{"id": "hbf", "stops": ["HBF"], "layout": "tft-320x240", **fields}])
    with pytest.raises(ConfigError) as caught:
        parse_config(config.read_text(), str(config))
    assert f"display 'hbf': field '{field}'" in str(caught.value) and message in str(caught.value)
