"""Issue 26 item 13: a pillar may publish huge messages on its own status topic (the generated ACL allows
it); the service never reads them into memory (MQTT 5 Maximum Packet Size) and refuses large pillar messages
before parsing them."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from brokerkit import mosquitto
from instancekit import PREFIX, displays, reap, spawn
from servicekit import write_config

from firmware_bridge import client as mqtt
from firmware_bridge.acl import mosquitto_acl
from firmware_bridge.protocol import Bridge, Rejected

pytestmark = pytest.mark.broker
DISPLAYS = displays(3)
HUGE = 40 * 1024 * 1024
COUNT = 4


def peak_rss_kb(pid: int) -> int:
    """The process's peak resident memory (VmHWM): a message read and freed again still raised it."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def test_a_large_pillar_message_is_rejected_unread() -> None:
    bridge = Bridge(PREFIX, 4096, 600)
    bridge.expect(["d00"])
    events, replies = bridge.receive(
        f"{PREFIX}/displays/d00/status", b'{"state": "online", "x": "' + b"y" * 5000 + b'"}', 1
    )
    assert isinstance(events[0], Rejected) and "exceeds" in events[0].reason and not replies


def test_huge_status_messages_under_the_acl_leave_the_service_s_memory_alone(tmp_path: Path) -> None:
    users = {"stopcast": "service-pass", "d00": "pillar-pass"}
    acl = mosquitto_acl(PREFIX, "stopcast", [(d["id"], d["id"]) for d in DISPLAYS])
    with mosquitto(tmp_path / "broker", users=users, acl=acl) as broker:
        config = write_config(tmp_path / "cfg", broker.url, dt.date.today(), DISPLAYS,
                              mqtt={"url": broker.url, "username": "stopcast", "password": "service-pass"})
        procs = {"a": spawn(config, "a", tmp_path / "cache")}
        try:
            grew = asyncio.run(_flood(broker.port, procs["a"].pid))
            assert procs["a"].poll() is None
        finally:
            errors = reap(procs)
    assert "Traceback" not in errors["a"], errors["a"][-3000:]
    assert grew < 30 * 1024, f"peak RSS grew by {grew // 1024} MB after {COUNT} messages of {HUGE >> 20} MB"


async def _flood(port: int, pid: int) -> int:
    pillar = mqtt.BrokerSettings("127.0.0.1", port, username="d00", password="pillar-pass", client_id="d00")
    service = mqtt.BrokerSettings("127.0.0.1", port, username="stopcast", password="service-pass", client_id="watch")
    async with mqtt.connect(service) as watcher:
        await mqtt.subscribe_all(watcher, [f"{PREFIX}/service/instances/+"])
        http = await _http_of(watcher)
    async with aiohttp.ClientSession() as session:
        await _until_fw(session, http, None)
        await _until_rendered(session, http)  # its start-up (first renders) must not count as the flood's
        before = peak_rss_kb(pid)
        async with mqtt.connect(pillar) as client:
            topic = f"{PREFIX}/displays/d00/status"
            for _ in range(COUNT):  # its own topic: the ACL lets it
                await mqtt.publish_all(client, [mqtt.Publish(topic, b"{" + b" " * HUGE + b"}", False)], 5)
            for _ in range(25):  # more than Mosquitto's 20 in flight: dropped ones must not hold them
                await mqtt.publish_all(client, [mqtt.Publish(topic, b"{" + b" " * 100_000 + b"}", False)], 5)
            await mqtt.publish_all(client, [mqtt.Publish(topic, b'{"state": "online", "fw": "marker"}', True)], 5)
        await _until_fw(session, http, "marker")  # what came after the huge ones was read: they were not queued
        return peak_rss_kb(pid) - before


async def _http_of(client) -> str:  # type: ignore[no-untyped-def]
    import json

    async with asyncio.timeout(60):
        async for _, payload in mqtt.messages(client):
            doc = json.loads(payload) if payload else {}
            if doc.get("state") == "online" and doc.get("http"):
                return doc["http"]
    raise AssertionError("no instance announced itself")


async def _until_fw(session: aiohttp.ClientSession, http: str, fw: str | None) -> None:
    def seen(doc: dict) -> bool:
        shown = {d["id"]: d.get("pillar", {}).get("fw") for d in doc.get("displays", [])}
        return (fw is None and len(shown) == len(DISPLAYS)) or (fw is not None and shown.get("d00") == fw)

    await _until(session, http + "/dashboard.json", seen)


async def _until_rendered(session: aiohttp.ClientSession, http: str) -> None:
    await _until(session, http + "/healthz",
                 lambda doc: doc.get("displays") == len(DISPLAYS) and doc.get("waiting_for_first_frame") == [])


async def _until(session: aiohttp.ClientSession, url: str, done: Callable[[dict], bool]) -> None:
    """Polls a real process's JSON page until `done` says so, for at most 60 s."""
    deadline = time.monotonic() + 60
    while True:
        async with session.get(url) as answer:
            doc = await answer.json() if answer.status == 200 else {}
        if done(doc):
            return
        assert time.monotonic() < deadline, doc
        await asyncio.sleep(0.2)  # polling a real process, bounded by the deadline
