"""Hostile requests against the real aiohttp app: every malformed request answers a 4xx with a
JSON body naming the problem; slow and broken clients cannot hold or flood the service."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from servicekit import write_config

from displays.config.parse import load_config
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from displays.web.http import make_app
from displays.web.http_guard import runner_options
from feeds.times import parse_instant

AT = parse_instant("2026-11-25T08:00:05+01:00")
TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MAC = "AA:BB:CC:DD:EE:FF"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Service, TestClient]]:
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1),
                          http={"admin_token": TOKEN, "header_timeout": 0.5})
    service = Service(load_config(config), FixedClock(AT), config_path=config, cache_dir=tmp_path / "cache")
    await service.prepare()
    await service.refresh(AT)
    server = TestServer(make_app(service), host="127.0.0.1")
    await server.start_server(**runner_options(service.config.http.header_timeout))  # as serve_http runs it
    client = TestClient(server)
    await client.start_server()
    yield service, client
    await client.close()
    await service.close()


async def error_of(response: object, status: int) -> str:
    assert response.status == status, await response.text()  # type: ignore[attr-defined]
    assert response.content_type == "application/json"  # type: ignore[attr-defined]
    body = await response.json()  # type: ignore[attr-defined]
    assert body["status"] == status and body["error"]
    return str(body["error"])


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "Basic abc", "Bearer \xff\xfe", "Bearer ünïcödé", "bearer s3cret-token"]
)
async def test_garbage_bearer_tokens_are_401(served: tuple[Service, TestClient], header: str) -> None:
    _, client = served
    message = await error_of(await client.get("/api/displays", headers={"Authorization": header}), 401)
    assert "Bearer" in message


async def test_control_characters_in_a_token_never_reach_the_handler(served: tuple[Service, TestClient]) -> None:
    _, client = served
    answer = await raw_exchange(client, b"GET /api/displays HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\x01b\r\n"
                                        b"Connection: close\r\n\r\n")
    status = answer.split(b"\r\n", 1)[0]
    assert b" 400 " in status or b" 401 " in status


async def test_wrong_token_is_403_and_right_one_passes(served: tuple[Service, TestClient]) -> None:
    _, client = served
    assert "wrong token" in await error_of(
        await client.get("/api/displays", headers={"Authorization": "Bearer nope"}), 403
    )
    assert (await client.get("/api/displays", headers=AUTH)).status == 200


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/displays"), ("PUT", "/api/displays/uni-tft"), ("POST", "/api/layouts"),
])
@pytest.mark.parametrize(("body", "problem"), [
    (b"{", "is not JSON"),
    (b'{"id": "x",}', "is not JSON"),
    (b"[" * 50_000 + b"]" * 50_000, "too many arrays"),
    (b"[" * 40 + b"]" * 40, "nested too deeply"),
    (b'{"id": "x", "rows": 1' + b"0" * 5000 + b"}", "not acceptable JSON"),
    (b'{"id": "x", "rows": NaN}', "not acceptable JSON"),
    (b'{"id": "\xff"}', "not UTF-8"),
])
async def test_malformed_json_is_400_on_every_endpoint(
    served: tuple[Service, TestClient], method: str, path: str, body: bytes, problem: str
) -> None:
    service, client = served
    before = service.config
    headers = {**AUTH, "Content-Type": "application/json"}
    assert problem in await error_of(await client.request(method, path, data=body, headers=headers), 400)
    assert service.config is before


async def test_huge_integer_in_range_field_is_422_naming_it(served: tuple[Service, TestClient]) -> None:
    _, client = served
    body = {"id": "x", "stops": ["UNI"], "layout": "tft-320x240", "rows": 10**30}
    assert "field 'rows'" in await error_of(await client.post("/api/displays", json=body, headers=AUTH), 422)


async def test_body_over_the_limit_is_413_naming_it(served: tuple[Service, TestClient]) -> None:
    _, client = served
    big = b'{"id": "' + b"x" * 300_000 + b'"}'
    message = await error_of(
        await client.post("/api/displays", data=big, headers={**AUTH, "Content-Type": "application/json"}), 413
    )
    assert "262144" in message


async def test_chunked_body_over_the_limit_is_413(served: tuple[Service, TestClient]) -> None:
    _, client = served

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"x" * 10_000

    message = await error_of(await client.post("/api/layouts", data=chunks(), headers=AUTH), 413)
    assert "262144" in message


@pytest.mark.parametrize(
    "path",
    [
        "/displays/nope/frame.png",
        "/displays/a%0Ab/frame.png",
        "/displays/uni-tft/frame.gif",
        "/ops/displays/%2e%2e",
        "/nothing/here",
        "/api/displays/nope",
    ],
)
async def test_not_found_answers_json(served: tuple[Service, TestClient], path: str) -> None:
    _, client = served
    await error_of(await client.get(path, headers=AUTH), 404)


async def test_method_not_allowed_answers_json(served: tuple[Service, TestClient]) -> None:
    _, client = served
    await error_of(await client.delete("/healthz"), 405)


async def raw_exchange(client: TestClient, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(payload)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


@pytest.mark.parametrize("payload", [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    b"GET /\x00 HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: " + b"a" * 20_000 + b"\r\n\r\n",
])
async def test_malformed_http_is_one_warning_line(
    served: tuple[Service, TestClient], payload: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    _, client = served
    with caplog.at_level(logging.DEBUG):
        answer = await raw_exchange(client, payload)
    assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n", 1)[0]
    records = [r for r in caplog.records if r.name.startswith(("stopcast.http", "aiohttp"))]
    assert [r.levelname for r in records] == ["WARNING"]
    assert records[0].getMessage().startswith("malformed HTTP request from ")
    assert "Traceback" not in caplog.text


async def test_slow_client_is_cut_off(served: tuple[Service, TestClient]) -> None:
    _, client = served
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost")  # and never the rest
    await writer.drain()
    started = asyncio.get_running_loop().time()
    assert await asyncio.wait_for(reader.read(), 10) == b""  # the server closed the connection
    assert asyncio.get_running_loop().time() - started < 5
    writer.close()


async def device_headers(client: TestClient) -> dict[str, str]:
    setup = await (await client.get("/api/setup/", headers={"ID": MAC})).json()
    return {"ID": MAC, "Access-Token": setup["api_key"]}


async def test_device_log_needs_the_token_and_is_escaped(
    served: tuple[Service, TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    _, client = served
    await error_of(await client.post("/api/log", data=b"hello", headers={"ID": MAC}), 404)
    await error_of(await client.post("/api/log", data=b"hello", headers={"ID": MAC, "Access-Token": "x"}), 404)
    headers = await device_headers(client)
    with caplog.at_level(logging.INFO, logger="stopcast.http"):
        answer = await client.post("/api/log", data=b"ok\nstopcast: ERROR: forged line\x1b[2J", headers=headers)
    assert answer.status == 204
    lines = [r.getMessage() for r in caplog.records if "TRMNL" in r.getMessage()]
    assert lines == ["TRMNL hbf-bwr log: ok\\nstopcast: ERROR: forged line\\x1b[2J"]


async def test_device_log_is_bounded_in_size_and_rate(served: tuple[Service, TestClient]) -> None:
    service, client = served
    headers = await device_headers(client)
    assert "16384" in await error_of(await client.post("/api/log", data=b"x" * 20_000, headers=headers), 413)
    statuses = [(await client.post("/api/log", data=b"line", headers=headers)).status for _ in range(12)]
    assert statuses[:9] == [204] * 9 and statuses[-1] == 429  # 10 per minute, the 413 counted too
    service.clock.advance(61)  # type: ignore[attr-defined]
    assert (await client.post("/api/log", data=b"line", headers=headers)).status == 204


async def test_device_keys_come_from_a_kept_random_secret(served: tuple[Service, TestClient], tmp_path: Path) -> None:
    service, client = served
    key = (await device_headers(client))["Access-Token"]
    secret = service.config.state_dir() / "device-secret"
    assert secret.stat().st_mode & 0o777 == 0o600 and len(bytes.fromhex(secret.read_text().strip())) == 32
    import hashlib
    import hmac
    for guess in ("stopcast", TOKEN, ""):  # the old derivation from the admin token (or its default)
        assert hmac.new(guess.encode(), MAC.encode(), hashlib.sha256).hexdigest()[:22] != key
    # A new service on the same state folder (a restart, or a rotated admin token) issues the same key.
    config = load_config(service.config_path)  # type: ignore[arg-type]
    rotated = Service(config.__class__(**{**{f: getattr(config, f) for f in config.__dataclass_fields__},
                                           "http": config.http.__class__(admin_token="rotated")}),
                      FixedClock(AT), config_path=service.config_path, cache_dir=tmp_path / "cache")
    await rotated.prepare()
    await rotated.refresh(AT)
    other = TestClient(TestServer(make_app(rotated), host="127.0.0.1"))
    await other.start_server()
    try:
        again = await (await other.get("/api/setup/", headers={"ID": MAC, "Access-Token": key})).json()
        assert again["api_key"] == key  # presented again, the key stands (without it, setup is refused: issue 26)
        assert (await other.get("/api/display", headers={"ID": MAC, "Access-Token": key})).status == 200
    finally:
        await other.close()
        await rotated.close()
