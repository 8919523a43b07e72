"""Validity that tells the truth (docs/mqtt.md, "Validity"): a frame is valid until the second before its
content stops being true to the minute, never for a fixed time whatever it shows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
from servicekit import DISPLAYS, write_config
from spec_pillar import SpecPillar, head
from test_conformance import AT, MAX_PACKET, start
from test_forecast import Broker

from displays.shell.clock import FixedClock
from feeds.demo import simulated_realtime
from feeds.realtime import parse_feed
from firmware_bridge.channel import DisplayChannel
from firmware_bridge.messages import Frame
from firmware_bridge.pillar import PillarSession
from layouts.board import Board

PREFIX = "stopcast/v1"


def _frame(value: int) -> Frame:
    raster = np.zeros((16, 32), dtype=np.uint8)
    raster[0, 0] = value
    return Frame.of(raster, "mono", "mono1", True)


def test_a_frame_is_valid_until_the_second_before_its_content_changes() -> None:
    """spec: F-1, F-2"""
    channel = DisplayChannel("d", PREFIX, 1 << 16, frame_ttl=600)
    out = channel.show(_frame(1), 1000, true_until=1042)
    assert {head(p.payload).valid_until for p in out if p.topic.endswith("/frame")} == {1041}
    assert channel.tick(1030, 60) == []  # nothing to extend: the content changes at 1042
    assert channel.next_deadline(60) is None  # and no busy wake-up before it
    assert channel.show(_frame(1), 1042, true_until=1102) == []  # the same pixels: true a minute longer
    extended = channel.tick(1042, 60)
    assert {head(p.payload).valid_until for p in extended if p.topic.endswith("/frame")} == {1101}
    long = DisplayChannel("d", PREFIX, 1 << 16, frame_ttl=600)
    out = long.show(_frame(2), 1000, true_until=5000)  # a board that stays true for an hour: frame_ttl caps it
    assert {head(p.payload).valid_until for p in out if p.topic.endswith("/frame")} == {1600}


def _times(board: Board | None) -> tuple:
    """What a board says about time: its clock and every row's time (not its alert page)."""
    return (board.clock_text, tuple(r.time_text for r in board.rows)) if board is not None else ()


async def test_no_frame_a_pillar_shows_outlives_its_content(tmp_path: Path) -> None:
    """spec: F-1, F-3"""
    config_path = write_config(tmp_path, "mqtt://unused", dt.date(2026, 11, 1), DISPLAYS, feeds={"realtime": ["rt.pb"]},
                               mqtt={"url": "mqtt://unused", "max_packet": MAX_PACKET})
    clock = FixedClock(AT)
    service, link = await start(config_path, clock)
    assert service.timetable is not None
    service.sources["rt.pb"].snapshot = parse_feed(simulated_realtime(service.timetable, AT), "rt.pb", AT)
    broker = Broker(link)  # the forecast test's broker: spec pillars and reference pillars side by side
    await broker.route(AT)
    pillars = {d["id"]: SpecPillar(d["id"]) for d in DISPLAYS}
    for pillar in pillars.values():
        await broker.connect(pillar, AT)
    sessions = {d["id"]: PillarSession(d["id"], PREFIX) for d in DISPLAYS}  # and the reference pillar beside it
    for session in sessions.values():
        await broker.connect(session, AT)
    checked = 0
    while clock.now() < AT + 240:
        now = int(clock.now())
        before = {d: (p.shown_hash, p.valid_until) for d, p in pillars.items()}
        texts = {d: _times(service.displays[d].board) for d in pillars}
        delay = await service.step()
        await broker.route(now)
        for display_id, pillar in pillars.items():
            runtime = service.displays[display_id]
            assert runtime.board is not None and runtime.frame is not None
            shown, valid_until = before[display_id]
            if shown is not None and texts[display_id] != _times(runtime.board):
                assert valid_until < now, (display_id, now)  # the old frame ran out when its times changed
                checked += 1
            assert pillar.shown_hash == runtime.frame.hash and now <= pillar.valid_until < runtime.board.true_until
            session = sessions[display_id]
            assert session.hash == runtime.frame.hash and now <= session.valid_until < runtime.board.true_until
        clock.advance(max(1, int(-(-delay // 1))))
    assert checked >= 4 * len(pillars)  # every display changed at least once a minute
