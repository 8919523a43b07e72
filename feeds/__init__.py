"""Live departures from GTFS and GTFS-Realtime: the timetable index, realtime fetching and parsing, and the merge.

The names below are the package's public face, each imported on first use (feeds/lazy.py)."""

from __future__ import annotations

from .lazy import lazy_exports

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
__getattr__ = lazy_exports(__name__, _WHERE)
