"""Service benchmark: 1,000 displays on HART, a realtime update every 15 s, a real Mosquitto.

Measures, from outside the `stopcast serve` process: feed update -> all changed frames received by
a subscriber (p50/p99), the service's CPU (share of one core) and peak RSS over the run, and HTTP
304 answers per second with wrk (when installed).

Latencies are per frame: every frame of an update's burst counts as one sample (the time from writing
the feed to that frame's arrival), so p99 rests on hundreds of samples, not on a handful of updates;
the minute tick is timed the same way from the minute's boundary.

The feed's changes come in two modes (bench/feed_modes.py): `--mode pessimistic` (the default; the
goals hold for it) draws every trip's delays afresh at every update, so every shown trip changes every
15 s; `--mode realistic` lets delays drift a few seconds per update and changes a tenth of the trips by a
minute or more, as a real feed does. Run both to report both.

Run: python bench/bench_service.py [--minutes 3] [--displays 1000] [--mode pessimistic|realistic] [--json]
(--json: one JSON object on stdout with displays, update_p50_s, update_p99_s, tick_p99_s, rss_mb,
cpu_pct, mode and the sample counts; the human-readable report goes to stderr.)
"""

from __future__ import annotations

import _venv  # the project's venv, whichever python3 started the bench

_venv.ensure()

import argparse
import asyncio
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import tomli_w

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from bench_realtime import build_feed  # noqa: E402
from brokerkit import free_port, mosquitto  # noqa: E402
from feed_modes import MODES, delay_states  # noqa: E402

from feeds.cache import default_cache_dir, open_timetable  # noqa: E402
from feeds.times import parse_instant  # noqa: E402
from firmware_bridge import client as mqtt  # noqa: E402
from firmware_bridge import codec  # noqa: E402

HART = ROOT.parent / "shared" / "data" / "hart" / "hart-2021.zip"
AT = parse_instant("2021-02-03T12:00:20-05:00")  # the bench's feed is built for this midday
LAYOUTS = ["epaper-800x480"] * 5 + ["epaper-bwr-800x480"] * 2 + ["tft-320x240", "led-192x64", "tft-320x240",
                                                                  "lcd-portrait-1080x1920"]


def write_config(
    folder: Path, broker_port: int, http_port: int, displays: int, realtime_url: str, layouts: list[str]
) -> Path:
    tt = open_timetable(HART, default_cache_dir())
    busy = sorted(range(len(tt.stops)), key=lambda s: -(int(tt.ix_offsets[s + 1] - tt.ix_offsets[s])))
    stops = [tt.stops[s].stop_id for s in busy[:displays]]
    doc = {
        "feeds": {"gtfs": str(HART), "realtime": [{"url": realtime_url, "interval": 0.2, "stale_after": 600}]},
        "mqtt": {"url": f"mqtt://127.0.0.1:{broker_port}", "frame_ttl": 3600},
        "http": {"listen": f"127.0.0.1:{http_port}"},
        "displays": [{"id": f"p{i:04d}", "stops": [stops[i % len(stops)]], "layout": layouts[i % len(layouts)]}
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
SYNC_WAIT = 30.0  # seconds a check waits for frames still on their way before it counts them as missing
START_WAIT = 600.0  # seconds the service may take to load the timetable and send every display's first frame


def burst(times: list[float]) -> list[float]:
    """The frames of one update: the largest run of arrivals without a pause of BURST_GAP. Boards also
    change by themselves at a countdown's own second, a frame or two at a time, before and after the
    update's burst; those are not the update's, and counting them would make every update look as slow
    as the whole window. (That the update's frames all arrived is checked by hash, not by the burst: see
    `Listener.wait_in_sync`.)"""
    runs: list[list[float]] = []
    for t in sorted(times):
        if runs and t - runs[-1][-1] <= BURST_GAP:
            runs[-1].append(t)
        else:
            runs.append([t])
    return max(runs, key=len) if runs else []


class Listener:
    """Every frame and delta the broker delivers: when, for which display, with which content hash."""

    def __init__(self, http_port: int) -> None:
        self.http_port = http_port
        self.arrivals: list[tuple[float, str, int]] = []
        self.last: dict[str, int] = {}  # display -> content hash of its last frame or delta

    def take(self, topic: str, payload: bytes) -> None:
        if len(payload) < codec.HEADER.size:
            return  # an emptied retained topic
        display = topic.split("/")[3]
        content = codec.parse_header(payload).content_hash
        self.arrivals.append((time.monotonic(), display, content))
        self.last[display] = content

    async def should_show(self) -> tuple[dict[str, int], dict[str, int], int]:
        """What every display should show now and when the service rendered it, from its /frames.json, and
        the service's now."""
        def get() -> tuple[dict[str, int], dict[str, int], int]:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/frames.json", timeout=30) as answer:
                doc = json.load(answer)
            frames = doc["frames"]
            return (
                {d: int(f["hash"], 16) for d, f in frames.items()},
                {d: f["rendered"] for d, f in frames.items()},
                doc["now"],
            )

        return await asyncio.to_thread(get)

    async def wait_in_sync(self, wait: float = SYNC_WAIT, minute: bool = False) -> tuple[dict[str, int], list[str]]:
        """Wait until the last frame received for every display is the one it should show (what it should
        show may move on meanwhile); with `minute`, also until every display's frame was rendered in the
        current minute (every board shows the clock: the minute's tick is done only when all were redrawn).
        After `wait` seconds, the displays still behind are returned as missing."""
        deadline = time.monotonic() + wait
        while True:
            try:
                wanted, rendered, now = await self.should_show()
            except OSError:  # the service is still starting (its HTTP side listens once the first boards are out)
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)
                continue
            minute_start = now - now % 60
            behind = sorted(d for d, h in wanted.items()
                            if self.last.get(d) != h or (minute and (rendered[d] or 0) < minute_start))
            if not behind or time.monotonic() > deadline:
                return wanted, behind
            await asyncio.sleep(1.0)  # /frames.json of 10,000 displays costs the service ~30 ms: not too often

    def first_arrival(self, display: str, content: int, since: float) -> float | None:
        return next((t for t, d, h in self.arrivals if t >= since and d == display and h == content), None)


async def measure(port: int, http_port: int, pid: int, feed_path: Path, rounds: int, payloads: list[bytes],
                  started: float) -> dict:
    """Feed updates at :05, :20, :35, :50 of the service's clock (which started at AT, 20 s past a
    minute). Before each update, every display's last received frame must be the one the service says it
    should show (/frames.json): a round is done only when every changed frame arrived, and what did not
    within SYNC_WAIT is reported as missing. An update's frames are timed from writing the feed (per
    frame, its burst); the minute tick per display, from the minute's boundary to the arrival of the frame
    it should show after the tick."""
    offset = AT % 60

    def service_second(t: float) -> float:
        return (t - started + offset) % 60

    def next_boundary(t: float) -> float:
        return t + (60 - service_second(t))
    listener = Listener(http_port)
    settings = mqtt.BrokerSettings("127.0.0.1", port, client_id="bench-listener")
    latencies, samples, ticks, tick_samples, missing, peak_rss = [], [], [], [], [], 0
    async with mqtt.connect(settings) as client:
        await mqtt.subscribe_all(client, ["stopcast/v1/displays/+/frame", "stopcast/v1/displays/+/frame/+",
                                          "stopcast/v1/displays/+/delta"])

        async def listen() -> None:
            async for topic, payload in mqtt.messages(client):
                listener.take(topic, payload)

        task = asyncio.create_task(listen())
        await asyncio.sleep(5)
        _, first_missing = await listener.wait_in_sync(START_WAIT)  # the first full render of every display
        missing += [("start", d) for d in first_missing]
        _, cpu_start = rss_and_cpu(pid)
        wall_start = time.monotonic()
        boundary: float | None = None
        for k in range(rounds):
            now = time.monotonic()
            await asyncio.sleep((5 - service_second(now)) % 15)  # to the next :05/:20/:35/:50
            wanted, behind = await listener.wait_in_sync(minute=boundary is not None)
            missing += [(f"round {k}", d) for d in behind]
            if boundary is not None and boundary < time.monotonic():  # a minute tick since the last update
                tick = [
                    t - boundary
                    for t in (listener.first_arrival(d, h, boundary) for d, h in wanted.items())
                    if t is not None
                ]
                if tick:
                    ticks.append(max(tick))
                    tick_samples += tick
                boundary = None
            now = time.monotonic()
            if (service_second(now) - 5) % 15 > 2:  # the check ran well past its slot: start at the next one
                await asyncio.sleep((5 - service_second(now)) % 15)
            listener.arrivals.clear()
            tmp = feed_path.with_name("tu.pb.tmp")
            tmp.write_bytes(payloads[k % len(payloads)])
            written = time.monotonic()
            os.replace(tmp, feed_path)
            upcoming = next_boundary(written)
            await asyncio.sleep(max(0.0, min(14.0, upcoming - written - 0.05)))
            update = burst(sorted(t for t, _, _ in listener.arrivals if written <= t < upcoming))
            if os.environ.get("BENCH_DEBUG"):
                window = sorted(t - written for t, _, _ in listener.arrivals if written <= t < upcoming)
                print(f"round {k}: {len(window)} frames in the window, burst {len(update)}: "
                      f"{[round(x, 2) for x in window[:3]]} .. {[round(x, 2) for x in window[-3:]]}", file=sys.stderr)
            if update:
                latencies.append(max(update) - written)
                samples += [t - written for t in update]
            if upcoming <= written + 15:
                boundary = upcoming
            peak_rss = max(peak_rss, rss_and_cpu(pid)[0])
        rss, cpu_end = rss_and_cpu(pid)
        wall = time.monotonic() - wall_start
        _, behind = await listener.wait_in_sync()
        missing += [("end", d) for d in behind]
        task.cancel()
    return {"latencies": latencies, "ticks": ticks, "samples": samples, "tick_samples": tick_samples,
            "cpu": (cpu_end - cpu_start) / wall, "rss": max(peak_rss, rss), "missing": missing}


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
    done = subprocess.run(
        [wrk, "-t1", "-c32", "-d10s", "-H", f"If-None-Match: {etag}", url], capture_output=True, text=True
    )
    lines = [
        line
        for line in done.stdout.splitlines()
        if "Requests/sec" in line or "Non-2xx" in line or "requests in" in line
    ]
    return "; ".join(line.strip() for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=3)
    parser.add_argument("--displays", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object on stdout")
    parser.add_argument("--without-lcd", action="store_true", help="the mix before the portrait LCD joined it")
    parser.add_argument("--realtime", choices=("file", "http"), default="file",
                        help="the service reads the TripUpdates from a file, or polls them from a loopback HTTP server")
    parser.add_argument("--mode", choices=MODES, default="pessimistic",
                        help="pessimistic: every trip's delays change at every update (the default); realistic: delays "
                             "drift a few seconds, a tenth of the trips change by a minute or more")
    args = parser.parse_args()
    if not HART.exists():
        raise SystemExit(f"{HART} is absent")
    tt = open_timetable(HART, default_cache_dir())
    rounds = max(2, int(args.minutes * 60 / 15))
    states = delay_states(args.mode, 5000, 20, 4 if args.mode == "pessimistic" else rounds + 1)
    payloads = [build_feed(tt, 5000, 20, delays=delays) for delays in states]  # [0] first, then one per update
    with tempfile.TemporaryDirectory() as folder_name, mosquitto(Path(folder_name) / "broker") as broker:
        folder = Path(folder_name)
        http_port = free_port()
        server = None
        realtime_url = "tu.pb"
        if args.realtime == "http":
            server = serve_folder(folder)
            realtime_url = f"http://127.0.0.1:{server.server_address[1]}/tu.pb"
        layouts = [name for name in LAYOUTS if not (args.without_lcd and name.startswith("lcd"))]
        config = write_config(folder, broker.port, http_port, args.displays, realtime_url, layouts)
        (folder / "tu.pb").write_bytes(payloads[0])
        log = (folder / "service.log").open("w")
        started = time.monotonic()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "displays.cli",
                "serve",
                "--config",
                str(config),
                "--at",
                str(AT),
                "--workers",
                str(args.workers),
            ],
            stdout=log,
            stderr=log,
            text=True,
        )
        try:
            result = asyncio.run(
                measure(
                    broker.port, http_port, proc.pid, folder / "tu.pb", rounds, payloads[1:] + payloads[:1], started
                )
            )
            out = sys.stderr if args.json else sys.stdout
            samples = result["samples"]
            print(
                f"{args.displays} displays on HART ({', '.join(sorted(set(layouts)))}), "
                "realtime update every 15 s from a "
                f"{'loopback HTTP server' if args.realtime == 'http' else 'file'}, {args.mode} mode ({rounds} updates, "
                f"{len(samples)} frames):",
                file=out,
            )
            if samples:
                print(f"  feed update -> changed frame received, per frame: p50 {percentile(samples, 0.5):.2f} s, "
                      f"p99 {percentile(samples, 0.99):.2f} s, max {max(samples):.2f} s", file=out)
            print(
                f"  every update, until its last frame (s): {' '.join(f'{x:.2f}' for x in result['latencies'])}",
                file=out,
            )
            print(
                f"  minute ticks, until the last frame (s): {' '.join(f'{x:.2f}' for x in result['ticks'])}", file=out
            )
            missing = result["missing"]
            print(f"  frames that never arrived (within {SYNC_WAIT:.0f} s of each check): {len(missing)}"
                  + (f", e.g. {missing[:5]}" if missing else ""), file=out)
            print(
                f"  service CPU (with its workers): {result['cpu'] * 100:.0f}% of one core; "
                f"peak RSS (all processes) {result['rss']} MB",
                file=out,
            )
            if args.json:
                print(
                    json.dumps(
                        {
                            "displays": args.displays,
                            "mode": args.mode,
                            "realtime": args.realtime,
                            "lcd": not args.without_lcd,
                            "updates": rounds,
                            "update_samples": len(samples),
                            "update_p50_s": _round(percentile(samples, 0.5)),
                            "update_p99_s": _round(percentile(samples, 0.99)),
                            "tick_samples": len(result["tick_samples"]),
                            "tick_p99_s": _round(percentile(result["tick_samples"], 0.99)),
                            "rss_mb": result["rss"],
                            "cpu_pct": round(result["cpu"] * 100, 1),
                            "missing_frames": len(missing),
                        }
                    )
                )
            else:
                print(f"  HTTP 304: {http_304(http_port)}")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
            if server is not None:
                server.shutdown()
            tail = (folder / "service.log").read_text().splitlines()[-5:]
            print("  service log ends:", *tail, sep="\n    ", file=sys.stderr if args.json else sys.stdout)


def serve_folder(folder: Path) -> http.server.ThreadingHTTPServer:
    """The folder over loopback HTTP (with Last-Modified / If-Modified-Since), as a transit company serves its feed."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


if __name__ == "__main__":
    main()
