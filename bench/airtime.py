"""Airtime: the bytes one reference pillar in sync receives per minute on all its topics (frames, deltas,
validity extensions, the forecast, the ticker) from the real service, on the demo network with its
realtime feed fetched again every 45 s. Time is a fixed clock stepped as the service's own wake-ups
say; the broker is an in-memory model with retained messages and the pillar's subscriptions.

Imported by bench_mqtt.py; it needs the tests' helpers (servicekit, mqtt_match) on sys.path.

Measured on 2026-12-03 (30 minutes from 08:02 at the demo's Hauptbahnhof, KiB per minute, all topics):

| layout | before (valid 600 s, no forecast) | after (truthful validity, 16 KB zlib window, forecast) |
|---|---|---|
| epaper-800x480 | 5.52 | 13.16 (frames and deltas 5.53, forecast 7.63) |
| epaper-bwr-800x480 | 5.81 | 16.90 (5.95, 10.95) |
| tft-320x240 | 15.80 | 37.90 (16.36, 21.55) |
| led-192x64 | 1.94 | 2.57 (1.95, 0.63) |
| lcd-portrait-1080x1920 | 133.75 | 133.75 (no forecast: its frame takes more than half of max_packet) |

The goal of docs/mqtt.md's issue (1.0 KiB for e-paper) is not met: at this stop a departure leaves about
every two minutes (the rows shift: 4-5 KB a delta), alerts page every minute (0.9 KB) and the simulated
delays change every few minutes, so each 31 KB forecast is replaced about every three minutes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from mqtt_match import matches
from servicekit import write_config

from displays.config.parse import load_config
from displays.core.ports import MemoryLink
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from feeds.demo import simulated_realtime
from feeds.health import FeedHealth
from feeds.realtime import Snapshot, parse_feed
from firmware_bridge.protocol import PillarSession

REALTIME_EVERY = 45  # seconds between realtime fetches


@dataclass
class _Source:
    snapshot: Snapshot | None = None
    health: FeedHealth = field(default_factory=lambda: FeedHealth("memory"))

    async def fetch_once(self) -> bool:
        return False

    async def run(self) -> None:
        return None


class _Broker:
    """Retained messages and one pillar's subscriptions; counts the payload bytes the pillar receives."""

    def __init__(self, link: MemoryLink, pillar: PillarSession) -> None:
        self.link, self.pillar = link, pillar
        self.retained: dict[str, bytes] = {}
        self.received: dict[str, int] = {}  # topic leaf -> bytes

    async def _give(self, topic: str, payload: bytes, now: int) -> None:
        leaf = topic.split("/displays/", 1)[1].split("/", 1)[1] if "/displays/" in topic else topic
        leaf = "frame" if leaf.startswith("frame") else leaf
        self.received[leaf] = self.received.get(leaf, 0) + len(payload)
        before = set(self.pillar.subscriptions())
        for reply in self.pillar.receive(topic, payload, now):
            await self.link.deliver(reply.topic, reply.payload)
        await self._retained_for(set(self.pillar.subscriptions()) - before, now)

    async def _retained_for(self, filters: set[str], now: int) -> None:
        for topic, payload in sorted(self.retained.items()):
            if any(matches(f, topic) for f in filters):
                await self._give(topic, payload, now)

    async def route(self, now: int) -> None:
        while sent := self.link.take():
            for p in sent:
                if p.retain:
                    self.retained[p.topic] = p.payload
                    if not p.payload:
                        del self.retained[p.topic]
                if p.payload and any(matches(f, p.topic) for f in self.pillar.subscriptions()):
                    await self._give(p.topic, p.payload, now)

    async def connect(self, now: int) -> None:
        await self._retained_for(set(self.pillar.subscriptions()), now)
        for hello in self.pillar.hello():
            await self.link.deliver(hello.topic, hello.payload)
        await self.route(now)

    async def expire(self, now: int) -> None:
        before = set(self.pillar.subscriptions())
        for reply in self.pillar.expire(now):
            await self.link.deliver(reply.topic, reply.payload)
        await self._retained_for(set(self.pillar.subscriptions()) - before, now)
        await self.route(now)


async def _measure(folder: Path, layout: str, start: int, minutes: int) -> dict[str, float]:
    display = {"id": "p", "stops": ["HBF"], "layout": layout}
    config_path = write_config(folder, "mqtt://unused", dt.date(2026, 11, 1), [display], feeds={"realtime": ["rt.pb"]})
    clock = FixedClock(start)
    link = MemoryLink()
    source = _Source()
    service = Service(load_config(config_path), clock, config_path=config_path, link=link, sources={"rt.pb": source})
    service.load_timetable(config_path.parent / "demo.zip")
    assert service.timetable is not None
    await link.run(service.subscriptions(), service.hello, service.on_message)
    await link.deliver("stopcast/v1/service/status", json.dumps({"state": "online", "since": start}).encode())
    pillar = PillarSession("p", "stopcast/v1")
    broker = _Broker(link, pillar)
    await broker.route(start)
    await broker.connect(start)
    fetched = None
    measuring_from = start + 120  # the first two minutes bring the pillar in sync (full frame, forecast, ticker)
    counted: dict[str, int] = {}
    while clock.now() < measuring_from + 60 * minutes:
        now = int(clock.now())
        if fetched is None or now - fetched >= REALTIME_EVERY:
            source.snapshot = parse_feed(simulated_realtime(service.timetable, now), "rt.pb", now)
            fetched = now
            service.wake.set()
        delay = await service.step()
        await broker.route(now)
        await broker.expire(now)
        if now < measuring_from:
            broker.received.clear()
        counted = dict(broker.received)
        step = max(1, int(-(-delay // 1)))
        clock.advance(min(step, fetched + REALTIME_EVERY - now))
    await service.close()
    return {k: v / minutes for k, v in counted.items()}


def airtime(folder: Path, layout: str, start: int, minutes: int = 30) -> dict[str, float]:
    """Bytes per minute one pillar in sync receives, by topic (frame, delta, next, ticker, ...)."""
    return asyncio.run(_measure(folder, layout, start, minutes))
