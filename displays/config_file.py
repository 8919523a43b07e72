"""Writing the service config back (what the admin API changes): the config as TOML, only the
values that differ from the defaults, written atomically."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import tomli_w

from feeds.realtime import RealtimeSource
from feeds.source import MAX_MEMBER_BYTES

from .config import DisplayConfig, FeedsConfig, HttpConfig, MqttConfig, ServiceConfig, StateConfig

__all__ = ["display_doc", "dump_config", "save_config"]


def dump_config(config: ServiceConfig) -> str:
    """The config as TOML text (what the admin API writes back)."""
    doc: dict[str, Any] = {"feeds": _feeds_doc(config.feeds), "mqtt": _changed(config.mqtt, MqttConfig()),
                           "http": _changed(config.http, HttpConfig()), "state": _changed(config.state, StateConfig())}
    if config.layouts:
        doc["layouts"] = dict(config.layouts)
    doc["displays"] = [display_doc(d) for d in config.displays]
    return tomli_w.dumps({k: v for k, v in doc.items() if v != {}})


def display_doc(display: DisplayConfig) -> dict[str, Any]:
    """A display as a plain dict: only the fields that differ from the defaults (JSON and TOML)."""
    doc = {"id": display.id, "stops": list(display.stops), "layout": display.layout}
    defaults = asdict(DisplayConfig(display.id, display.stops, display.layout))
    for key, value in asdict(display).items():
        if key not in doc and value != defaults[key]:
            doc[key] = list(value) if isinstance(value, tuple) else value
    return doc


def save_config(config: ServiceConfig, path: str | Path) -> None:
    """Write the config atomically: a temporary file in the same folder, then rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(dump_config(config), encoding="utf-8")
    os.replace(tmp, path)


def _changed(value: Any, default: Any) -> dict[str, Any]:
    return {k: v for k, v in asdict(value).items() if v != asdict(default)[k]}


def _feeds_doc(feeds: FeedsConfig) -> dict[str, Any]:
    doc: dict[str, Any] = {"gtfs": feeds.gtfs}
    if feeds.gtfs_interval != 3600:
        doc["gtfs_interval"] = feeds.gtfs_interval
    if feeds.gtfs_max_bytes != MAX_MEMBER_BYTES:
        doc["gtfs_max_bytes"] = feeds.gtfs_max_bytes
    if feeds.stale_after != 180:
        doc["stale_after"] = feeds.stale_after
    if feeds.max_deviation_minutes != 180:
        doc["max_deviation_minutes"] = feeds.max_deviation_minutes
    sources = []
    for s in feeds.realtime:
        plain = s == RealtimeSource(s.url, stale_after=feeds.stale_after)
        sources.append(s.url if plain else {"url": s.url, "interval": s.interval, "stale_after": s.stale_after,
                                            "timeout": s.timeout, "total_timeout": s.total_timeout,
                                            "max_bytes": s.max_bytes, "headers": dict(s.headers)})
    if sources:
        doc["realtime"] = sources
    return doc
