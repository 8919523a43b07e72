"""`stopcast serve` with a real Mosquitto: signals, broker restarts, reloads, shards, live changes."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from brokerkit import free_port, mosquitto
from servicekit import write_config

from displays.config.parse import load_config
from displays.core.sharding import owner
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from displays.web.http import serve_http
from firmware_bridge import client as mqtt

pytestmark = pytest.mark.broker
PREFIX = "stopcast/v1"


def now_minute() -> int:
    return int(time.time()) // 60 * 60 + 5


async def retained_frames(port: int, expected: set[str], seconds: float = 15.0) -> set[str]:
    """Display ids with a retained frame, once all expected ones arrived (or the time is up)."""
    found: set[str] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            async with mqtt.connect(
                mqtt.BrokerSettings("127.0.0.1", port, client_id=f"probe-{time.monotonic_ns()}")
            ) as c:
                await mqtt.subscribe_all(c, [f"{PREFIX}/displays/+/frame/#"])

                async def collect() -> None:
                    async for topic, payload in mqtt.messages(c):
                        if payload:
                            found.add(topic.split("/")[3])
                        if found >= expected:
                            return

                await asyncio.wait_for(collect(), max(0.1, min(2.0, deadline - time.monotonic())))
                return found
        except (mqtt.BridgeError, asyncio.TimeoutError):
            await asyncio.sleep(0.1)  # the broker is (re)starting; bounded by the deadline
    return found


def test_sigterm_stops_serve_cleanly(tmp_path: Path) -> None:
    at = now_minute()
    with mosquitto(tmp_path / "broker") as broker:
        config = write_config(
            tmp_path / "cfg", broker.url, dt.date.fromtimestamp(at), http={"listen": f"127.0.0.1:{free_port()}"}
        )
        proc = subprocess.Popen([sys.executable, "-m", "displays.cli", "serve", "--config", str(config), "--cache-dir",
                                 str(tmp_path / "cache")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            found = asyncio.run(retained_frames(broker.port, {"hbf-epaper", "uni-tft", "gons-led", "hbf-bwr"}, 30))
            assert found == {"hbf-epaper", "uni-tft", "gons-led", "hbf-bwr"}
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
            assert time.monotonic() - started < 5
        finally:
            if proc.poll() is None:
                proc.kill()
        output = proc.stdout.read() if proc.stdout else ""
        assert "Traceback" not in output
        status = asyncio.run(_one_retained(broker.port, f"{PREFIX}/service/status"))
        assert json.loads(status)["state"] == "offline"


async def _one_retained(port: int, topic: str) -> bytes:
    async with mqtt.connect(mqtt.BrokerSettings("127.0.0.1", port, client_id="one")) as c:
        await mqtt.subscribe_all(c, [topic])
        async for _t, payload in mqtt.messages(c):
            return payload
    raise AssertionError("no message")


def test_frames_come_back_after_a_broker_restart_and_a_bad_reload_keeps_serving(tmp_path: Path) -> None:
    at = now_minute()
    port = free_port()
    config_path = write_config(tmp_path / "cfg", f"mqtt://127.0.0.1:{port}", dt.date.fromtimestamp(at),
                               http={"listen": "127.0.0.1:0", "admin_token": "t"})
    every = {"hbf-epaper", "uni-tft", "gons-led", "hbf-bwr"}

    async def scenario() -> None:
        service = Service(
            load_config(config_path), FixedClock(at), config_path=config_path, cache_dir=tmp_path / "cache"
        )
        with mosquitto(tmp_path / "b1", port=port):
            runner = asyncio.create_task(service.run(extra_tasks=[serve_http(service)]))
            assert await retained_frames(port, every) == every
        # The broker is gone (and it kept nothing: no persistence). Boards keep rendering meanwhile.
        with mosquitto(tmp_path / "b2", port=port):
            started = time.monotonic()
            assert await retained_frames(port, every, 20) == every
            assert time.monotonic() - started < 15
            # A reload with a broken config says why and changes nothing.
            good = config_path.read_text()
            config_path.write_text(good.replace('layout = "tft-320x240"', 'layout = "tft-9999"'))
            error = service.reload_config()
            assert error is not None and "display 'uni-tft': field 'layout'" in error
            assert set(service.displays) == every
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{service.http_url}/healthz") as response:
                    assert response.status == 200
                # A display added through the admin API gets its frame over MQTT.
                config_path.write_text(good)
                body = {"id": "bret-led", "stops": ["BRET"], "layout": "led-192x64"}
                async with http.post(
                    f"{service.http_url}/api/displays", json=body, headers={"Authorization": "Bearer t"}
                ) as r:
                    assert r.status == 201
            assert "bret-led" in await retained_frames(port, every | {"bret-led"})
            service.stop()
            await asyncio.wait_for(runner, 10)
        assert service.link.reconnects >= 1

    asyncio.run(scenario())


def test_two_shards_cover_every_display_exactly_once(tmp_path: Path) -> None:
    at = now_minute()
    displays = [
        {"id": f"pillar-{i:02d}", "stops": ["HBF", "UNI", "GONS", "FINT"][i % 4 : i % 4 + 1], "layout": "led-192x64"}
        for i in range(24)
    ]
    ids = {d["id"] for d in displays}
    with mosquitto(tmp_path / "broker") as broker:
        config = write_config(tmp_path / "cfg", broker.url, dt.date.fromtimestamp(at), displays)
        owned = []
        for k in (1, 2):
            service = Service(load_config(config), FixedClock(at), cache_dir=tmp_path / "cache", shard=(k, 2))
            owned.append(set(service.displays))
            assert asyncio.run(service.run_once()) == 0
        assert owned[0] | owned[1] == ids and not owned[0] & owned[1]
        assert owned[0] and owned[1]
        assert asyncio.run(retained_frames(broker.port, ids)) == ids
    assert owner("pillar-07", 3) == owner("pillar-07", 3)  # stable
    moved = sum(owner(i, 3) != owner(i, 4) for i in ids)
    assert moved <= len(ids) // 2  # adding a shard moves only the displays it wins


def test_serve_reports_a_bad_config_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[feeds]\ngtfs = "x.zip"\n[[displays]]\nid = "a"\nstops = ["S"]\nlayout = "nope"\n')
    done = subprocess.run([sys.executable, "-m", "displays.cli", "serve", "--config", str(bad), "--once"],
                          capture_output=True, text=True, env={**os.environ})
    assert done.returncode == 1
    assert done.stderr.startswith(f"stopcast: error: {bad}: display 'a': field 'layout':")
    assert "Traceback" not in done.stderr
