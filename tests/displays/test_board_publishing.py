"""Issue 28's lighter publishing, the board JSON: published (and built) when the board changed, not with every
frame, and kept once per display rather than with each of its recent frames."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from servicekit import write_config
from speckit import spec

import displays.core.engine as engine_module
from displays.config.parse import load_config
from displays.core.frames import render
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from feeds.times import parse_instant

AT = parse_instant("2026-11-25T08:00:05+01:00")
DISPLAY = "hbf-epaper"


def _service(tmp_path: Path, *minutes: int) -> Service:
    displays = [{"id": DISPLAY, "stops": ["HBF"], "layout": "epaper-800x480"}]
    config = load_config(write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), displays))

    async def run() -> Service:
        service = Service(config, FixedClock(AT), cache_dir=tmp_path / "cache")
        await service.prepare()
        for minute in minutes:
            await service.refresh(AT + 60 * minute)
        await service.close()
        return service

    return asyncio.run(run())


def _board_topics(publishes: list) -> list:
    return [p for p in publishes if p.topic.endswith(f"/{DISPLAY}/board")]


def test_the_board_json_is_kept_once_per_display_not_with_each_recent_frame(tmp_path: Path) -> None:
    service = _service(tmp_path, 0, 1, 2, 3)
    channel = service.bridge.channels[DISPLAY]
    assert len(channel.recent) >= 2  # frames of several minutes are kept (for deltas)
    assert all(frame.board_json == b"" for frame in channel.recent.values())
    doc = json.loads(channel.board_message)  # the retained board is the current one
    assert doc["display_id"] == DISPLAY and doc["clock_text"] == service.displays[DISPLAY].board.clock_text


@spec("P-61")
def test_a_board_is_published_when_it_changed_even_with_the_same_pixels_and_built_once_per_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = _service(tmp_path, 0)
    runtime = service.displays[DISPLAY]
    board = runtime.board
    assert board is not None and board.rows

    builds: list[str] = []
    real = engine_module.board_json

    def counting(*args, **kwargs) -> bytes:  # type: ignore[no-untyped-def]
        builds.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(engine_module, "board_json", counting)

    def accept(shown) -> list:  # type: ignore[no-untyped-def]
        rendered = render(shown, runtime.spec, runtime.encoding, runtime.config.compress)
        out = service.engine.accept(runtime, shown, rendered, AT + 10)
        assert out is not None
        return out

    again = dataclasses.replace(board, generated_at=AT + 10, next_change=board.next_change + 1)
    assert accept(again) == [] and builds == []  # the same board made again: nothing published, nothing built
    first = board.rows[0]
    spoken = dataclasses.replace(board, rows=(dataclasses.replace(first, spoken="Linie 1, gleich."),
                                              *board.rows[1:]))
    publishes = accept(spoken)  # a text the screen does not draw changed: the same pixels, another board
    assert [json.loads(p.payload)["rows"][0]["spoken"] for p in _board_topics(publishes)] == ["Linie 1, gleich."]
    assert not [p for p in publishes if p.topic.endswith("/frame") or p.topic.endswith("/delta")]
    assert builds == [DISPLAY]
