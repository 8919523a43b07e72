"""Issue 26 item 6: the reference pillar (`stopcast pillar-sim`) outlives a broker restart: it connects again
with backoff and shows the next frame, without a traceback."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from brokerkit import free_port, mosquitto, stop_process

from firmware_bridge import client as mqtt
from firmware_bridge.messages import Frame
from firmware_bridge.protocol import Bridge

pytestmark = pytest.mark.broker
PREFIX = "stopcast/v1"


def _frame(value: int) -> Frame:
    raster = np.zeros((32, 64), dtype=np.uint8)
    raster[:, : 8 * (value + 1)] = 1
    return Frame.of(raster, "mono", "mono1", False)


async def _send(port: int, publishes: list) -> None:
    async with mqtt.connect(mqtt.BrokerSettings("127.0.0.1", port, client_id=f"svc-{time.monotonic_ns()}")) as client:
        await mqtt.publish_all(client, publishes, 5)


async def _when_online(port: int, publishes: list) -> None:
    """Wait (at most 30 s) until the pillar says it is online on this broker, then send."""
    async with mqtt.connect(mqtt.BrokerSettings("127.0.0.1", port, client_id=f"svc-{time.monotonic_ns()}")) as client:
        await mqtt.subscribe_all(client, [f"{PREFIX}/displays/p1/status"])
        async with asyncio.timeout(30):
            async for _, payload in mqtt.messages(client):
                if b'"online"' in payload:
                    break
        await mqtt.publish_all(client, publishes, 5)


def _wait_for(path: Path, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, f"pillar-sim exited: {process.stderr.read() if process.stderr else ''}"
        assert time.monotonic() < deadline, f"{path.name} not written within {seconds} s"
        time.sleep(0.05)  # polling a child process's output file, bounded by the deadline


def test_pillar_sim_reconnects_after_a_broker_restart_and_shows_the_next_frame(tmp_path: Path) -> None:
    port, out = free_port(), tmp_path / "shown"
    bridge = Bridge(PREFIX, 256 * 1024, 600, epoch=int(time.time()))
    first, second = _frame(0), _frame(1)
    with mosquitto(tmp_path / "broker1", port=port) as broker:
        pillar = subprocess.Popen([sys.executable, "-m", "displays.cli", "pillar-sim", "--broker", broker.url,
                                   "--display", "p1", "--output", str(out)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            asyncio.run(_send(port, bridge.show("p1", first, int(time.time()))))  # the retained frame
            _wait_for(out / f"p1-{first.hash:08x}.png", pillar, 30)
        except BaseException:
            stop_process(pillar)
            raise
    try:
        with mosquitto(tmp_path / "broker2", port=port):  # the broker is back (its retained messages gone)
            now = int(time.time()) + 1
            bridge.show("p1", second, now)
            full = bridge.channels["p1"].full_payloads(1 << 20)
            asyncio.run(_when_online(port, [mqtt.Publish(f"{PREFIX}/displays/p1/delta", p, False) for p in full]))
            _wait_for(out / f"p1-{second.hash:08x}.png", pillar, 30)
            assert pillar.poll() is None
    finally:
        stop_process(pillar)
    errors = pillar.stderr.read() if pillar.stderr else ""
    assert "Traceback" not in errors, errors[-3000:]
    assert "connecting again" in errors
