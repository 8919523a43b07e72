"""Read-aloud on request under load: `stopcast serve` with 1,000 displays on the demo network (every one
speaking, its boards re-rendered each minute) behind a local Mosquitto, and pillars pressing their buttons
at random (Poisson arrivals, de/en/es, four first presses to one second press). Measured from the request's
publish to the first chunk of the answer (when a pillar starts to play) and to the whole answer; p50, p95,
max; the bytes of a first press; the service's CPU seconds (with its espeak-ng children) per answered press,
against a stretch of the same length without presses (on a machine others share, the CPU figure says what
two cores of its own would carry; the latencies say what this machine gave).

Run: python3 bench/bench_speech.py [--displays 1000] [--rate 1] [--seconds 90] [--warmup 30] [--json]
(needs mosquitto and espeak-ng; a short run: about two minutes)
"""

from __future__ import annotations

import _venv  # the project's venv, whichever python3 started the bench

_venv.ensure()

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import tomli_w  # noqa: E402
from brokerkit import mosquitto  # noqa: E402

from feeds.demo import STOPS, write_demo_feed  # noqa: E402
from firmware_bridge import client as mqtt  # noqa: E402
from firmware_bridge.audio import parse_audio  # noqa: E402

PREFIX = "stopcast/v1"
LAYOUTS = ("epaper-800x480", "tft-320x240", "led-192x64", "lcd-landscape-1920x1080")


def write_config(folder: Path, port: int, displays: int) -> Path:
    feed = write_demo_feed(folder / "demo.zip", dt.date.today() - dt.timedelta(days=1))
    stops = [s[0] for s in STOPS]
    doc = {
        "feeds": {"gtfs": feed.name},
        "mqtt": {"url": f"mqtt://127.0.0.1:{port}"},
        "http": {"listen": "127.0.0.1:0"},
        "state": {"dir": str(folder / "state")},
        "displays": [{"id": f"d{i:04d}", "stops": [stops[i % len(stops)]], "layout": LAYOUTS[i % len(LAYOUTS)],
                      "name": f"Pillar {i}", "speech": {"languages": ["de"]}} for i in range(displays)],
    }
    path = folder / "stopcast.toml"
    path.write_text(tomli_w.dumps(doc))
    return path


async def wait_ready(port: int, displays: int, timeout: float = 300) -> float:
    """Seconds until every display's spoken text is retained (the service is up and has drawn every board)."""
    started = time.monotonic()
    seen: set[str] = set()
    async with mqtt.connect(mqtt.BrokerSettings("127.0.0.1", port, client_id="bench-ready")) as client:
        await mqtt.subscribe_all(client, [f"{PREFIX}/displays/+/audio/text/de"])
        async with asyncio.timeout(timeout):
            async for topic, payload in mqtt.messages(client):
                if payload:
                    seen.add(topic)
                if len(seen) >= displays:
                    return time.monotonic() - started
    return time.monotonic() - started


async def presses(port: int, displays: int, rate: float, seconds: float, seed: int = 7) -> list[dict]:
    """Press buttons at random for `seconds`; one result per press (first chunk and whole answer, seconds)."""
    rng = random.Random(seed)
    pending: dict[tuple[str, str], dict] = {}
    results: list[dict] = []
    settings = mqtt.BrokerSettings("127.0.0.1", port, client_id="bench-pillars")
    async with mqtt.connect(settings) as client:
        await mqtt.subscribe_all(client, [f"{PREFIX}/displays/+/audio/de", f"{PREFIX}/displays/+/audio/en",
                                          f"{PREFIX}/displays/+/audio/es", f"{PREFIX}/displays/+/audio/+/+"])

        async def listen() -> None:
            async for topic, payload in mqtt.messages(client):
                parts = topic.split("/")
                if not payload or len(parts) < 6 or parts[5] in ("text", "request"):
                    continue
                header, body = parse_audio(payload)
                press = pending.get((parts[3], header.language))
                if press is None:
                    continue
                now = time.monotonic()
                if header.index == 0:
                    press["first"] = now - press["asked"]
                press["bytes"] += len(body)
                press["chunks"] += 1
                if press["chunks"] == header.count:
                    press["whole"] = now - press["asked"]
                    press["seconds"] = header.duration_ms / 1000
                    results.append(pending.pop((parts[3], header.language)))

        listener = asyncio.create_task(listen())
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            await asyncio.sleep(
                rng.expovariate(rate)
            )  # Poisson arrivals: the bench's own pacing, not a wait for a result
            display, language = f"d{rng.randrange(displays):04d}", rng.choice(("de", "en", "es"))
            if (display, language) in pending:
                continue
            detail = "full" if rng.random() < 0.2 else "short"
            pending[(display, language)] = {"detail": detail, "asked": time.monotonic(), "bytes": 0, "chunks": 0}
            body = json.dumps({"lang": language, "detail": detail}).encode()
            await client.publish(f"{PREFIX}/displays/{display}/audio/request", body, qos=1)
        try:
            async with asyncio.timeout(30):
                while pending:
                    await asyncio.sleep(0.1)  # the last answers: bounded by the timeout above
        except TimeoutError:
            pass
        listener.cancel()
        lost = len(pending)
    return results + [{"lost": True}] * lost


def cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its descendants, alive (the render workers) and finished (espeak-ng runs)."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]))
    family, total = {pid}, 0
    for _ in range(4):  # children of children
        family |= {p for p, (parent, _) in stats.items() if parent in family}
    for member in family:  # each live process's own time and its finished children's
        total += stats.get(member, (0, 0))[1]
    return total / os.sysconf("SC_CLK_TCK")


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q * 100) - 1] if len(values) > 1 else (values[0] if values else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--displays", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1.0, help="button presses per second, over all displays")
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument(
        "--warmup", type=float, default=30, help="seconds between the service being up and the first press"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--log", action="store_true", help="print the end of the service's log")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, mosquitto(Path(folder) / "broker") as broker:
        config = write_config(Path(folder), broker.port, args.displays)
        service = subprocess.Popen([sys.executable, "-m", "displays.cli", "serve", "--config", str(config),
                                    "--cache-dir", str(Path(folder) / "cache")], cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=open(Path(folder) / "service.log", "w"))
        try:
            ready = asyncio.run(wait_ready(broker.port, args.displays))
            time.sleep(args.warmup)  # steady state: the first renders and publishes of a starting service are done
            idle = cpu_seconds(service.pid)
            time.sleep(args.seconds)  # the service without presses: rendering every minute, publishing texts
            idle = cpu_seconds(service.pid) - idle
            busy = cpu_seconds(service.pid)
            results = asyncio.run(presses(broker.port, args.displays, args.rate, args.seconds))
            busy = cpu_seconds(service.pid) - busy
        finally:
            service.terminate()
            service.wait(30)
            if "--log" in sys.argv:
                print((Path(folder) / "service.log").read_text()[-3000:])
    answered = [r for r in results if "first" in r]
    if "--log" in sys.argv:
        print([(round(r["first"], 2), r["detail"]) for r in answered])
    first = [r["first"] for r in answered]
    whole = [r["whole"] for r in answered]
    short = [r for r in answered if r["detail"] == "short"]
    figures = {
        "displays": args.displays,
        "rate_per_s": args.rate,
        "presses": len(results),
        "lost": len(results) - len(answered),
        "ready_s": round(ready, 1),
        "first_p50_s": round(quantile(first, 0.5), 3),
        "first_p95_s": round(quantile(first, 0.95), 3),
        "first_max_s": round(max(first, default=0), 3),
        "whole_p95_s": round(quantile(whole, 0.95), 3),
        "short_kb_max": round(max((r["bytes"] for r in short), default=0) / 1024, 1),
        "short_seconds_max": round(max((r["seconds"] for r in short), default=0), 1),
        "cpu_idle_per_s": round(idle / args.seconds, 2),
        "cpu_per_press_s": round((busy - idle) / max(1, len(answered)), 3),
    }
    if args.json:
        print(json.dumps(figures))
        return
    print(f"{args.displays} speaking displays (service up and every text retained after {figures['ready_s']} s); "
          f"{figures['presses']} presses at {args.rate:g}/s, {figures['lost']} without an answer")
    print(f"request to first sound: p50 {figures['first_p50_s']} s, p95 {figures['first_p95_s']} s, "
          f"max {figures['first_max_s']} s; to the whole answer p95 {figures['whole_p95_s']} s")
    print(f"first press: at most {figures['short_seconds_max']} s of speech in {figures['short_kb_max']} KiB")
    print(f"service CPU: {figures['cpu_idle_per_s']} cores without presses; {figures['cpu_per_press_s']} CPU s per "
          f"answered press (synthesis and encoding): two cores answer about "
          f"{(2 - figures['cpu_idle_per_s']) / max(figures['cpu_per_press_s'], 1e-3):.1f} presses a second")


if __name__ == "__main__":
    main()
