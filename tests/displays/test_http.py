"""The HTTP side against a real aiohttp server: pull endpoints, TRMNL, admin API, health, metrics."""

from __future__ import annotations

import datetime as dt
import io
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families
from servicekit import write_config

from displays.config.parse import load_config
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from displays.web.http import make_app
from feeds.times import parse_instant

AT = parse_instant("2026-11-25T08:00:05+01:00")
TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Service, TestClient, Path]]:
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), http={"admin_token": TOKEN})
    service = Service(load_config(config), FixedClock(AT), config_path=config, cache_dir=tmp_path / "cache")
    await service.prepare()
    await service.refresh(AT)
    client = TestClient(TestServer(make_app(service), host="127.0.0.1"))
    await client.start_server()
    yield service, client, config
    await client.close()
    await service.close()


async def test_frame_png_with_etag_and_304(served: tuple[Service, TestClient, Path]) -> None:
    service, client, _ = served
    first = await client.get("/displays/hbf-epaper/frame.png")
    assert first.status == 200 and first.content_type == "image/png"
    assert first.headers["Cache-Control"] == "no-cache"
    image = Image.open(io.BytesIO(await first.read()))
    assert (image.size, image.mode) == ((800, 480), "1")
    etag = first.headers["ETag"]
    again = await client.get("/displays/hbf-epaper/frame.png", headers={"If-None-Match": etag})
    assert again.status == 304 and again.headers["ETag"] == etag and await again.read() == b""
    other = await client.get("/displays/hbf-epaper/frame.png", headers={"If-None-Match": '"00000000-png"'})
    assert other.status == 200
    assert service.metrics.value("stopcast_http_not_modified_total") == 1


async def test_native_encodings_board_json_and_live_page(served: tuple[Service, TestClient, Path]) -> None:
    _, client, _ = served
    raw = await client.get("/displays/gons-led/frame.mono1")
    assert raw.status == 200 and len(await raw.read()) == 192 // 8 * 64
    assert (await client.get("/displays/gons-led/frame.rgb565")).status == 404
    binary = await (await client.get("/displays/uni-tft/frame.bin")).read()
    assert binary[:2] == b"SC"
    board = await (await client.get("/displays/uni-tft/board.json")).json()
    assert board["display_id"] == "uni-tft" and board["layout"]["color_mode"] == "rgb565" and board["rows"]
    page = await client.get("/displays/uni-tft")
    text = await page.text()
    assert page.content_type == "text/html" and '"/displays/uni-tft/events"' in text and "Universität" in text
    font = await client.get("/fonts/AtkinsonHyperlegible-Bold.ttf")
    assert font.status == 200 and len(await font.read()) > 10_000


@pytest.mark.parametrize(
    "path",
    [
        "/displays/nope/frame.png",
        "/displays/nope",
        "/displays/hbf-epaper/frame.gif",
        "/displays/..%2F..%2Fetc%2Fpasswd/frame.png",
        "/fonts/..%2F..%2Fspec.py",
        "/fonts/OFL-TerminusFont.txt",
        "/displays/x%00y/board.json",
    ],
)
async def test_unknown_things_are_404_and_no_path_reaches_the_file_system(
    served: tuple[Service, TestClient, Path], path: str
) -> None:
    _, client, _ = served
    assert (await client.get(path)).status == 404


async def test_admin_api_needs_the_bearer_token(served: tuple[Service, TestClient, Path]) -> None:
    _, client, _ = served
    assert (await client.get("/api/displays")).status == 401
    assert (await client.get("/api/displays", headers={"Authorization": "Bearer wrong"})).status == 403
    assert (await client.delete("/api/displays/uni-tft", headers={"Authorization": "Basic eDp5"})).status == 401
    listed = await client.get("/api/displays", headers=AUTH)
    assert listed.status == 200 and [d["id"] for d in await listed.json()] == [
        "hbf-epaper",
        "uni-tft",
        "gons-led",
        "hbf-bwr",
    ]


async def test_a_display_added_through_the_api_is_persisted_and_rendered(
    served: tuple[Service, TestClient, Path],
) -> None:
    service, client, config = served
    body = {"id": "bret-tft", "stops": ["BRET"], "layout": "tft-320x240", "walk_minutes": 2}
    created = await client.post("/api/displays", json=body, headers=AUTH)
    assert created.status == 201 and (await created.json()) == body
    assert load_config(config).display("bret-tft") is not None  # written back to the file
    assert (await client.post("/api/displays", json=body, headers=AUTH)).status == 409
    await service.refresh(AT + 1)
    frame = await client.get("/displays/bret-tft/frame.png")
    assert frame.status == 200
    changed = await client.put("/api/displays/bret-tft", json={"stops": ["BRET"], "layout": "led-192x64"}, headers=AUTH)
    assert changed.status == 200 and (await changed.json())["layout"] == "led-192x64"
    assert (await client.delete("/api/displays/bret-tft", headers=AUTH)).status == 204
    assert load_config(config).display("bret-tft") is None
    assert (await client.get("/displays/bret-tft/frame.png")).status == 404


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"id": "x", "stops": ["NOWHERE"], "layout": "tft-320x240"},
            422,
            "display 'x': field 'stops': unknown stop id 'NOWHERE'",
        ),
        ({"id": "x", "stops": ["UNI"], "layout": "crt-80x25"}, 422, "field 'layout'"),
        (
            {"id": "x y", "stops": ["UNI"], "layout": "tft-320x240"},
            422,
            "field 'id': must be 1 to 64 of A-Z a-z 0-9 _ . - and nothing else",
        ),
        ({"id": "nl\n", "stops": ["UNI"], "layout": "tft-320x240"}, 422, "got 'nl\\n'"),
        (
            {"id": "x", "stops": ["UNI"], "layout": "tft-320x240", "mqtt_user": "a\ntopic readwrite #"},
            422,
            "field 'mqtt_user'",
        ),
        ({"id": "x", "stops": ["UNI"], "layout": "../../etc/x.toml"}, 422, "lies outside the config's folder"),
        ({"id": "x", "stops": ["UNI"], "layout": "tft-320x240", "colour": "red"}, 422, "field 'colour': unknown field"),
        (
            {"id": "x", "stops": ["UNI"], "layout": "epaper-bwr-800x480", "encoding": "gray2"},
            422,
            "field 'encoding': encoding 'gray2' is not defined for layout 'epaper-bwr-800x480' (bwr); "
            "choose 'bwr' or 'png'",
        ),
        (["not", "an", "object"], 400, "JSON object"),
    ],
)
async def test_bad_displays_are_refused_with_the_field_named(
    served: tuple[Service, TestClient, Path], body: object, status: int, message: str
) -> None:
    service, client, config = served
    before = config.read_text()
    answer = await client.post("/api/displays", json=body, headers=AUTH)
    assert answer.status == status and message in (await answer.json())["error"]
    assert config.read_text() == before and len(service.displays) == 4


async def test_custom_layouts_through_the_api(served: tuple[Service, TestClient, Path]) -> None:
    _, client, config = served
    text = (await (await client.get("/api/layouts/tft-320x240", headers=AUTH)).text()).replace(
        'name = "tft-320x240"', 'name = "tft-big"').replace("rows = 5", "rows = 4")
    created = await client.post("/api/layouts", data=text, headers={**AUTH, "Content-Type": "application/toml"})
    assert created.status == 201
    assert (config.parent / "layouts" / "tft-big.toml").exists()
    added = await client.post(
        "/api/displays", json={"id": "uni-big", "stops": ["UNI"], "layout": "tft-big"}, headers=AUTH
    )
    assert added.status == 201
    assert (await client.delete("/api/layouts/tft-big", headers=AUTH)).status == 409  # in use
    bad = await client.put("/api/layouts/tft-big", data=text.replace("rows = 4", "rows = -4"), headers=AUTH)
    assert bad.status == 422 and "field 'rows'" in (await bad.json())["error"]
    names = [item["name"] for item in await (await client.get("/api/layouts", headers=AUTH)).json()]
    assert "tft-big" in names and "epaper-800x480" in names


async def test_trmnl_device_flow(served: tuple[Service, TestClient, Path]) -> None:
    _, client, _ = served
    mac = "AA:BB:CC:DD:EE:FF"
    setup = await (await client.get("/api/setup", headers={"ID": mac})).json()
    assert setup["status"] == 200 and setup["api_key"]
    headers = {"ID": mac, "Access-Token": setup["api_key"], "Refresh-Rate": "900", "Battery-Voltage": "3.87",
               "FW-Version": "1.5.2", "RSSI": "-64", "Width": "800", "Height": "480"}
    display = await (await client.get("/api/display", headers=headers)).json()
    assert display["status"] == 0 and display["filename"] and display["reset_firmware"] is False
    assert 15 <= display["refresh_rate"] <= 60  # the board changes at the next minute
    image = await client.get(display["image_url"].replace(str(client.make_url("")).rstrip("/"), ""))
    data = await image.read()
    assert image.content_type == "image/bmp" and len(data) <= 48_062
    bmp = Image.open(io.BytesIO(data))
    assert (bmp.size, bmp.mode) == ((800, 480), "1")
    same = await (await client.get("/api/display", headers=headers)).json()
    assert same["filename"] == display["filename"]  # unchanged board: the firmware skips the download
    assert (await client.post("/api/log", json={"log": {"logs_array": []}}, headers=headers)).status == 204
    assert (await client.post("/api/log", json={"log": {"logs_array": []}}, headers={"ID": mac})).status == 404
    unknown = await client.get("/api/setup/", headers={"ID": "00:00:00:00:00:00"})
    assert unknown.status == 404 and (await unknown.json())["api_key"] is None
    wrong = await client.get("/api/display", headers={**headers, "Access-Token": "guess"})
    body = await wrong.json()
    assert wrong.status == 404 and body.get("status") != 500 and "reset_firmware" not in body
    dashboard = await (await client.get("/dashboard.json")).json()
    bwr = next(d for d in dashboard["displays"] if d["id"] == "hbf-bwr")
    assert (bwr["device"]["battery_v"], bwr["device"]["rssi"], bwr["device"]["fw"], bwr["state"]) == (
        3.87,
        -64,
        "1.5.2",
        "pulling",
    )


async def test_health_metrics_and_dashboard(served: tuple[Service, TestClient, Path]) -> None:
    _, client, _ = served
    health = await client.get("/healthz")
    doc = await health.json()
    assert health.status == 200 and doc["timetable"]["loaded"] is True
    assert doc["status"] == "degraded" and "not connected to the MQTT broker" in doc["problems"]
    answer = await client.get("/metrics")
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    samples = {s.name: s.value for f in text_string_to_metric_families(await answer.text()) for s in f.samples
               if not s.labels or s.name.endswith("_count")}
    assert (samples["stopcast_displays"], samples["stopcast_broker_connected"], samples["stopcast_pillars_online"],
            samples["stopcast_render_seconds_count"]) == (4, 0, 0, 4)
    assert samples["process_resident_memory_bytes"] > 0 and samples["process_open_fds"] > 0  # the process collector
    assert all(n.startswith(("stopcast_", "process_")) for n in samples)
    page = await (await client.get("/")).text()
    assert all(f"display-{d}" in page for d in ("hbf-epaper", "uni-tft", "gons-led", "hbf-bwr"))
    detail = await client.get("/ops/displays/uni-tft")
    assert detail.status == 200 and "tft-320x240" in await detail.text()


async def test_trmnl_only_on_layouts_the_device_can_show(served: tuple[Service, TestClient, Path]) -> None:
    _, client, _ = served
    body = {"id": "big", "stops": ["UNI"], "layout": "lcd-landscape-1920x1080", "trmnl_id": "11:22:33:44:55:66"}
    answer = await client.post("/api/displays", json=body, headers=AUTH)
    assert answer.status == 422
    assert "field 'trmnl_id': a TRMNL device shows 800x480 in black and white" in (await answer.json())["error"]


async def test_trmnl_refresh_rate_has_a_floor_for_battery_devices(served: tuple[Service, TestClient, Path]) -> None:
    service, client, _ = served
    body = {"id": "hbf-bwr", "stops": ["HBF:A", "HBF:B"], "layout": "epaper-bwr-800x480",
            "trmnl_id": "AA:BB:CC:DD:EE:FF", "trmnl_refresh": 300}
    assert (await client.put("/api/displays/hbf-bwr", json=body, headers=AUTH)).status == 200
    await service.refresh(AT)
    setup = await (await client.get("/api/setup/", headers={"ID": "AA:BB:CC:DD:EE:FF"})).json()
    display = await (await client.get("/api/display", headers={"ID": "AA:BB:CC:DD:EE:FF",
                                                                 "Access-Token": setup["api_key"]})).json()
    assert display["refresh_rate"] == 300  # not the 55 s until the next minute: the battery lasts


async def test_frames_json_names_the_frame_every_display_should_show(served: tuple[Service, TestClient, Path]) -> None:
    service, client, _ = served
    doc = await (await client.get("/frames.json")).json()
    assert doc["now"] == AT and sorted(doc["frames"]) == sorted(service.displays)
    served_frame = await client.get("/displays/hbf-epaper/frame.mono1")
    raw = await served_frame.read()
    assert doc["frames"]["hbf-epaper"]["hash"] == f"{zlib.crc32(raw):08x}"  # what a pillar computes from the pixels
    assert doc["frames"]["hbf-epaper"]["rendered"] == AT
