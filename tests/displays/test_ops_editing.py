"""What ops edit with: stops found by name (and suggested when refused, without the server's paths), a display
change previewed before it is saved, times that read as people say them, and a timetable badge that is never
green while the timetable has expired."""

from __future__ import annotations

import base64
import datetime as dt
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image
from servicekit import write_config

from displays.config.parse import load_config
from displays.core.humane import ago, day_text, duration, local_time
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from displays.web.http import make_app
from feeds.times import parse_instant

AT = parse_instant("2026-11-25T08:00:05+01:00")
AUTH = {"Authorization": "Bearer t0ken-for-ops"}


async def _serve(tmp_path: Path, day: dt.date = dt.date(2026, 11, 1), at: int = AT) -> tuple[Service, TestClient]:
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", day, http={"admin_token": "t0ken-for-ops"})
    service = Service(load_config(config), FixedClock(at), config_path=config, cache_dir=tmp_path / "cache")
    await service.prepare()
    await service.refresh(at)
    client = TestClient(TestServer(make_app(service), host="127.0.0.1"))
    await client.start_server()
    return service, client


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Service, TestClient]]:
    service, client = await _serve(tmp_path)
    yield service, client
    await client.close()
    await service.close()


async def test_stops_are_found_by_name_accents_and_case_ignored(served: tuple[Service, TestClient]) -> None:
    _, client = served
    found = await (await client.get("/api/stops?q=schiller")).json()
    assert found[0]["id"] == "SCHI" and found[0]["name"] == "Schillerplatz"
    assert [s["id"] for s in await (await client.get("/api/stops?q=universitat")).json()][:1] == ["UNI"]
    platforms = await (await client.get("/api/stops?q=hauptbahnhof b")).json()
    assert platforms[0]["id"] == "HBF:B" and platforms[0]["station"] == "HBF"
    station_first = await (await client.get("/api/stops?q=Mainz Hauptbahnhof")).json()
    assert station_first[0]["id"] == "HBF" and "station" in station_first[0]["label"]


async def test_a_refused_stop_gets_a_suggestion_and_never_the_config_path(served: tuple[Service, TestClient]) -> None:
    service, client = served
    answer = await client.post("/api/displays", json={"id": "schi-tft", "stops": ["Schillerplatz"],
                                                       "layout": "tft-320x240"}, headers=AUTH)
    error = (await answer.json())["error"]
    assert answer.status == 422 and "field 'stops': unknown stop id 'Schillerplatz'" in error
    assert "did you mean SCHI: Schillerplatz" in error
    assert str(service.config_path) not in error and str(service.config_path.parent) not in error


async def test_a_display_change_is_previewed_before_it_is_saved(served: tuple[Service, TestClient]) -> None:
    service, client = served
    before = service.config_path.read_text()
    body = {"id": "uni-tft", "stops": ["UNI"], "layout": "led-192x64", "name": "Uni Vorschau"}
    answer = await client.put("/api/displays/uni-tft?preview=1", json=body, headers=AUTH)
    doc = await answer.json()
    assert answer.status == 200 and doc["saved"] is False and (doc["width"], doc["height"]) == (192, 64)
    image = Image.open(io.BytesIO(base64.b64decode(doc["png"].split(",", 1)[1])))
    assert image.size == (192, 64)
    assert service.config_path.read_text() == before and service.config.display("uni-tft").layout == "tft-320x240"
    assert service.audit.recent() == []  # nothing saved, nothing audited
    refused = await client.post(
        "/api/displays?preview=1", json={"id": "x", "stops": ["NOWHERE"], "layout": "led-192x64"}, headers=AUTH
    )
    assert refused.status == 422 and "field 'stops'" in (await refused.json())["error"]
    assert (await client.post("/api/displays?preview=1", json=body)).status == 401  # the admin token, as for saving


def test_times_read_as_people_say_them() -> None:
    now = AT
    assert [ago(now - s, now) for s in (2, 40, 180, 2 * 3600 + 300, 3 * 86400)] == [
        "just now", "40 s ago", "3 min ago", "2 h 5 min ago", "3 days ago"]
    assert ago(now - 231079625, now) == "7 years ago"  # not "231079625 s"
    assert ago(None, now) == "never" and duration(59) == "59 s"
    assert local_time(now - 120, "Europe/Berlin", now) == "07:58"
    assert local_time(now - 86400, "Europe/Berlin", now) == "Tue 24 Nov 08:00"
    assert local_time(parse_instant("2024-03-31T10:00:00+02:00"), "Europe/Berlin", now) == "31 Mar 2024 10:00"
    assert day_text(dt.date(2024, 3, 31)) == "31 Mar 2024"
    assert local_time(2**64 - 1, "Europe/Berlin", now) == f"invalid time {2**64 - 1}"  # a hostile header timestamp


async def test_the_timetable_badge_is_never_green_once_expired(tmp_path: Path) -> None:
    at = parse_instant("2029-02-01T09:00:00+01:00")  # the demo feed of Nov 2026 ended long before
    service, client = await _serve(tmp_path, at=at)
    try:
        doc = await (await client.get("/dashboard.json")).json()
        assert doc["timetable"]["valid"] is False and doc["timetable"]["alarm"] == "bad"
        assert doc["timetable"]["status_text"].startswith("timetable expired on ")
        page = await (await client.get("/")).text()
        assert 'id="timetable" class="badge bad"' in page and "timetable loaded" not in page
        assert any(p.startswith("timetable expired on ") for p in doc["problems"])
        parts = await (await client.get("/dashboard/parts.json")).json()
        for html in (
            page,
            *(v for k, v in parts.items() if k not in ("rows", "problems_class")),
            *parts["rows"].values(),
        ):
            shown = re.sub(r'(title|src|href)="[^"]*"', "", html)  # what is read, not hovered or fetched
            assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", shown), shown  # no raw ISO time anywhere
    finally:
        await client.close()
        await service.close()
