"""`stopcast demo`: the whole product on a generated city, with nothing to set up.

The demo network, a simulated realtime feed (delays, a cancellation, a platform change, an alert),
the embedded broker, five displays of different layouts, reference pillars, the dashboard.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shlex
import signal
import sys
from pathlib import Path

import tomli_w

from displays.config.parse import load_config
from displays.shell.clock import Clock
from displays.shell.embedded import embedded_broker
from displays.shell.running import dump_tasks
from displays.shell.service import Service
from displays.web.http import serve_http
from feeds.cache import open_timetable
from feeds.demo import simulated_realtime, write_demo_feed
from feeds.times import format_service_date, local_date
from firmware_bridge import client as mqtt
from firmware_bridge.protocol import PillarSession
from firmware_bridge.simulator import run_pillar

log = logging.getLogger("stopcast.demo")
REALTIME_EVERY = 15  # seconds
DISPLAYS = [
    {"id": "hbf-stele", "name": "Mainz Hauptbahnhof", "stops": ["HBF"], "layout": "lcd-portrait-1080x1920",
     "reached_by": "browser"},  # a browser screen showing /displays/hbf-stele: shown as such, never dark
    {"id": "hbf-epaper", "stops": ["HBF:A", "HBF:B"], "layout": "epaper-bwr-800x480", "name": "Hbf Steig A/B",
     "trmnl_id": "DE:MO:00:00:00:01"},
    {"id": "uni-tft", "stops": ["UNI"], "layout": "tft-320x240"},
    {"id": "gonsenheim-led", "stops": ["GONS"], "layout": "led-192x64"},
    {"id": "hoefchen-epaper", "stops": ["HOEF"], "layout": "epaper-800x480", "language": "en"},
]
PILLARS = ("hbf-epaper", "uni-tft", "gonsenheim-led", "hoefchen-epaper")  # every display but the browser one
PILLARS_WAIT = 20.0  # seconds the banner waits for the demo's pillars to say hello


def write_demo_config(folder: Path, feed: Path, port: int, token: str) -> Path:
    """The demo's config file (rewritten each start: today's feed, the chosen port, a fresh token)."""
    doc = {
        "feeds": {"gtfs": feed.name, "realtime": [{"url": "realtime.pb", "interval": 5, "stale_after": 180}]},
        "mqtt": {"url": "embedded", "frame_ttl": 300},
        "http": {"listen": f"127.0.0.1:{port}", "admin_token": token},
        "displays": DISPLAYS,
    }
    path = folder / "stopcast-demo.toml"
    path.write_text(tomli_w.dumps(doc))
    return path


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


async def _realtime_writer(service: Service, path: Path) -> None:
    while True:
        if service.timetable is not None:
            _write_atomically(path, simulated_realtime(service.timetable, int(service.clock.now())))
        await asyncio.sleep(REALTIME_EVERY)


def stopcast_command() -> str:
    """How to run stopcast from a shell as this process was run: the venv's script (`make run` puts it in
    .venv/bin, which is not on PATH), else this Python with -m."""
    script = Path(sys.executable).parent / "stopcast"
    if script.exists():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m displays.cli"


async def _pillars_online(service: Service) -> None:
    """Until every demo pillar said it is online (bounded: the banner comes anyway, the dashboard says why)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PILLARS_WAIT
    while loop.time() < deadline:
        if all((p := service.bridge.pillar(d)) is not None and p.online for d in PILLARS):
            return
        await asyncio.sleep(0.1)


async def _announce(service: Service, folder: Path, broker_port: int, token: str) -> None:
    await service.http_ready.wait()
    await _pillars_online(service)
    url = service.http_url
    stopcast = stopcast_command()
    print(f"""
stopcast demo is running (Ctrl-C stops it)

  dashboard      {url}/
  live boards    {url}/displays/hbf-stele   {url}/displays/hoefchen-epaper
  a frame        {url}/displays/hbf-epaper/frame.png
  health         {url}/healthz   metrics {url}/metrics
  MQTT broker    mqtt://127.0.0.1:{broker_port}
  a pillar       {stopcast} pillar-sim --broker mqtt://127.0.0.1:{broker_port} --display hbf-stele --once --mqtt-version 3 --output stele.png
  admin API      curl -H 'Authorization: Bearer {token}' {url}/api/displays
  pillar screens {folder / 'pillars'}
""", flush=True)  # noqa: E501 (the pillar command is printed whole, to be copied)


async def run_demo(folder: Path, http_port: int, clock: Clock) -> None:
    """Run the demo until SIGINT/SIGTERM."""
    folder.mkdir(parents=True, exist_ok=True)
    now = int(clock.now())
    day = local_date(now, "Europe/Berlin")
    feed = write_demo_feed(folder / f"demo-{format_service_date(day)}.zip", day)
    for old in folder.glob("demo-*.zip"):
        if old != feed:
            old.unlink(missing_ok=True)
    token = secrets.token_urlsafe(12)
    config_path = write_demo_config(folder, feed, http_port, token)
    _write_atomically(folder / "realtime.pb", simulated_realtime(open_timetable(feed, folder.parent), now))
    async with embedded_broker() as broker_port:
        service = Service(load_config(config_path), clock, config_path=config_path, cache_dir=folder.parent)
        service.broker_address = ("127.0.0.1", broker_port)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, service.stop)
        loop.add_signal_handler(signal.SIGUSR1, dump_tasks)
        pillars = [
            run_pillar(mqtt.BrokerSettings("127.0.0.1", broker_port, client_id=f"pillar-{d}", version=3),
                       PillarSession(d, service.config.mqtt.prefix), clock.now, output=folder / "pillars",
                       details={"fw": "stopcast-pillar-sim", "model": "reference", "battery_v": 3.9, "rssi": -67},
                       unsubscribe=False)  # the embedded broker (amqtt) sometimes never answers an UNSUBSCRIBE
            for d in PILLARS
        ]
        await service.run(extra_tasks=[serve_http(service), _realtime_writer(service, folder / "realtime.pb"),
                                       _announce(service, folder, broker_port, token), *pillars])
