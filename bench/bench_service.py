"""Service benchmark: 1,000 displays on HART, a realtime update every 15 s, a real Mosquitto.

Measures, from outside the `stopcast serve` process: feed update -> all changed frames received by
a subscriber (p50/p99), the service's CPU (share of one core) and peak RSS over the run, and HTTP
304 answers per second with wrk (when installed).

Latencies are per frame: every frame of an update's burst counts as one sample (the time from writing
the feed to that frame's arrival), so p99 rests on hundreds of samples, not on a handful of updates;
the minute tick is timed the same way from the minute's boundary.

Run: python bench/bench_service.py [--minutes 3] [--displays 1000] [--json]
(--json: one JSON object on stdout with displays, update_p50_s, update_p99_s, tick_p99_s, rss_mb,
cpu_pct and the sample counts; the human-readable report goes to stderr.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tomli_w

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from bench_realtime import build_feed  # noqa: E402
from brokerkit import free_port, mosquitto  # noqa: E402

from feeds.cache import default_cache_dir, open_timetable  # noqa: E402
from feeds.times import parse_instant  # noqa: E402
from firmware_bridge import client as mqtt  # noqa: E402

HART = ROOT.parent / "shared" / "data" / "hart" / "hart-2021.zip"
AT = parse_instant("2021-02-03T12:00:20-05:00")  # the bench's feed is built for this midday
LAYOUTS = ["epaper-800x480"] * 5 + ["epaper-bwr-800x480"] * 2 + ["tft-320x240", "led-192x64", "tft-320x240"]


def write_config(folder: Path, broker_port: int, http_port: int, displays: int) -> Path:
    tt = open_timetable(HART, default_cache_dir())
    busy = sorted(range(len(tt.stops)), key=lambda s: -(int(tt.ix_offsets[s + 1] - tt.ix_offsets[s])))
    stops = [tt.stops[s].stop_id for s in busy[:displays]]
    doc = {
        "feeds": {"gtfs": str(HART), "realtime": [{"url": "tu.pb", "interval": 0.2, "stale_after": 600}]},
        "mqtt": {"url": f"mqtt://127.0.0.1:{broker_port}", "frame_ttl": 3600},
        "http": {"listen": f"127.0.0.1:{http_port}"},
        "displays": [{"id": f"p{i:04d}", "stops": [stops[i % len(stops)]], "layout": LAYOUTS[i % len(LAYOUTS)]}
                     for i in range(displays)],
    }
    path = folder / "stopcast.toml"
    path.write_text(tomli_w.dumps(doc))
    return path


def _tree(pid: int) -> list[int]:
    """The process and all its descendants (the service and its render workers)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo += parents.get(current, [])
    return out


def rss_and_cpu(pid: int) -> tuple[int, float]:
    """RSS (MB) and CPU seconds so far, summed over the service and its worker processes."""
    rss_kb, cpu = 0, 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for member in _tree(pid):
        try:
            with open(f"/proc/{member}/status") as fh:
                rss_kb += next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
            with open(f"/proc/{member}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, StopIteration):
            continue
    return rss_kb // 1024, cpu


BURST_GAP = 0.5  # seconds without a frame that end an update's burst


def burst(times: list[float]) -> list[float]:
    """The frames of one update: arrivals up to the first pause of BURST_GAP. Boards also change by
    themselves at a countdown's own second, a frame or two at a time; those later frames are not the
    update's, and counting them would make every update look as slow as the whole window."""
    for i in range(1, len(times)):
        if times[i] - times[i - 1] > BURST_GAP:
            return times[:i]
    return times


async def measure(port: int, pid: int, feed_path: Path, rounds: int, payloads: list[bytes], started: float) -> dict:
    """Feed updates at :05, :20, :35, :50 of the service's clock (which started at AT, 20 s past a
    minute); a round's frames count up to the next minute boundary, after which the minute tick's
    own frames (every board changes) arrive and are timed separately."""
    arrivals: list[float] = []
    offset = AT % 60

    def service_second(t: float) -> float:
        return (t - started + offset) % 60

    def next_boundary(t: float) -> float:
        return t + (60 - service_second(t))
    settings = mqtt.BrokerSettings("127.0.0.1", port, client_id="bench-listener")
    latencies, samples, tick_samples, peak_rss = [], [], [], 0
    async with mqtt.connect(settings) as client:
        await mqtt.subscribe_all(client, ["stopcast/v1/displays/+/frame", "stopcast/v1/displays/+/delta"])

        async def listen() -> None:
            async for _topic, _payload in mqtt.messages(client):
                arrivals.append(time.monotonic())

        listener = asyncio.create_task(listen())
        await asyncio.sleep(20)  # let the first full render of every display settle
        _, cpu_start = rss_and_cpu(pid)
        wall_start = time.monotonic()
        ticks = []
        for k in range(rounds):
            now = time.monotonic()
            await asyncio.sleep((5 - service_second(now)) % 15)  # to the next :05/:20/:35/:50
            arrivals.clear()
            tmp = feed_path.with_name("tu.pb.tmp")
            tmp.write_bytes(payloads[k % len(payloads)])
            written = time.monotonic()
            os.replace(tmp, feed_path)
            boundary = next_boundary(written)
            await asyncio.sleep(14)
            update = burst(sorted(t for t in arrivals if written <= t < boundary))
            if update:
                latencies.append(max(update) - written)
                samples += [t - written for t in update]
            tick = [t for t in arrivals if t >= boundary]
            if tick:
                ticks.append(max(tick) - boundary)
                tick_samples += [t - boundary for t in tick]
            peak_rss = max(peak_rss, rss_and_cpu(pid)[0])
        rss, cpu_end = rss_and_cpu(pid)
        wall = time.monotonic() - wall_start
        listener.cancel()
    return {"latencies": latencies, "ticks": ticks, "samples": samples, "tick_samples": tick_samples,
            "cpu": (cpu_end - cpu_start) / wall, "rss": max(peak_rss, rss)}


def percentile(values: list[float], share: float) -> float | None:
    """The value below which `share` of `values` lie (nearest rank); None without values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else None


def http_304(http_port: int) -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        return "wrk not installed (Debian: apt-get install wrk)"
    import urllib.request

    url = f"http://127.0.0.1:{http_port}/displays/p0000/frame.png"
    with urllib.request.urlopen(url) as response:
        etag = response.headers["ETag"]
    done = subprocess.run([wrk, "-t1", "-c32", "-d10s", "-H", f"If-None-Match: {etag}", url], capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if "Requests/sec" in line or "Non-2xx" in line or "requests in" in line]
    return "; ".join(line.strip() for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=3)
    parser.add_argument("--displays", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object on stdout")
    args = parser.parse_args()
    if not HART.exists():
        raise SystemExit(f"{HART} is absent")
    tt = open_timetable(HART, default_cache_dir())
    rng = random.Random(3)
    payloads = [build_feed(tt, 5000, 20, seed=rng.randint(0, 1 << 30)) for _ in range(4)]
    with tempfile.TemporaryDirectory() as folder_name, mosquitto(Path(folder_name) / "broker") as broker:
        folder = Path(folder_name)
        http_port = free_port()
        config = write_config(folder, broker.port, http_port, args.displays)
        (folder / "tu.pb").write_bytes(payloads[0])
        log = (folder / "service.log").open("w")
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "displays.cli", "serve", "--config", str(config), "--at", str(AT),
                                 "--workers", str(args.workers)],
                                stdout=log, stderr=log, text=True)
        try:
            rounds = max(2, int(args.minutes * 60 / 15))
            result = asyncio.run(measure(broker.port, proc.pid, folder / "tu.pb", rounds, payloads[1:] + payloads[:1], started))
            out = sys.stderr if args.json else sys.stdout
            samples = result["samples"]
            print(f"{args.displays} displays on HART, realtime update every 15 s ({rounds} updates, {len(samples)} frames):", file=out)
            if samples:
                print(f"  feed update -> changed frame received, per frame: p50 {percentile(samples, 0.5):.2f} s, "
                      f"p99 {percentile(samples, 0.99):.2f} s, max {max(samples):.2f} s", file=out)
            print(f"  every update, until its last frame (s): {' '.join(f'{x:.2f}' for x in result['latencies'])}", file=out)
            print(f"  minute ticks, until the last frame (s): {' '.join(f'{x:.2f}' for x in result['ticks'])}", file=out)
            print(f"  service CPU (with its workers): {result['cpu'] * 100:.0f}% of one core; peak RSS (all processes) {result['rss']} MB",
                  file=out)
            if args.json:
                print(json.dumps({
                    "displays": args.displays, "updates": rounds, "update_samples": len(samples),
                    "update_p50_s": _round(percentile(samples, 0.5)), "update_p99_s": _round(percentile(samples, 0.99)),
                    "tick_samples": len(result["tick_samples"]), "tick_p99_s": _round(percentile(result["tick_samples"], 0.99)),
                    "rss_mb": result["rss"], "cpu_pct": round(result["cpu"] * 100, 1),
                }))
            else:
                print(f"  HTTP 304: {http_304(http_port)}")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
            tail = (folder / "service.log").read_text().splitlines()[-5:]
            print("  service log ends:", *tail, sep="\n    ", file=sys.stderr if args.json else sys.stdout)


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


if __name__ == "__main__":
    main()
