"""Headless Chromium: the dashboard and a live board change after a feed update, without reloading."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from pathlib import Path

import pytest
from browser import Page
from rtkit import feed, stu, trip_update
from servicekit import write_config

from displays.config.parse import load_config
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from displays.web.http import serve_http
from feeds.merge import stop_departures
from feeds.times import parse_instant

pytestmark = pytest.mark.browser
AT = parse_instant("2026-11-25T08:00:05+01:00")


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def test_live_board_and_dashboard_follow_a_feed_update(tmp_path: Path) -> None:
    folder = tmp_path / "cfg"
    displays = [{"id": "uni-lcd", "stops": ["UNI"], "layout": "lcd-portrait-1080x1920"},
                {"id": "uni-tft", "stops": ["UNI"], "layout": "tft-320x240"}]
    config = write_config(folder, "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), displays,
                          feeds={"realtime": [{"url": "tu.pb", "interval": 1}]}, http={"listen": "127.0.0.1:0"})
    realtime = folder / "tu.pb"
    _write(realtime, feed(timestamp=AT))

    async def scenario() -> None:
        service = Service(load_config(config), FixedClock(AT), config_path=config, cache_dir=tmp_path / "cache")
        runner = asyncio.create_task(service.run(extra_tasks=[serve_http(service)]))
        await asyncio.wait_for(service.http_ready.wait(), 30)
        first = stop_departures(service.timetable, None, "UNI", AT, 3600, 1).departures[0]
        async with (
            Page(f"{service.http_url}/displays/uni-lcd", 1080, 1920) as board,
            Page(service.http_url + "/", 1400, 900) as dash,
        ):
            before = await board.wait_for(
                "document.querySelector('.row .c-time') && document.querySelector('.row .c-time').textContent.trim()"
            )
            thumbnail = await dash.wait_for("document.querySelector('#display-uni-tft img').getAttribute('src')")
            await board.evaluate("window.notReloaded = true")
            await dash.evaluate("window.notReloaded = true")
            late = trip_update(first.trip_id, stu(stop_id="UNI", dep_delay=6 * 60), start_date=first.service_date)
            _write(realtime, feed(late, timestamp=AT))
            after = await board.wait_for(
                "(function(){ var t = document.querySelector('.row .c-time').textContent.trim();"
                f" return t !== {before!r} && t; }})()"
            )
            assert after != before
            assert await board.evaluate(
                "document.querySelectorAll('.row.status-delayed').length === 1"
            )  # it moved down the board
            assert await board.evaluate("window.notReloaded === true")
            await dash.wait_for(f"document.querySelector('#display-uni-tft img').getAttribute('src') !== {thumbnail!r}")
            assert await dash.evaluate("window.notReloaded === true")
            await board.screenshot(tmp_path / "live-board.png")
        service.stop()
        await asyncio.wait_for(runner, 10)

    asyncio.run(scenario())
