"""MQTT benchmarks: encode + publish frames for 1,000 displays to a local Mosquitto and receive them
all in one subscriber; bytes per pillar per minute of countdown ticks (what a pillar in sync receives
under the contract's subscriptions), bytes to the broker, and what a connecting pillar downloads.

Run: python bench/bench_mqtt.py      (starts its own mosquitto on a free port)
"""

from __future__ import annotations

import _venv  # the project's venv, whichever python3 started the bench

_venv.ensure()

import asyncio
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "firmware_bridge")]  # the root first, so tests/layouts never shadows layouts

from brokerkit import mosquitto  # noqa: E402
from memory_link import Link  # noqa: E402

from displays.boards import compose_board  # noqa: E402
from feeds.demo import STOPS, write_demo_feed  # noqa: E402
from feeds.loader import load_timetable  # noqa: E402
from feeds.source import GtfsSource  # noqa: E402
from feeds.times import parse_instant  # noqa: E402
from firmware_bridge import client as mqtt  # noqa: E402
from firmware_bridge.codec import default_encoding, raster_of  # noqa: E402
from firmware_bridge.protocol import Bridge, Frame, PillarSession  # noqa: E402
from layouts.board import DisplaySettings  # noqa: E402
from layouts.image import render_image  # noqa: E402
from layouts.spec import load_layout  # noqa: E402

DISPLAYS = 1000
AT = parse_instant("2026-11-25T08:00:05+01:00")


def frames(tt, spec, now: int) -> list[Frame]:  # type: ignore[no-untyped-def]
    stop_ids = [s[0] for s in STOPS]
    out = []
    for i in range(DISPLAYS):
        board = compose_board(tt, None, stop_ids[i % len(stop_ids)], spec, DisplaySettings(name=f"Pillar {i}"), now)
        raster = raster_of(render_image(board, spec), spec.color_mode)
        out.append(Frame.of(raster, spec.color_mode, default_encoding(spec.color_mode), True))
    return out


async def publish_and_receive(port: int, bridge: Bridge, batch: list[Frame], now: int) -> float:
    settings = mqtt.BrokerSettings("127.0.0.1", port, client_id="bench-sub")
    received = 0
    done = asyncio.Event()
    async with mqtt.connect(settings) as sub:
        await mqtt.subscribe_all(sub, ["stopcast/v1/displays/+/frame"])

        async def listen() -> None:
            nonlocal received
            async for _topic, _payload in mqtt.messages(sub):
                received += 1
                if received == DISPLAYS:
                    done.set()
                    return

        listener = asyncio.create_task(listen())
        async with mqtt.connect(mqtt.BrokerSettings("127.0.0.1", port, client_id="bench-pub")) as pub:
            t0 = time.perf_counter()
            publishes = [p for i, f in enumerate(batch) for p in bridge.show(f"d{i:04d}", f, now)]
            await mqtt.publish_all(pub, publishes, 5)
            await asyncio.wait_for(done.wait(), 60)
            elapsed = time.perf_counter() - t0
        await listener
    return elapsed


def wire_bytes(tt, spec, minutes: int = 30) -> tuple[float, float, float, int]:  # type: ignore[no-untyped-def]
    """Bytes per minute of countdown ticks, in memory through a broker model with the contract's subscriptions:
    full frames every minute (no deltas), what one pillar in sync receives, what the broker receives (the
    retained frame kept current besides the deltas); and what a pillar downloads when it connects."""
    bridge = Bridge("stopcast/v1", 1 << 20, 600)
    bridge.expect(["p"])
    pillar = PillarSession("p", "stopcast/v1")
    link = Link(bridge, pillar)
    link.connect_pillar(AT - 60)
    full_total = broker_total = 0
    for minute in range(minutes):
        now = AT + 60 * minute
        board = compose_board(tt, None, "HBF", spec, DisplaySettings(), now)
        frame = Frame.of(raster_of(render_image(board, spec), spec.color_mode), spec.color_mode,
                         default_encoding(spec.color_mode), True)
        full_total += len(Bridge("x", 1 << 20, 600).show("p", frame, now)[0].payload)
        publishes = bridge.show("p", frame, now)
        broker_total += sum(len(p.payload) for p in publishes if "/board" not in p.topic)
        link.deliver(publishes, now)
    pillar_total = link.to_pillar_bytes
    joining = Link(bridge, PillarSession("p", "stopcast/v1"))
    joining.retained = dict(link.retained)
    joining.connect_pillar(AT + 60 * minutes)
    return full_total / minutes, pillar_total / minutes, broker_total / minutes, joining.to_pillar_bytes


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        tt = load_timetable(GtfsSource(write_demo_feed(Path(folder) / "demo.zip", dt.date(2026, 11, 1))))
        for name in ("epaper-800x480", "tft-320x240", "led-192x64", "lcd-landscape-1920x1080"):
            spec = load_layout(name)
            published = ""
            if spec.color_mode != "rgb":  # 1,000 LCD frames (130 MB) are not this bench's question
                batch = frames(tt, spec, AT)
                with mosquitto(Path(folder) / f"broker-{name}") as broker:
                    elapsed = asyncio.run(publish_and_receive(broker.port, Bridge("stopcast/v1", 1 << 20, 600), batch, AT))
                published = f"1,000 displays encoded + published + received: {elapsed:.2f} s; "
            full, to_pillar, to_broker, joining = wire_bytes(tt, spec)
            print(f"{name:24s} {published}per pillar per minute: "
                  f"{to_pillar / 1024:.2f} KiB ({to_pillar / full:.0%} of full frames at {full / 1024:.1f} KiB); "
                  f"to the broker {to_broker / 1024:.1f} KiB; a pillar connecting downloads {joining / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
