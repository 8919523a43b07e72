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
