"""The service's whole pipeline with in-memory edges: fake realtime sources, a MemoryLink for the
broker, a fixed clock. No sockets, no sleeps, deterministic."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from servicekit import write_config
from speckit import spec

from displays.config.parse import load_config
from displays.core.ports import MemoryLink
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from feeds.demo import simulated_realtime
from feeds.health import FeedHealth
from feeds.realtime import RealtimeSource, Snapshot, parse_feed
from feeds.times import parse_instant
from firmware_bridge import codec
from firmware_bridge.protocol import PillarSession

AT = parse_instant("2026-11-25T08:00:05+01:00")
PREFIX = "stopcast/v1"


@dataclass
class FakeSource:
    """A realtime source whose next payload the test sets."""

    source: RealtimeSource
    clock: FixedClock
    payload: bytes | None = None
    snapshot: Snapshot | None = None
    health: FeedHealth = field(default_factory=lambda: FeedHealth("memory"))

    async def fetch_once(self) -> bool:
        if self.payload is None:
            return False
        self.snapshot = parse_feed(self.payload, self.source.url, int(self.clock.now()))
        self.payload = None
        return True

    async def run(self) -> None:
        await self.fetch_once()


@dataclass
class World:
    service: Service
    link: MemoryLink
    source: FakeSource
    clock: FixedClock


@pytest.fixture
async def world(tmp_path: Path) -> World:
    config_path = write_config(tmp_path / "cfg", "mqtt://unused", dt.date(2026, 11, 1), feeds={"realtime": ["rt.pb"]})
    config = load_config(config_path)
    clock = FixedClock(AT)
    source = FakeSource(RealtimeSource("rt.pb"), clock)
    link = MemoryLink()
    service = Service(config, clock, config_path=config_path, sources={"rt.pb": source}, link=link)
    service.load_timetable(tmp_path / "cfg" / "demo.zip")
    assert service.timetable is not None
    await link.run(service.bridge.subscriptions(), service.hello, service.on_message)
    return World(service, link, source, clock)


def frames_by_display(sent: list) -> dict[str, list[str]]:
    """display id -> the leaves it was sent on (frame, delta, board ...)."""
    out: dict[str, list[str]] = {}
    for p in sent:
        parts = p.topic.split("/")
        if parts[2] == "displays" and p.payload:
            out.setdefault(parts[3], []).append("/".join(parts[4:]))
    return out


async def test_first_turn_sends_every_display_retained(world: World) -> None:
    hello = world.link.take()
    assert [p.topic for p in hello] == [f"{PREFIX}/service/status"]  # nothing rendered yet
    assert world.link.subscriptions == [f"{PREFIX}/displays/+/status", f"{PREFIX}/displays/+/ack",
                                        f"{PREFIX}/displays/+/audio/request"]
    delay = await world.service.step()
    sent = frames_by_display(world.link.take())
    assert sent == {d: ["board", "frame"] for d in ("hbf-epaper", "uni-tft", "gons-led", "hbf-bwr")}
    assert 0 < delay <= 60 - (AT % 60) + 0.05  # the next minute at the latest


async def test_a_synced_pillar_gets_deltas_and_every_retained_frame_stays_current(world: World) -> None:
    await world.service.step()
    pillar = PillarSession("uni-tft", PREFIX)
    for p in world.link.take():
        if p.topic.startswith(f"{PREFIX}/displays/uni-tft/frame"):
            for reply in pillar.receive(p.topic, p.payload, AT):
                await world.link.deliver(reply.topic, reply.payload)
    for p in pillar.hello():
        await world.link.deliver(p.topic, p.payload)
    assert world.service.bridge.channels["uni-tft"].online
    world.link.take()
    world.clock.advance(60)  # the minute tick: every countdown changes
    await world.service.step()
    sent = frames_by_display(world.link.take())
    assert sent["uni-tft"] == ["board", "frame", "delta", "next"]  # the delta for its pillar, the retained frame for
    # the broker, and the forecast for its pillar (spec: F-4)
    assert sent["hbf-epaper"] == ["board", "frame"]  # no pillar: the retained frame only, no forecast


async def test_a_feed_update_changes_only_the_boards_it_touches(world: World) -> None:
    await world.service.step()
    world.link.take()
    assert world.service.timetable is not None
    world.source.payload = simulated_realtime(world.service.timetable, AT)
    assert await world.source.fetch_once()
    await world.service.step()
    changed = frames_by_display(world.link.take())
    assert changed and set(changed) <= {"hbf-epaper", "uni-tft", "gons-led", "hbf-bwr"}
    for display_id in changed:
        board = world.service.displays[display_id].board
        assert board is not None and not board.timetable_only
    await world.service.step()  # nothing new: nothing sent
    assert world.link.take() == []


@spec("P-41")
async def test_while_disconnected_nothing_is_sent_and_the_reconnect_republishes(world: World) -> None:
    world.link.take()  # the hello of the first connection
    world.link.connected = False
    await world.service.step()
    assert world.link.take() == []
    assert all(r.frame is not None for r in world.service.displays.values())  # rendered all the same
    world.link.connected = True
    await world.link.run(world.service.bridge.subscriptions(), world.service.hello, world.service.on_message)
    sent = frames_by_display(world.link.take())
    assert sent == {d: ["board", "frame"] for d in ("hbf-epaper", "uni-tft", "gons-led", "hbf-bwr")}


async def test_same_inputs_same_bytes(tmp_path: Path) -> None:
    async def run(folder: Path) -> list[tuple[str, bytes]]:
        config_path = write_config(folder, "mqtt://unused", dt.date(2026, 11, 1))
        link = MemoryLink()
        service = Service(load_config(config_path), FixedClock(AT), sources={}, link=link)
        service.load_timetable(folder / "demo.zip")
        await service.step()
        return [(p.topic, p.payload) for p in link.take() if "/displays/" in p.topic]

    first, second = await run(tmp_path / "a"), await run(tmp_path / "b")
    assert first == second and len(first) == 10
    # a board and a frame per display, and for the two scrolling layouts (TFT, LED) an empty ticker: no alerts
    # now, and whatever ticker an earlier run left on the broker is cleared
    assert sorted(t.rsplit("/", 2)[-2] for t, p in first if t.endswith("/ticker") and p == b"") == [
        "gons-led",
        "uni-tft",
    ]
    header = codec.parse_header(next(payload for topic, payload in first if topic.endswith("uni-tft/frame")))
    assert header.width == 320 and header.height == 240
