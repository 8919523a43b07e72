"""Countdowns through an outage (docs/mqtt.md, "Forecast"): pillars cut off from the broker show, each
minute, the frame the service renders for that minute from the delays it knew, for `forecast_minutes`,
then "no current data". The reference pillar (PillarSession and the simulator's screen) and the pillar
written from the document (spec_pillar.py) both; time is a fixed clock, stepped as the service says."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
from mqtt_match import matches
from PIL import Image
from servicekit import DISPLAYS, write_config
from spec_pillar import SpecPillar, decode
from test_conformance import AT, start

from displays.core.forecasting import forecast_board, forecast_times
from displays.core.frames import frame_of, pull_bytes, render
from displays.core.ports import MemoryLink
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from feeds.demo import simulated_realtime
from feeds.realtime import parse_feed
from firmware_bridge.codec import image_of
from firmware_bridge.forecast import parse_forecast
from firmware_bridge.messages import Frame
from firmware_bridge.pillar import PillarSession
from firmware_bridge.simulator import screen, write_screen
from layouts.board import Board

PREFIX = "stopcast/v1"
MINUTES = 10  # forecast_minutes, the default


class Broker:
    """Retained messages, and pillars that can be cut off (they then receive nothing and say nothing)."""

    def __init__(self, link: MemoryLink) -> None:
        self.link = link
        self.retained: dict[str, bytes] = {}
        self.pillars: list[PillarSession | SpecPillar] = []
        self.up = True
        self.published: list[tuple[int, str, bytes]] = []

    async def _give(self, pillar: PillarSession | SpecPillar, topic: str, payload: bytes, now: int) -> None:
        before = set(pillar.subscriptions())
        if isinstance(pillar, SpecPillar):
            replies = [r for r in pillar.receive(payload, now, topic)]
        else:
            replies = [(r.topic, r.payload) for r in pillar.receive(topic, payload, now)]
        for reply_topic, reply in replies:
            await self.link.deliver(reply_topic, reply)
        await self._retained_for(pillar, set(pillar.subscriptions()) - before, now)

    async def _retained_for(self, pillar: PillarSession | SpecPillar, filters: set[str], now: int) -> None:
        for topic, payload in sorted(self.retained.items()):
            if any(matches(f, topic) for f in filters):
                await self._give(pillar, topic, payload, now)

    async def connect(self, pillar: PillarSession | SpecPillar, now: int) -> None:
        self.pillars.append(pillar)
        await self._retained_for(pillar, set(pillar.subscriptions()), now)
        topic = f"{PREFIX}/displays/{pillar.display_id}/status"
        await self.link.deliver(topic, json.dumps({"state": "online"}).encode())
        await self.route(now)

    async def route(self, now: int) -> None:
        while sent := self.link.take():
            for p in sent:
                self.published.append((now, p.topic, p.payload))
                if p.retain:
                    self.retained[p.topic] = p.payload
                    if not p.payload:
                        del self.retained[p.topic]
                for pillar in self.pillars if self.up else []:
                    if p.payload and any(matches(f, p.topic) for f in pillar.subscriptions()):
                        await self._give(pillar, p.topic, p.payload, now)

    async def expire(self, now: int) -> None:
        """The reference pillars' own clocks (the spec pillar checks validity when it is asked what it shows)."""
        for pillar in self.pillars:
            if isinstance(pillar, PillarSession):
                before = set(pillar.subscriptions())
                replies = pillar.expire(now)
                if self.up:
                    for reply in replies:
                        await self.link.deliver(reply.topic, reply.payload)
                    await self._retained_for(pillar, set(pillar.subscriptions()) - before, now)
        await self.route(now)


Made = dict[str, tuple[int, Board, tuple]]  # display -> when its forecast was made, its board then, what it knew


async def _run(service: Service, broker: Broker, clock: FixedClock, until: int, made: Made) -> None:
    """Step the service as its wake-ups say; note for each display when a forecast went out and from what."""
    while clock.now() < until:
        now = int(clock.now())
        delay = await service.step()
        count = len(broker.published)
        await broker.route(now)
        for _, topic, payload in broker.published[count:]:
            if topic.endswith("/next") and payload:
                display_id = topic.split("/")[-2]
                board = service.displays[display_id].board
                assert board is not None
                made[display_id] = (now, board, (service.live_state(now), service.editorial.current(now)))
        await broker.expire(now)
        clock.advance(max(1, min(int(-(-delay // 1)), until - now)))


def _expected(service: Service, display_id: str, made: Made, at: int) -> tuple[Frame, Board]:
    """The frame the service renders for `at` from what it knew when it made the forecast (its board, its delays),
    and the board as a live frame would show it."""
    runtime = service.displays[display_id]
    made_at, board, known = made[display_id]
    previous, chosen, page = board, None, None
    for step in forecast_times(board.true_until, made_at, MINUTES * 90):
        if step > at:
            break
        previous = service.compose(runtime.config, runtime.spec, step, known[0], known[1], previous)
        chosen, page = previous, previous.alert_page if page is None else page  # the first step's alert page
    assert chosen is not None and page is not None
    shown = forecast_board(chosen, page)
    rendered = render(shown, runtime.spec, runtime.encoding, runtime.config.compress)
    return frame_of(rendered, b""), replace(shown, rows=chosen.rows)  # the same board with its live markers


async def test_a_pillar_cut_off_for_eight_minutes_shows_each_minute_what_the_service_forecast(tmp_path: Path) -> None:
    """spec: F-4, F-5, F-6, F-7, F-8, F-12"""
    config_path = write_config(tmp_path, "mqtt://unused", dt.date(2026, 11, 1), DISPLAYS, feeds={"realtime": ["rt.pb"]})
    clock = FixedClock(AT)
    service, link = await start(config_path, clock)
    assert service.timetable is not None
    source = service.sources["rt.pb"]
    source.snapshot = parse_feed(simulated_realtime(service.timetable, AT), "rt.pb", AT)
    broker = Broker(link)
    await broker.route(AT)
    ids = [d["id"] for d in DISPLAYS]
    sessions = {d: PillarSession(d, PREFIX) for d in ids}
    specs = {d: SpecPillar(d) for d in ids}
    for d in ids:
        await broker.connect(sessions[d], AT)
        await broker.connect(specs[d], AT)
    made: Made = {}
    await _run(service, broker, clock, AT + 95, made)
    cut = int(clock.now())
    assert sorted(made) == sorted(ids)
    for d in ids:  # the pillars hold the forecast made last, which starts when the board then stopped being true
        assert parse_forecast(broker.retained[f"{PREFIX}/displays/{d}/next"]).steps[0][0] == made[d][1].true_until
    broker.up = False  # cut off: the service goes on (with new delays), the pillars hear nothing
    hollow_checked = 0
    later = cut + 300
    source.snapshot = parse_feed(simulated_realtime(service.timetable, later), "rt.pb", later)
    for minute in range(1, 9):
        at = (cut // 60 + minute) * 60 + 30
        await _run(service, broker, clock, at, {})
        for d in ids:
            session = sessions[d]
            assert not session.is_current(at), d  # its own frame ran out: it shows the forecast
            expected, board = _expected(service, d, made, at)
            if any(row.live for row in board.rows):  # drawn as a forecast: what was live has a hollow marker
                looks_live = render(board, service.displays[d].spec, service.displays[d].encoding, True)
                assert looks_live.content_hash != expected.hash, (d, minute)
                hollow_checked += 1
            assert np.array_equal(
                np.asarray(screen(session, at)), np.asarray(image_of(expected.raster, expected.color_mode))
            ), (d, minute)
            h, w = expected.shape
            wanted = decode(pull_bytes(expected, "png"), "png", expected.color_mode, w, h)
            assert np.array_equal(specs[d].shows(at), wanted), (d, minute)
            live = service.displays[d].frame
            assert live is not None and live.hash != expected.hash  # the forecast looks unlike a live frame
    assert hollow_checked >= 8
    # forecast_minutes after the pillar's own frame ran out, it shows "no current data".
    end = max(s.valid_until for s in sessions.values()) + 60 * MINUTES + 1
    await _run(service, broker, clock, end, {})
    for d in ids:
        assert sessions[d].predicted(end) is None and specs[d].shows(end) is None, d
        assert screen(sessions[d], end).mode == "1"  # its own "no current data" screen
    broker.up, broker.pillars = True, []  # the link is back (pillars that restarted): the retained frame is live
    await service.step()
    await broker.route(end)
    for d in ids:
        fresh = PillarSession(d, PREFIX)
        await broker.connect(fresh, end)
        assert fresh.is_current(end) and fresh.hash == service.displays[d].frame.hash  # type: ignore[union-attr]



async def test_the_forecast_is_republished_only_when_its_prediction_changes(tmp_path: Path) -> None:
    """spec: F-5, F-4"""
    display = [{"id": "hbf-epaper", "stops": ["HBF"], "layout": "epaper-800x480"}]
    config_path = write_config(tmp_path, "mqtt://unused", dt.date(2026, 11, 1), display, feeds={"realtime": ["rt.pb"]})
    clock = FixedClock(AT)  # 08:00:05: the demo's delays stay the same until 08:05:00
    service, link = await start(config_path, clock)
    assert service.timetable is not None
    broker = Broker(link)
    await broker.route(AT)
    await broker.connect(PillarSession("hbf-epaper", PREFIX), AT)
    for fetch in range(AT, AT + 540, 45):  # realtime fetched every 45 s: new snapshots, the same delays till 08:05
        service.sources["rt.pb"].snapshot = parse_feed(simulated_realtime(service.timetable, fetch), "rt.pb", fetch)
        service.wake.set()
        await _run(service, broker, clock, fetch + 45, {})
    sent = [n for n, t, p in broker.published if t.endswith("/next") and p]
    assert sent[0] == AT and all(AT + 295 <= n for n in sent[1:]), [n - AT for n in sent]  # none while nothing changed
    assert len(sent) >= 2  # the delays changed at 08:05 (or the forecast ran short): a new one
    forecast = parse_forecast(broker.retained[f"{PREFIX}/displays/hbf-epaper/next"])
    assert forecast.horizon_minutes == MINUTES and forecast.end >= sent[-1] + 60 * MINUTES


async def test_a_new_prediction_that_draws_no_minute_differently_is_not_republished(tmp_path: Path) -> None:
    """spec: F-5"""
    display = [{"id": "hbf-led", "stops": ["HBF"], "layout": "led-192x64"}]  # it draws no platform
    config_path = write_config(tmp_path, "mqtt://unused", dt.date(2026, 11, 1), display, feeds={"realtime": ["rt.pb"]})
    clock = FixedClock(AT)
    service, link = await start(config_path, clock)
    assert service.timetable is not None
    broker = Broker(link)
    await broker.route(AT)
    await broker.connect(PillarSession("hbf-led", PREFIX), AT)
    await link.deliver(f"{PREFIX}/displays/hbf-led/status", json.dumps({"state": "online", "ticker": True}).encode())
    runtime = service.displays["hbf-led"]  # (a pillar that scrolls the ticker: its frames keep one alert page)
    kept = []
    for fetch in range(AT, AT + 600, 45):  # at 08:05 the demo moves line 54 back to its own platform: other boards
        service.sources["rt.pb"].snapshot = parse_feed(simulated_realtime(service.timetable, fetch), "rt.pb", fetch)
        service.wake.set()
        seen = runtime.forecast_seen
        await _run(service, broker, clock, fetch + 45, {})
        if runtime.forecast_seen is not seen and runtime.forecast_seen is not runtime.forecast:  # rendered, not sent
            kept.append((runtime.forecast_seen, broker.retained[f"{PREFIX}/displays/hbf-led/next"]))
    assert kept  # (a platform change the LED does not draw)
    for predicted, retained in kept:  # what the pillars hold draws every minute of the new prediction
        held = {begin: header.content_hash for begin, header, _ in parse_forecast(retained).steps}
        shared = [(begin, board) for begin, board in predicted if begin % 60 == 0 and begin in held]
        assert shared
        for begin, board in shared:
            drawn = frame_of(render(board, runtime.spec, runtime.encoding, runtime.config.compress), b"")
            assert drawn.hash == held[begin], begin
    sent = [n for n, t, p in broker.published if t.endswith("/next") and p]
    assert len(sent) >= 2  # and one that draws other minutes is (or one that runs short)


def test_a_forecast_too_large_for_max_packet_keeps_the_steps_that_fit() -> None:
    """spec: F-10"""
    from firmware_bridge.channel import DisplayChannel
    from firmware_bridge.forecast import ForecastStep
    from firmware_bridge.messages import packet_room

    frames = []
    for i in range(12):
        raster = np.random.default_rng(i).integers(0, 2, (64, 256), dtype=np.uint8)  # incompressible steps
        frames.append(Frame.of(raster, "mono", "mono1", True))
    steps = [ForecastStep(1000 + 60 * i, 1059 + 60 * i, f) for i, f in enumerate(frames)]
    channel = DisplayChannel("d", PREFIX, 8192, frame_ttl=600)
    channel.show(frames[0], 990, true_until=1000)
    (publish,) = channel.forecast(steps, MINUTES, 990)
    assert 0 < len(publish.payload) <= packet_room(8192, publish.topic)
    kept = parse_forecast(publish.payload)
    assert 1 <= len(kept.steps) < len(steps) and kept.frame_at(len(kept.steps) - 1)[0].shape == (64, 256)
    tiny = DisplayChannel("d", PREFIX, 1024, frame_ttl=600)
    tiny.show(frames[0], 990, true_until=1000)
    assert tiny.forecast(steps, MINUTES, 990)[0].payload == b""  # not even the first step fits: cleared


def test_a_pillar_refuses_a_forecast_it_cannot_verify_and_keeps_the_one_it_holds(tmp_path: Path) -> None:
    """spec: F-7, F-8"""
    from firmware_bridge.forecast import FORECAST_HEADER, ForecastStep, forecast_payload

    frames = []
    for i in range(3):
        raster = np.zeros((16, 64), dtype=np.uint8)
        raster[:, i * 16:(i + 1) * 16] = 1
        frames.append(Frame.of(raster, "mono", "mono1", True))
    steps = [ForecastStep(1000 + 60 * i, 1059 + 60 * i, f) for i, f in enumerate(frames)]
    good = forecast_payload(steps, 2, 5, 7)
    pillar = PillarSession("d", PREFIX)
    topic = f"{PREFIX}/displays/d/next"
    assert pillar.receive(topic, good, 990) == [] and pillar.forecast is not None
    raster, mode = pillar.predicted(1070) or (None, "")
    assert raster is not None and mode == "mono" and np.array_equal(raster, frames[1].raster)
    assert pillar.predicted(999) is None  # before the first step
    assert pillar.predicted(1000 + 120 + 1) is None  # past the horizon (2 minutes after the first step's start)
    for bad in (good[:-3], b"XX" + good[2:], good[:12] + b"\x00" + good[13:]):
        pillar.receive(topic, bad, 990)
        assert pillar.forecast is not None and pillar.forecast.epoch == 7  # refused: the one held stays
    header = FORECAST_HEADER.unpack_from(good)
    older = FORECAST_HEADER.pack(*header[:5], 6) + good[FORECAST_HEADER.size:]
    pillar.epoch = 7
    pillar.receive(topic, older, 990)
    assert pillar.forecast is not None and pillar.forecast.epoch == 7  # from an earlier owner: ignored
    lying = forecast_payload(
        [
            ForecastStep(1000, 1059, frames[0]),
            ForecastStep(1060, 1119, Frame(frames[1].packed, 64, 16, "mono", "mono1", True, 1)),
        ],
        2,
        5,
        7,
    )
    pillar.receive(topic, lying, 990)
    assert pillar.predicted(1070) is None and pillar.forecast is None  # a step that does not verify: none of it
    pillar.receive(topic, good, 990)
    written = write_screen(pillar, 1070, tmp_path)  # the reference pillar writes what it shows, forecast included
    assert written.name == "d-forecast-1020.png" and np.array_equal(
        np.asarray(Image.open(written)) > 0, frames[1].raster > 0
    )
    pillar.receive(topic, b"", 990)
    assert pillar.forecast is None  # an empty payload clears it


def test_after_a_reconnect_the_forecast_is_republished_as_it_is_and_removing_a_display_clears_it() -> None:
    """spec: F-5, F-4"""
    from firmware_bridge.channel import DisplayChannel
    from firmware_bridge.forecast import ForecastStep

    raster = np.zeros((16, 64), dtype=np.uint8)
    frames = [Frame.of(raster, "mono", "mono1", True), Frame.of(raster + 1, "mono", "mono1", True)]
    channel = DisplayChannel("d", PREFIX, 1 << 16, frame_ttl=600)
    channel.show(frames[0], 990, true_until=1000)
    (sent,) = channel.forecast([ForecastStep(1000, 1059, frames[0]), ForecastStep(1060, 1119, frames[1])], MINUTES, 990)
    again = [p for p in channel.republish(995) if p.topic.endswith("/next")]
    assert [(p.payload, p.retain) for p in again] == [(sent.payload, True)]
    assert [p for p in channel.republish(1120) if p.topic.endswith("/next")] == []  # run out: not again
    cleared = {p.topic: p.payload for p in channel.clear()}
    assert cleared[f"{PREFIX}/displays/d/next"] == b""
