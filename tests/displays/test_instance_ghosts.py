"""Issue 26 item 5: an announcement proves liveness only for a while (heartbeats with expiry: a stale one is a
dead instance's), and an instance that is stopping never announces itself online again. Two instances
stopped together with SIGTERM, then a fresh one: it renders every display."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
import time
from pathlib import Path

import pytest
from brokerkit import mosquitto
from instancekit import PREFIX, Probe, displays, publish, reap, spawn, until
from servicekit import write_config

from displays.core.instances import display_set, owner_of

pytestmark = pytest.mark.broker
DISPLAYS = displays(12)
IDS = [d["id"] for d in DISPLAYS]
ROUNDS = 5


def _config(tmp_path: Path, url: str) -> Path:
    return write_config(tmp_path / "cfg", url, dt.date.today(), DISPLAYS, mqtt={"url": url, "frame_ttl": 60},
                        service={"heartbeat": 1})


def _rendered_by(probe: Probe, name: str, since: float) -> set[str]:
    """The displays that got a frame carrying `name`'s announced epoch since `since`."""
    epoch = probe.announced.get(name, {}).get("epoch")
    return {d for d in IDS if any(e == epoch for _, e, _ in probe.framed_since(d, since))}


def test_two_instances_stopped_together_leave_no_ghost_and_a_fresh_one_renders_every_display(tmp_path: Path) -> None:
    with mosquitto(tmp_path / "broker") as broker:
        config = _config(tmp_path, broker.url)
        errors = asyncio.run(_rolling_stops(broker.port, config, tmp_path))
    for name, text in errors.items():
        assert "Traceback" not in text, (name, text[-3000:])


async def _rolling_stops(port: int, config: Path, tmp_path: Path) -> dict[str, str]:
    errors: dict[str, str] = {}
    async with Probe(port) as probe:
        for round_ in range(ROUNDS):
            await _round(probe, round_, config, tmp_path, errors)
    return errors


async def _round(probe: Probe, round_: int, config: Path, tmp_path: Path, errors: dict[str, str]) -> None:
    a, b = f"a{round_}", f"b{round_}"
    procs = {a: spawn(config, a, tmp_path / "cache"), b: spawn(config, b, tmp_path / "cache")}
    try:
        await until(lambda: {a, b} <= probe.online(), 60, "both instances online")
        await until(lambda: len(_rendered_by(probe, a, 0) | _rendered_by(probe, b, 0)) == len(IDS), 60,
                    "every display rendered by the pair")
        stopped_at = int(time.time())
        for proc in procs.values():  # a rolling stop: both at once
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            await asyncio.to_thread(proc.wait, 20)
    finally:
        errors.update(reap(procs))
    # never online again once stopping (a heartbeat sent just before the signal may stand: it goes stale)
    late = {n: probe.announced[n] for n in (a, b) if n in probe.online() and probe.announced[n]["at"] > stopped_at}
    assert not late, (round_, late, {n: errors[n][-1500:] for n in (a, b)})
    fresh = f"c{round_}"
    procs = {fresh: spawn(config, fresh, tmp_path / "cache")}
    try:
        started = time.time()
        await until(lambda: _rendered_by(probe, fresh, started) == set(IDS), 60,
                    f"round {round_}: the fresh instance renders every display")
    finally:
        procs[fresh].send_signal(signal.SIGTERM)
        await asyncio.to_thread(procs[fresh].wait, 20)
        errors.update(reap(procs))


def test_a_stale_announcement_is_a_dead_instance(tmp_path: Path) -> None:
    """A retained announcement that is not renewed (a process frozen, a network cut that kept the session)
    takes displays only until it goes stale; one that is already stale takes none."""
    with mosquitto(tmp_path / "broker") as broker:
        config = _config(tmp_path, broker.url)
        procs: dict = {}
        try:
            asyncio.run(_stale(broker.port, config, tmp_path, procs))
        finally:
            errors = reap(procs)
    assert "Traceback" not in errors["c"], errors["c"][-3000:]


FROZEN_TTL = 5  # seconds the frozen instance's announcements hold; renewed each second while it runs (one that is
# late by a few seconds on a busy machine must not make it stale before it freezes)


def _ghost(at: int, ttl: int, since: int) -> bytes:
    """An announcement of an instance of c's deployment, made at `at` and holding for `ttl` seconds."""
    return json.dumps({"state": "online", "since": since, "epoch": since, "http": "", "at": at, "ttl": ttl,
                       "deployment": "", "displays": display_set(IDS)}).encode()


async def _heartbeats(port: int, since: int, freeze: asyncio.Event) -> int:
    """The frozen instance while it still runs: an announcement every second until `freeze`; when its last one
    was made."""
    while True:
        at = int(time.time())
        await publish(port, f"{PREFIX}/service/instances/frozen", _ghost(at, FROZEN_TTL, since))  # acknowledged
        try:  # a heartbeat's period, ended early by the freeze
            await asyncio.wait_for(freeze.wait(), 1)
            return at
        except TimeoutError:
            pass


async def _stale(port: int, config: Path, tmp_path: Path, procs: dict) -> None:
    now = int(time.time())
    await publish(port, f"{PREFIX}/service/instances/old", _ghost(now - 600, 30, now - 600))  # stale long ago
    freeze = asyncio.Event()
    beating = asyncio.create_task(_heartbeats(port, now - 60, freeze))  # live (retained) before c starts
    try:
        async with Probe(port) as probe:
            await until(lambda: probe.online() >= {"old", "frozen"}, 10, "both retained announcements")
            procs["c"] = spawn(config, "c", tmp_path / "cache")
            frozen = {d for d in IDS if owner_of(d, ("c", "frozen")) == "frozen"}
            assert frozen and len(frozen) < len(IDS)
            await until(lambda: _rendered_by(probe, "c", 0) >= set(IDS) - frozen, 60,
                        "c renders every display but the live ghost's (the stale one counts for nothing)")
            freeze.set()  # it stops renewing its announcement now
            stale_at = await beating + FROZEN_TTL  # its last announcement held until then
            await until(lambda: _rendered_by(probe, "c", 0) >= frozen
                        and all(probe.frames[d][-1][1] in probe.epochs["c"] for d in IDS), 60,
                        "c renders the frozen instance's displays once its announcement went stale (and all others)")
            for display_id in frozen:  # never while it was live (whenever c came up)
                first = min(at for at, e, _ in probe.frames[display_id] if e in probe.epochs["c"])
                assert first >= stale_at - 1, (display_id, first, stale_at)
    finally:
        beating.cancel()
        await asyncio.gather(beating, return_exceptions=True)
