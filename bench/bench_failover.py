"""Failover: three `stopcast serve` instances share 1,000 displays (the bench mix of e-paper, TFT and LED)
on one Mosquitto; one is killed with SIGKILL. Reports, from a probe subscribed to everything: the time
until the survivors announce the takeover (their raised epochs), and per display of the killed instance
the time until a survivor published its frame (p50 / p99 / max). Repeated for each instance.

Run: python bench/bench_failover.py [--displays 1000] [--json FILE]
"""

from __future__ import annotations

import _venv  # the project's venv, whichever python3 started the bench

_venv.ensure()

import argparse
import asyncio
import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from brokerkit import mosquitto, stop_process  # noqa: E402
from servicekit import write_config  # noqa: E402

from displays.core.instances import owner_of  # noqa: E402
from firmware_bridge import client as mqtt  # noqa: E402
from firmware_bridge import codec  # noqa: E402

PREFIX = "stopcast/v1"
STOPS = ["HBF", "UNI", "GONS", "HBF:A", "HBF:B"]
LAYOUTS = ["epaper-800x480", "tft-320x240", "led-192x64"]
NAMES = ("a", "b", "c")


class Probe:
    """Everything published: frames per display (wall time, epoch) and each instance's epochs."""

    def __init__(self) -> None:
        self.frames: dict[str, list[tuple[float, int]]] = {}
        self.epochs: dict[str, list[tuple[float, int]]] = {}

    async def run(self, port: int, ready: asyncio.Event) -> None:
        async with mqtt.connect(mqtt.BrokerSettings("127.0.0.1", port, client_id="bench-probe")) as client:
            await mqtt.subscribe_all(client, [f"{PREFIX}/displays/+/frame/#", f"{PREFIX}/displays/+/delta",
                                              f"{PREFIX}/service/instances/+"])
            ready.set()
            async for topic, payload in mqtt.messages(client):
                parts = topic.split("/")
                if not payload:
                    continue
                if parts[2] == "service":
                    self.epochs.setdefault(parts[4], []).append((time.time(), json.loads(payload)["epoch"]))
                elif parts[2] == "displays":
                    self.frames.setdefault(parts[3], []).append((time.time(), codec.parse_header(payload).epoch))

    def epoch_of(self, name: str) -> int:
        return self.epochs[name][-1][1] if self.epochs.get(name) else -1


def spawn(config: Path, name: str, cache: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "displays.cli", "serve", "--config", str(config), "--instance", name,
                             "--cache-dir", str(cache), "--workers", "0"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)


async def wait(condition, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def one_kill(port: int, config: Path, folder: Path, victim: str, ids: list[str], env: dict) -> dict:
    probe, ready = Probe(), asyncio.Event()
    task = asyncio.create_task(probe.run(port, ready))
    await ready.wait()
    procs = {name: spawn(config, name, folder / "cache", env) for name in NAMES}
    try:
        owners = {d: owner_of(d, NAMES) for d in ids}
        settled = await wait(lambda: all(probe.frames.get(d) and probe.frames[d][-1][1] == probe.epoch_of(owners[d])
                                         for d in ids), 300)
        assert settled, "the three instances did not publish every display"
        taken = [d for d in ids if owners[d] == victim]
        survivors = [n for n in NAMES if n != victim]
        before = {n: probe.epoch_of(n) for n in survivors}
        killed = time.time()
        procs[victim].send_signal(signal.SIGKILL)
        procs[victim].wait()
        await wait(lambda: any(probe.epoch_of(n) != before[n] for n in survivors), 60)
        takeover = min((t for n in survivors for t, e in probe.epochs.get(n, []) if t >= killed), default=float("nan"))
        await wait(
            lambda: all(
                any(t >= killed and e in {probe.epoch_of(n) for n in survivors} for t, e in probe.frames[d])
                for d in taken
            ),
            120,
        )
        latencies = sorted(
            min((t for t, e in probe.frames[d] if t >= killed), default=float("inf")) - killed for d in taken
        )
        return {"victim": victim, "displays_taken_over": len(taken), "takeover_s": round(takeover - killed, 3),
                "frame_p50_s": round(statistics.median(latencies), 3),
                "frame_p99_s": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 3),
                "frame_max_s": round(latencies[-1], 3)}
    finally:
        for proc in procs.values():
            stop_process(proc, 10)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--displays", type=int, default=1000)
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    args = parser.parse_args()
    displays = [{"id": f"d{i:04d}", "stops": [STOPS[i % len(STOPS)]], "layout": LAYOUTS[i % len(LAYOUTS)]}
                for i in range(args.displays)]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for victim in NAMES:
            env = {**os.environ, "STOPCAST_STATE_DIR": str(folder / f"state-{victim}")}
            with mosquitto(folder / f"broker-{victim}") as broker:
                config = write_config(folder / f"cfg-{victim}", broker.url, dt.date.today(), displays,
                                      http={"listen": "127.0.0.1:0"})
                result = asyncio.run(one_kill(broker.port, config, folder, victim, [d["id"] for d in displays], env))
            results.append(result)
            print(f"kill {victim}: {result['displays_taken_over']} displays taken over; survivors announced after "
                  f"{result['takeover_s']:.2f} s; their frames published after p50 {result['frame_p50_s']:.2f} s, "
                  f"p99 {result['frame_p99_s']:.2f} s, max {result['frame_max_s']:.2f} s")
    if args.json:
        args.json.write_text(json.dumps({"bench": "failover", "displays": args.displays, "runs": results}, indent=1))


if __name__ == "__main__":
    main()
