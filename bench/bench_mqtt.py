"""MQTT benchmarks: render + encode + publish frames for 1,000 displays to a local Mosquitto and receive
them all in one subscriber (timed from the first board drawn to the last frame received); and the bytes
per display per minute of countdown ticks: what the service publishes in all (frames, deltas, the
retained board JSON, the retained spoken text when a display speaks), what one pillar in sync
receives under the contract's subscriptions, and what a connecting pillar downloads; and the airtime of a
pillar in sync on all its topics (frames, deltas, validity extensions, forecast, ticker) from the real service
with realtime fetched every 45 s (bench/airtime.py: at the demo's Hauptbahnhof, and at Caltrain's Palo Alto with
realtime that changes at every fetch when ../shared/data/caltrain is there). The audio line compares, per speaking
display and minute, a WAV published on every change (before) with the spoken text on every change plus the Ogg Opus
answer of each press of the button (now).

Run: python3 bench/bench_mqtt.py [--audio-only]   (starts its own mosquitto on a free port; audio needs espeak-ng)
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
sys.path[:0] = [
    str(ROOT),
    str(ROOT / "tests"),
    str(ROOT / "tests" / "firmware_bridge"),
    str(ROOT / "bench"),
]  # the root first, so tests/layouts never shadows layouts

from airtime import CALTRAIN_PALO_ALTO, DEMO, caltrain_missing, measure  # noqa: E402
from brokerkit import mosquitto  # noqa: E402
from memory_link import Link  # noqa: E402

from displays.core.boards import compose_board  # noqa: E402
from displays.core.frames import frame_of, render  # noqa: E402
from displays.shell.voice import EspeakSynthesizer, ogg_opus  # noqa: E402
from feeds.demo import STOPS, write_demo_feed  # noqa: E402
from feeds.loader import load_timetable  # noqa: E402
from feeds.source import GtfsSource  # noqa: E402
from feeds.times import parse_instant  # noqa: E402
from firmware_bridge import client as mqtt  # noqa: E402
from firmware_bridge.audio import audio_publishes, text_publish  # noqa: E402
from firmware_bridge.codec import default_encoding  # noqa: E402
from firmware_bridge.protocol import Bridge, Frame, PillarSession  # noqa: E402
from layouts.board import DisplaySettings  # noqa: E402
from layouts.export import board_json  # noqa: E402
from layouts.spec import load_layout  # noqa: E402
from layouts.speech import spoken_text  # noqa: E402

DISPLAYS = 1000
AT = parse_instant("2026-11-25T08:00:05+01:00")


def boards(tt, spec, now: int) -> list:  # type: ignore[no-untyped-def]
    stop_ids = [s[0] for s in STOPS]
    return [compose_board(tt, None, stop_ids[i % len(stop_ids)], spec, DisplaySettings(name=f"Pillar {i}"), now)
            for i in range(DISPLAYS)]


def frame_for(board, spec, display_id: str) -> Frame:  # type: ignore[no-untyped-def]
    """The frame as the service makes it: rendered, encoded natively, with its board JSON."""
    return frame_of(render(board, spec, default_encoding(spec.color_mode), True), board_json(board, spec, display_id))


async def publish_and_receive(port: int, bridge: Bridge, spec, batch: list, now: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Seconds to render, encode and publish every display's frame until the subscriber received all, and
    of those the seconds spent rendering."""
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
            frames = [frame_for(board, spec, f"d{i:04d}") for i, board in enumerate(batch)]
            rendered = time.perf_counter() - t0
            publishes = [p for i, f in enumerate(frames) for p in bridge.show(f"d{i:04d}", f, now)]
            await mqtt.publish_all(pub, publishes, 5)
            await asyncio.wait_for(done.wait(), 60)
            elapsed = time.perf_counter() - t0
        await listener
    return elapsed, rendered


def wire_bytes(tt, spec, minutes: int = 30) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Bytes per minute of countdown ticks for one display at the demo's main station, in memory through a
    broker model with the contract's subscriptions: what the service publishes (frames and deltas, board
    JSON, audio), what one pillar in sync receives, full frames for comparison, and what a pillar downloads
    when it connects."""
    bridge = Bridge("stopcast/v1", 1 << 20, 600)
    bridge.expect(["p"])
    pillar = PillarSession("p", "stopcast/v1")
    link = Link(bridge, pillar)
    link.connect_pillar(AT - 60)
    sums = {"full": 0, "frames": 0, "board": 0, "audio": 0}
    said = ""
    for minute in range(minutes):
        now = AT + 60 * minute
        board = compose_board(tt, None, "HBF", spec, DisplaySettings(), now)
        frame = frame_for(board, spec, "p")
        sums["full"] += next(
            len(p.payload) for p in Bridge("x", 1 << 20, 600).show("p", frame, now) if p.topic.endswith("/frame")
        )
        publishes = bridge.show("p", frame, now)
        sums["board"] += sum(len(p.payload) for p in publishes if p.topic.endswith("/board"))
        sums["frames"] += sum(len(p.payload) for p in publishes if not p.topic.endswith("/board"))
        link.deliver(publishes, now)
        text = spoken_text(board, "de")
        if text != said:  # the service republishes a display's spoken text when it changes
            sums["audio"] += len(text_publish("stopcast/v1", "p", "de", text, 1.0).payload)
            said = text
    joining = Link(bridge, PillarSession("p", "stopcast/v1"))
    joining.retained = dict(link.retained)
    joining.connect_pillar(AT + 60 * minutes)
    out = {k: v / minutes for k, v in sums.items()}
    out |= {"published": out["frames"] + out["board"] + out["audio"], "to_pillar": link.to_pillar_bytes / minutes,
            "joining": joining.to_pillar_bytes}
    return out


def audio_bytes(tt, spec, minutes: int = 10) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Audio bytes per speaking display per minute at the demo's main station: before (the whole board's WAV,
    retained, on every change of its text) and now (the spoken text as JSON on every change; the Ogg Opus
    answer of one press of the button, first or second)."""
    voice = EspeakSynthesizer()
    before = text = 0
    presses: dict[str, list[int]] = {"short": [], "full": []}
    said = ""
    for minute in range(minutes):
        board = compose_board(tt, None, "HBF", spec, DisplaySettings(), AT + 60 * minute)
        full = spoken_text(board, "de", detail="full")
        if full == said:
            continue
        said = full
        wav = asyncio.run(voice.synthesize(full, "de"))
        before += sum(len(p.payload) for p in audio_publishes("stopcast/v1", "p", "de", wav, full, 1.0, 1 << 20)[0])
        short = spoken_text(board, "de")
        text += len(text_publish("stopcast/v1", "p", "de", short, 1.0).payload)
        for detail, spoken in (("short", short), ("full", full)):
            presses[detail].append(len(ogg_opus(asyncio.run(voice.synthesize(spoken, "de")))))
    return {"before": before / minutes, "text": text / minutes, "short": sum(presses["short"]) / len(presses["short"]),
            "full": sum(presses["full"]) / len(presses["full"])}


def print_audio(tt) -> None:  # type: ignore[no-untyped-def]
    if not EspeakSynthesizer().available:
        print("audio not measured: espeak-ng is not installed")
        return
    a = audio_bytes(tt, load_layout("lcd-landscape-1920x1080"))
    print(f"audio per speaking display per minute: before {a['before'] / 1024:.1f} KiB (a WAV on every change); now "
          f"{a['text'] / 1024:.2f} KiB of spoken text, plus {a['short'] / 1024:.1f} KiB per first press and "
          f"{a['full'] / 1024:.1f} KiB per second press (Ogg Opus, on request); at one press every 10 minutes "
          f"{(a['text'] + a['short'] / 10) / 1024:.2f} KiB")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        tt = load_timetable(GtfsSource(write_demo_feed(Path(folder) / "demo.zip", dt.date(2026, 11, 1))))
        print_audio(tt)
        if "--audio-only" in sys.argv:
            return
        for name in ("epaper-800x480", "epaper-bwr-800x480", "tft-320x240", "led-192x64", "lcd-portrait-1080x1920"):
            spec = load_layout(name)
            with mosquitto(Path(folder) / f"broker-{name}") as broker:
                elapsed, rendering = asyncio.run(
                    publish_and_receive(
                        broker.port, Bridge("stopcast/v1", 1 << 20, 600), spec, boards(tt, spec, AT), AT
                    )
                )
            w = wire_bytes(tt, spec)
            audio = f"spoken text {w['audio'] / 1024:.2f} KiB"
            print(f"{name:24s} 1,000 displays rendered + encoded + published + received: {elapsed:.2f} s "
                  f"(rendering {rendering:.2f} s)")
            print(f"{'':24s} per display per minute, published: {w['published'] / 1024:.1f} KiB (frames and deltas "
                  f"{w['frames'] / 1024:.1f} KiB, board JSON {w['board'] / 1024:.1f} KiB, {audio}); a pillar in sync "
                  f"receives {w['to_pillar'] / 1024:.2f} KiB ({w['to_pillar'] / w['full']:.0%} of full frames at "
                  f"{w['full'] / 1024:.1f} KiB); a pillar connecting downloads {w['joining'] / 1024:.1f} KiB")
            for scenario in (DEMO, CALTRAIN_PALO_ALTO):
                if scenario is CALTRAIN_PALO_ALTO and (why := caltrain_missing()):
                    print(f"{'':24s} {scenario.name}: {why}")
                    continue
                air = measure(Path(folder) / f"air-{scenario.stop}-{name}", scenario, name)
                parts = ", ".join(f"{topic} {size / 1024:.2f}" for topic, size in sorted(air.by_topic.items()))
                print(
                    f"{'':24s} {scenario.name}, realtime every 45 s: a pillar in sync receives {air.total / 1024:.2f} "
                    f"KiB per minute on all topics ({parts})"
                )


if __name__ == "__main__":
    main()
