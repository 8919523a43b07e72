"""A pillar's read-aloud button over a real Mosquitto with the generated ACL: the pillar publishes its
audio/request, the running service answers with Opus in Ogg on audio/{lang} within 1.5 s, the pillar's user
may do exactly that for its own display and not for another; the spoken text stays retained and small."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import shutil
import time
from pathlib import Path

import pytest
import soundfile
from brokerkit import mosquitto
from servicekit import write_config

from displays.cli.cli import main
from displays.config.parse import load_config
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from firmware_bridge import client as mqtt
from firmware_bridge.audio import FORMAT_OGG_OPUS
from firmware_bridge.simulator import press_button

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (make test installs it)"),
]
PREFIX = "stopcast/v1"
DISPLAYS = [
    {"id": "stop-a", "stops": ["HBF"], "layout": "lcd-landscape-1920x1080", "mqtt_user": "pillar-a",
     "speech": {"languages": ["de", "en"]}},
    {"id": "stop-b", "stops": ["UNI"], "layout": "led-192x64", "mqtt_user": "pillar-b"},
]
USERS = {"svc": "svc-secret", "pillar-a": "a-secret", "pillar-b": "b-secret"}


# spec: P-52, P-55, P-56, P-57
def test_a_pillar_presses_its_button_and_hears_the_board_within_1_5_s(tmp_path: Path) -> None:
    at = int(time.time()) // 60 * 60 + 5
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date.fromtimestamp(at), DISPLAYS)
    acl = tmp_path / "acl.txt"
    assert main(["mqtt-acl", "--config", str(config), "--service-user", "svc", "--output", str(acl)]) == 0
    assert f"topic write {PREFIX}/displays/stop-a/audio/request" in acl.read_text()

    async def scenario(port: int) -> None:
        config_path = write_config(tmp_path / "cfg", f"mqtt://127.0.0.1:{port}", dt.date.fromtimestamp(at), DISPLAYS,
                                   mqtt={"username": "svc", "password": "svc-secret"})
        service = Service(
            load_config(config_path), FixedClock(at), config_path=config_path, cache_dir=tmp_path / "cache"
        )
        runner = asyncio.create_task(service.run())
        try:
            pillar_a = mqtt.BrokerSettings("127.0.0.1", port, username="pillar-a", password="a-secret", client_id="a")
            text = await _retained(pillar_a, f"{PREFIX}/displays/stop-a/audio/text/de")
            doc = json.loads(text)
            assert (
                doc["lang"] == "de" and doc["text"].startswith("Haltestelle Mainz Hauptbahnhof.") and len(text) < 1024
            )
            waits = []
            for language, detail in (("de", "short"), ("en", "full"), ("es", "short"), ("de", "full")):
                header, chunks, waited = await press_button(
                    pillar_a, PREFIX, "stop-a", language, time.monotonic, detail, timeout=10
                )
                assert header.format == FORMAT_OGG_OPUS and header.language == language and len(chunks) == header.count
                infos = [soundfile.info(io.BytesIO(chunk)) for chunk in chunks]  # each chunk plays on its own
                assert all(i.format == "OGG" and i.subtype == "OPUS" for i in infos)
                seconds = sum(i.duration for i in infos)
                assert abs(seconds - header.duration_ms / 1000) < 0.05 * len(chunks)
                assert infos[0].duration <= 2.6  # the first chunk is short: little to encode before the first sound
                if detail == "short":
                    assert seconds <= 20 and sum(map(len, chunks)) <= 48 * 1024
                waits.append(waited)
            # the first sound comes after the first 2.5 s of speech are encoded, not the whole answer; the p95 under
            # load (1,000 displays) is bench/bench_speech.py's: here, on a machine others share, no spike may fail it
            assert min(waits) < 1.5 and max(waits) < 5, f"{waits} s from each request to its first sound"
            # the reference pillar's button from the command line: a chained Ogg file of the answer's chunks
            out = tmp_path / "stop-a.ogg"
            assert await asyncio.to_thread(main, [
                "pillar-sim", "--broker", f"mqtt://127.0.0.1:{port}", "--display", "stop-a", "--username", "pillar-a",
                "--password", "a-secret", "--audio", "es", "--output", str(out), "--timeout", "10"]) == 0
            assert out.read_bytes().startswith(b"OggS") and out.read_bytes().count(b"OpusHead") > 1
            # pillar-b may not ask for stop-a's audio: the broker drops its request, no answer comes
            pillar_b = mqtt.BrokerSettings("127.0.0.1", port, username="pillar-b", password="b-secret", client_id="b")
            with pytest.raises(TimeoutError):
                await press_button(pillar_b, PREFIX, "stop-a", "de", time.monotonic, timeout=2)
        finally:
            service.stop()
            await asyncio.wait_for(runner, 10)

    with mosquitto(tmp_path / "broker", users=USERS, acl=acl.read_text()) as broker:
        asyncio.run(scenario(broker.port))


async def _retained(settings: mqtt.BrokerSettings, topic: str) -> bytes:
    async with mqtt.connect(settings) as client:
        await mqtt.subscribe_all(client, [topic])
        async with asyncio.timeout(15):
            async for _topic, payload in mqtt.messages(client):
                if payload:
                    return payload
    raise AssertionError(f"nothing retained on {topic}")
