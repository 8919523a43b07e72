"""Which pillar is there: its own MQTT status, or pulls by an identified device; never a browser or
an anonymous pull. A pillar silent beyond dark_after is dark, and that is a problem."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from servicekit import DISPLAYS, write_config

from displays.config.parse import load_config
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from displays.web.http import make_app
from feeds.times import parse_instant

AT = parse_instant("2026-11-25T08:00:05+01:00")


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Service, TestClient]]:
    displays = [dict(d, pull_key="k-7") if d["id"] == "uni-tft" else d for d in DISPLAYS]
    displays = [dict(d, pull_key="env:LED_KEY") if d["id"] == "gons-led" else d for d in displays]
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), displays)
    service = Service(load_config(config), FixedClock(AT), config_path=config, cache_dir=None)
    await service.prepare()
    await service.refresh(AT)
    client = TestClient(TestServer(make_app(service), host="127.0.0.1"))
    await client.start_server()
    yield service, client
    await client.close()
    await service.close()


async def states(client: TestClient) -> dict[str, str]:
    doc = await (await client.get("/dashboard.json")).json()
    return {d["id"]: d["state"] for d in doc["displays"]}


async def test_browsers_and_anonymous_pulls_do_not_count(served: tuple[Service, TestClient]) -> None:
    _, client = served
    for path in ("/displays/uni-tft", "/displays/uni-tft/frame.png", "/displays/uni-tft/frame.bin",
                 "/displays/uni-tft/board.json"):
        assert (await client.get(path)).status == 200
    assert (await states(client))["uni-tft"] == "never seen"
    doc = await (await client.get("/dashboard.json")).json()
    assert doc["online"] == 0 and "0 of 4 pillars online" in await (await client.get("/")).text()


async def test_an_anonymous_or_unproven_device_pull_never_hides_a_dark_pillar(
    served: tuple[Service, TestClient],
) -> None:
    service, client = served
    service.clock.advance(901)  # type: ignore[attr-defined]
    for path in ("/displays/uni-tft/frame.png?device=x", "/displays/uni-tft/frame.png?device=x&key=wrong",
                 "/displays/hbf-epaper/frame.png?device=x&key=k-7"):  # hbf-epaper has no pull_key at all
        assert (await client.get(path)).status == 200
    assert (await states(client))["uni-tft"] == "dark" and (await states(client))["hbf-epaper"] == "dark"
    health = await (await client.get("/healthz")).json()
    assert any(p.startswith("display uni-tft: pillar dark") for p in health["problems"])


async def test_a_named_device_pull_counts_until_dark_after(served: tuple[Service, TestClient],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    service, client = served
    monkeypatch.setenv("LED_KEY", "led-secret")
    assert (await client.get("/displays/uni-tft/frame.png?device=kiosk-7&key=k-7")).status == 200
    assert (
        await client.get(
            "/displays/gons-led/frame.mono1",
            headers={"X-Stopcast-Device": "led-3", "X-Stopcast-Device-Key": "led-secret"},
        )
    ).status == 200
    doc = await (await client.get("/dashboard.json")).json()
    rows = {d["id"]: d for d in doc["displays"]}
    assert (rows["uni-tft"]["state"], rows["uni-tft"]["pull_device"]) == ("pulling", "kiosk-7")
    assert rows["gons-led"]["state"] == "pulling" and doc["online"] == 2
    service.clock.advance(901)  # type: ignore[attr-defined]
    health = await (await client.get("/healthz")).json()
    assert (await states(client)) == dict.fromkeys(("gons-led", "hbf-bwr", "hbf-epaper", "uni-tft"), "dark")
    dark = [p for p in health["problems"] if "pillar dark" in p]
    assert len(dark) == 4 and health["status"] == "degraded"
    assert any(
        p.startswith(
            "display uni-tft: pillar dark: no MQTT status and no device pull since 08:00 "
            "(15 min ago; dark after 15 min)"
        )
        for p in dark
    )


async def test_mqtt_status_online_then_offline(served: tuple[Service, TestClient]) -> None:
    service, client = served
    topic = "stopcast/v1/displays/hbf-epaper/status"
    service.on_message(topic, json.dumps({"state": "online", "fw": "1.2"}).encode())
    assert (await states(client))["hbf-epaper"] == "online"
    service.on_message(topic, json.dumps({"state": "offline"}).encode())
    assert (await states(client))["hbf-epaper"] == "offline"
    service.clock.advance(901)  # type: ignore[attr-defined]
    doc = await (await client.get("/dashboard.json")).json()
    row = next(d for d in doc["displays"] if d["id"] == "hbf-epaper")
    assert row["state"] == "dark" and row["dark_reason"].startswith(
        "said offline, and nothing since 08:00 (15 min ago; dark after 15 min)"
    )


async def test_pages_speak_human(served: tuple[Service, TestClient]) -> None:
    service, client = served
    service.on_message(
        "stopcast/v1/displays/hbf-bwr/status", json.dumps({"state": "online", "fw": "1.2", "rssi": -61}).encode()
    )
    await client.get("/dashboard.json")  # what the app's sampler does every minute
    service.clock.advance(180)  # type: ignore[attr-defined]
    service.on_message("stopcast/v1/displays/hbf-bwr/status", json.dumps({"state": "offline"}).encode())
    await client.get("/dashboard.json")
    service.clock.advance(120)  # type: ignore[attr-defined]
    dashboard = await (await client.get("/")).text()
    page = await (await client.get("/ops/displays/hbf-bwr")).text()
    for text in (dashboard, page):
        assert "['" not in text and "{'" not in text and "None" not in text  # no Python reprs
    assert (
        "Mainz Hauptbahnhof (A), Mainz Hauptbahnhof (B)" in page and "Mainz Hauptbahnhof (A)" in dashboard
    )  # not HBF:A
    assert "2 min ago" in page and "firmware" in page and "signal (RSSI)" in page
    timeline = page.split('<div id="timeline">', 1)[1].split("</div>", 1)[0]
    assert timeline.startswith("<svg") and "online for 3 min" in timeline and "offline for 2 min" in timeline
