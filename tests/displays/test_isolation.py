"""One display's failure never takes down the service or the other displays."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from feedkit import write_feed
from servicekit import write_config

from displays.config.parse import load_config
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from displays.web.status import dashboard_doc, health_doc, metrics_text
from feeds.times import parse_instant

AT = parse_instant("2026-11-25T08:00:05+01:00")


async def test_a_display_whose_stop_left_the_timetable_keeps_its_frame(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1))
    service = Service(load_config(config), FixedClock(AT), config_path=config, cache_dir=tmp_path / "cache")
    await service.prepare()
    try:
        await service.refresh(AT)
        before = {d: r.frame.hash for d, r in service.displays.items() if r.frame is not None}
        assert set(before) == {"hbf-epaper", "uni-tft", "gons-led", "hbf-bwr"}
        # A new timetable version without the stop GONS (the LED's); the others' stops remain.
        service.load_timetable(write_feed(tmp_path / "next", as_zip=True))
        with caplog.at_level(logging.ERROR, logger="stopcast.service"):
            await service.refresh(AT + 60)
            await service.refresh(AT + 120)
        led = service.displays["gons-led"]
        assert led.frame is not None and led.frame.hash == before["gons-led"]  # the last good frame stays
        assert led.error == "composing its board failed: FeedError: stop id 'GONS' is not in the loaded timetable"
        assert service.displays["hbf-epaper"].frame.hash != before["hbf-epaper"]  # the others moved on
        assert all(service.displays[d].error is None for d in ("hbf-epaper", "uni-tft", "hbf-bwr"))
        assert caplog.text.count("display gons-led: composing its board failed") == 1  # once per change
        assert f"display gons-led: {led.error}" in health_doc(service)["problems"]
        assert health_doc(service)["status"] == "degraded"
        text = metrics_text(service)
        assert "stopcast_displays_failing 1.0\n" in text and "stopcast_display_errors_total 2.0\n" in text
        row = next(d for d in dashboard_doc(service)["displays"] if d["id"] == "gons-led")
        assert row["error"] == led.error
    finally:
        await service.close()


async def test_healthz_says_starting_until_the_first_frames_and_shows_a_failed_reload(tmp_path: Path) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from displays.web.http import make_app

    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1))
    service = Service(load_config(config), FixedClock(AT), config_path=config, cache_dir=None)
    await service.prepare()
    client = TestClient(TestServer(make_app(service), host="127.0.0.1"))
    await client.start_server()
    try:
        first = await client.get("/healthz")
        body = await first.json()
        assert first.status == 503 and body["status"] == "starting"
        assert body["waiting_for_first_frame"] == ["gons-led", "hbf-bwr", "hbf-epaper", "uni-tft"]
        await service.refresh(AT)
        after = await client.get("/healthz")
        assert after.status == 200 and (await after.json())["status"] in ("ok", "degraded")
        config.write_text(config.read_text() + "\n[oops\n")
        assert service.reload_config() is not None
        health = await (await client.get("/healthz")).json()
        assert health["status"] == "degraded"
        problem = next(p for p in health["problems"] if p.startswith("config reload failed"))
        assert "not valid TOML" in problem
        page = await (await client.get("/")).text()
        assert "config reload failed, the running config stays" in page
    finally:
        await client.close()
        await service.close()
