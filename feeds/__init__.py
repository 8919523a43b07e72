"""Live departures from GTFS and GTFS-Realtime: the timetable index, realtime fetching and parsing, and the merge.

The names below are the package's public face; each is imported on first use, so that
`import feeds` stays cheap (the CLI starts fast)."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "FeedError": "errors",
    "FeedWarning": "errors",
    "Location": "errors",
    "GtfsSource": "source",
    "Timetable": "timetable",
    "Stop": "timetable",
    "Route": "timetable",
    "load_timetable": "loader",
    "open_timetable": "cache",
    "default_cache_dir": "cache",
    "RealtimeSource": "realtime",
    "RealtimeRules": "realtime",
    "Snapshot": "realtime",
    "parse_feed": "realtime",
    "FeedHealth": "health",
    "FeedPoller": "poller",
    "LiveState": "live",
    "build_live": "live",
    "TripPrediction": "predict",
    "predict_trip": "predict",
    "Departure": "departures",
    "StopDepartures": "merge",
    "stop_departures": "merge",
    "Alert": "alerts",
    "ShownAlert": "alerts",
    "parse_instant": "times",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    """The public name `name`, from the module that defines it."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
