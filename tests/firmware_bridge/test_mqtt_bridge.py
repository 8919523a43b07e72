"""The bridge against a real Mosquitto: serve --once, the reference pillar, deltas, the ACL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from brokerkit import mosquitto
from PIL import Image
from servicekit import DISPLAYS, write_config
from speckit import spec

from displays.cli.cli import main
from displays.config.parse import load_config
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from feeds.times import parse_instant
from firmware_bridge import client as mqtt
from firmware_bridge import codec
from firmware_bridge.protocol import PillarSession
from firmware_bridge.simulator import follow

pytestmark = pytest.mark.broker
PREFIX = "stopcast/v1"


def now_minute() -> int:
    """The current minute (real time: pillars check frame validity against their own clock)."""
    return int(time.time()) // 60 * 60 + 5


async def retained(port: int, pattern: str, expected: int, username: str = "", password: str = "",
                   fence: str | None = None) -> dict[str, bytes]:
    """The retained messages under a pattern: until `expected` arrived, or until the retained message
    of `fence` (subscribed after the pattern) arrives, which the broker sends after the pattern's."""
    found: dict[str, bytes] = {}
    settings = mqtt.BrokerSettings("127.0.0.1", port, username=username, password=password, client_id="probe")
    async with mqtt.connect(settings) as client:
        await mqtt.subscribe_all(client, [pattern] + ([fence] if fence else []))

        async def collect() -> None:
            async for topic, payload in mqtt.messages(client):
                if topic == fence:
                    return
                if payload:
                    found[topic] = payload
                if len(found) >= expected:
                    return

        try:
            await asyncio.wait_for(collect(), 10)
        except asyncio.TimeoutError:
            pass
    return found


def test_serve_once_leaves_one_retained_frame_per_display_and_the_pillar_shows_the_render(tmp_path: Path) -> None:
    at = now_minute()
    with mosquitto(tmp_path / "broker") as broker:
        config = write_config(tmp_path / "cfg", broker.url, dt.date.fromtimestamp(at))
        assert (
            main(["serve", "--config", str(config), "--once", "--at", str(at), "--cache-dir", str(tmp_path / "cache")])
            == 0
        )
        frames = asyncio.run(retained(broker.port, f"{PREFIX}/displays/+/frame/#", len(DISPLAYS)))
        assert sorted(frames) == sorted(f"{PREFIX}/displays/{d['id']}/frame" for d in DISPLAYS)
        status = asyncio.run(retained(broker.port, f"{PREFIX}/service/status", 1))
        assert json.loads(status[f"{PREFIX}/service/status"])["state"] == "offline"  # --once has finished
        for display in ("hbf-epaper", "uni-tft", "gons-led", "hbf-bwr"):
            shown = tmp_path / f"{display}-pillar.png"
            assert main(["pillar-sim", "--broker", broker.url, "--display", display, "--once", "--timeout", "10",
                         "--output", str(shown)]) == 0
            said = asyncio.run(retained(broker.port, f"{PREFIX}/displays/{display}/status", 1))
            assert json.loads(said[f"{PREFIX}/displays/{display}/status"])["state"] == "offline"  # a clean exit says so
            rendered = tmp_path / f"{display}-render.png"
            assert (
                main(
                    [
                        "render",
                        "--config",
                        str(config),
                        "--display",
                        display,
                        "--at",
                        str(at),
                        "--output",
                        str(rendered),
                        "--cache-dir",
                        str(tmp_path / "cache"),
                    ]
                )
                == 0
            )
            a = np.asarray(Image.open(shown).convert("RGB"))
            b = np.asarray(Image.open(rendered).convert("RGB"))
            assert a.shape == b.shape and np.array_equal(a, b), display


async def _pillar(port: int, session: PillarSession, received: list[tuple[str, int, int]], synced: asyncio.Event,
                  clock: Callable[[], float] = time.time) -> None:
    settings = mqtt.BrokerSettings("127.0.0.1", port, client_id=f"pillar-{session.display_id}")

    def seen(topic: str, payload: bytes) -> None:
        if payload and not topic.endswith(("/board", "/next")):  # the board (JSON) titles the pillar's no-data
            # screen; the forecast is counted in tests/firmware_bridge/test_forecast.py
            received.append((topic.rsplit("/", 1)[1], len(payload), codec.parse_header(payload).kind))
        if session.hash is not None:
            synced.set()

    async with mqtt.connect(settings, session.will()) as client:
        await follow(client, session, clock, 5, on_message=seen)


async def _wait_for(condition, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)  # bounded wait for messages from the broker

    await asyncio.wait_for(poll(), seconds)


def test_minute_tick_sends_a_small_delta_and_a_pillar_showing_another_frame_gets_the_full_one(tmp_path: Path) -> None:
    at = parse_instant("2026-11-25T08:00:05+01:00")  # nothing leaves the station in the next minute: a plain tick
    display = [{"id": "hbf-epaper", "stops": ["HBF"], "layout": "epaper-800x480"}]

    async def scenario(port: int, config: Path) -> None:
        clock = FixedClock(at)
        service = Service(load_config(config), clock, cache_dir=tmp_path / "cache")
        runner = asyncio.create_task(service.run())
        session = PillarSession("hbf-epaper", PREFIX)
        received: list[tuple[str, int, int]] = []
        synced = asyncio.Event()
        pillar = asyncio.create_task(_pillar(port, session, received, synced, clock.now))
        await asyncio.wait_for(synced.wait(), 15)
        channel = service.bridge.channels["hbf-epaper"]
        await _wait_for(lambda: channel.acked_hash == channel.current.hash)
        full = max(size for leaf, size, _ in received if leaf == "frame")
        received.clear()
        clock.advance(60)
        service.wake.set()
        await _wait_for(lambda: any(leaf == "delta" and kind == 1 for leaf, _, kind in received))
        delta = next(size for leaf, size, kind in received if leaf == "delta" and kind == 1)
        assert delta <= 0.25 * full, (delta, full)
        await _wait_for(lambda: session.hash == channel.current.hash)
        assert not any(leaf == "frame" for leaf, _, _ in received)  # the retained frame went to the broker only
        await _wait_for(lambda: session.forecast is not None)  # the retained forecast over a real broker (spec: F-4)
        assert session.forecast is not None and session.forecast.steps[0][0] >= at
        # The pillar says it shows a frame the service does not know: the full frame follows on delta.
        received.clear()
        settings = mqtt.BrokerSettings("127.0.0.1", port, client_id="liar")
        async with mqtt.connect(settings) as liar:
            await liar.publish(f"{PREFIX}/displays/hbf-epaper/ack", json.dumps({"hash": "00000000"}).encode(), qos=1)
        await _wait_for(lambda: any(leaf == "delta" and kind == 0 for leaf, _, kind in received))
        service.stop()
        await asyncio.wait_for(runner, 10)
        pillar.cancel()

    with mosquitto(tmp_path / "broker") as broker:
        config = write_config(tmp_path / "cfg", broker.url, dt.date(2026, 11, 1), display)
        asyncio.run(scenario(broker.port, config))


@spec("P-1")
def test_a_pillar_user_cannot_read_another_pillars_topics(tmp_path: Path) -> None:
    at = now_minute()
    displays = [
        {"id": "stop-a", "stops": ["HBF"], "layout": "led-192x64", "mqtt_user": "pillar-a"},
        {"id": "stop-b", "stops": ["UNI"], "layout": "led-192x64", "mqtt_user": "pillar-b"},
    ]
    cfg_dir = tmp_path / "cfg"
    config = write_config(cfg_dir, "mqtt://127.0.0.1:1", dt.date.fromtimestamp(at), displays)
    acl = tmp_path / "acl.txt"
    assert main(["mqtt-acl", "--config", str(config), "--service-user", "svc", "--output", str(acl)]) == 0
    users = {"svc": "svc-secret", "pillar-a": "a-secret", "pillar-b": "b-secret"}
    with mosquitto(tmp_path / "broker", users=users, acl=acl.read_text()) as broker:
        config = write_config(cfg_dir, f"mqtt://127.0.0.1:{broker.port}", dt.date.fromtimestamp(at), displays,
                              mqtt={"username": "svc", "password": "svc-secret"})
        assert (
            main(["serve", "--config", str(config), "--once", "--at", str(at), "--cache-dir", str(tmp_path / "cache")])
            == 0
        )
        own = asyncio.run(retained(broker.port, f"{PREFIX}/displays/stop-b/frame/#", 1, "pillar-b", "b-secret"))
        assert list(own) == [f"{PREFIX}/displays/stop-b/frame"]
        own_frame = f"{PREFIX}/displays/stop-b/frame"
        other = asyncio.run(
            retained(broker.port, f"{PREFIX}/displays/stop-a/frame/#", 1, "pillar-b", "b-secret", fence=own_frame)
        )
        assert other == {}
        async def forecasts() -> None:  # the service's retained forecasts (serve --once has no pillar online for one)
            settings = mqtt.BrokerSettings(
                "127.0.0.1", broker.port, username="svc", password="svc-secret", client_id="s"
            )
            async with mqtt.connect(settings) as client:
                for display_id in ("stop-a", "stop-b"):
                    await client.publish(f"{PREFIX}/displays/{display_id}/next", b"SF", qos=1, retain=True)

        asyncio.run(forecasts())
        readable = asyncio.run(retained(broker.port, f"{PREFIX}/displays/#", 99, "pillar-b", "b-secret",
                                        fence=f"{PREFIX}/service/status"))
        assert sorted(readable) == [
            f"{PREFIX}/displays/stop-b/{leaf}" for leaf in ("board", "frame", "next")
        ]  # spec: F-9

        async def forge() -> None:  # pillar-b writing a frame for stop-b, and an ack for stop-a
            settings = mqtt.BrokerSettings(
                "127.0.0.1", broker.port, username="pillar-b", password="b-secret", client_id="b"
            )
            async with mqtt.connect(settings) as client:
                await client.publish(f"{PREFIX}/displays/stop-b/frame", b"forged", qos=1, retain=True)

        asyncio.run(forge())
        after = asyncio.run(retained(broker.port, f"{PREFIX}/displays/stop-b/frame", 1, "svc", "svc-secret"))
        assert after[f"{PREFIX}/displays/stop-b/frame"] != b"forged"
        with pytest.raises(mqtt.BridgeError):
            asyncio.run(retained(broker.port, "#", 1, "pillar-b", "wrong-password"))


def test_service_and_reference_pillar_over_tls_with_passwords(tmp_path: Path) -> None:
    from brokerkit import make_tls_files

    at = now_minute()
    ca, cert, key = make_tls_files(tmp_path / "tls")
    users = {"svc": "svc-secret", "hbf-epaper": "pillar-secret"}
    with mosquitto(tmp_path / "broker", users=users, tls=(ca, cert, key)) as broker:
        url = f"mqtts://127.0.0.1:{broker.port}"
        display = [{"id": "hbf-epaper", "stops": ["HBF"], "layout": "epaper-800x480"}]
        config = write_config(tmp_path / "cfg", url, dt.date.fromtimestamp(at), display,
                              mqtt={"username": "svc", "password": "svc-secret", "ca_file": str(ca)})
        assert (
            main(["serve", "--config", str(config), "--once", "--at", str(at), "--cache-dir", str(tmp_path / "cache")])
            == 0
        )
        shown = tmp_path / "shown.png"
        assert main(["pillar-sim", "--broker", f"mqtts://hbf-epaper:pillar-secret@127.0.0.1:{broker.port}", "--display",
                     "hbf-epaper", "--ca-file", str(ca), "--once", "--timeout", "10", "--output", str(shown)]) == 0
        assert Image.open(shown).size == (800, 480)
        other_ca, _, _ = make_tls_files(tmp_path / "other-tls")  # a broker we were not told to trust
        assert main(["pillar-sim", "--broker", f"mqtts://hbf-epaper:pillar-secret@127.0.0.1:{broker.port}", "--display",
                     "hbf-epaper", "--ca-file", str(other_ca), "--once", "--timeout", "10"]) == 1


@spec("P-2", "P-28")
def test_a_broker_capped_at_max_packet_passes_every_chunk_and_order_grows_across_restarts(tmp_path: Path) -> None:
    at = now_minute()
    cap = 16_384
    display = [{"id": "lcd", "stops": ["HBF"], "layout": "lcd-landscape-1920x1080"}]
    with mosquitto(tmp_path / "broker", extra=(f"max_packet_size {cap}",)) as broker:
        config = write_config(tmp_path / "cfg", broker.url, dt.date.fromtimestamp(at), display,
                              mqtt={"url": broker.url, "max_packet": cap})
        orders = []
        for run in range(2):  # two processes, one after the other, on the same state folder
            assert main(["serve", "--config", str(config), "--once", "--at", str(at + 60 * run),
                         "--cache-dir", str(tmp_path / "cache")]) == 0
            chunks = asyncio.run(retained(broker.port, f"{PREFIX}/displays/lcd/frame/#", 1000,
                                          fence=f"{PREFIX}/service/status"))
            headers = [codec.parse_header(p) for p in chunks.values()]
            newest = max(headers, key=lambda h: (h.epoch, h.sequence))
            current = [h for h in headers if (h.epoch, h.sequence) == (newest.epoch, newest.sequence)]
            assert len(current) > 3 and len(current) == newest.chunks  # every chunk got through the capped broker
            orders.append((newest.epoch, newest.sequence))
        assert orders[1][0] > orders[0][0] and orders[1][1] > orders[0][1]
        shown = tmp_path / "shown.png"
        assert main(["pillar-sim", "--broker", broker.url, "--display", "lcd", "--once", "--timeout", "10",
                     "--output", str(shown)]) == 0
        rendered = tmp_path / "render.png"
        assert (
            main(
                [
                    "render",
                    "--config",
                    str(config),
                    "--display",
                    "lcd",
                    "--at",
                    str(at + 60),
                    "--output",
                    str(rendered),
                    "--cache-dir",
                    str(tmp_path / "cache"),
                ]
            )
            == 0
        )
        assert np.array_equal(
            np.asarray(Image.open(shown).convert("RGB")), np.asarray(Image.open(rendered).convert("RGB"))
        )


def test_each_retained_message_keeps_its_own_expiry(tmp_path: Path) -> None:
    """Frames expire when their validity ends (MQTT 5 message expiry): messages with different expiries, sent
    interleaved as the service sends them, each reach a late subscriber with their own remaining lifetime."""
    from firmware_bridge.messages import Publish

    expiries = [3600, 90, 3600, 600, 90]
    sent = [Publish(f"{PREFIX}/displays/x{i}/frame", b"frame %d" % i, True, expiry=e) for i, e in enumerate(expiries)]

    async def run(port: int) -> dict[str, int]:
        async with mqtt.connect(mqtt.BrokerSettings("127.0.0.1", port, client_id="service")) as client:
            await mqtt.publish_all(client, sent, 5)
        found: dict[str, int] = {}
        async with mqtt.connect(mqtt.BrokerSettings("127.0.0.1", port, client_id="late")) as client:
            await mqtt.subscribe_all(client, [f"{PREFIX}/displays/+/frame"])
            async with asyncio.timeout(10):
                async for message in client.messages:
                    found[str(message.topic)] = message.properties.MessageExpiryInterval  # type: ignore[union-attr]
                    if len(found) == len(sent):
                        break
        return found

    with mosquitto(tmp_path / "broker") as broker:
        found = asyncio.run(run(broker.port))
    for publish, expiry in zip(sent, expiries):
        assert expiry - 2 <= found[publish.topic] <= expiry  # the broker counts down the seconds it held it
