"""Shared state in PostgreSQL ([state] url): a display added through one instance's admin API reaches the
other instance within 5 s, gets frames, and is still there after both restart. Each test has its own
database in the PostgreSQL on 127.0.0.1:5432 (skipped, saying why, when there is none)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import statekit
from brokerkit import mosquitto
from servicekit import write_config

from displays.config.parse import load_config
from displays.core.instances import owner_of
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from displays.web.http import serve_http
from feeds.times import parse_instant
from firmware_bridge import client as mqtt

pytestmark = pytest.mark.broker
AT = parse_instant("2026-11-25T08:00:05+01:00")
TOKEN = "s3cret"


@pytest.fixture
def database() -> Iterator[str]:
    try:
        with statekit.database() as url:
            yield url
    except statekit.NoDatabase as exc:
        pytest.skip(str(exc))


async def until(condition, seconds: float, what: str) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not within {seconds} s: {what}")
        await asyncio.sleep(0.05)  # the instances run meanwhile; bounded by `seconds`
    return time.monotonic() - started


def wanted_id() -> str:
    """A display id that rendezvous hashing gives to instance b (so that b renders it)."""
    return next(f"new-{i}" for i in range(100) if owner_of(f"new-{i}", ("a", "b")) == "b")


def test_an_admin_change_on_one_instance_reaches_the_other_and_survives_restarts(
    tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOPCAST_TEST_SECRET", "the instances' shared secret")  # they pass requests to each other
    with mosquitto(tmp_path / "broker") as broker:
        configs = {name: write_config(tmp_path / name, broker.url, dt.date(2026, 11, 1), http={"listen": "127.0.0.1:0",
                                      "admin_token": TOKEN}, state={"url": database},
                                      service={"secret_env": "STOPCAST_TEST_SECRET"}) for name in ("a", "b")}
        asyncio.run(scenario(configs, broker.port, tmp_path))


async def start(config: Path, name: str, tmp_path: Path) -> tuple[Service, asyncio.Task]:
    service = Service(
        load_config(config), FixedClock(AT), config_path=config, cache_dir=tmp_path / "cache", instance=name
    )
    runner = asyncio.create_task(service.run(extra_tasks=[serve_http(service)]))
    await asyncio.wait_for(service.http_ready.wait(), 30)
    assert service.sharing is not None
    await asyncio.wait_for(service.sharing.ready.wait(), 30)  # admin changes are refused (503) until then
    return service, runner


def _shows(service: Service, display_id: str, text: str) -> bool:
    runtime = service.displays.get(display_id)
    return bool(runtime and runtime.frame is not None and runtime.board
                and any(r.destination == text for r in runtime.board.rows))


async def retained_frame(port: int, display_id: str) -> bool:
    """Whether the broker has (or within 10 s gets) a retained frame for the display."""
    async def first() -> bool:
        async with mqtt.connect(mqtt.BrokerSettings("127.0.0.1", port, client_id=f"probe-{time.monotonic_ns()}")) as c:
            await mqtt.subscribe_all(c, [f"stopcast/v1/displays/{display_id}/frame/#"])
            async for _topic, payload in mqtt.messages(c):
                if payload:
                    return True
        return False

    try:
        return await asyncio.wait_for(first(), 10)
    except asyncio.TimeoutError:
        return False


async def scenario(configs: dict[str, Path], port: int, tmp_path: Path) -> None:
    import aiohttp

    a, ra = await start(configs["a"], "a", tmp_path)
    b, rb = await start(configs["b"], "b", tmp_path)
    new = wanted_id()
    body = {"id": new, "stops": ["UNI"], "layout": "tft-320x240"}
    async with aiohttp.ClientSession() as http:
        answer = await http.post(f"{a.http_url}/api/displays", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status == 201, await answer.text()
        took = await until(
            lambda: b.config.display(new) is not None and new in b.displays, 5, "b knows the new display"
        )
        assert took < 5
        await until(lambda: b.displays[new].frame is not None, 10, "b renders it")
        dashboard = await (await http.get(f"{b.http_url}/dashboard.json")).json()
        assert new in [d["id"] for d in dashboard["displays"]]
        # while the change reaches them the two name different display sets; then they are one deployment again
        await until(lambda: a.membership.live() == b.membership.live() == ("a", "b"), 15, "a and b joined again")
        # Each instance's dashboard lists every display, saying which instance owns it.
        everything = sorted(d.id for d in b.config.displays)
        for one, other in ((a, b), (b, a)):
            doc = await (await http.get(f"{one.http_url}/dashboard.json")).json()
            assert sorted(d["id"] for d in doc["displays"]) == everything
            owners = {d["id"]: d["instance"] for d in doc["displays"]}
            assert owners == {i: (one.instance if i in one.displays else other.instance) for i in everything}
            local = await (await http.get(f"{one.http_url}/dashboard.json?local=1")).json()
            assert sorted(d["id"] for d in local["displays"]) == sorted(one.displays)
        page = await (await http.get(f"{a.http_url}/")).text()
        assert f'id="display-{new}"' in page and "instance b" in page
        thumbnail = await http.get(f"{a.http_url}/displays/{new}/frame.png")  # passed on to b, its owner
        assert thumbnail.status == 200 and thumbnail.content_type == "image/png"
        await until(lambda: [(e.action, e.target) for e in b.audit.recent(1)] == [("display.add", new)], 5,
                    "the audit log is shared too")
        audit = await (await http.get(f"{b.http_url}/api/audit", headers={"Authorization": f"Bearer {TOKEN}"})).json()
        assert (audit[0]["action"], audit[0]["target"]) == ("display.add", new)
        # An ops message made on a: b shows it on the display it owns, lists it, and audits it.
        message = {"text": {"de": "Geteilte Meldung"}, "kind": "row", "targets": {"displays": [new]}}
        answer = await http.post(
            f"{a.http_url}/api/messages", json=message, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert answer.status == 201, await answer.text()
        message_id = (await answer.json())["id"]
        took = await until(lambda: _shows(b, new, "Geteilte Meldung"), 5, "b's board shows a's message")
        assert took < 5
        listed = await (
            await http.get(f"{b.http_url}/api/messages", headers={"Authorization": f"Bearer {TOKEN}"})
        ).json()
        assert [m["id"] for m in listed] == [message_id]
        await until(lambda: [(e.action, e.target) for e in b.audit.recent(1)] == [("message.add", message_id)], 5,
                    "message changes are in the shared audit log")
    assert await retained_frame(port, new)
    assert "new-" not in configs["a"].read_text()  # the database holds the config now, not the file
    for service, runner in ((a, ra), (b, rb)):
        service.stop()
        await asyncio.wait_for(runner, 15)
    a, ra = await start(configs["a"], "a", tmp_path)
    b, rb = await start(configs["b"], "b", tmp_path)
    await until(lambda: new in b.displays and b.displays[new].frame is not None, 10, "after restarting both")
    assert a.config.display(new) is not None
    await until(lambda: _shows(b, new, "Geteilte Meldung"), 10, "the message after restarting both")
    assert [m.message_id for m in a.editorial.messages] == [m.message_id for m in b.editorial.messages] != []
    for service, runner in ((a, ra), (b, rb)):
        service.stop()
        await asyncio.wait_for(runner, 15)
