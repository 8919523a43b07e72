"""The TRMNL firmware's request logic against the service (see trmnl_firmware.py): it sets up and draws,
and no authentication problem (wrong token, unknown MAC, admin-token rotation, restart, revocation) ever
reaches its reset path."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image
from servicekit import write_config
from trmnl_firmware import Firmware, bmp_problem

from displays.clock import FixedClock
from displays.config import load_config
from displays.frames import pull_bytes
from displays.http import make_app
from displays.service import Service
from feeds.times import parse_instant

AT = parse_instant("2026-11-25T08:00:05+01:00")
TOKEN = "s3cret-token"
MAC = "AA:BB:CC:DD:EE:FF"  # hbf-bwr's trmnl_id in servicekit's displays


async def start(config: Path, tmp_path: Path, at: int = AT) -> tuple[Service, TestClient]:
    service = Service(load_config(config), FixedClock(at), config_path=config, cache_dir=tmp_path / "cache")
    await service.prepare()
    await service.refresh(at)
    client = TestClient(TestServer(make_app(service), host="127.0.0.1"))
    await client.start_server()
    return service, client


async def stop(service: Service, client: TestClient) -> None:
    await client.close()
    await service.close()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Service, TestClient, Path]]:
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), http={"admin_token": TOKEN})
    service, client = await start(config, tmp_path)
    yield service, client, config
    await stop(service, client)


def pixels(bmp: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(bmp)).convert("L"))


async def test_a_new_device_sets_up_and_draws(world: tuple[Service, TestClient, Path]) -> None:
    service, client, _ = world
    device = Firmware(client, MAC)
    assert await device.setup() and device.api_key
    assert device.logo and bmp_problem(device.logo) == ""  # the neutral splash, not a board
    assert await device.wake(), device.errors
    frame = service.displays["hbf-bwr"].frame
    assert frame is not None and device.filename == f"{frame.hash:08x}"
    assert np.array_equal(pixels(device.shown), pixels(pull_bytes(frame, "bmp")))
    assert not await device.wake()  # same board: the firmware keeps its image, no download
    assert 60 <= device.refresh_rate and not device.wiped and device.errors == []


async def test_the_splash_is_there_before_the_first_render(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1))
    service = Service(load_config(config), FixedClock(AT), config_path=config, cache_dir=tmp_path / "cache")
    client = TestClient(TestServer(make_app(service), host="127.0.0.1"))
    await client.start_server()
    try:
        device = Firmware(client, MAC)
        assert await device.setup() and device.logo and device.errors == []
    finally:
        await stop(service, client)


async def test_the_image_is_the_one_filename_names_across_a_minute(world: tuple[Service, TestClient, Path]) -> None:
    service, client, _ = world
    device = Firmware(client, MAC)
    await device.setup()
    headers = {"ID": MAC, "Access-Token": device.api_key}
    told = await (await client.get("/api/display", headers=headers)).json()
    before = service.displays["hbf-bwr"].frame
    assert before is not None
    service.clock.advance(60)  # type: ignore[attr-defined]
    await service.refresh(AT + 60)  # the board moves on between the answer and the download
    after = service.displays["hbf-bwr"].frame
    assert after is not None and after.hash != before.hash
    image = await (await client.get(told["image_url"].split(str(client.make_url("")).rstrip("/"))[1])).read()
    assert told["filename"] == f"{before.hash:08x}" and image == pull_bytes(before, "bmp")


@pytest.mark.parametrize("trouble", ["wrong token", "unknown MAC", "empty token", "revoked key"])
async def test_no_authentication_problem_reaches_the_reset_path(world: tuple[Service, TestClient, Path], trouble: str) -> None:
    _, client, _ = world
    device = Firmware(client, MAC)
    assert await device.setup()
    if trouble == "wrong token":
        device.api_key = "0123456789abcdef012345"
    elif trouble == "unknown MAC":
        device.mac = "00:11:22:33:44:55"
    elif trouble == "empty token":
        device.api_key = ""
    else:
        revoked = await client.delete(f"/api/trmnl/keys/{MAC}", headers={"Authorization": f"Bearer {TOKEN}"})
        assert revoked.status == 200 and (await revoked.json())["revoked_at"] is not None
    for _ in range(3):
        assert not await device.wake()
    assert not device.wiped and device.errors[-1] == "display: HTTP 404"


async def test_keys_survive_admin_token_rotation_restarts_and_are_issued_once(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), http={"admin_token": TOKEN})
    service, client = await start(config, tmp_path)
    device = Firmware(client, MAC)
    assert await device.setup() and await device.wake()
    first_key = device.api_key
    config.write_text(config.read_text().replace(TOKEN, "rotated-token"))
    assert service.reload_config() is None
    service.clock.advance(60)  # type: ignore[attr-defined]
    await service.refresh(AT + 60)
    assert await device.wake() and not device.wiped  # the rotation changed nothing for the device
    await stop(service, client)
    service, client = await start(config, tmp_path, AT + 120)  # a restart
    device.client = client
    assert await device.wake() and not device.wiped, device.errors
    again = Firmware(client, MAC)
    assert await again.setup() and again.api_key == first_key  # issued once: setup again gives the same key
    keys = await (await client.get("/api/trmnl/keys", headers={"Authorization": "Bearer rotated-token"})).json()
    assert [(k["mac"], k["display"], k["revoked_at"]) for k in keys] == [(MAC, "hbf-bwr", None)]
    assert (await client.delete(f"/api/trmnl/keys/{MAC}", headers={"Authorization": "Bearer rotated-token"})).status == 200
    assert not await device.wake() and not device.wiped  # revoked: an error on the device, nothing erased
    reprovisioned = Firmware(client, MAC)
    assert await reprovisioned.setup() and reprovisioned.api_key != first_key and await reprovisioned.wake()
    audit = await (await client.get("/api/audit", headers={"Authorization": "Bearer rotated-token"})).json()
    assert audit[0]["action"] == "trmnl.revoke" and audit[0]["target"] == MAC
    await stop(service, client)
