"""Conformance: what the service publishes, decoded by a pillar written from docs/mqtt.md alone
(spec_pillar.py), checked against each rule of the document: header fields, encodings per colour mode,
chunks within max_packet as MQTT packets, the retained frame always current, deltas that apply, the
order of epochs and sequences across a restart, deferred full-frame requests, and a board that changes
when a countdown drops a minute at its own second."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from mqtt_match import matches
from servicekit import DISPLAYS, write_config
from spec_pillar import SpecPillar, Violation, decode, head, packet_size
from speckit import spec

from displays.config.parse import load_config
from displays.core.frames import pull_bytes
from displays.core.ports import MemoryLink
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from feeds.demo import simulated_realtime
from feeds.health import FeedHealth
from feeds.realtime import Snapshot, parse_feed
from feeds.times import parse_instant

AT = parse_instant("2026-11-25T08:00:05+01:00")
PREFIX = "stopcast/v1"
MAX_PACKET = 16_384
EXTRA = [
    {"id": "bwr-png", "stops": ["HBF"], "layout": "epaper-bwr-800x480", "encoding": "png"},
    {"id": "tft-plain", "stops": ["UNI"], "layout": "tft-320x240", "compress": False},
    {"id": "lcd", "stops": ["HBF"], "layout": "lcd-landscape-1920x1080"},
    {"id": "grey", "stops": ["GONS"], "layout": "grey-800x480"},
    {"id": "grey-png", "stops": ["UNI"], "layout": "grey-800x480", "encoding": "png"},
]
IDS = [d["id"] for d in DISPLAYS + EXTRA]


class Broker:
    """Retained messages and subscriptions, as a broker keeps them, between the service and spec pillars."""

    def __init__(self, link: MemoryLink) -> None:
        self.link = link
        self.retained: dict[str, bytes] = {}
        self.pillars: list[SpecPillar] = []
        self.to_pillar: dict[int, int] = {}  # id(pillar) -> bytes delivered
        self.published: list[tuple[int, str, bytes]] = []  # (now, topic, payload) of every service message

    async def _give(self, pillar: SpecPillar, topic: str, payload: bytes, now: int) -> None:
        before = set(pillar.subscriptions())
        self.to_pillar[id(pillar)] = self.to_pillar.get(id(pillar), 0) + len(payload)
        for reply_topic, reply in pillar.receive(payload, now, topic):
            await self.link.deliver(reply_topic, reply)
        await self._retained_for(pillar, set(pillar.subscriptions()) - before, now)

    async def _retained_for(self, pillar: SpecPillar, filters: set[str], now: int) -> None:
        for topic, payload in sorted(self.retained.items()):
            if any(matches(f, topic) for f in filters):
                await self._give(pillar, topic, payload, now)

    async def connect(self, pillar: SpecPillar, now: int) -> None:
        """Subscribe (the retained frame arrives), then status and ack as the document's step 1 says."""
        self.pillars.append(pillar)
        await self._retained_for(pillar, set(pillar.subscriptions()), now)
        await self.link.deliver(pillar.topic("status"), json.dumps({"state": "online"}).encode())
        await self.link.deliver(*pillar.ack())
        await self.route(now)

    async def route(self, now: int) -> None:
        while sent := self.link.take():
            for p in sent:
                if packet_size(p.topic, p.payload) > MAX_PACKET:
                    raise Violation(f"{p.topic}: a {packet_size(p.topic, p.payload)}-byte packet over max_packet")
                self.published.append((now, p.topic, p.payload))
                if p.retain:
                    self.retained[p.topic] = p.payload
                    if not p.payload:
                        del self.retained[p.topic]
                for pillar in list(self.pillars):
                    if any(matches(f, p.topic) for f in pillar.subscriptions()):
                        await self._give(pillar, p.topic, p.payload, now)

    def retained_frame(self, display_id: str, now: int) -> SpecPillar:
        """A fresh pillar fed only the display's retained frame (or chunks)."""
        fresh = SpecPillar(display_id)
        topics = sorted((t for t in self.retained if matches(fresh.topic("frame/#"), t)),
                        key=lambda t: (t.count("/"), int(t.rsplit("/", 1)[1]) if t.count("/") > 4 else 0))
        for topic in topics:
            fresh.receive(self.retained[topic], now)
        return fresh


@pytest.fixture
async def world(tmp_path: Path) -> tuple[Service, MemoryLink, FixedClock, Path]:
    return await make_world(tmp_path)


async def make_world(tmp_path: Path) -> tuple[Service, MemoryLink, FixedClock, Path]:
    """A service with every layout and encoding (DISPLAYS + EXTRA) on a memory link, at AT."""
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "grey.toml").write_text(
        (Path(__file__).parents[2] / "layouts" / "builtin" / "epaper-800x480.toml")
        .read_text()
        .replace('name = "epaper-800x480"', 'name = "grey-800x480"')
        .replace('color_mode = "mono"', 'color_mode = "gray4"')
    )
    config_path = write_config(folder, "mqtt://unused", dt.date(2026, 11, 1), DISPLAYS + EXTRA,
                               feeds={"realtime": ["rt.pb"]}, mqtt={"url": "mqtt://unused", "max_packet": MAX_PACKET},
                               layouts={"grey-800x480": "grey.toml"})
    clock = FixedClock(AT)
    service, link = await start(config_path, clock)
    return service, link, clock, config_path


@dataclass
class Source:
    """A realtime source holding one snapshot that the test sets."""

    snapshot: Snapshot | None = None
    health: FeedHealth = field(default_factory=lambda: FeedHealth("memory"))

    async def fetch_once(self) -> bool:
        return False

    async def run(self) -> None:
        return None


async def start(config_path: Path, clock: FixedClock) -> tuple[Service, MemoryLink]:
    link = MemoryLink()
    service = Service(load_config(config_path), clock, config_path=config_path, link=link, sources={"rt.pb": Source()})
    service.load_timetable(config_path.parent / "demo.zip")
    await link.run(service.bridge.subscriptions(), service.hello, service.on_message)
    return service, link


def spec_pixels_of_service_png(service: Service, display_id: str) -> np.ndarray:
    frame = service.displays[display_id].frame
    assert frame is not None
    h, w = frame.raster.shape
    return decode(pull_bytes(frame, "png"), "png", frame.color_mode, w, h)


async def run_until(service: Service, broker: Broker, clock: FixedClock, until: int) -> list[int]:
    """Step the service as its own wake-ups say, routing everything; the instants at which frames changed."""
    changed_at = []
    while clock.now() < until:
        before = {d: r.frame.hash if r.frame else None for d, r in service.displays.items()}
        delay = await service.step()
        await broker.route(int(clock.now()))
        if any((r.frame.hash if r.frame else None) != before[d] for d, r in service.displays.items()):
            changed_at.append(int(clock.now()))
        clock.advance(max(1, int(-(-delay // 1))))
    return changed_at


@spec("P-30", "P-31", "P-32", "P-51", "P-36", "P-37", "P-11")
async def test_everything_the_service_publishes_follows_the_document(
        world: tuple[Service, MemoryLink, FixedClock, Path]) -> None:
    service, link, clock, _ = world
    broker = Broker(link)
    await broker.route(AT)
    pillars = {d: SpecPillar(d) for d in IDS}
    for pillar in pillars.values():
        await broker.connect(pillar, AT)
    assert service.timetable is not None
    service.sources["rt.pb"].snapshot = parse_feed(simulated_realtime(service.timetable, AT), "rt.pb", AT)
    changed_at = await run_until(service, broker, clock, AT + 150)
    now = int(clock.now())
    await service.step()  # the service's turn at `now` (a frame's validity ends where its content changes)
    await broker.route(now)
    assert any(t % 60 not in (0, 5) for t in changed_at), changed_at  # a countdown changed at its own second
    for display_id, pillar in pillars.items():
        frame = service.displays[display_id].frame
        assert frame is not None
        assert pillar.shown_hash == frame.hash, display_id  # in step through every minute tick and delta
        assert np.array_equal(pillar.pixels, spec_pixels_of_service_png(service, display_id)), display_id
        retained = broker.retained_frame(display_id, now)
        assert retained.shown_hash == frame.hash and retained.valid_until >= now, display_id  # always current
    heads = [
        head(p)
        for _, t, p in broker.published
        if p and t.split("/")[-1] in ("frame", "delta") or t[-2:].isdigit() and p
    ]
    assert {h.encoding for h in heads} == {"mono1", "bwr", "png", "rgb565", "gray2"}
    assert any(h.chunks > 1 for h in heads) and any(h.kind == 1 and h.region[2] for h in heads)
    assert any(not h.flags & 1 and h.encoding == "rgb565" for h in heads)  # compress = false


@spec("P-4", "P-5")
async def test_a_pillar_joining_after_minutes_of_deltas_downloads_the_current_frame_once(
        world: tuple[Service, MemoryLink, FixedClock, Path]) -> None:
    service, link, clock, _ = world
    broker = Broker(link)
    await broker.route(AT)
    for display_id in IDS:
        await broker.connect(SpecPillar(display_id), AT)
    await run_until(service, broker, clock, AT + 125)
    assert any(t.endswith("/delta") and p and head(p).kind == 1 for _, t, p in broker.published)
    late = SpecPillar("hbf-epaper")
    await broker.connect(late, int(clock.now()))
    frame = service.displays["hbf-epaper"].frame
    assert frame is not None and late.shown_hash == frame.hash
    forecast = len(broker.retained.get(late.topic("next"), b""))  # the retained forecast comes with it (F-5)
    assert broker.to_pillar[id(late)] == len(broker.retained[late.topic("frame")]) + forecast  # once, no second copy
    assert late.subscriptions() == [late.topic("delta"), late.topic("next")]  # it left frame/# once it showed a frame


@spec("P-24")
async def test_epoch_and_sequence_order_across_a_restart(world: tuple[Service, MemoryLink, FixedClock, Path]) -> None:
    service, link, clock, config_path = world
    broker = Broker(link)
    await broker.route(AT)
    pillar = SpecPillar("uni-tft")
    await broker.connect(pillar, AT)
    await run_until(service, broker, clock, AT + 70)
    before = pillar.shown_order
    await service.close()
    clock.advance(3)
    restarted, new_link = await start(config_path, clock)  # the same state folder, a new process
    broker.link = new_link
    await broker.route(int(clock.now()))
    await new_link.deliver(pillar.topic("status"), json.dumps({"state": "online"}).encode())  # retained: read at start
    await run_until(restarted, broker, clock, int(clock.now()) + 65)
    frame = restarted.displays["uni-tft"].frame
    assert frame is not None and pillar.shown_hash == frame.hash  # the new instance reached the pillar on delta
    assert pillar.shown_order[0] > before[0] and pillar.shown_order[1] > before[1]  # both epoch and seq grew
    assert pillar.ignored == 0


@spec("P-42", "P-44")
async def test_a_full_frame_asked_for_within_the_gap_comes_when_the_gap_ends(
        world: tuple[Service, MemoryLink, FixedClock, Path]) -> None:
    service, link, clock, _ = world
    broker = Broker(link)
    await broker.route(AT)
    await run_until(service, broker, clock, AT + 2)
    ask = json.dumps({"hash": None, "need_full": True}).encode()
    topic = f"{PREFIX}/displays/gons-led/ack"
    await link.deliver(topic, ask)
    await broker.route(int(clock.now()))
    first = int(clock.now())
    clock.advance(1)
    broker.published.clear()
    await link.deliver(topic, ask)  # within 5 s: deferred
    await broker.route(int(clock.now()))
    assert not [t for _, t, _ in broker.published if t.startswith(f"{PREFIX}/displays/gons-led/frame")]
    await run_until(service, broker, clock, first + 6)
    answered = [n for n, t, _ in broker.published if t == f"{PREFIX}/displays/gons-led/frame"]
    assert answered and first < answered[0] <= first + 5  # by a change of the board, or when the gap ends
