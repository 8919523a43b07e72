"""Publishing cost (issue 28, "lighter publishing"): the messages, PUBACKs, bytes and this process's CPU seconds
to publish two minutes of frames for N displays whose pillars are in sync (minute 0: the first frames; minute 1: a
countdown tick, retained frame + board + delta each) to a local Mosquitto, as the service publishes them (frames
and deltas at QoS 0) and with everything at QoS 1 (before). Also the board JSON per display: its bytes, the CPU
to build it, and what a service holds of it (one per display now; before, one with each of its recent frames).

Run: python3 bench/bench_publish.py [--displays 2000] [--layout epaper-800x480] [--repeat 3]  (its own mosquitto)
"""

from __future__ import annotations

import _venv  # the project's venv, whichever python3 started the bench

_venv.ensure()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import dataclasses  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from brokerkit import mosquitto  # noqa: E402

from displays.core.boards import compose_board  # noqa: E402
from displays.core.frames import frame_of, render  # noqa: E402
from feeds.demo import STOPS, write_demo_feed  # noqa: E402
from feeds.loader import load_timetable  # noqa: E402
from feeds.source import GtfsSource  # noqa: E402
from feeds.times import parse_instant  # noqa: E402
from firmware_bridge import client as mqtt  # noqa: E402
from firmware_bridge.codec import default_encoding  # noqa: E402
from firmware_bridge.framing import KEPT_FRAMES  # noqa: E402
from firmware_bridge.protocol import Bridge  # noqa: E402
from layouts.board import DisplaySettings  # noqa: E402
from layouts.export import board_json  # noqa: E402
from layouts.spec import load_layout  # noqa: E402

AT = parse_instant("2026-11-25T08:00:05+01:00")
PREFIX = "stopcast/v1"


def minutes_of_publishes(tt, spec, displays: int) -> list[list]:  # type: ignore[no-untyped-def]
    """The publishes of minute 0 and minute 1 for `displays` displays whose pillars ack every frame."""
    stop_ids = [s[0] for s in STOPS]
    bridge = Bridge(PREFIX, 1 << 20, 600)
    out = []
    for minute in range(2):
        now = AT + 60 * minute
        publishes: list = []
        for i in range(displays):
            display = f"d{i:05d}"
            board = compose_board(tt, None, stop_ids[i % len(stop_ids)], spec, DisplaySettings(name=f"P {i}"), now)
            frame = frame_of(render(board, spec, default_encoding(spec.color_mode), True), b"")
            shown = bridge.show(display, frame, now)
            publishes += bridge.board(display, (board, spec), lambda b=board, d=display: board_json(b, spec, d))
            publishes += shown
            topic = f"{PREFIX}/displays/{display}"
            bridge.receive(f"{topic}/status", b'{"state": "online"}', now)
            bridge.receive(f"{topic}/ack", json.dumps({"hash": f"{frame.hash:08x}", "need_full": False}).encode(), now)
        out.append(publishes)
    return out


async def publish(port: int, publishes: list) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds) to publish them all and have the broker take them."""
    settings = mqtt.BrokerSettings("127.0.0.1", port, client_id=f"bench-{time.monotonic_ns()}")
    async with mqtt.connect(settings) as client:
        cpu, wall = time.process_time(), time.perf_counter()
        await mqtt.publish_all(client, publishes, 5)
        return time.process_time() - cpu, time.perf_counter() - wall


def board_figures(tt, spec, displays: int) -> str:  # type: ignore[no-untyped-def]
    stop_ids = [s[0] for s in STOPS]
    boards = [compose_board(tt, None, stop_ids[i % len(stop_ids)], spec, DisplaySettings(), AT + 60 * (i % 30))
              for i in range(displays)]
    started = time.process_time()
    sizes = [len(board_json(board, spec, f"d{i:05d}")) for i, board in enumerate(boards)]
    cpu = (time.process_time() - started) / displays
    mean = sum(sizes) / len(sizes)
    return (f"board JSON {mean:,.0f} B, {cpu * 1e6:.0f} us to build (drawn included); held per display: "
            f"{mean / 1024:.1f} KiB now, up to {KEPT_FRAMES * mean / 1024:.1f} KiB before (with each recent frame)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--displays", type=int, default=2000)
    parser.add_argument("--layout", default="epaper-800x480")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, alternating (the machine is shared)")
    args = parser.parse_args()
    spec = load_layout(args.layout)
    with tempfile.TemporaryDirectory() as folder:
        tt = load_timetable(GtfsSource(write_demo_feed(Path(folder) / "demo.zip", dt.date(2026, 11, 1))))
        print(f"{args.layout}, {args.displays} displays: {board_figures(tt, spec, args.displays)}")
        minutes = minutes_of_publishes(tt, spec, args.displays)
        with mosquitto(Path(folder) / "broker") as broker:
            for label, force in (("all at QoS 1 (before)", True), ("pixels at QoS 0 (now)", False)) * args.repeat:
                for minute, publishes in enumerate(minutes):
                    sent = [dataclasses.replace(p, qos=1) for p in publishes] if force else publishes
                    cpu, wall = asyncio.run(publish(broker.port, sent))
                    acks = sum(1 for p in sent if p.qos > 0)
                    size = sum(len(p.payload) for p in sent)
                    print(f"  {label:22s} minute {minute}: {len(sent):,} messages, {acks:,} PUBACKs, "
                          f"{size / 1e6:.1f} MB: {cpu:.2f} CPU-s, {wall:.2f} s")


if __name__ == "__main__":
    main()
