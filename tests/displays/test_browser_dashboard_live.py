"""Headless Chromium on an open dashboard, never reloaded: a lost broker and a stale feed show up in the
problems list, the badges and the feeds table within seconds, and clear again when both are restored."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from pathlib import Path

import pytest
from brokerkit import mosquitto, stop_process
from browser import Page
from rtkit import feed
from servicekit import write_config

from displays.config.parse import load_config
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from displays.web.http import serve_http
from feeds.times import parse_instant

pytestmark = pytest.mark.browser
AT = parse_instant("2026-11-25T08:00:05+01:00")
SHOWN = 10.0  # seconds within which the open page must show a change (it polls every 3 s)


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _js(selector: str) -> str:
    return f"(document.querySelector({selector!r}) || {{textContent: ''}}).textContent"


def test_an_open_dashboard_shows_a_lost_broker_and_a_stale_feed_and_their_recovery(tmp_path: Path) -> None:
    folder = tmp_path / "cfg"
    realtime = folder / "tu.pb"
    with mosquitto(tmp_path / "broker") as broker:
        config = write_config(folder, broker.url, dt.date(2026, 11, 1),
                              [{"id": "uni-tft", "stops": ["UNI"], "layout": "tft-320x240", "reached_by": "browser"}],
                              feeds={"realtime": [{"url": "tu.pb", "interval": 1, "stale_after": 60}]})
        _write(realtime, feed(timestamp=AT))
        clock = FixedClock(AT)

        async def scenario() -> None:
            nonlocal broker
            service = Service(load_config(config), clock, config_path=config, cache_dir=tmp_path / "cache")
            runner = asyncio.create_task(service.run(extra_tasks=[serve_http(service)]))
            await asyncio.wait_for(service.http_ready.wait(), 30)
            async with Page(service.http_url + "/", 1400, 1400) as dash:
                await dash.wait_for(f"{_js('#broker')} === 'broker connected'", 30)
                await dash.wait_for(f"{_js('#problems h2')} === '0 problems'", 30)
                await dash.wait_for(f"{_js('#feeds tbody tr .age')}.indexOf('just now') === 0", 30)
                await dash.evaluate("window.notReloaded = true")
                # A thumbnail large enough to read (the 320x240 TFT at its own size, not squeezed to 120 px high).
                await dash.wait_for("document.querySelector('#display-uni-tft img').naturalWidth === 320", 30)
                assert await dash.evaluate("document.querySelector('#display-uni-tft img').clientWidth") == 320

                stop_process(broker.process)  # the broker goes away
                await dash.wait_for(f"{_js('#broker')} === 'broker DISCONNECTED'", SHOWN)
                await dash.wait_for(f"{_js('#problems')}.indexOf('not connected to the MQTT broker') >= 0", SHOWN)
                assert await dash.evaluate("document.getElementById('broker').classList.contains('bad')")

                clock.advance(200)  # no new realtime data for 200 s: the feed is stale (stale_after 60)
                await dash.wait_for(f"{_js('#feeds tbody tr .age')}.indexOf('3 min ago (stale)') === 0", SHOWN)
                await dash.wait_for(f"{_js('#problems')}.indexOf('tu.pb is stale: last data 3 min ago') >= 0",
                                    SHOWN)
                await dash.wait_for(f"{_js('#problems h2')} === '2 problems'", SHOWN)
                await dash.screenshot(tmp_path / "dashboard-broker-lost-feed-stale.png")

                with mosquitto(tmp_path / "broker2", port=broker.port) as again:  # both come back
                    _write(realtime, feed(timestamp=AT + 200))
                    await dash.wait_for(f"{_js('#feeds tbody tr .age')}.indexOf('just now') === 0", 30)
                    await dash.wait_for(f"{_js('#broker')} === 'broker connected'", 60)
                    await dash.wait_for(f"{_js('#problems h2')} === '0 problems'", SHOWN)
                    assert await dash.evaluate("window.notReloaded === true")
                    service.stop()
                    await asyncio.wait_for(runner, 10)
                    broker = again

        asyncio.run(scenario())
