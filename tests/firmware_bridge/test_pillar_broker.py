"""A pillar whose MQTT client takes small packets, against a real Mosquitto: the broker drops what is larger
than the Maximum Packet Size the pillar announced in its CONNECT, without telling anyone (issue 25, fault 5).
Its status announces the same limit and the service chunks that display's messages to fit."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import aiomqtt
import pytest
from brokerkit import mosquitto
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from servicekit import write_config
from speckit import spec

from displays.config.parse import load_config
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from feeds.times import parse_instant
from firmware_bridge.protocol import PillarSession
from firmware_bridge.simulator import follow

pytestmark = pytest.mark.broker
PREFIX = "stopcast/v1"
LIMIT = 8192


async def small_pillar(port: int, session: PillarSession, clock, announce: bool) -> None:  # type: ignore[no-untyped-def]
    connect = Properties(PacketTypes.CONNECT)
    connect.MaximumPacketSize = LIMIT
    client = aiomqtt.Client("127.0.0.1", port, identifier=f"pillar-{session.display_id}", properties=connect,
                            protocol=aiomqtt.ProtocolVersion.V5,
                            will=aiomqtt.Will(session.will().topic, session.will().payload, 1, True))
    async with client:
        await follow(client, session, clock, 5, details={"max_packet": LIMIT} if announce else None)


@spec("P-3")
@pytest.mark.parametrize("announce", [True, False])
def test_a_pillar_with_a_small_maximum_packet_size_gets_its_frame_when_its_status_says_so(tmp_path: Path,
                                                                                          announce: bool) -> None:
    at = parse_instant("2026-11-25T08:00:05+01:00")
    display = [{"id": "tft-plain", "stops": ["UNI"], "layout": "tft-320x240", "compress": False}]  # 153,600 B

    async def scenario(port: int, config: Path) -> bool:
        clock = FixedClock(at)
        service = Service(load_config(config), clock, cache_dir=tmp_path / "cache")
        runner = asyncio.create_task(service.run())
        session = PillarSession("tft-plain", PREFIX)
        pillar = asyncio.create_task(small_pillar(port, session, clock.now, announce))
        try:
            async with asyncio.timeout(15 if announce else 6):  # (dark: no need to wait long)
                while session.hash is None or session.hash != service.bridge.channels["tft-plain"].current.hash:
                    await asyncio.sleep(0.05)  # bounded by the timeout: messages from the broker
            return True
        except TimeoutError:
            return False
        finally:
            service.stop()
            await asyncio.wait_for(runner, 10)
            pillar.cancel()
            await asyncio.gather(pillar, return_exceptions=True)

    with mosquitto(tmp_path / "broker") as broker:
        config = write_config(tmp_path / "cfg", broker.url, dt.date(2026, 11, 1), display)
        shown = asyncio.run(scenario(broker.port, config))
    assert shown is announce  # without the status field the broker drops every frame and the pillar stays dark


@spec("P-21", "P-22")
def test_a_forged_offline_status_and_null_ack_do_not_freeze_a_pillar_on_a_real_broker(tmp_path: Path) -> None:
    at = parse_instant("2026-11-25T08:00:05+01:00")
    display = [{"id": "hbf-epaper", "stops": ["HBF"], "layout": "epaper-800x480"}]

    async def scenario(port: int, config: Path) -> tuple[int | None, int | None]:
        clock = FixedClock(at)
        service = Service(load_config(config), clock, cache_dir=tmp_path / "cache")
        runner = asyncio.create_task(service.run())
        session = PillarSession("hbf-epaper", PREFIX)
        pillar = asyncio.create_task(plain_pillar(port, session, clock.now))
        channel = None
        try:
            async with asyncio.timeout(30):
                while not synced(channel := service.bridge.channels.get("hbf-epaper")):
                    await asyncio.sleep(0.05)  # bounded by the timeout: the pillar syncs
            hostile = aiomqtt.Client("127.0.0.1", port, identifier="hostile", protocol=aiomqtt.ProtocolVersion.V5)
            async with hostile:  # anyone on a broker without the ACL (or with the pillar's credentials)
                async with asyncio.timeout(20):
                    while channel.pillar_hash is not None:  # the pillar acks its first frame twice (the retained one
                        # and the whole one on delta): its second ack may come after a forged one, so forge again
                        await hostile.publish(
                            f"{PREFIX}/displays/hbf-epaper/ack", b'{"hash": null, "need_full": false}', qos=1
                        )
                        await asyncio.sleep(0.05)  # bounded: the service took the forged null ack
                await hostile.publish(
                    f"{PREFIX}/displays/hbf-epaper/status", b'{"state": "offline"}', qos=1, retain=True
                )
                async with asyncio.timeout(20):
                    while channel.online:
                        await asyncio.sleep(0.05)  # bounded: and the forged offline status
            before = channel.current.hash
            clock.advance(60)  # the clock and a countdown move on: a new frame
            service.wake.set()
            async with asyncio.timeout(10):
                while channel.current.hash == before:
                    await asyncio.sleep(0.05)  # bounded: the service renders the next minute
            try:
                async with asyncio.timeout(10):
                    while session.hash != channel.current.hash:
                        await asyncio.sleep(0.05)  # bounded: the delta reaches the pillar
            except TimeoutError:
                pass
            return session.hash, channel.current.hash
        finally:
            service.stop()
            await asyncio.wait_for(runner, 10)
            pillar.cancel()
            await asyncio.gather(pillar, return_exceptions=True)

    with mosquitto(tmp_path / "broker") as broker:
        config = write_config(tmp_path / "cfg", broker.url, dt.date(2026, 11, 1), display)
        shown, current = asyncio.run(scenario(broker.port, config))
    assert shown == current  # not frozen on the departures of a minute ago


def synced(channel) -> bool:  # type: ignore[no-untyped-def]
    return channel is not None and channel.current is not None and channel.acked_hash == channel.current.hash


async def plain_pillar(port: int, session: PillarSession, clock) -> None:  # type: ignore[no-untyped-def]
    client = aiomqtt.Client(
        "127.0.0.1",
        port,
        identifier=f"pillar-{session.display_id}",
        protocol=aiomqtt.ProtocolVersion.V5,
        will=aiomqtt.Will(session.will().topic, session.will().payload, 1, True),
    )
    async with client:
        await follow(client, session, clock, 5)


@spec("P-2", "P-46")
def test_serve_once_through_a_broker_capped_at_1024_bytes_leaves_every_frame_and_board(tmp_path: Path) -> None:
    """The C pillar's broker had max_packet_size 2048: the 3 KB board JSON made it drop the service in a loop."""
    from servicekit import DISPLAYS

    from displays.cli.cli import main
    from firmware_bridge import client as mqtt

    cap = 1024
    at = int(parse_instant("2026-11-25T08:00:05+01:00"))
    with mosquitto(tmp_path / "broker", extra=(f"max_packet_size {cap}",)) as broker:
        config = write_config(
            tmp_path / "cfg", broker.url, dt.date(2026, 11, 1), mqtt={"url": broker.url, "max_packet": cap}
        )
        assert (
            main(["serve", "--config", str(config), "--once", "--at", str(at), "--cache-dir", str(tmp_path / "cache")])
            == 0
        )

        async def retained() -> dict[str, bytes]:
            found: dict[str, bytes] = {}
            async with mqtt.connect(mqtt.BrokerSettings("127.0.0.1", broker.port, client_id="probe")) as client:
                await mqtt.subscribe_all(client, [f"{PREFIX}/displays/#", f"{PREFIX}/service/status"])
                while (message := await mqtt.next_message(client, 2.0)) is not None:
                    if message[0] == f"{PREFIX}/service/status":
                        break  # retained messages come in the order of the subscriptions: this one is last
                    found[message[0]] = message[1]
            return found

        found = asyncio.run(retained())
    for display in DISPLAYS:
        assert f"{PREFIX}/displays/{display['id']}/board" in found, display["id"]
        assert any(t.startswith(f"{PREFIX}/displays/{display['id']}/frame") for t in found), display["id"]
