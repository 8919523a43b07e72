"""stopcast and the reference pillar against a three-node NATS cluster speaking MQTT 3.1.1 (JetStream keeps
the retained messages on every node): kill the node the service is connected to and the service goes on
through another; pillars on the other nodes keep showing current frames and get the next changes; a
pillar that connects after the kill still finds every retained frame. Service and pillars use QoS 0, as
docs/deploy.md says for NATS (its QoS 1 deliveries go through JetStream consumers that stall for tens of
seconds after a node is lost; the contract's own acks and resends carry the delivery)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from pathlib import Path

import pytest
from natskit import Cluster, nats_cluster
from servicekit import DISPLAYS, write_config

from displays.config.parse import load_config
from displays.shell.clock import SystemClock
from displays.shell.service import Service
from firmware_bridge import client as mqtt
from firmware_bridge.messages import Publish
from firmware_bridge.pillar import PillarSession
from firmware_bridge.simulator import follow

pytestmark = pytest.mark.broker
PREFIX = "stopcast/v1"


async def _round_trip(cluster: Cluster) -> None:
    first, last = cluster.nodes[0], cluster.nodes[-1]
    async with mqtt.connect(mqtt.BrokerSettings("127.0.0.1", first.mqtt_port, client_id="ready-w", version=3)) as c:
        await mqtt.publish_all(c, [Publish("stopcast-test/ready", b"1", True)], 3)
    async with mqtt.connect(mqtt.BrokerSettings("127.0.0.1", last.mqtt_port, client_id="ready-r", version=3)) as c:
        await mqtt.subscribe_all(c, ["stopcast-test/ready"])
        async for _topic, _payload in mqtt.messages(c):
            return


async def cluster_ready(cluster: Cluster, seconds: float = 60) -> None:
    """Until a retained message published on one node is delivered on another (JetStream has a leader)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            await asyncio.wait_for(_round_trip(cluster), 5)
            return
        except Exception as exc:  # noqa: BLE001 - not ready yet, whatever it says
            if time.monotonic() > deadline:
                raise AssertionError(f"the NATS cluster was not ready within {seconds} s: {exc}") from None
            await asyncio.sleep(0.2)  # JetStream elects its leaders; bounded by the deadline


async def pillar(port: int, session: PillarSession, stop: asyncio.Event, name: str = "") -> None:
    settings = mqtt.BrokerSettings(
        "127.0.0.1", port, client_id=name or f"pillar-{session.display_id}", version=3, qos=0
    )

    async def connected(client) -> None:  # type: ignore[no-untyped-def]
        await follow(client, session, time.time, 3)

    staying = asyncio.create_task(mqtt.keep_connected(settings, session.will(), connected, asyncio.sleep, lambda: 0.5))
    await stop.wait()
    await mqtt.stop(staying)


async def until(condition, seconds: float, what: str) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not within {seconds} s: {what}")
        await asyncio.sleep(0.05)  # the pillars and the service run meanwhile; bounded by `seconds`
    return time.monotonic() - started


def test_the_service_survives_losing_its_node_of_a_nats_cluster(tmp_path: Path) -> None:
    with nats_cluster(tmp_path / "nats") as cluster:
        n1, n2, n3 = cluster.nodes
        config_path = write_config(tmp_path / "cfg", n1.url, dt.date.today(),
                                   mqtt={"url": n1.url, "failover": [n2.url, n3.url], "version": 3, "qos": 0})
        asyncio.run(scenario(cluster, config_path, tmp_path))


async def scenario(cluster: Cluster, config_path: Path, tmp_path: Path) -> None:
    n1, n2, n3 = cluster.nodes
    await cluster_ready(cluster)
    service = Service(load_config(config_path), SystemClock(), config_path=config_path, cache_dir=tmp_path / "cache")
    runner = asyncio.create_task(service.run())
    stop = asyncio.Event()
    ids = [d["id"] for d in DISPLAYS][:3]  # the fourth display's pillar connects after the kill
    sessions = {d: PillarSession(d, PREFIX) for d in ids}
    nodes = {d: (n2, n3)[i % 2] for i, d in enumerate(ids)}  # pillars on the nodes that will survive
    pillars = [asyncio.create_task(pillar(nodes[d].mqtt_port, sessions[d], stop)) for d in ids]

    def all_current() -> bool:
        now = time.time()
        return all((r := service.displays[d].frame) is not None and sessions[d].hash == r.hash
                   and sessions[d].is_current(int(now)) for d in ids)

    try:
        await until(all_current, 30, "every pillar shows its display's frame")
        n1.kill()  # the node the service is connected to
        took = await until(lambda: service.broker_connected and service.link is not None
                           and service.link.reconnects > 0, 30, "the service reconnects through another node")
        assert took < 30
        renamed = load_config(config_path)
        renamed = dataclasses.replace(renamed, displays=tuple(dataclasses.replace(d, name=f"Neu {d.id}")
                                                              for d in renamed.displays))
        before = {d: service.displays[d].frame.hash for d in ids}  # type: ignore[union-attr]
        service.change_config(renamed)  # every board changes: the changes must reach the pillars
        await until(lambda: all((r := service.displays[d].frame) is not None and r.hash != before[d] for d in ids), 30,
                    "new frames rendered")
        await until(all_current, 30, "every pillar shows the new frame")
        late = PillarSession("hbf-bwr", PREFIX)
        pillars.append(asyncio.create_task(pillar(n3.mqtt_port, late, stop, "late-pillar")))
        await until(lambda: late.hash == service.displays["hbf-bwr"].frame.hash, 30,  # type: ignore[union-attr]
                    "a pillar connecting after the kill finds the retained frame")
    finally:
        stop.set()
        await asyncio.gather(*pillars, return_exceptions=True)
        service.stop()
        await asyncio.wait_for(runner, 15)
