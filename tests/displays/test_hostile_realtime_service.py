"""A hostile realtime feed polled by the service and given to the CLI: the service keeps serving,
health, metrics and dashboard answer, and the feed's problem is named."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from google.transit import gtfs_realtime_pb2 as rt
from servicekit import write_config

from displays.cli.cli import main
from displays.config.parse import load_config
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from displays.web.http import make_app
from feeds.demo import simulated_realtime
from feeds.times import parse_instant

AT = parse_instant("2026-11-25T08:00:05+01:00")
INT64_MIN, UINT64_MAX = -(2**63), 2**64 - 1


def hostile(real: bytes, header: int) -> bytes:
    """The demo's realtime with every prediction's times at int64's minimum and the header at `header`."""
    msg = rt.FeedMessage.FromString(real)
    msg.header.timestamp = header
    for entity in msg.entity:
        if not entity.HasField("trip_update"):
            continue
        entity.trip_update.timestamp = UINT64_MAX
        for stu in entity.trip_update.stop_time_update:
            stu.departure.time = INT64_MIN
            stu.arrival.time = 2**63 - 1
            stu.departure.delay = -(2**31)
    return msg.SerializeToString()


@pytest.fixture
async def served(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[tuple[Service, TestClient, Path]]:
    folder = tmp_path / "cfg"
    config = write_config(folder, "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), feeds={"realtime": ["rt.pb"]})
    service = Service(load_config(config), FixedClock(AT), config_path=config, cache_dir=tmp_path / "cache")
    await service.prepare()
    assert service.timetable is not None
    (folder / "rt.pb").write_bytes(hostile(simulated_realtime(service.timetable, AT), request.param))
    for poller in service.sources.values():
        await poller.fetch_once()
    client = TestClient(TestServer(make_app(service), host="127.0.0.1"))
    await client.start_server()
    yield service, client, folder
    await client.close()
    await service.close()


@pytest.mark.parametrize("served", [UINT64_MAX, AT + 3600, AT], indirect=True, ids=["2^64-1", "an-hour-ahead", "now"])
async def test_service_keeps_serving_and_says_what_is_wrong(served: tuple[Service, TestClient, Path]) -> None:
    service, client, _ = served
    await service.refresh(AT)
    await service.refresh(AT + 60)
    assert all(r.frame is not None and r.error is None for r in service.displays.values())
    for path in ("/healthz", "/metrics", "/", "/dashboard.json", "/displays/hbf-epaper/frame.png",
                 "/displays/hbf-epaper/board.json", "/displays/hbf-epaper", "/ops/displays/hbf-epaper"):
        answer = await client.get(path)
        assert answer.status == 200, (path, await answer.text())
    health = await (await client.get("/healthz")).json()
    feed = health["feeds"][0]
    header = service.sources[next(iter(service.sources))].health.header_timestamp
    if header is not None and header > AT + 300:
        assert feed["from_future"] and health["status"] == "degraded"
        assert any("more than 5 minutes ahead of now" in p for p in health["problems"])
        assert all(r.board is not None and r.board.timetable_only for r in service.displays.values())
    else:
        assert not feed["from_future"] and not feed["stale"]


@pytest.mark.parametrize("header", [UINT64_MAX, AT])
def test_cli_departures_and_render_with_a_hostile_feed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], header: int
) -> None:
    from feeds.cache import open_timetable
    from feeds.demo import write_demo_feed

    feed = write_demo_feed(tmp_path / "demo.zip", dt.date(2026, 11, 1))
    realtime = tmp_path / "rt.pb"
    realtime.write_bytes(hostile(simulated_realtime(open_timetable(feed, None), AT), header))
    common = ["--gtfs", str(feed), "--realtime", str(realtime), "--stop", "HBF", "--at", str(AT)]
    assert main(["departures", *common, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["departures"]
    assert main(["render", *common, "--layout", "epaper-800x480", "--output", str(tmp_path / "b.png")]) == 0
    assert (tmp_path / "b.png").stat().st_size > 1000


async def test_a_corrupt_realtime_file_is_a_failing_feed_in_healthz(tmp_path: Path) -> None:
    folder = tmp_path / "cfg"
    config = write_config(folder, "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), feeds={"realtime": ["rt.pb"]})
    (folder / "rt.pb").write_bytes(b"\x0a\xff\xff\xff\xff\x0f garbage")
    service = Service(load_config(config), FixedClock(AT), config_path=config, cache_dir=None)
    await service.prepare()
    try:
        for _ in range(3):
            await service.fetch_all()
        from displays.web.status import health_doc

        health = health_doc(service)
        assert health["feeds"][0]["failing"] is True
        failing = [p for p in health["problems"] if " is failing (3 attempts): corrupt or truncated" in p]
        assert len(failing) == 1 and failing[0].startswith(f"realtime {folder / 'rt.pb'} is failing")
    finally:
        await service.close()
