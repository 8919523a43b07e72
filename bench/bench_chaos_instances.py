"""Chaos for issue 26 items 5 and 13, in loops, with real `stopcast serve` processes on a real Mosquitto:

- `ghosts`: two instances stopped together with SIGTERM (a rolling stop), then a fresh instance; counts
  instances still announced online after their stop (ghosts) and displays the fresh one does not render
  within the settle time (dark), and the fresh instance's RSS.
- `payload`: a pillar (under the generated ACL, with its own credentials) publishes huge messages on its own
  status topic; counts displays without a current frame afterwards (dark), and the service's RSS and peak RSS.

Run: python bench/bench_chaos_instances.py [--only ghosts|payload] [--rounds 20] [--json FILE]
"""

from __future__ import annotations

import _venv  # the project's venv, whichever python3 started the bench

_venv.ensure()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import atexit  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from contextlib import ExitStack  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import aiohttp  # noqa: E402
from brokerkit import mosquitto  # noqa: E402
from instancekit import PREFIX, Probe, displays, reap, spawn, until  # noqa: E402
from servicekit import write_config  # noqa: E402

from firmware_bridge import client as mqtt  # noqa: E402
from firmware_bridge.acl import mosquitto_acl  # noqa: E402

SETTLE = 60.0  # seconds a fresh instance may take to render every display
HUGE = 40 * 1024 * 1024
RSS_BOUND_MB = 300  # a service of a few displays stays far below this; two 40 MB messages read would pass it


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def _rendered_by(probe: Probe, name: str, since: float, ids: list[str]) -> set[str]:
    epoch = probe.announced.get(name, {}).get("epoch")
    return {d for d in ids if any(e == epoch for _, e, _ in probe.framed_since(d, since))}


async def ghost_round(probe: Probe, config: Path, folder: Path, n: int, ids: list[str]) -> dict:
    """One rolling stop: two instances SIGTERMed together, then a fresh one; its counts."""
    out = {"ghosts": 0, "dark": 0}
    pair = {f"a{n}": spawn(config, f"a{n}", folder / "cache"), f"b{n}": spawn(config, f"b{n}", folder / "cache")}
    try:
        await until(lambda: set(pair) <= probe.online(), 60, "both online")
        await until(lambda: len(set().union(*(_rendered_by(probe, x, 0, ids) for x in pair))) == len(ids),
                    60, "the pair renders everything")
        stopped = int(time.time())
        for proc in pair.values():
            proc.send_signal(signal.SIGTERM)
        for proc in pair.values():
            await asyncio.to_thread(proc.wait, 30)
    finally:
        reap(pair)
    out["ghosts"] = len([x for x in pair if x in probe.online() and probe.announced[x].get("at", 0) > stopped])
    fresh = f"c{n}"
    proc = spawn(config, fresh, folder / "cache")
    started = time.time()
    try:
        try:
            took = await until(lambda: _rendered_by(probe, fresh, started, ids) == set(ids), SETTLE, "")
        except AssertionError:
            took = SETTLE
        out["dark"] = len(set(ids) - _rendered_by(probe, fresh, started, ids))
        out["settle_s"] = round(took, 2)
        out["rss_mb"] = round(rss_kb(proc.pid) / 1024, 1)
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 30)
    finally:
        reap({fresh: proc})
    return out


async def ghosts(rounds: int, folder: Path, count: int = 20) -> dict:
    """Rolling stops: per round two instances SIGTERMed together, then a fresh one must render everything."""
    items = displays(count)
    ids = [d["id"] for d in items]
    out: dict = {"rounds": rounds, "ghosts": 0, "dark": 0, "settle_s": [], "rss_mb": []}
    with mosquitto(folder / "broker") as broker:
        config = write_config(folder / "cfg", broker.url, dt.date.today(), items, mqtt={"url": broker.url})
        async with Probe(broker.port) as probe:
            for n in range(rounds):
                got = await ghost_round(probe, config, folder, n, ids)
                out["ghosts"] += got["ghosts"]
                out["dark"] += got["dark"]
                out["settle_s"].append(got["settle_s"])
                out["rss_mb"].append(got["rss_mb"])
                print(f"ghosts round {n + 1}/{rounds}: ghosts {out['ghosts']} dark {out['dark']} "
                      f"settle {out['settle_s'][-1]} s rss {out['rss_mb'][-1]} MB", flush=True)
    return out


async def payload(rounds: int, folder: Path, count: int = 10, per_round: int = 2) -> dict:
    """Huge messages from a pillar on its own status topic, round after round, to one service."""
    items = displays(count)
    users = {"stopcast": "service-pass", "d00": "pillar-pass"}
    acl = mosquitto_acl(PREFIX, "stopcast", [(d["id"], d["id"]) for d in items])
    out: dict = {
        "rounds": rounds,
        "messages_mb": HUGE >> 20,
        "per_round": per_round,
        "dark": 0,
        "rss_mb": [],
        "peak_mb": 0,
    }
    with mosquitto(folder / "broker", users=users, acl=acl) as broker:
        config = write_config(folder / "cfg", broker.url, dt.date.today(), items,
                              mqtt={"url": broker.url, "username": "stopcast", "password": "service-pass"})
        proc = spawn(config, "svc", folder / "cache")
        pillar = mqtt.BrokerSettings("127.0.0.1", broker.port, username="d00", password="pillar-pass", client_id="d00")
        try:
            http = await _http_of(broker.port)
            async with aiohttp.ClientSession() as session:
                await _until_all_framed(session, http, len(items))
                out["rss_start_mb"] = round(rss_kb(proc.pid) / 1024, 1)
                for n in range(rounds):
                    async with mqtt.connect(pillar) as client:
                        topic = f"{PREFIX}/displays/d00/status"
                        for _ in range(per_round):
                            await mqtt.publish_all(client, [mqtt.Publish(topic, b"{" + b" " * HUGE + b"}", False)], 5)
                        await mqtt.publish_all(
                            client, [mqtt.Publish(topic, f'{{"state": "online", "fw": "r{n}"}}'.encode(), True)], 5
                        )
                    await _until_fw(session, http, f"r{n}")
                    frames = await _frames(session, http)
                    out["dark"] += len(items) - len(frames)
                    out["rss_mb"].append(round(rss_kb(proc.pid) / 1024, 1))
                    print(f"payload round {n + 1}/{rounds}: dark {out['dark']} rss {out['rss_mb'][-1]} MB", flush=True)
            out["peak_mb"] = round(rss_kb(proc.pid, "VmHWM") / 1024, 1)
        except RuntimeError as exc:
            errors = reap({"svc": proc})["svc"]
            raise RuntimeError(f"{exc}; the service's log ends:\n{errors[-3000:]}") from None
        finally:
            reap({"svc": proc})
    return out


async def _http_of(port: int) -> str:
    settings = mqtt.BrokerSettings("127.0.0.1", port, username="stopcast", password="service-pass", client_id="watch")
    async with mqtt.connect(settings) as client:
        await mqtt.subscribe_all(client, [f"{PREFIX}/service/instances/+"])
        async with asyncio.timeout(60):
            async for _, data in mqtt.messages(client):
                doc = json.loads(data) if data else {}
                if doc.get("state") == "online" and doc.get("http"):
                    return doc["http"]
    raise RuntimeError("no instance announced itself")


async def _frames(session: aiohttp.ClientSession, http: str) -> dict:
    async with session.get(http + "/frames.json") as answer:
        return (await answer.json())["frames"]


async def _until_all_framed(session: aiohttp.ClientSession, http: str, count: int) -> None:
    deadline = time.monotonic() + 60
    while len(await _frames(session, http)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the service did not render every display")
        await asyncio.sleep(0.2)


async def _until_fw(session: aiohttp.ClientSession, http: str, fw: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        async with session.get(http + "/dashboard.json") as answer:
            doc = await answer.json()
        if any(d["id"] == "d00" and d.get("pillar", {}).get("fw") == fw for d in doc["displays"]):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the service never read the status after round {fw}")
        await asyncio.sleep(0.2)


SCENARIOS: dict[str, Callable[[int, Path], Awaitable[dict]]] = {"ghosts": ghosts, "payload": payload}


# --- as scenarios of bench/bench_chaos.py: (world, round) -> counts -----------------------------------------

GHOST_PREFIX = "chaos/ghosts"  # on the world's broker, apart from its instances' displays


def ghosts_round(world: object, round_: int) -> Counter:
    """bench_chaos scenario `ghosts`: one rolling stop on the world's Mosquitto (its own prefix and displays)."""
    folder: Path = world.folder / "ghosts"  # type: ignore[attr-defined]
    items = displays(20, "g")
    config = write_config(folder / "cfg", world.broker.url, dt.date.today(), items,  # type: ignore[attr-defined]
                          mqtt={"url": world.broker.url, "prefix": GHOST_PREFIX})  # type: ignore[attr-defined]

    async def one() -> dict:
        async with Probe(world.broker.port, GHOST_PREFIX) as probe:  # type: ignore[attr-defined]
            return await ghost_round(probe, config, folder, round_, [d["id"] for d in items])

    got = asyncio.run(one())
    counts = Counter(lost_ghost_instances=got["ghosts"], lost_dark_displays=got["dark"])
    counts["rounds_rss_over_300mb"] = int(got["rss_mb"] > RSS_BOUND_MB)
    world.notes.append(f"ghosts round {round_}: the fresh instance rendered every display in {got['settle_s']} s, "  # type: ignore[attr-defined]
                       f"RSS {got['rss_mb']} MB")
    return counts


_FLOOD: dict = {}  # the payload scenario's broker (with the ACL) and service, kept across rounds


def payload_round(world: object, round_: int) -> Counter:
    """bench_chaos scenario `payload`: a pillar sends two 40 MB messages on its own status topic under the ACL to a
    service that runs across the rounds; dark displays and the service's RSS after each round."""
    if not _FLOOD:
        _FLOOD["stack"] = stack = ExitStack()
        atexit.register(stack.close)
        folder: Path = world.folder / "payload"  # type: ignore[attr-defined]
        items = displays(10)
        users = {"stopcast": "service-pass", "d00": "pillar-pass"}
        acl = mosquitto_acl(PREFIX, "stopcast", [(d["id"], d["id"]) for d in items])
        broker = stack.enter_context(mosquitto(folder / "broker", users=users, acl=acl))
        config = write_config(folder / "cfg", broker.url, dt.date.today(), items,
                              mqtt={"url": broker.url, "username": "stopcast", "password": "service-pass"})
        proc = spawn(config, "svc", folder / "cache")
        stack.callback(reap, {"svc": proc})
        _FLOOD.update(port=broker.port, proc=proc, count=len(items), http=asyncio.run(_http_of(broker.port)))

    async def one() -> tuple[int, int]:
        pillar = mqtt.BrokerSettings(
            "127.0.0.1", _FLOOD["port"], username="d00", password="pillar-pass", client_id="d00"
        )
        async with aiohttp.ClientSession() as session:
            await _until_all_framed(session, _FLOOD["http"], _FLOOD["count"])
            async with mqtt.connect(pillar) as client:
                topic = f"{PREFIX}/displays/d00/status"
                for _ in range(2):
                    await mqtt.publish_all(client, [mqtt.Publish(topic, b"{" + b" " * HUGE + b"}", False)], 5)
                await mqtt.publish_all(
                    client, [mqtt.Publish(topic, f'{{"state": "online", "fw": "r{round_}"}}'.encode(), True)], 5
                )
            await _until_fw(session, _FLOOD["http"], f"r{round_}")
            return _FLOOD["count"] - len(await _frames(session, _FLOOD["http"])), rss_kb(_FLOOD["proc"].pid)

    dark, rss = asyncio.run(one())
    peak = rss_kb(_FLOOD["proc"].pid, "VmHWM") // 1024
    counts = Counter(lost_dark_displays=dark)
    counts["rounds_rss_over_300mb"] = int(peak > RSS_BOUND_MB)
    world.notes.append(f"payload round {round_}: service RSS {rss // 1024} MB, peak {peak} MB")  # type: ignore[attr-defined]
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(SCENARIOS), action="append", help="run only these scenarios")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--json", default="", metavar="FILE")
    args = parser.parse_args()
    results = {}
    for name in args.only or sorted(SCENARIOS):
        with tempfile.TemporaryDirectory(prefix=f"chaos-{name}-") as tmp:
            results[name] = asyncio.run(SCENARIOS[name](args.rounds, Path(tmp)))
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
