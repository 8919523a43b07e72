"""Chaos rounds against real `stopcast serve` processes sharing one PostgreSQL database and one Mosquitto
(issue 26): each named scenario is repeated for --rounds rounds and counts what was acknowledged and what
was lost. A lost acknowledged change is a bug: the bench exits 1 when any `lost_*` count is not 0.

Scenarios (--only NAME[,NAME]):
  admin_cas      every instance adds a display at the same moment, then all add the same id at once:
                 each 201 must be in the database and on every instance; the same id gets one 201
  message_blip   every instance is sent ops messages one after another while every connection to the
                 database is cut (pg_terminate_backend): each 201 must be in the database, and every
                 instance must hold what the database holds once reconnected
  ghosts         two instances of their own (prefix chaos/ghosts) stopped together with SIGTERM, then a fresh
                 one: no stopped instance may stay announced online, the fresh one renders all 20 displays
  payload        a pillar sends two 40 MB messages on its own status topic (a broker with the generated ACL):
                 the service renders every display and its peak RSS stays under 300 MB

Run: python bench/bench_chaos.py [--rounds 20] [--instances 2] [--only admin_cas] [--json FILE]
New scenarios: a function (world, round) -> counts, registered in SCENARIOS.
"""

from __future__ import annotations

import _venv  # the project's venv, whichever python3 started the bench

_venv.ensure()

import argparse
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench_chaos_instances import ghosts_round, payload_round  # noqa: E402  (items 5 and 13: instances26)
from brokerkit import Broker, mosquitto  # noqa: E402
from statekit import Serve, at_once, database, instances, shared_config, shared_items, terminate  # noqa: E402

SETTLE = 15.0  # seconds for every instance to hold what the database holds
BLIP_POSTING = 2.5  # seconds of posting per message_blip round, the cut a fifth of the way in


@dataclass
class World:
    """What the scenarios run against: the database, the broker, the serve processes, a scratch folder."""

    db: str
    broker: Broker
    serves: dict[str, Serve]
    folder: Path
    notes: list[str] = field(default_factory=list)  # what went wrong, for the report

    def cache(self) -> Path:
        return self.folder / "cache"


def settled(condition: Callable[[], bool], seconds: float = SETTLE) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except (OSError, ValueError):
            pass
        time.sleep(0.1)  # the processes work meanwhile; bounded by the deadline
    return False


def healthy(serve: Serve) -> bool:
    return not any("shared state" in p for p in serve.get("/healthz")["problems"])


def admin_cas(world: World, round_: int) -> Counter:
    """Simultaneous display adds on every instance, distinct ids and then one same id."""
    counts: Counter = Counter(lost_acknowledged_changes=0, lost_instance_differs_from_database=0)
    serves = list(world.serves.values())
    acknowledged = []
    bodies = [{"id": f"cas-{round_}-{s.name}", "stops": ["UNI"], "layout": "tft-320x240"} for s in serves]
    same = {"id": f"cas-{round_}-same", "stops": ["HBF"], "layout": "tft-320x240"}
    answers = at_once(
        *[partial(s.request, "POST", "/api/displays", body) for s, body in zip(serves, bodies, strict=True)]
    )
    answers_same = at_once(*[partial(s.request, "POST", "/api/displays", same) for s in serves])
    for (status, _), body in zip(answers + answers_same, bodies + [same] * len(serves), strict=True):
        counts[f"answered_{status}"] += 1
        if status == 201:
            acknowledged.append(body["id"])
    counts["same_id_201"] += sum(1 for status, _ in answers_same if status == 201)
    if counts["same_id_201"] != 1:
        counts["wrong_same_id_answers"] += 1
        world.notes.append(f"admin_cas round {round_}: same id answered {[s for s, _ in answers_same]}")
    def shared() -> set[str]:
        return {d["id"] for d in shared_config(world.db)[1].get("displays", [])}

    for serve in serves:  # settled: every instance runs what the database holds (anything queued has been sent)
        if not settled(lambda s=serve: {d["id"] for d in s.get("/api/displays")} == shared()):
            counts["lost_instance_differs_from_database"] += 1
            world.notes.append(f"admin_cas round {round_}: {serve.name} runs a config different from the database")
    counts["lost_acknowledged_changes"] += sum(1 for d in acknowledged if d not in shared())
    return counts


def message_blip(world: World, round_: int) -> Counter:
    """Every instance is sent ops messages one after the other for BLIP_POSTING seconds; every database
    connection is cut (pg_terminate_backend) while they are under way."""
    counts: Counter = Counter(lost_acknowledged_messages=0, lost_instance_differs_from_database=0)
    serves = list(world.serves.values())
    answers: list[tuple[int, object]] = []
    stop = threading.Event()

    def poster(serve: Serve) -> None:
        i = 0
        while not stop.is_set():
            answers.append(serve.request("POST", "/api/messages", {
                "text": {"de": f"Blip {round_} {serve.name} {i}"}, "kind": "ticker", "targets": {"all": True}}))
            i += 1

    threads = [threading.Thread(target=poster, args=(s,)) for s in serves]
    for thread in threads:
        thread.start()
    time.sleep(BLIP_POSTING / 5)  # the cut lands among the posts, not before them
    counts["connections_cut"] += terminate(world.db)
    time.sleep(BLIP_POSTING)
    stop.set()
    for thread in threads:
        thread.join(60)
    acknowledged = [doc["id"] for status, doc in answers if status == 201]  # type: ignore[index]
    counts.update(f"answered_{status}" for status, _ in answers)
    for serve in serves:
        if not settled(lambda s=serve: healthy(s), 40):
            world.notes.append(f"message_blip round {round_}: {serve.name} did not reconnect within 40 s")
    shared = shared_items(world.db)
    counts["lost_acknowledged_messages"] += sum(1 for m in acknowledged if m not in shared)
    for serve in serves:
        if not settled(lambda s=serve: {m["id"] for m in s.get("/api/messages")} == shared):
            counts["lost_instance_differs_from_database"] += 1
            world.notes.append(f"message_blip round {round_}: {serve.name} does not hold what the database holds")
    for message_id in shared:  # the next round starts from an empty list (the boards stay readable)
        serves[0].request("DELETE", f"/api/messages/{message_id}")
    return counts


SCENARIOS: dict[str, Callable[[World, int], Counter]] = {"admin_cas": admin_cas, "message_blip": message_blip,
                                                          "ghosts": ghosts_round, "payload": payload_round}


def run(names: list[str], rounds: int, count: int) -> tuple[dict[str, Counter], list[str]]:
    results: dict[str, Counter] = {name: Counter() for name in names}
    with tempfile.TemporaryDirectory() as scratch, database() as db, mosquitto(Path(scratch) / "broker") as broker:
        folder = Path(scratch)
        world = World(db, broker, instances(folder, broker.url, db, tuple("abcdefg"[:count])), folder)
        try:
            for serve in world.serves.values():
                serve.start(world.cache())
            for name in names:
                started = time.monotonic()
                for round_ in range(rounds):
                    try:
                        counts = SCENARIOS[name](world, round_)
                    except Exception as exc:  # noqa: BLE001 - a round that breaks is counted and told, the rest run
                        counts = Counter(rounds_broken=1)
                        world.notes.append(f"{name} round {round_}: {type(exc).__name__}: {exc}")
                    results[name].update(counts)  # update keeps the zero counts (+= drops them)
                    print(
                        f"{name} round {round_ + 1}/{rounds}: "
                        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
                        flush=True,
                    )
                results[name]["seconds"] = round(time.monotonic() - started)
        finally:
            for serve in world.serves.values():
                serve.stop()
    return results, world.notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--instances", type=int, default=2, choices=range(2, 8))
    parser.add_argument("--only", default="", metavar="NAME[,NAME]", help=f"scenarios to run ({', '.join(SCENARIOS)})")
    parser.add_argument("--json", type=Path, default=None, help="also write the counts as JSON")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]!r} (known: {', '.join(SCENARIOS)})")
    results, notes = run(names, args.rounds, args.instances)
    lost = 0
    for name, counts in results.items():
        print(f"{name} ({args.rounds} rounds, {args.instances} instances):")
        for key, value in sorted(counts.items()):
            print(f"  {key:40s} {value}")
            lost += value if key.startswith("lost_") else 0
    for note in notes:
        print(f"note: {note}")
    print(f"lost acknowledged changes: {lost}")
    if args.json:
        args.json.write_text(json.dumps({n: dict(c) for n, c in results.items()}, indent=1))
    sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
