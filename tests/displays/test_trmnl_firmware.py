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

from displays.config.parse import load_config
from displays.core.frames import pull_bytes
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from displays.web.http import make_app
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
async def test_no_authentication_problem_reaches_the_reset_path(
    world: tuple[Service, TestClient, Path], trouble: str
) -> None:
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
    again = Firmware(client, MAC)  # setup again without the key: refused (it could be anyone with the MAC)
    assert not await again.setup() and not again.wiped and again.errors == ["setup: HTTP 404"]
    presented = await client.get("/api/setup", headers={"ID": MAC, "Access-Token": first_key})
    assert (await presented.json())["api_key"] == first_key  # issued once: presenting it gives the same key
    keys = await (await client.get("/api/trmnl/keys", headers={"Authorization": "Bearer rotated-token"})).json()
    assert [(k["mac"], k["display"], k["revoked_at"]) for k in keys] == [(MAC, "hbf-bwr", None)]
    assert (
        await client.delete(f"/api/trmnl/keys/{MAC}", headers={"Authorization": "Bearer rotated-token"})
    ).status == 200
    assert not await device.wake() and not device.wiped  # revoked: an error on the device, nothing erased
    reprovisioned = Firmware(client, MAC)
    assert not await reprovisioned.setup()  # revoked: a new setup needs ops approval
    allowed = await client.post(f"/api/trmnl/keys/{MAC}/setup", headers={"Authorization": "Bearer rotated-token"})
    assert allowed.status == 200
    assert await reprovisioned.setup() and reprovisioned.api_key != first_key and await reprovisioned.wake()
    audit = await (await client.get("/api/audit", headers={"Authorization": "Bearer rotated-token"})).json()
    assert [(e["action"], e["target"]) for e in audit[:2]] == [("trmnl.allow-setup", MAC), ("trmnl.revoke", MAC)]
    await stop(service, client)


async def setup_answer(client: TestClient, mac: str, token: str = "") -> tuple[int, dict]:
    answer = await client.get("/api/setup/", headers={"ID": mac, **({"Access-Token": token} if token else {})})
    return answer.status, await answer.json()


async def test_probing_macs_tells_nothing_and_is_rate_limited(world: tuple[Service, TestClient, Path]) -> None:
    service, client, _ = world
    device = Firmware(client, MAC)
    assert await device.setup()
    probes = [f"AA:BB:CC:DD:EE:{i:02X}" for i in range(0xF0, 0xFF)]
    probes.insert(3, MAC)  # 16 MACs, the configured one among them
    answers = [await setup_answer(client, mac) for mac in probes]
    answered = [a for a in answers if a[0] != 429]
    assert len(answered) <= 10  # per client address and minute
    assert MAC in probes[: len(answered)]  # the configured MAC was among those answered ...
    assert all(a == answered[0] for a in answered) and answered[0][0] == 404  # ... exactly as the unknown ones
    assert answered[0][1]["api_key"] is None
    assert all(a[0] == 429 for a in answers[len(answered):])
    service.clock.advance(61)  # type: ignore[attr-defined]
    assert (await setup_answer(client, "00:11:22:33:44:55"))[0] == 404  # a minute later it answers again


async def test_a_spoofed_mac_gets_no_key_and_a_revoked_key_does_not_help(
    world: tuple[Service, TestClient, Path],
) -> None:
    service, client, _ = world
    device = Firmware(client, MAC)
    assert await device.setup()
    key = device.api_key
    assert (await setup_answer(client, MAC))[1]["api_key"] is None  # a spoofer with only the MAC
    assert (await setup_answer(client, MAC, "0123456789abcdef012345"))[1]["api_key"] is None
    assert (await setup_answer(client, MAC.lower(), key))[1]["api_key"] == key  # the device itself
    assert (await setup_answer(client, MAC, key))[0] == 200
    assert (await setup_answer(client, MAC, key))[0] == 429  # 5 setups of one MAC in 10 minutes at most
    service.clock.advance(600)  # type: ignore[attr-defined]
    admin = {"Authorization": f"Bearer {TOKEN}"}
    assert (await client.delete(f"/api/trmnl/keys/{MAC}", headers=admin)).status == 200
    assert (await setup_answer(client, MAC, key))[0] == 404  # revoked: the old key gets no new one
    assert (await setup_answer(client, MAC))[0] == 404
    assert (await client.post(f"/api/trmnl/keys/{MAC}/setup", headers=admin)).status == 200
    service.clock.advance(901)  # type: ignore[attr-defined]
    assert (await setup_answer(client, MAC))[0] == 404  # the approval lasts 15 minutes
    assert (await client.post(f"/api/trmnl/keys/{MAC}/setup", headers=admin)).status == 200
    status, doc = await setup_answer(client, MAC)
    assert status == 200 and doc["api_key"] not in (None, key)
    assert (await setup_answer(client, MAC))[0] == 404  # once
    device.api_key = key
    assert not await device.wake() and not device.wiped  # the old key stopped working
    assert (await client.post("/api/trmnl/keys/00:11:22:33:44:55/setup", headers=admin)).status == 404
