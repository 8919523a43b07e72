"""Issue 26 item 9: forged frames. Pillars refuse epochs implausibly ahead of their clock; a display's frames
can be signed (docs/mqtt.md, "Signed frames") and its pillar then shows only what the service signed."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from brokerkit import mosquitto, stop_process
from servicekit import rename_displays, write_config
from spec_pillar import SpecPillar, Violation, head
from test_conformance import AT, IDS, Broker, run_until, start, world  # noqa: F401 - world is a fixture

from displays.config.instances import frame_key
from displays.shell.clock import FixedClock
from firmware_bridge import client as mqtt
from firmware_bridge import codec
from firmware_bridge.forecast import ForecastStep
from firmware_bridge.messages import Frame
from firmware_bridge.protocol import Bridge, PillarSession
from firmware_bridge.states import PillarState, Unauthentic

PREFIX = "stopcast/v1"
KEY, OTHER = bytes(range(32)), bytes(32)


def _frame(value: int) -> Frame:
    raster = np.zeros((32, 64), dtype=np.uint8)
    raster[:, : 8 * (value + 1)] = 1
    return Frame.of(raster, "mono", "mono1", True)


def _forged(value: int, epoch: int, now: int, key: bytes = b"") -> bytes:
    """A full frame someone other than the service made (epoch far ahead, valid for an hour)."""
    frame = _frame(value)
    header = codec.Header(codec.KIND_FULL, "mono1", codec.FLAG_FULL_REFRESH, 64, 32, (0, 0, 64, 32), frame.hash, 0,
                          now + 3600, epoch, "mono", epoch=epoch)
    return codec.encode_message(header, codec.pack(frame.raster, "mono1", "mono"), 1 << 20, key=key)[0]


def test_a_pillar_refuses_an_epoch_more_than_a_day_ahead_of_its_clock() -> None:
    """spec: S-8"""
    now = 1_800_000_000
    bridge, pillar = Bridge(PREFIX, 4096, 600, epoch=now), PillarSession("p", PREFIX)
    for p in bridge.show("p", _frame(0), now):
        pillar.receive(p.topic, p.payload, now)
    assert pillar.hash == _frame(0).hash
    pillar.receive(f"{PREFIX}/displays/p/delta", _forged(3, (1 << 32) - 1, now), now)
    assert pillar.hash == _frame(0).hash and isinstance(pillar.last_error, Unauthentic) and pillar.epoch == now
    for p in bridge.show("p", _frame(1), now + 60):  # the real service is still heard
        pillar.receive(p.topic, p.payload, now + 60)
    assert pillar.hash == _frame(1).hash


def test_a_pillar_with_its_key_shows_only_what_is_signed_with_it() -> None:
    """spec: S-4"""
    now = 1_800_000_000
    bridge, pillar = Bridge(PREFIX, 4096, 600, epoch=now), PillarSession("p", PREFIX, KEY)
    bridge.set_keys({"p": KEY})
    for p in bridge.show("p", _frame(0), now):
        pillar.receive(p.topic, p.payload, now)
    assert pillar.hash == _frame(0).hash and pillar.state is PillarState.SHOWING
    topic = f"{PREFIX}/displays/p/delta"
    for forged in (
        _forged(2, now + 100, now),
        _forged(3, now + 100, now, OTHER),
    ):  # unsigned, and signed by another key
        pillar.receive(topic, forged, now)
        assert pillar.hash == _frame(0).hash and isinstance(pillar.last_error, Unauthentic) and pillar.epoch == now
    signed = _forged(4, now + 100, now, KEY)
    tampered = signed[:60] + bytes([signed[60] ^ 1]) + signed[61:]
    pillar.receive(topic, tampered, now)
    assert pillar.hash == _frame(0).hash
    assert pillar.receive(topic, signed, now) and pillar.hash == _frame(4).hash  # the key holder's message is shown


def test_a_pillar_without_a_key_cuts_the_mac_off() -> None:
    """spec: S-5"""
    now = 1_800_000_000
    bridge, pillar = Bridge(PREFIX, 4096, 600, epoch=now), PillarSession("p", PREFIX)
    bridge.set_keys({"p": KEY})
    for p in bridge.show("p", _frame(2), now):
        pillar.receive(p.topic, p.payload, now)
    assert pillar.hash == _frame(2).hash


async def test_a_signed_displays_messages_follow_the_signed_frames_section(world, monkeypatch, tmp_path: Path) -> None:  # noqa: F811
    """spec: S-1, S-2, S-3, S-6"""
    _, _, _, plain = world
    monkeypatch.setenv("STOPCAST_FRAME_SECRET", "sixteen or more characters")
    text = plain.read_text().replace("[mqtt]\n", '[mqtt]\nframe_secret_env = "STOPCAST_FRAME_SECRET"\n')
    text = text.replace("[[displays]]\n", "[[displays]]\nsigned = true\n")
    plain.write_text(text)
    clock = FixedClock(AT)
    service, link = await start(plain, clock)
    broker = Broker(link)
    await broker.route(AT)
    keys = {d: frame_key("sixteen or more characters", d) for d in IDS}
    pillars = {d: SpecPillar(d, key=keys[d]) for d in IDS}
    for pillar in pillars.values():
        await broker.connect(pillar, AT)
    await run_until(service, broker, clock, AT + 125)
    for display_id, pillar in pillars.items():
        frame = service.displays[display_id].frame
        assert frame is not None and pillar.shown_hash == frame.hash, display_id
    messages = [(t, p) for _, t, p in broker.published if p and (t.endswith(("/frame", "/delta")) or t[-1].isdigit())]
    assert messages and all(head(p).flags & codec.FLAG_SIGNED for _, p in messages)
    assert any(head(p).chunks > 1 for _, p in messages)
    assert max(len(p) + len(t) for t, p in messages) <= service.config.mqtt.max_packet
    stranger = SpecPillar(IDS[0], key=OTHER)
    with pytest.raises(Violation, match="S-2"):
        stranger.receive(broker.retained[stranger.topic("frame")], int(clock.now()))


@pytest.mark.broker
def test_the_reference_pillar_with_its_key_ignores_a_forged_frame_on_a_real_broker(tmp_path: Path) -> None:
    """spec: S-4 (the reference pillar, `stopcast pillar-sim --frame-key-env`, against a real `serve`)"""
    secret = "a frame secret of some length"
    env = {**os.environ, "STOPCAST_FRAME_SECRET": secret, "PILLAR_KEY": frame_key(secret, "p1").hex(),
           "STOPCAST_STATE_DIR": str(tmp_path / "state")}
    displays = [{"id": "p1", "stops": ["HBF"], "layout": "led-192x64", "signed": True}]
    out = tmp_path / "shown"
    with mosquitto(tmp_path / "broker") as broker:
        config = write_config(tmp_path / "cfg", broker.url, dt.date.today(), displays,
                              mqtt={"url": broker.url, "frame_secret_env": "STOPCAST_FRAME_SECRET"})
        procs = [subprocess.Popen([sys.executable, "-m", "displays.cli", *args], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True, env=env)
                 for args in (["serve", "--config", str(config), "--workers", "0", "--cache-dir", str(tmp_path / "c")],
                              ["pillar-sim", "--broker", broker.url, "--display", "p1", "--output", str(out),
                               "--frame-key-env", "PILLAR_KEY"])]
        try:
            first = _wait_png(out, set(), procs, 60)
            now = int(time.time())
            forged = _forged(5, (1 << 32) - 1, now)
            asyncio.run(
                _publish(broker.port, f"{PREFIX}/displays/p1/delta", forged)
            )  # acknowledged: queued to the pillar
            rename_displays(config)  # the service's next frame now (its board changes), not at the next minute
            procs[0].send_signal(signal.SIGHUP)
            assert _wait_png(out, {first}, procs, 75) != f"p1-{_frame(5).hash:08x}.png"  # the service's next frame
            assert not (out / f"p1-{_frame(5).hash:08x}.png").exists()
        finally:
            for proc in procs:
                stop_process(proc)
    logs = [proc.stderr.read() if proc.stderr else "" for proc in procs]
    assert "unsigned message" in logs[1], logs[1][-2000:]
    assert all("Traceback" not in text for text in logs), logs


def _wait_png(folder: Path, known: set[str], procs: list[subprocess.Popen], seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while True:
        found = {p.name for p in folder.glob("*.png")} - known if folder.exists() else set()
        if found:
            return sorted(found)[0]
        assert all(p.poll() is None for p in procs), "a process exited"
        assert time.monotonic() < deadline, f"no new frame within {seconds} s"
        time.sleep(0.1)  # polling the pillar's output folder, bounded by the deadline


async def _publish(port: int, topic: str, payload: bytes) -> None:
    async with mqtt.connect(mqtt.BrokerSettings("127.0.0.1", port, client_id="forger")) as client:
        await mqtt.publish_all(client, [mqtt.Publish(topic, payload, False)], 5)


def test_a_pillar_with_a_key_takes_no_forecast() -> None:
    """spec: S-7"""
    now = 1_800_000_000
    bridge, keyed, plain = (
        Bridge(PREFIX, 1 << 20, 600, epoch=now),
        PillarSession("p", PREFIX, KEY),
        PillarSession("p", PREFIX),
    )
    for p in bridge.show("p", _frame(0), now):
        plain.receive(p.topic, p.payload, now)
    step = ForecastStep(now + 60, now + 120, _frame(1))
    for p in bridge.channel("p").forecast([step], 60, now):
        keyed.receive(p.topic, p.payload, now)
        plain.receive(p.topic, p.payload, now)
    assert plain.forecast is not None and keyed.forecast is None
