"""Shared state under trouble, with real `stopcast serve` processes on one PostgreSQL database and one
Mosquitto (issue 26 items 1 to 3): simultaneous admin changes on two instances (compare-and-set: nothing
answered 201 is lost, the loser answers 409), ops messages across connections cut by pg_terminate_backend
(nothing acknowledged is lost; 503 and a truthful /healthz while the database refuses connections), and a
restart while the database is down (the instance runs the last shared state it saw, and says so)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from brokerkit import mosquitto
from statekit import (
    NoDatabase,
    Serve,
    at_once,
    database,
    instances,
    refuse,
    shared_config,
    shared_items,
    terminate,
    wait_until,
)

from displays.core.instances import owner_of

pytestmark = pytest.mark.broker


@pytest.fixture
def db() -> Iterator[str]:
    try:
        with database() as url:
            yield url
    except NoDatabase as exc:
        pytest.skip(str(exc))


@pytest.fixture
def two(tmp_path: Path, db: str) -> Iterator[dict[str, Serve]]:
    with mosquitto(tmp_path / "broker") as broker:
        serves = instances(tmp_path, broker.url, db)
        try:
            for serve in serves.values():
                serve.start(tmp_path / "cache")
            yield serves
        finally:
            for serve in serves.values():
                serve.stop()


def display_ids(serve: Serve) -> set[str]:
    return {d["id"] for d in serve.get("/api/displays")}  # type: ignore[union-attr]


def message_ids(serve: Serve) -> set[str]:
    return {m["id"] for m in serve.get("/api/messages")}  # type: ignore[union-attr]


def shared_display_ids(url: str) -> set[str]:
    return {d["id"] for d in shared_config(url)[1].get("displays", [])}


def healthy(serve: Serve) -> bool:
    """No shared-state problem on the instance's /healthz."""
    return not any("shared state" in p for p in serve.get("/healthz")["problems"])


def test_simultaneous_admin_changes_on_two_instances_lose_nothing(two: dict[str, Serve], db: str) -> None:
    a, b = two["a"], two["b"]
    created: set[str] = set()
    for round_ in range(5):
        body_a = {"id": f"race-a-{round_}", "stops": ["UNI"], "layout": "tft-320x240"}
        body_b = {"id": f"race-b-{round_}", "stops": ["GONS"], "layout": "led-192x64"}
        answers = at_once(partial(a.request, "POST", "/api/displays", body_a),
                          partial(b.request, "POST", "/api/displays", body_b))
        for (status, doc), body in zip(answers, (body_a, body_b), strict=True):
            assert status in (201, 409), (status, doc)
            if status == 201:
                created.add(body["id"])
        same = {"id": f"same-{round_}", "stops": ["HBF"], "layout": "tft-320x240"}
        statuses = sorted(s for s, _ in at_once(partial(a.request, "POST", "/api/displays", same),
                                                partial(b.request, "POST", "/api/displays", same)))
        assert statuses == [201, 409]  # one add of the same id wins, the other is told so
        created.add(same["id"])
    assert created <= shared_display_ids(db)  # every change answered 201 is in the database
    assert len(created) == 15
    wanted = shared_display_ids(db)
    for serve in (a, b):  # and every instance runs exactly the database's config
        wait_until(lambda s=serve: display_ids(s) == wanted, 10, f"{serve.name} runs the shared config")


def test_ops_messages_survive_cut_connections_and_a_refusing_database(two: dict[str, Serve], db: str) -> None:
    a, b = two["a"], two["b"]
    accepted: set[str] = set()

    def post(serve: Serve, text: str) -> int:
        status, doc = serve.request("POST", "/api/messages", {"text": {"de": text}, "kind": "ticker",
                                                              "targets": {"all": True}})
        assert status in (201, 503), (status, doc)
        if status == 201:
            accepted.add(doc["id"])  # type: ignore[index]
        return status

    assert post(a, "vorher") == 201
    for round_ in range(3):
        assert terminate(db) >= 4  # both instances' connections (each has one to write and one to listen)
        for i in range(3):  # at once, before the instances noticed
            post(a, f"a {round_}.{i}")
            post(b, f"b {round_}.{i}")
        for serve in (a, b):
            wait_until(lambda s=serve: healthy(s), 20, f"{serve.name} connected again")
        wait_until(lambda: post(a, "danach") == 201 and post(b, "danach") == 201, 20, "writes work again")
    assert accepted <= shared_items(db)  # nothing answered 201 was lost
    for serve in (a, b):
        wait_until(lambda s=serve: message_ids(s) == shared_items(db), 10, f"{serve.name} holds every message")
    # While the database refuses connections: 503, and /healthz says so (and what runs) on both instances.
    refuse(db, True)
    try:
        for serve in (a, b):
            wait_until(lambda s=serve: any("shared state" in p and "refused (503)" in p
                                           for p in s.get("/healthz")["problems"]), 10, f"{serve.name}'s healthz")
            assert post(serve, "während") == 503
            assert serve.get("/healthz")["status"] != "ok"
    finally:
        refuse(db, False)
    for serve in (a, b):
        wait_until(lambda s=serve: healthy(s), 40, f"{serve.name}'s healthz after the database is back")
    assert accepted <= shared_items(db)


def test_a_restart_while_the_database_is_down_runs_the_last_shared_state(two: dict[str, Serve], db: str,
                                                                          tmp_path: Path) -> None:
    a, b = two["a"], two["b"]
    added = [f"api-{i}" for i in range(3)]
    for display_id in added:
        assert (
            a.request("POST", "/api/displays", {"id": display_id, "stops": ["UNI"], "layout": "tft-320x240"})[0] == 201
        )
    status, doc = a.request("POST", "/api/messages", {"text": {"de": "Station geschlossen"}, "kind": "takeover",
                                                      "priority": 9, "targets": {"all": True}})
    assert status == 201
    takeover = doc["id"]  # type: ignore[index]
    wait_until(lambda: set(added) <= display_ids(a) and takeover in message_ids(a), 10, "a has seen the changes")
    a.stop()
    refuse(db, True)
    try:
        a.start(tmp_path / "cache")
        assert set(added) <= display_ids(a)  # the displays added through the API, not the file's
        assert takeover in message_ids(a)
        health = a.get("/healthz")
        assert any("last shared config this instance saw" in p for p in health["problems"]), health["problems"]
        assert health["status"] != "ok"
        mine = [d for d in added if owner_of(d, ("a", "b")) == "a"]
        for display_id in mine:  # what a renders shows the takeover
            wait_until(lambda d=display_id: "Station geschlossen" in str(a.get(f"/displays/{d}/board.json")), 15,
                       f"{display_id} shows the takeover")
    finally:
        refuse(db, False)
    wait_until(lambda: healthy(a), 40, "a reads the database")
    assert display_ids(a) == shared_display_ids(db) == display_ids(b)
