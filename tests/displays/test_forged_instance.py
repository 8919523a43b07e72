"""Issue 26 item 8: one forged announcement must not take displays, receive devices' credentials, have its
HTML served from stopcast's origin, or break the dashboard with a malformed `history`."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from brokerkit import mosquitto
from instancekit import PREFIX, Probe, displays, publish, reap, spawn, until
from servicekit import write_config

from displays.core.instances import display_set, owner_of

pytestmark = pytest.mark.broker
DISPLAYS = displays(8)
IDS = [d["id"] for d in DISPLAYS]
SECRET = "the deployment's shared secret"
DEVICE = {"ID": "AA:BB:CC:DD:EE:01", "Access-Token": "device-key-123"}


class Attacker:
    """An HTTP server that records what reaches it and answers with its own page and a malformed dashboard."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(dict(request.headers))
        if request.path == "/dashboard.json":
            bad = [{"id": IDS[0], "history": "x"}, {"id": IDS[1], "history": [[1, "a", 3], None, [1, 2]]},
                   {"id": IDS[2], "history": [[0, 10, "<script>alert(1)</script>"]], "pillar": "x", "rows": "many"},
                   {"id": IDS[3], "history": {"a": 1}, "stop_names": 7, "device": []}, "junk"]
            return web.json_response({"displays": bad, "problems": []})
        return web.Response(text="<h1>LINE 400 CANCELLED</h1><script>sessionStorage</script>", content_type="text/html")

    async def __aenter__(self) -> Attacker:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


def _forged(http: str) -> bytes:
    now = int(time.time())
    return json.dumps({"state": "online", "since": now, "epoch": now + 60, "http": http, "at": now, "ttl": 3600,
                       "deployment": "", "displays": display_set(IDS)}).encode()


def test_with_a_shared_secret_a_forged_instance_is_never_joined(tmp_path: Path) -> None:
    with mosquitto(tmp_path / "broker") as broker:
        config = write_config(tmp_path / "cfg", broker.url, dt.date.today(), DISPLAYS,
                              service={"secret_env": "STOPCAST_TEST_SECRET"})
        procs = {"a": spawn(config, "a", tmp_path / "cache", env={"STOPCAST_TEST_SECRET": SECRET})}
        try:
            asyncio.run(_secret(broker.port))
        finally:
            errors = reap(procs)
    assert "Traceback" not in errors["a"], errors["a"][-3000:]


async def _secret(port: int) -> None:
    async with Attacker() as evil, Probe(port) as probe:
        await publish(port, f"{PREFIX}/service/instances/evil", _forged(evil.url))
        await until(lambda: "a" in probe.online(), 60, "a online")
        http = probe.announced["a"]["http"]
        async with aiohttp.ClientSession() as session:
            await until(lambda: all(probe.frames.get(d) for d in IDS), 60, "a renders every display")
            async with session.get(http + "/healthz") as answer:
                health = await answer.json()
            assert health["displays"] == len(IDS) and health["instance"]["live"] == ["a"], health
            assert any("evil" in p and "secret" in p for p in health["problems"]), health["problems"]
            for display_id in IDS:
                async with session.get(f"{http}/displays/{display_id}/frame.png", headers=DEVICE) as answer:
                    assert answer.status == 200
        assert not evil.seen


def test_without_a_secret_nothing_goes_to_an_unlisted_instance_and_a_listed_ones_html_is_sandboxed(
    tmp_path: Path,
) -> None:
    with mosquitto(tmp_path / "broker") as broker:
        procs: dict = {}
        try:
            asyncio.run(_unlisted(broker.port, broker.url, tmp_path, procs))
        finally:
            errors = reap(procs)
    for text in errors.values():
        assert "Traceback" not in text, text[-3000:]


async def _unlisted(port: int, url: str, tmp_path: Path, procs: dict) -> None:
    async with Attacker() as evil, Probe(port) as probe:
        await publish(port, f"{PREFIX}/service/instances/evil", _forged(evil.url))
        taken = [d for d in IDS if owner_of(d, ("a", "evil")) == "evil"]  # without a secret it cannot be told apart
        assert taken
        unlisted = write_config(tmp_path / "unlisted", url, dt.date.today(), DISPLAYS)
        procs["a"] = spawn(unlisted, "a", tmp_path / "cache")
        await until(lambda: "a" in probe.online(), 60, "a online")
        async with aiohttp.ClientSession() as session:
            http = probe.announced["a"]["http"]
            await _wait_healthy(session, http)
            for display_id in taken:
                async with session.get(f"{http}/displays/{display_id}", headers=DEVICE) as answer:
                    text = await answer.text()
                    assert answer.status == 503 and "CANCELLED" not in text, (answer.status, text[:200])
            assert not evil.seen, evil.seen
            async with session.get(http + "/healthz") as answer:
                problems = (await answer.json())["problems"]
            assert any("evil" in p and "not passed" in p for p in problems), problems
        reap({"a": procs.pop("a")})

        listed = write_config(tmp_path / "listed", url, dt.date.today(), DISPLAYS, service={"peers": [evil.url]})
        procs["b"] = spawn(listed, "b", tmp_path / "cache")
        await until(lambda: "b" in probe.online(), 60, "b online")
        async with aiohttp.ClientSession() as session:
            http = probe.announced["b"]["http"]
            await _wait_healthy(session, http)
            theirs = next(d for d in IDS if owner_of(d, ("b", "evil")) == "evil")
            async with session.get(f"{http}/displays/{theirs}", headers=DEVICE) as answer:
                assert answer.status == 200 and "CANCELLED" in await answer.text()
                assert "sandbox" in answer.headers.get("Content-Security-Policy", ""), dict(answer.headers)
            assert evil.seen and not any(k in seen for seen in evil.seen for k in DEVICE), evil.seen
            async with session.get(http + "/") as answer:  # its malformed dashboard entries
                page = await answer.text()
                assert answer.status == 200, page[-2000:]
                assert "<script>alert(1)" not in page


async def _wait_healthy(session: aiohttp.ClientSession, http: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        async with session.get(http + "/healthz") as answer:
            if (await answer.json())["status"] != "starting":
                return
        assert time.monotonic() < deadline, "the instance kept starting"
        await asyncio.sleep(0.2)  # polling a real process's /healthz, bounded by the deadline
