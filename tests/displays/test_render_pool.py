"""Rendering on worker processes gives exactly the frames the service renders itself."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from servicekit import write_config

from displays.clock import FixedClock
from displays.config import load_config
from displays.rendering import PoolRenderer
from displays.service import Service
from feeds.times import parse_instant

AT = parse_instant("2026-11-25T08:00:05+01:00")


def test_pool_frames_equal_in_process_frames(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1)))

    async def both() -> tuple[dict[str, int], dict[str, int], int | None]:
        here = Service(config, FixedClock(AT), cache_dir=tmp_path / "cache")
        there = Service(config, FixedClock(AT), cache_dir=tmp_path / "cache", renderer=PoolRenderer(1))
        await here.prepare()
        await there.prepare()
        await here.refresh(AT)
        await there.refresh(AT)
        await here.close()
        await there.close()
        channel = there.bridge.channels["uni-tft"]
        return ({d: r.frame.hash for d, r in here.displays.items()},  # type: ignore[union-attr]
                {d: r.frame.hash for d, r in there.displays.items()},  # type: ignore[union-attr]
                channel.current.hash if channel.current else None)

    local, pooled, sent = asyncio.run(both())
    assert local == pooled and len(local) == 4
    assert sent == pooled["uni-tft"]  # the pool's frames went through the bridge


class CountingRenderer:
    """Renders in this process and keeps every job it was given."""

    def __init__(self) -> None:
        self.jobs: list = []

    async def render(self, jobs: list) -> list:
        from displays.frames import render_batch

        self.jobs += jobs
        return render_batch(jobs)


def test_pillars_showing_the_same_board_share_one_rendering(tmp_path: Path) -> None:
    """Three pillars side by side at a station in one layout: one rendering, three displays each with their own
    frame topic and board JSON; a fourth in another layout and a fifth with its own name are rendered apart."""
    displays = [{"id": f"hbf-{n}", "stops": ["HBF"], "layout": "epaper-800x480"} for n in range(3)]
    displays += [{"id": "hbf-tft", "stops": ["HBF"], "layout": "tft-320x240"},
                 {"id": "hbf-named", "stops": ["HBF"], "layout": "epaper-800x480", "name": "Hauptbahnhof Ost"}]
    config = load_config(write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), displays))
    renderer = CountingRenderer()

    async def run() -> Service:
        service = Service(config, FixedClock(AT), cache_dir=tmp_path / "cache", renderer=renderer)
        await service.prepare()
        await service.refresh(AT)
        await service.close()
        return service

    service = asyncio.run(run())
    assert len(renderer.jobs) == 3
    frames = {d: r.frame for d, r in service.displays.items()}
    assert all(f is not None for f in frames.values())
    assert frames["hbf-0"].hash == frames["hbf-1"].hash == frames["hbf-2"].hash != frames["hbf-named"].hash  # type: ignore[union-attr]
    assert b'"hbf-1"' in frames["hbf-1"].board_json and b'"hbf-0"' not in frames["hbf-1"].board_json  # type: ignore[union-attr]
    assert {d for d, c in service.bridge.channels.items() if c.current is not None} == set(displays_ids := [d["id"] for d in displays])
    assert len(displays_ids) == 5
