"""/metrics through prometheus_client: the feed update -> frame latency is observed when an update changes
frames, and a label value that needs escaping is escaped (the exposition format's rules, not hand-written)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from servicekit import write_config

from displays.config.parse import load_config
from displays.core.ports import MemoryLink
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from displays.web.status import metrics_text
from feeds.demo import simulated_realtime
from feeds.times import parse_instant

AT = parse_instant("2026-11-25T08:00:05+01:00")


async def test_a_feed_update_that_changes_frames_is_timed_until_they_are_sent(tmp_path: Path) -> None:
    folder = tmp_path / "cfg"
    config = write_config(folder, "mqtt://127.0.0.1:1", dt.date(2026, 11, 1),
                          feeds={"realtime": [{"url": 'rt "live".pb', "interval": 5}]})
    link = MemoryLink()
    service = Service(load_config(config), FixedClock(AT), config_path=config, cache_dir=tmp_path / "cache", link=link)
    await service.prepare()
    try:
        await service.step()  # the first frames: no feed update behind them, nothing timed
        metrics = service.metrics
        assert metrics.value("stopcast_feed_update_to_frame_seconds_count") == 0
        sent = metrics.value("stopcast_published_messages_total")
        assert sent > 0
        (folder / 'rt "live".pb').write_bytes(simulated_realtime(service.timetable, AT))  # delays, a cancellation, ...
        await service.fetch_all()  # the source tells the service (on_update) as in production
        await service.step()
        assert metrics.value("stopcast_published_messages_total") > sent
        assert metrics.value("stopcast_feed_update_to_frame_seconds_count") == 1
        assert 0 < metrics.value("stopcast_feed_update_to_frame_seconds_sum") < 30
        text = metrics_text(service)
        assert '/rt \\"live\\".pb"} ' in text  # the exposition format's escaping, by the library
        ages = [
            s for f in text_string_to_metric_families(text) for s in f.samples if s.name == "stopcast_feed_age_seconds"
        ]
        assert len(ages) == 1 and ages[0].labels["source"] == str(folder / 'rt "live".pb') and ages[0].value < 600
    finally:
        await service.close()
