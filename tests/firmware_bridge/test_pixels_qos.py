"""Issue 28's lighter publishing, the QoS: a frame's pixels (the retained frame, its chunks, `delta`) go at QoS 0,
without a PUBACK each, because the pillar's acks and the service's answers carry their delivery; what nothing else
carries (the board JSON, clears of retained topics, the service's status) stays at QoS 1. Against a real Mosquitto,
a pillar that missed a delta (it was away when it went out) is brought back in sync by the contract alone."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import aiomqtt
import pytest
from boardkit import NOW
from brokerkit import mosquitto
from servicekit import write_config
from speckit import spec
from test_protocol import frame_at, leaves, pair

from displays.config.parse import load_config
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from feeds.times import parse_instant
from firmware_bridge.protocol import PillarSession
from firmware_bridge.simulator import follow

PREFIX = "stopcast/v1"


def _qos(publishes: list) -> dict[str, set[int]]:
    """The QoS of each leaf topic's non-empty messages (empty ones, which clear a retained topic, under 'clear')."""
    out: dict[str, set[int]] = {}
    for leaf, publish in zip(leaves(publishes), publishes, strict=True):
        out.setdefault(leaf.split("/")[0] if publish.payload else "clear", set()).add(publish.qos)
    return out


@spec("P-60")
def test_pixels_go_at_qos_0_and_what_nothing_else_carries_at_qos_1() -> None:
    bridge, pillar, link = pair(max_packet=4096)  # the e-paper frame in several retained chunks
    link.connect_pillar(NOW)
    first = bridge.show("hbf-a", frame_at(NOW), NOW)
    link.deliver(first, NOW)
    assert _qos(first) == {"board": {1}, "frame": {0}, "clear": {1}}  # the unchunked `frame` cleared at QoS 1
    tick = bridge.show("hbf-a", frame_at(NOW + 60), NOW + 60)
    assert _qos(tick) == {"board": {1}, "delta": {0}, "frame": {0}}
    assert {p.qos for p in bridge.remove("hbf-a")} == {1}  # removals
    assert bridge.service_status(True, NOW).qos == 1


def _in_sync(service: Service, session: PillarSession, display: str) -> bool:
    channel = service.bridge.channels.get(display)
    return (channel is not None and channel.current is not None and session.hash == channel.current.hash
            and channel.acked_hash == channel.current.hash)


async def _pillar(port: int, session: PillarSession, clock) -> None:  # type: ignore[no-untyped-def]
    client = aiomqtt.Client("127.0.0.1", port, identifier=f"pillar-{session.display_id}",
                            protocol=aiomqtt.ProtocolVersion.V5,
                            will=aiomqtt.Will(session.will().topic, session.will().payload, 1, True))
    async with client:
        await follow(client, session, clock, 5)


async def _until(condition, seconds: float) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.05)  # bounded by the timeout: messages through the broker


@pytest.mark.broker
@spec("P-60")
def test_a_pillar_that_missed_a_qos_0_delta_is_brought_back_in_sync_on_a_real_broker(tmp_path: Path) -> None:
    at = parse_instant("2026-11-25T08:00:05+01:00")
    display = "hbf-epaper"
    seen: dict[str, set[int]] = {}  # leaf topic -> the QoS a QoS 1 subscriber received it at
    deltas: list[bytes] = []

    async def spy(port: int) -> None:
        async with aiomqtt.Client("127.0.0.1", port, identifier="spy", protocol=aiomqtt.ProtocolVersion.V5) as c:
            await c.subscribe(f"{PREFIX}/displays/{display}/#", qos=1)
            async for message in c.messages:
                if message.payload:
                    leaf = str(message.topic).removeprefix(f"{PREFIX}/displays/{display}/").split("/")[0]
                    seen.setdefault(leaf, set()).add(message.qos)
                    if leaf == "delta":
                        deltas.append(bytes(message.payload))  # type: ignore[arg-type]

    async def scenario(port: int, config: Path) -> None:
        clock = FixedClock(at)
        service = Service(load_config(config), clock, cache_dir=tmp_path / "cache")
        watcher = asyncio.create_task(spy(port))
        runner = asyncio.create_task(service.run())
        session = PillarSession(display, PREFIX)
        pillar = asyncio.create_task(_pillar(port, session, clock.now))
        try:
            await _until(lambda: _in_sync(service, session, display), 30)
            pillar.cancel()  # the pillar goes away (a clean disconnect: its status still says online)
            await asyncio.gather(pillar, return_exceptions=True)
            shown, before = session.hash, len(deltas)
            clock.advance(60)  # the next minute: a delta goes out while the pillar is away
            service.wake.set()
            await _until(lambda: service.bridge.channels[display].current.hash != shown, 10)
            await _until(lambda: len(deltas) > before, 10)
            assert session.hash == shown  # it missed that delta
            pillar = asyncio.create_task(_pillar(port, session, clock.now))  # it comes back, showing the old frame
            await _until(lambda: _in_sync(service, session, display), 30)  # its ack brings what it lacks
        finally:
            service.stop()
            await asyncio.wait_for(runner, 10)
            for task in (pillar, watcher):
                task.cancel()
            await asyncio.gather(pillar, watcher, return_exceptions=True)

    with mosquitto(tmp_path / "broker") as broker:
        config = write_config(tmp_path / "cfg", broker.url, dt.date(2026, 11, 1),
                              [{"id": display, "stops": ["HBF"], "layout": "epaper-800x480"}])
        asyncio.run(scenario(broker.port, config))
    assert seen["delta"] == {0} and seen["frame"] == {0}  # no PUBACK for pixels
    assert seen["board"] == {1}
