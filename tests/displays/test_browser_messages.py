"""Ops write a message on the dashboard in a real (headless) browser, preview it, save it, and a live
HTML board that is already open shows it without reloading."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
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
TOKEN = "msg-t0ken"
SHOTS = os.environ.get("STOPCAST_SCREENSHOTS")  # a folder to keep the screenshots in, for looking at them


def test_a_message_made_on_the_dashboard_appears_on_a_live_board(tmp_path: Path) -> None:
    displays = [{"id": "uni-lcd", "stops": ["UNI"], "layout": "lcd-landscape-1920x1080"},
                {"id": "gons-tft", "stops": ["GONS"], "layout": "tft-320x240"}]
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), displays,
                          http={"listen": "127.0.0.1:0", "admin_token": TOKEN})
    shots = Path(SHOTS) if SHOTS else tmp_path

    async def scenario() -> None:
        service = Service(load_config(config), FixedClock(AT), config_path=config, cache_dir=tmp_path / "cache")
        runner = asyncio.create_task(service.run(extra_tasks=[serve_http(service)]))
        await asyncio.wait_for(service.http_ready.wait(), 30)
        async with Page(f"{service.http_url}/displays/uni-lcd", 1920, 1080) as board, \
                Page(service.http_url + "/", 1400, 2000) as dash:
            await board.wait_for("document.querySelectorAll('.row').length > 0")
            await board.evaluate("window.notReloaded = true")
            await dash.wait_for("document.getElementById('message-form') !== null")
            fill = (
                "(function(){ var f = document.getElementById('message-form').elements;"
                f" document.getElementById('f-token').value = '{TOKEN}';"
                " f.de.value = 'Aufzug an der Universität außer Betrieb';"
                " f.en.value = 'Lift at the university out of order';"
                " f.kind.value = 'row'; f.stops.value = 'UNI, NOWHERE';"
                " document.getElementById('m-preview').click(); return true; })()"
            )
            await dash.evaluate(fill)
            refused = await dash.wait_for(
                "document.querySelector('.field-error[data-for=\"targets.stops\"]').textContent"
            )
            assert "unknown stop id 'NOWHERE'" in str(refused)  # said beside the field
            await dash.evaluate("document.getElementById('message-form').elements.stops.value = 'UNI';"
                                "document.getElementById('m-preview').click(); true")
            caption = await dash.wait_for("document.querySelector('#message-preview figcaption') &&"
                                          " document.querySelector('#message-preview figcaption').textContent")
            assert caption == "uni-lcd"
            await dash.wait_for("document.querySelector('#message-preview img').naturalWidth === 1920")
            await dash.screenshot(shots / "dashboard-message-preview.png")
            # Previewing published nothing: the open board still shows departures only.
            assert await board.evaluate("document.querySelectorAll('.row.message').length") == 0
            await dash.evaluate("document.getElementById('m-save').click(); true")
            shown = await board.wait_for("document.querySelector('.row.message .c-message') &&"
                                         " document.querySelector('.row.message .c-message').textContent.trim()", 30)
            assert shown == "Aufzug an der Universität außer Betrieb"
            assert await board.evaluate("window.notReloaded === true")
            assert await board.evaluate("document.querySelectorAll('.row:not(.message)').length") > 0
            await board.screenshot(shots / "live-board-message.png")
            await dash.wait_for("document.querySelectorAll('#messages tr[id^=message-]').length === 1", 30)
            await dash.screenshot(shots / "dashboard-messages.png")
            await dash.evaluate("document.querySelector('button.m-end').click(); true")
            await board.wait_for("document.querySelectorAll('.row.message').length === 0", 30)
        assert [e.action for e in service.audit.recent()][::-1] == ["message.add", "message.end"]
        gons = service.displays["gons-tft"].board
        assert gons is not None and all(r.status != "message" for r in gons.rows)  # another stop: not reached
        service.stop()
        await asyncio.wait_for(runner, 10)

    asyncio.run(scenario())


class Tone:
    """A synthesizer that answers with one second of a 440 Hz tone (what is played is tested, not espeak-ng)."""

    available = True
    why_unavailable = ""

    async def synthesize(self, text: str, language: str) -> bytes:
        import io
        import math
        import wave

        out = io.BytesIO()
        with wave.open(out, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(22050)
            w.writeframes(
                b"".join(
                    int(8000 * math.sin(2 * math.pi * 440 * i / 22050)).to_bytes(2, "little", signed=True)
                    for i in range(22050)
                )
            )
        return out.getvalue()


def test_the_live_board_reads_itself_aloud_on_request(tmp_path: Path) -> None:
    displays = [{"id": "uni-tft", "stops": ["UNI"], "layout": "tft-320x240"}]
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), displays,
                          http={"listen": "127.0.0.1:0"})

    async def scenario() -> None:
        service = Service(load_config(config), FixedClock(AT), config_path=config, cache_dir=tmp_path / "cache",
                          synthesizer=Tone())
        runner = asyncio.create_task(service.run(extra_tasks=[serve_http(service)]))
        await asyncio.wait_for(service.http_ready.wait(), 30)
        async with Page(f"{service.http_url}/displays/uni-tft", 640, 480) as board:
            await board.wait_for("document.querySelectorAll('#speak button').length === 2")
            labels = await board.evaluate(
                "Array.from(document.querySelectorAll('#speak button')).map(b => b.textContent.trim())"
            )
            assert labels == ["Vorlesen", "Read aloud"]
            await board.screenshot((Path(SHOTS) if SHOTS else tmp_path) / "live-board-read-aloud.png")
            await board.evaluate("document.querySelector('#speak button[data-lang=en]').click(); true")
            await board.wait_for(
                "document.querySelector('#speak button[data-lang=en]').getAttribute('aria-pressed') === 'true'"
            )
            fetched = await board.wait_for("performance.getEntriesByType('resource').map(e => e.name)"
                                           ".filter(n => n.includes('/displays/uni-tft/speech.wav?lang=en')).length")
            assert fetched == 1
            # The one-second tone plays to its end, and the button says it is no longer playing.
            await board.wait_for(
                "document.querySelector('#speak button[data-lang=en]').getAttribute('aria-pressed') === 'false'", 10
            )
        service.stop()
        await asyncio.wait_for(runner, 10)

    asyncio.run(scenario())
