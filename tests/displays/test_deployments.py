"""Issue 26 item 7 / issue 30 item 3: a deployment has an identity ([service] deployment and its display set):
two deployments on one broker and prefix never take each other's displays, and each names the other as a
problem on /healthz. `[mqtt] url = "embedded"` in `serve` runs the embedded broker (it used to connect to
127.0.0.1:1883 without a word)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import select
import socket
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
from brokerkit import mosquitto
from instancekit import Probe, displays, reap, spawn, until
from servicekit import write_config

from displays.core.instances import Identity, Member, Membership, display_set
from firmware_bridge import client as mqtt

ALPHA, BETA = displays(6, "a"), displays(6, "b")


def test_another_display_set_or_deployment_is_named_and_never_joined() -> None:
    mine = Identity("mainz", display_set(["a", "b"]))
    membership = Membership("me", mine)
    membership.update(Member("x", True, 5, at=100, ttl=30, deployment="mainz", displays=display_set(["a"])), 100)
    membership.update(Member("y", True, 5, at=100, ttl=30, deployment="bart", displays=mine.displays), 100)
    membership.update(Member("z", True, 5, at=100, ttl=30, deployment="mainz", displays=display_set(["b", "a"])), 100)
    assert membership.live() == ("me", "z")
    assert [p.split(" ")[1] for p in membership.problems()] == ["x", "y"]
    assert "display set" in membership.problems()[0] and "'bart'" in membership.problems()[1]
    assert membership.set_identity(Identity("mainz", display_set(["a"])))  # our config changed: judged again
    assert membership.live() == ("me", "x") and {p.split(" ")[1] for p in membership.problems()} == {"y", "z"}
    membership.update(Member("x", False), 101)  # it left: no longer a problem
    assert len(membership.problems()) == 2


@pytest.mark.broker
def test_two_deployments_on_one_broker_keep_their_own_displays(tmp_path: Path) -> None:
    with mosquitto(tmp_path / "broker") as broker:
        alpha = write_config(tmp_path / "alpha", broker.url, dt.date.today(), ALPHA, service={"deployment": "alpha"})
        # no name: its display set is its identity
        beta = write_config(tmp_path / "beta", broker.url, dt.date.today(), BETA)
        procs = {
            "alpha1": spawn(alpha, "alpha1", tmp_path / "cache"),
            "beta1": spawn(beta, "beta1", tmp_path / "cache"),
        }
        try:
            asyncio.run(_two(broker.port))
        finally:
            errors = reap(procs)
    for name, text in errors.items():
        assert "Traceback" not in text, (name, text[-3000:])


async def _two(port: int) -> None:
    async with Probe(port) as probe:
        await until(lambda: {"alpha1", "beta1"} <= probe.online(), 60, "both instances online")
        http = {name: probe.announced[name]["http"] for name in ("alpha1", "beta1")}
        async with aiohttp.ClientSession() as session:
            async def health(name: str) -> dict:
                async with session.get(http[name] + "/healthz") as answer:
                    return await answer.json()

            docs: dict[str, dict] = {}

            async def settled() -> bool:
                for name in http:
                    docs[name] = await health(name)
                return all(d["displays"] == 6 and d["status"] != "starting" and len(d["instance"]["live"]) == 1
                           and any("not joined" in p for p in d["problems"]) for d in docs.values())

            deadline = time.monotonic() + 60
            while not await settled():
                assert time.monotonic() < deadline, docs
                await asyncio.sleep(0.2)  # polling two real processes' /healthz, bounded by the deadline
        assert any("alpha1" in p and "'alpha', not ''" in p for p in docs["beta1"]["problems"]), docs["beta1"][
            "problems"
        ]
        assert any("beta1" in p and "not joined" in p for p in docs["alpha1"]["problems"]), docs["alpha1"]["problems"]
        await until(
            lambda: all(probe.frames.get(d["id"]) for d in ALPHA + BETA), 30, "every display of both has frames"
        )


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.broker
def test_serve_with_an_embedded_broker_runs_it_and_leaves_1883_alone(tmp_path: Path) -> None:
    prefix = f"embeddedtest{time.monotonic_ns()}"
    config = write_config(
        tmp_path / "cfg", "embedded", dt.date.today(), ALPHA[:2], mqtt={"url": "embedded", "prefix": prefix}
    )
    watched = _listening(1883)  # the machine's own broker, where the service used to go instead
    proc = spawn(config, "solo", tmp_path / "cache")
    try:
        port = _embedded_port(proc)
        asyncio.run(_frames_on(port, prefix, [d["id"] for d in ALPHA[:2]]))
    finally:
        errors = reap({"solo": proc})["solo"]
    assert "Traceback" not in errors, errors[-3000:]
    if watched:
        assert not asyncio.run(_retained_at_1883(prefix)), "frames went to the broker on 127.0.0.1:1883"


def _embedded_port(proc: subprocess.Popen, seconds: float = 60) -> int:
    """The port serve says its embedded broker listens on (read from its log, at most `seconds`)."""
    assert proc.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], max(0.0, deadline - time.monotonic()))
        line = proc.stderr.readline() if ready else ""
        if not line and (not ready or proc.poll() is not None):
            break
        seen.append(line)
        found = re.search(r"pillars connect to mqtt://127\.0\.0\.1:(\d+)", line)
        if found:
            return int(found.group(1))
    raise AssertionError("serve never said where its embedded broker listens:\n" + "".join(seen[-30:]))


async def _frames_on(port: int, prefix: str, ids: list[str]) -> None:
    async with Probe(port, prefix, version=3) as probe:
        await until(lambda: all(probe.frames.get(d) for d in ids), 60, "frames on the embedded broker")


async def _retained_at_1883(prefix: str) -> list[str]:
    """Retained messages under `prefix` on the machine's broker (there must be none)."""
    found: list[str] = []
    async with mqtt.connect(mqtt.BrokerSettings("127.0.0.1", 1883, client_id=f"watch-{time.monotonic_ns()}")) as client:
        await mqtt.subscribe_all(client, [f"{prefix}/#"])
        while (message := await mqtt.next_message(client, 1.0)) is not None:
            found.append(message[0])
    return found
