"""Issue 26 item 4: epochs and sequence numbers stay in range whatever other instances announce; an
announcement more than a day ahead of the clock is ignored; an encode error never leaves the bridge's tick."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import subprocess
import time
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from brokerkit import mosquitto
from instancekit import PREFIX, Probe, displays, publish, reap, spawn, until
from servicekit import rename_displays, write_config

from displays.core.instances import MAX_EPOCH, Member, Membership
from firmware_bridge.messages import Frame
from firmware_bridge.protocol import Bridge

DISPLAYS = displays(6)
IDS = [d["id"] for d in DISPLAYS]


def test_an_epoch_far_ahead_of_the_clock_is_ignored_and_ours_never_leaves_32_bits() -> None:
    now = 1_800_000_000
    membership = Membership("me")
    membership.update(Member("evil", True, (1 << 32) - 1, at=now), now)
    assert membership.highest_epoch == 0 and membership.live() == ("me",)  # not believed, not joined
    assert "evil" in membership.refused and "ahead" in membership.refused["evil"]
    membership.update(Member("ok", True, now + 100, at=now), now)
    assert membership.highest_epoch == now + 100 and membership.live() == ("me", "ok")
    bridge = Bridge(PREFIX, 4096, 600, epoch=now)
    bridge.set_epoch(MAX_EPOCH + 5)
    assert bridge.epoch == MAX_EPOCH


def _frame(value: int) -> Frame:
    return Frame.of(np.full((8, 16), value, dtype=np.uint8), "mono", "mono1", False)


def test_an_encode_error_never_leaves_the_bridges_tick() -> None:
    bridge = Bridge(PREFIX, 4096, 120)
    bridge.show("a", _frame(0), 1000)
    bridge.show("b", _frame(1), 1000)
    bridge.channels["a"].epoch = 1 << 40  # whatever put it there, packing its header fails
    publishes = bridge.tick(1000 + 100)  # both frames' validity is due for an extension
    assert {p.topic for p in publishes} >= {f"{PREFIX}/displays/b/frame"}
    assert "a" in bridge.failures and "b" not in bridge.failures


@pytest.mark.broker
def test_a_retained_announcement_with_epoch_2_32_minus_1_neither_stops_frames_nor_the_process(tmp_path: Path) -> None:
    with mosquitto(tmp_path / "broker") as broker:
        config = write_config(tmp_path / "cfg", broker.url, dt.date.today(), DISPLAYS,
                              mqtt={"url": broker.url, "frame_ttl": 60})
        procs = {"a": spawn(config, "a", tmp_path / "cache")}
        try:
            asyncio.run(_overflow(broker.port, config, procs["a"]))
            assert procs["a"].poll() is None, "the service exited"
        finally:
            errors = reap(procs)
    assert "Traceback" not in errors["a"], errors["a"][-3000:]


async def _overflow(port: int, config: Path, service: subprocess.Popen) -> None:
    async with Probe(port) as probe:
        await until(lambda: all(probe.frames.get(d) for d in IDS), 60, "every display's first frame")
        await until(lambda: bool(probe.announced.get("a", {}).get("http")), 60, "the service announces its HTTP side")
        topic = f"{PREFIX}/service/instances/evil"
        await publish(port, topic, b'{"state": "online", "since": 1, "epoch": 4294967295, "http": ""}')
        await _refused(f"{probe.announced['a']['http']}/healthz", "evil", 30)  # read, and not believed
        cleared = time.time()
        await publish(port, topic, b"")
        rename_displays(config)  # every board changes: the service publishes every display at once after SIGHUP
        service.send_signal(signal.SIGHUP)
        await until(lambda: all(probe.framed_since(d, cleared) for d in IDS), 75,
                    "every display gets frames after the fake instance went")
        for display_id in IDS:
            for _, epoch, seq in probe.frames[display_id]:
                assert epoch <= time.time() + 86400 and seq < 1 << 32, (display_id, epoch, seq)


async def _refused(url: str, name: str, seconds: float) -> None:
    """Until the service's /healthz names instance `name` as a problem because its epoch is too far ahead."""
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(url) as answer:
                problems = (await answer.json())["problems"]
            if any(p.startswith(f"instance {name} ") and "ahead of this clock" in p for p in problems):
                return
            assert time.monotonic() < deadline, f"/healthz did not name instance {name} within {seconds} s: {problems}"
            await asyncio.sleep(0.1)  # polling the service's health, bounded by the deadline
