"""An engine (displays/core/engine.py) made from a config document, with a loaded timetable: for the tests and
benches that drive the engine alone."""

from __future__ import annotations

from pathlib import Path

import tomli_w

from displays.config.parse import load_config
from displays.core.engine import Engine
from feeds.timetable import Timetable


def engine_of(folder: Path, doc: dict, timetable: Timetable, at: int, instance: str = "a") -> Engine:
    """The engine of `doc` (written to folder/stopcast.toml and loaded as ops' files are), its displays set at `at`."""
    (folder / "stopcast.toml").write_text(tomli_w.dumps(doc))
    config = load_config(folder / "stopcast.toml")
    engine = Engine(config, instance=instance, started_at=at, epoch=at)
    engine.timetable = timetable
    engine.apply_config(config, at)
    return engine
