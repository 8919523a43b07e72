"""Config files for service tests, on the generated demo network."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import tomli_w

from feeds.demo import write_demo_feed

DISPLAYS = [
    {"id": "hbf-epaper", "stops": ["HBF"], "layout": "epaper-800x480", "name": "Hauptbahnhof"},
    {"id": "uni-tft", "stops": ["UNI"], "layout": "tft-320x240"},
    {"id": "gons-led", "stops": ["GONS"], "layout": "led-192x64"},
    {"id": "hbf-bwr", "stops": ["HBF:A", "HBF:B"], "layout": "epaper-bwr-800x480", "trmnl_id": "AA:BB:CC:DD:EE:FF"},
]


def write_config(
    folder: Path, broker_url: str, day: dt.date, displays: list[dict] | None = None, **sections: dict
) -> Path:
    """A config for the demo network running from `day`; sections override or add tables."""
    folder.mkdir(parents=True, exist_ok=True)
    feed = write_demo_feed(folder / "demo.zip", day)
    doc: dict = {
        "feeds": {"gtfs": feed.name},
        "mqtt": {"url": broker_url},
        "http": {"listen": "127.0.0.1:0"},
        "displays": displays if displays is not None else DISPLAYS,
    }
    for name, table in sections.items():
        doc[name] = {**doc.get(name, {}), **table}
    path = folder / "stopcast.toml"
    path.write_text(tomli_w.dumps(doc))
    return path


def rename_displays(path: Path, prefix: str = "Neu ") -> None:
    """Give every display of the config at `path` a new name: every board changes, so a running service that
    is then sent SIGHUP publishes each display it holds at once (a new frame now, not at the next minute)."""
    doc = tomllib.loads(path.read_text())
    for display in doc["displays"]:
        display["name"] = f"{prefix}{display['id']}"
    path.write_text(tomli_w.dumps(doc))
