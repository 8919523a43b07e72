"""Ops add, change and remove a display from the dashboard in a real (headless) browser."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from browser import Page
from servicekit import write_config

from displays.config.parse import load_config
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from displays.web.http import serve_http
from feeds.times import parse_instant

pytestmark = pytest.mark.browser
AT = parse_instant("2026-11-25T08:00:05+01:00")
TOKEN = "form-t0ken"


def test_a_display_added_through_the_form_gets_its_thumbnail(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1),
                          http={"listen": "127.0.0.1:0", "admin_token": TOKEN})

    async def scenario() -> None:
        service = Service(load_config(config), FixedClock(AT), config_path=config, cache_dir=tmp_path / "cache")
        runner = asyncio.create_task(service.run(extra_tasks=[serve_http(service)]))
        await asyncio.wait_for(service.http_ready.wait(), 30)
        async with Page(service.http_url + "/", 1400, 1400) as dash:
            await dash.wait_for("document.getElementById('display-form') !== null")
            fill = (
                "(function(){ var f = document.getElementById('display-form');"
                f" document.getElementById('f-token').value = '{TOKEN}';"
                " f.elements.id.value = 'new-stele'; f.elements.stops.value = 'UNI, NOWHERE';"
                " f.elements.layout.value = 'tft-320x240'; document.getElementById('f-save').click(); return true; })()"
            )
            await dash.evaluate(fill)
            message = await dash.wait_for("document.querySelector('.field-error[data-for=stops]').textContent")
            assert "unknown stop id 'NOWHERE'" in str(message)  # shown beside the field
            await dash.evaluate("document.getElementById('display-form').elements.stops.value = 'UNI';"
                                "document.getElementById('f-save').click(); true")
            src = await dash.wait_for("document.querySelector('#display-new-stele img') &&"
                                      " document.querySelector('#display-new-stele img').getAttribute('src')", 30)
            assert "/displays/new-stele/frame.png" in str(src)
            await dash.wait_for("document.querySelector('#display-new-stele img').naturalWidth === 320", 30)
            assert await dash.evaluate("sessionStorage.getItem('stopcast-admin-token')") == TOKEN
            await dash.screenshot(tmp_path / "dashboard-form.png")
        assert load_config(config).display("new-stele") is not None
        assert [e.action for e in service.audit.recent()] == ["display.add"]
        service.stop()
        await asyncio.wait_for(runner, 10)

    asyncio.run(scenario())


def test_stop_search_preview_before_saving_and_a_suppression_from_the_dashboard(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1),
                          http={"listen": "127.0.0.1:0", "admin_token": TOKEN})

    async def scenario() -> None:
        service = Service(load_config(config), FixedClock(AT), config_path=config, cache_dir=tmp_path / "cache")
        runner = asyncio.create_task(service.run(extra_tasks=[serve_http(service)]))
        await asyncio.wait_for(service.http_ready.wait(), 30)
        async with Page(service.http_url + "/", 1400, 1400) as dash:
            await dash.wait_for("document.getElementById('display-form') !== null")
            # Stops by name: typing "Schiller" offers Schillerplatz (its id goes into the field).
            await dash.evaluate("(function(){ var s = document.getElementById('display-form').elements.stops;"
                                " s.value = 'UNI, Schiller'; s.dispatchEvent(new Event('input')); return true; })()")
            offered = await dash.wait_for("document.querySelector('#stop-options option') &&"
                                          " document.querySelector('#stop-options option').value")
            assert offered == "UNI, SCHI"
            assert "Schillerplatz" in str(await dash.evaluate("document.querySelector('#stop-options option').label"))
            # A change previewed before it is saved: the frame in the new layout, nothing written.
            fill = (
                "(function(){ var f = document.getElementById('display-form');"
                f" document.querySelector('#display-form .admin-token').value = '{TOKEN}';"
                " f.elements.id.value = 'schi-led'; f.elements.stops.value = 'SCHI';"
                " f.elements.layout.value = 'led-192x64';"
                " document.getElementById('f-preview').click(); return true; })()"
            )
            await dash.evaluate(fill)
            await dash.wait_for("document.querySelector('#display-preview img') &&"
                                " document.querySelector('#display-preview img').naturalWidth === 192")
            assert "not saved" in str(
                await dash.evaluate("document.querySelector('#display-preview figcaption').textContent")
            )
            assert service.config.display("schi-led") is None
            # A suppression through its own form, its token field beside it (filled from the tab's session).
            await dash.evaluate("document.getElementById('f-save').click(); true")
            await dash.wait_for("document.getElementById('display-schi-led') !== null", 30)
            assert await dash.evaluate("document.querySelector('#suppression-form .admin-token').value") == TOKEN
            await dash.evaluate("(function(){ var f = document.getElementById('suppression-form').elements;"
                                " f.alert_all.checked = true; f.displays.value = 'schi-led';"
                                " f.reason.value = 'Hinweis betrifft Schillerplatz nicht';"
                                " document.getElementById('s-save').click(); return true; })()")
            await dash.wait_for("document.querySelectorAll('#messages tr[id^=suppression-]').length === 1", 30)
            await dash.screenshot(tmp_path / "dashboard-editing.png")
        rules = service.editorial.suppressions
        assert len(rules) == 1 and rules[0].all_alerts and rules[0].targets.displays == ("schi-led",)
        assert [e.action for e in service.audit.recent()][::-1] == ["display.add", "suppression.add"]
        service.stop()
        await asyncio.wait_for(runner, 10)

    asyncio.run(scenario())
