"""Real `stopcast serve` processes on a real Mosquitto, watched by a probe that records every frame header
and every instance announcement (for the tests of hostile and dying instances, issue 26)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from firmware_bridge import client as mqtt
from firmware_bridge import codec

PREFIX = "stopcast/v1"
STOPS = ["HBF", "UNI", "GONS", "HBF:A", "HBF:B"]


def displays(count: int, prefix: str = "d") -> list[dict]:
    """`count` small LED displays over the demo network's stops."""
    return [{"id": f"{prefix}{i:02d}", "stops": [STOPS[i % len(STOPS)]], "layout": "led-192x64"} for i in range(count)]


@dataclass
class Probe:
    """What a client subscribed to every frame and announcement saw: (wall time, epoch, seq) per display, the
    last retained announcement per instance, and every epoch each instance announced."""

    port: int
    prefix: str = PREFIX
    version: int = 5  # 3 for the embedded broker (amqtt speaks MQTT 3.1.1)
    frames: dict[str, list[tuple[float, int, int]]] = field(default_factory=dict)
    announced: dict[str, dict] = field(default_factory=dict)
    epochs: dict[str, set[int]] = field(default_factory=dict)  # every epoch each instance announced
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None

    async def _run(self) -> None:
        settings = mqtt.BrokerSettings("127.0.0.1", self.port, client_id=f"probe-{os.getpid()}-{id(self)}",
                                     version=self.version)
        async with mqtt.connect(settings) as client:
            await mqtt.subscribe_all(client, [f"{self.prefix}/displays/+/frame/#", f"{self.prefix}/displays/+/delta",
                                              f"{self.prefix}/service/instances/+"])
            self.ready.set()
            async for topic, payload in mqtt.messages(client):
                parts = topic[len(self.prefix) + 1:].split("/")
                if parts[0] == "service":
                    try:
                        self.announced[parts[2]] = json.loads(payload) if payload else {}
                    except ValueError:
                        self.announced[parts[2]] = {"unreadable": True}
                    doc = self.announced[parts[2]]
                    if isinstance(doc, dict) and isinstance(doc.get("epoch"), int):
                        self.epochs.setdefault(parts[2], set()).add(doc["epoch"])
                elif payload:
                    try:
                        header = codec.parse_header(payload)
                    except codec.CodecError:
                        continue
                    self.frames.setdefault(parts[1], []).append((time.time(), header.epoch, header.sequence))

    async def __aenter__(self) -> Probe:
        self.task = asyncio.create_task(self._run())
        ready = asyncio.create_task(self.ready.wait())
        await asyncio.wait({self.task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if self.task.done():
            self.task.result()  # the probe could not connect: say why
        assert self.ready.is_set(), "the probe did not subscribe within 10 s"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    def framed_since(self, display_id: str, since: float) -> list[tuple[float, int, int]]:
        return [f for f in self.frames.get(display_id, []) if f[0] >= since]

    def online(self) -> set[str]:
        return {name for name, doc in self.announced.items() if doc.get("state") == "online"}


def spawn(config: Path, name: str, cache: Path, env: dict[str, str] | None = None,
          extra: tuple[str, ...] = ()) -> subprocess.Popen:
    """`stopcast serve` as its own process with its own state folder (stderr kept for the test to read)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "displays.cli",
            "serve",
            "--config",
            str(config),
            "--instance",
            name,
            "--cache-dir",
            str(cache),
            "--workers",
            "0",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "STOPCAST_STATE_DIR": str(config.parent / f"state-{name}"), **(env or {})},
    )


def reap(procs: dict[str, subprocess.Popen]) -> dict[str, str]:
    """Kill what still runs; every process's stderr."""
    out = {}
    for name, proc in procs.items():
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        out[name] = proc.stderr.read() if proc.stderr else ""
    return out


async def until(condition: Callable[[], bool], seconds: float, what: str) -> float:
    """Wait (polling what the probe records in the background) until `condition` holds; the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not within {seconds} s: {what}")
        await asyncio.sleep(0.05)  # bounded by `seconds`; the probe records meanwhile
    return time.monotonic() - started


async def publish(port: int, topic: str, payload: bytes, retain: bool = True) -> None:
    """One message from a hostile client (no credentials: the broker under test allows anonymous clients)."""
    settings = mqtt.BrokerSettings("127.0.0.1", port, client_id=f"evil-{time.monotonic_ns()}")
    async with mqtt.connect(settings) as client:
        await mqtt.publish_all(client, [mqtt.Publish(topic, payload, retain)], 5)
