"""The engine alone (displays/core/engine.py): no asyncio, no clock, no link, no renderer process. The test
is its shell: it reads files, renders with the pure renderer, plays a reference pillar and another instance,
and checks what the engine says to publish through a config change, a minute, a feed update, a pillar's ack
and a takeover."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

from servicekit import write_config

from displays.config.parse import load_config
from displays.core.engine import Engine, identity_of
from displays.core.frames import render_batch
from displays.core.instances import Member
from feeds.cache import open_timetable
from feeds.demo import simulated_realtime
from feeds.realtime import Snapshot, parse_feed
from feeds.times import parse_instant
from firmware_bridge import codec
from firmware_bridge.protocol import PillarSession, Publish

AT = parse_instant("2026-11-25T08:00:05+01:00")
PREFIX = "stopcast/v1"
DISPLAYS = ("hbf-epaper", "uni-tft", "gons-led", "hbf-bwr")


def turn(engine: Engine, now: int, snapshots: list[Snapshot | None]) -> list[Publish]:
    """What one turn of a shell does: compose what changed, render it, let the engine accept it, tick."""
    composed = list(engine.composed(now, snapshots))
    rendered = render_batch([(board, r.spec, r.encoding, r.config.compress) for r, board in composed])
    out: list[Publish] = []
    for (runtime, board), frame in zip(composed, rendered):
        out += engine.accept(runtime, board, frame, now) or []
    return out + engine.tick(now)


def leaves(publishes: list[Publish]) -> dict[str, list[str]]:
    """display id -> the leaves it was sent on (frame, delta, board ...), of non-empty payloads."""
    out: dict[str, list[str]] = {}
    for p in publishes:
        parts = p.topic.split("/")
        if parts[2] == "displays" and p.payload:
            out.setdefault(parts[3], []).append("/".join(parts[4:]))
    return out


def cleared(publishes: list[Publish]) -> set[str]:
    return {p.topic for p in publishes if p.retain and not p.payload}


def test_the_engine_alone_through_config_minute_feed_ack_and_takeover(tmp_path: Path) -> None:
    config_path = write_config(tmp_path, "mqtt://unused", dt.date(2026, 11, 1), feeds={"realtime": ["rt.pb"]})
    config = load_config(config_path)
    timetable = open_timetable(tmp_path / "demo.zip", None, config.feeds.gtfs_max_bytes)
    engine = Engine(config, instance="a", started_at=AT, epoch=AT)
    engine.timetable = timetable
    assert engine.apply_config(config, AT).publishes == []  # nothing was shown before: nothing to clear
    snapshots: list[Snapshot | None] = [None]

    first = turn(engine, AT, snapshots)
    assert leaves(first) == {d: ["board", "frame"] for d in DISPLAYS}
    assert turn(engine, AT, snapshots) == []  # the same inputs and instant: nothing again

    # A config change: one display leaves; its retained frame, board and ticker are cleared, the rest stay.
    smaller = replace(config, displays=tuple(d for d in config.displays if d.id != "hbf-bwr"))
    changes = engine.apply_config(smaller, AT)
    assert changes.removed == ("hbf-bwr",) and changes.reconfigured
    assert f"{PREFIX}/displays/hbf-bwr/frame" in cleared(changes.publishes)
    assert f"{PREFIX}/displays/hbf-bwr/ticker" in cleared(changes.publishes)
    assert set(engine.displays) == set(DISPLAYS) - {"hbf-bwr"}

    # A pillar shows uni-tft's frame and acks it: the channel is synced, and the next minute sends it a delta.
    pillar = PillarSession("uni-tft", PREFIX)
    for p in first:
        if p.topic.startswith(f"{PREFIX}/displays/uni-tft/frame"):
            for reply in pillar.receive(p.topic, p.payload, AT):
                events, replies = engine.receive(reply.topic, reply.payload, AT)
                assert replies == []
    for p in pillar.hello():
        engine.receive(p.topic, p.payload, AT)
    assert engine.bridge.pillar("uni-tft") is not None and engine.bridge.pillar("uni-tft").online  # type: ignore[union-attr]
    assert engine.next_wake(AT) <= (AT // 60 + 1) * 60  # the minute at the latest

    # A minute: every countdown changes; the synced pillar gets a delta beside the retained frame.
    minute = (AT // 60 + 1) * 60
    sent = leaves(turn(engine, minute, snapshots))
    assert sent["uni-tft"][:3] == ["board", "frame", "delta"]
    assert sent["hbf-epaper"] == ["board", "frame"]

    # A feed update: the boards it touches are composed again with realtime.
    snapshot = parse_feed(simulated_realtime(timetable, minute), "rt.pb", minute)
    changed = leaves(turn(engine, minute, [snapshot]))
    assert changed and set(changed) <= set(engine.displays)
    assert all(not engine.displays[d].board.timetable_only for d in changed)  # type: ignore[union-attr]

    # A takeover: another instance of the deployment joins and takes some displays; when it goes offline they
    # come back with a higher epoch, announced at once, and their frames carry it.
    identity = identity_of(smaller)
    later = minute + 10
    joined = engine.on_member(
        Member("b", True, later, later, "", later, 30, identity.deployment, identity.displays), later
    )
    given = {d.id for d in smaller.displays} - set(engine.displays)
    assert joined.reconfigured and given, "rendezvous hashing gives 'b' some of the three displays"
    epoch = engine.bridge.epoch
    back = engine.on_member(Member("b", False, later, later, "", later + 5, 30, identity.deployment, identity.displays),
                            later + 5)
    assert set(engine.displays) == {d.id for d in smaller.displays}
    announced = [p for p in back.publishes if p.topic == f"{PREFIX}/service/instances/a"]
    assert announced and engine.bridge.epoch > epoch
    taken = turn(engine, later + 5, [snapshot])
    frames = [p for p in taken if p.topic.endswith("/frame") and p.payload and any(f"/{d}/" in p.topic for d in given)]
    assert frames and all(codec.parse_header(p.payload).epoch == engine.bridge.epoch for p in frames)


def test_the_engine_holds_at_most_twelve_attributes(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "mqtt://unused", dt.date(2026, 11, 1)))
    engine = Engine(config, instance="a", started_at=AT, epoch=AT)
    engine.apply_config(config, AT)
    assert len(vars(engine)) <= 12, sorted(vars(engine))
