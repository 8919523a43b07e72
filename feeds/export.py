"""Departures and their stop as JSON-ready dicts (the `departures --format json` contract)."""

from __future__ import annotations

from typing import Any

from .alerts import ShownAlert
from .departures import Departure
from .health import FeedHealth
from .merge import StopDepartures
from .times import iso
from .timetable import Stop


def departure_json(dep: Departure, tz: str) -> dict[str, Any]:
    """One departure as a JSON object with ISO 8601 times in the agency's offset."""
    return {
        "trip_id": dep.trip_id,
        "service_date": dep.service_date,
        "route_id": dep.route_id,
        "route_short_name": dep.route_short_name,
        "route_long_name": dep.route_long_name,
        "route_type": dep.route_type,
        "route_color": dep.route_color,
        "route_text_color": dep.route_text_color,
        "headsign": dep.headsign,
        "direction_id": dep.direction_id,
        "stop_id": dep.stop_id,
        "stop_sequence": dep.stop_sequence,
        "platform": dep.platform or None,
        "scheduled_platform": dep.scheduled_platform or None,
        "platform_changed": dep.platform_changed,
        "scheduled_departure": iso(dep.scheduled, tz),
        "expected_departure": iso(dep.expected, tz) if dep.expected is not None else None,
        "delay_seconds": dep.delay,
        "realtime": dep.realtime,
        "status": dep.status,
        "start_time": dep.start_time or None,
        "headway_based": dep.headway_based,
        "occupancy": dep.occupancy,
    }


def stop_json(stop: Stop) -> dict[str, Any]:
    """The stop a board is for."""
    return {"stop_id": stop.stop_id, "stop_name": stop.name}


def alert_json(alert: ShownAlert, tz: str) -> dict[str, Any]:
    """One alert as shown on a board, in the chosen language."""
    return {
        "id": alert.alert_id,
        "header": alert.header,
        "description": alert.description,
        "url": alert.url or None,
        "language": alert.language or None,
        "cause": alert.cause,
        "effect": alert.effect,
        "severity": alert.severity,
        "active_periods": [
            {"start": iso(start, tz) if start else None, "end": iso(end, tz) if end else None}
            for start, end in alert.periods
        ],
    }


def realtime_json(result: StopDepartures, health: list[FeedHealth], now: int, tz: str) -> dict[str, Any]:
    """Whether the board is live, and each source's health."""
    fresh = set(result.fresh_sources)
    return {
        "live": result.live,
        "sources": [
            {
                "source": h.source,
                "ok": h.last_error is None,
                "live": h.source in fresh,
                "header_timestamp": iso(h.header_timestamp, tz) if h.header_timestamp else None,
                "age_seconds": h.age(now),
                "trip_updates": h.trip_updates,
                "vehicles": h.vehicles,
                "alerts": h.alerts,
                "error": h.last_error,
            }
            for h in health
        ],
    }
