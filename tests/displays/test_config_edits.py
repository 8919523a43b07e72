"""Admin changes edit the config file as ops wrote it: comments, order, env: references and *_env
fields survive byte for byte, and no secret value is ever written."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from displays.config.parse import load_config
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from displays.web.http import make_app
from feeds.demo import write_demo_feed
from feeds.times import parse_instant

AT = parse_instant("2026-11-25T08:00:05+01:00")
SECRETS = {
    "STOPCAST_TEST_ADMIN": "adm1n-s3cret",
    "STOPCAST_TEST_MQTT": "mqtt-s3cret",
    "STOPCAST_TEST_KEY": "api-s3cret",
}
AUTH = {"Authorization": f"Bearer {SECRETS['STOPCAST_TEST_ADMIN']}"}

ORIGINAL = """# stopcast for Mainz: edited by hand, keep the comments!
[feeds]
gtfs = "demo.zip"   # the generated network
realtime = [
  # the agency's feed needs a key
  { url = "rt.pb", stale_after = 600, headers = { "x-api-key" = "env:STOPCAST_TEST_KEY" } },
]

[mqtt]
url = "mqtt://127.0.0.1:1"
prefix = "mainz/v1"            # not the default
password_env = "STOPCAST_TEST_MQTT"

[http]
listen = "127.0.0.1:0"
admin_token_env = "STOPCAST_TEST_ADMIN"

# --- displays -------------------------------------------------------
[[displays]]
id = "hbf-epaper"   # the pillar at platform A
stops = ["HBF"]
layout = "epaper-800x480"

[[displays]]
id = "uni-tft"
stops = ["UNI"]
layout = "tft-320x240"
rows = 4            # fewer rows, larger text
"""


@pytest.fixture
async def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[TestClient, Path]]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    write_demo_feed(tmp_path / "demo.zip", dt.date(2026, 11, 1))
    path = tmp_path / "stopcast.toml"
    path.write_text(ORIGINAL, encoding="utf-8")
    service = Service(load_config(path), FixedClock(AT), config_path=path, cache_dir=None)
    await service.prepare()
    client = TestClient(TestServer(make_app(service), host="127.0.0.1"))
    await client.start_server()
    yield client, path
    await client.close()
    await service.close()


def assert_no_secret(text: str) -> None:
    for value in SECRETS.values():
        assert value not in text


async def test_adding_a_display_appends_and_keeps_everything(served: tuple[TestClient, Path]) -> None:
    client, path = served
    body = {"id": "gons-led", "stops": ["GONS"], "layout": "led-192x64", "name": "Gonsenheim"}
    assert (await client.post("/api/displays", json=body, headers=AUTH)).status == 201
    text = path.read_text(encoding="utf-8")
    assert text.startswith(ORIGINAL)  # byte for byte
    assert 'id = "gons-led"' in text[len(ORIGINAL):] and 'name = "Gonsenheim"' in text
    assert_no_secret(text)
    assert load_config(path).mqtt.prefix == "mainz/v1"


async def test_changing_and_removing_keep_comments(served: tuple[TestClient, Path]) -> None:
    client, path = served
    changed = {"id": "uni-tft", "stops": ["UNI"], "layout": "tft-320x240", "rows": 5}
    assert (await client.put("/api/displays/uni-tft", json=changed, headers=AUTH)).status == 200
    text = path.read_text(encoding="utf-8")
    assert text == ORIGINAL.replace("rows = 4            #", "rows = 5            #")
    assert (await client.delete("/api/displays/hbf-epaper", headers=AUTH)).status == 204
    text = path.read_text(encoding="utf-8")
    assert "hbf-epaper" not in text and "# the pillar at platform A" not in text
    assert text.startswith(ORIGINAL.split("[[displays]]")[0])  # everything before the displays: unchanged
    assert "# fewer rows, larger text" in text
    assert_no_secret(text)


async def test_every_admin_change_is_audited_and_kept(served: tuple[TestClient, Path]) -> None:
    client, path = served
    body = {"id": "gons-led", "stops": ["GONS"], "layout": "led-192x64"}
    assert (await client.post("/api/displays", json=body, headers=AUTH)).status == 201
    assert (await client.delete("/api/displays/hbf-epaper", headers=AUTH)).status == 204
    assert (await client.post("/api/reload", headers=AUTH)).status == 200
    assert (await client.get("/api/audit")).status == 401
    entries = await (await client.get("/api/audit", headers=AUTH)).json()
    assert [(e["who"], e["action"], e["target"], e["detail"]) for e in entries] == [
        ("admin", "config.reload", "", "ok"),
        ("admin", "display.remove", "hbf-epaper", "stops: HBF; layout: epaper-800x480"),
        ("admin", "display.add", "gons-led", "stops: GONS; layout: led-192x64"),
    ]
    assert all(e["at"] == AT for e in entries)
    page = await (await client.get("/")).text()
    assert "display.add" in page and "gons-led" in page
    # a restarted service reads the log back from its state folder
    again = Service(load_config(path), FixedClock(AT), config_path=path, cache_dir=None)
    assert [e.action for e in again.audit.recent()] == ["config.reload", "display.remove", "display.add"]


async def test_operators_by_name_each_change_names_its_operator_and_what_changed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN_ALICE", "alice-secret-1")
    monkeypatch.setenv("TOKEN_BOB", "bob-secret-2")
    path = tmp_path / "stopcast.toml"
    write_demo_feed(tmp_path / "feed.zip", dt.date(2026, 11, 1))
    path.write_text('[feeds]\ngtfs = "feed.zip"\n[http]\nlisten = "127.0.0.1:0"\n'
                    '[[http.operators]]\nname = "alice"\ntoken_env = "TOKEN_ALICE"\n'
                    '[[http.operators]]\nname = "bob"\ntoken_env = "TOKEN_BOB"\n'
                    '[[displays]]\nid = "uni-tft"\nstops = ["UNI"]\nlayout = "tft-320x240"\n')
    service = Service(load_config(path), FixedClock(AT), config_path=path, cache_dir=None)
    await service.prepare()
    client = TestClient(TestServer(make_app(service), host="127.0.0.1"))
    await client.start_server()
    try:
        alice, bob = ({"Authorization": f"Bearer {t}"} for t in ("alice-secret-1", "bob-secret-2"))
        body = {"id": "uni-tft", "stops": ["UNI"], "layout": "tft-320x240", "rows": 5, "name": "Universität"}
        assert (await client.put("/api/displays/uni-tft", json=body, headers=alice)).status == 200
        assert (await client.put("/api/displays/uni-tft", json={**body, "rows": 6}, headers=bob)).status == 200
        assert (await client.put("/api/displays/uni-tft", json={**body, "rows": 6}, headers=bob)).status == 200
        assert (await client.get("/api/audit", headers={"Authorization": "Bearer nobody"})).status == 403
        entries = await (await client.get("/api/audit", headers=alice)).json()
        assert [(e["who"], e["action"], e["detail"]) for e in entries] == [
            ("bob", "display.change", "no field changed"),
            ("bob", "display.change", "rows: 5 -> 6"),
            ("alice", "display.change", "name: (none) -> Universität; rows: (none) -> 5"),
        ]
        assert "alice-secret" not in path.read_text() and "TOKEN_ALICE" in path.read_text()
    finally:
        await client.close()
        await service.close()


def test_an_operator_without_its_token_in_the_environment_is_a_config_error(tmp_path: Path) -> None:
    from displays.config.model import ConfigError
    from displays.config.parse import parse_config

    text = '[feeds]\ngtfs = "f"\n[[http.operators]]\nname = "carol"\ntoken_env = "STOPCAST_TEST_UNSET_TOKEN"\n'
    with pytest.raises(ConfigError, match=r"http.operators\[0\].token_env.*STOPCAST_TEST_UNSET_TOKEN.*not set"):
        parse_config(text, "x.toml")
