"""Departures at a stop: the board model's input, built from the timetable (and realtime)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .times import format_service_date, gtfs_time
from .timetable import Calls, Stop, Timetable

SCHEDULED, ON_TIME, DELAYED, EARLY = "scheduled", "on_time", "delayed", "early"
CANCELLED, SKIPPED, ADDED = "cancelled", "skipped", "added"


@dataclass(frozen=True, slots=True)
class Departure:
    """One vehicle leaving one stop; times are Unix seconds."""

    trip_id: str
    service_date: str  # YYYYMMDD
    route_id: str
    route_short_name: str
    route_long_name: str
    route_type: int
    route_color: str
    route_text_color: str
    headsign: str
    direction_id: int | None
    stop_id: str
    stop_sequence: int
    platform: str  # the platform it leaves from now ("" when the feed names none)
    scheduled_platform: str
    scheduled: int
    expected: int | None = None
    delay: int | None = None
    realtime: bool = False
    status: str = SCHEDULED
    start_time: str = ""  # frequency instance start HH:MM:SS, "" for timetabled trips
    headway_based: bool = False  # frequencies.txt with exact_times 0: times are nominal
    occupancy: str | None = None
    ends_here: bool = False  # the trip ends at this stop or station (a display may hide it: nobody boards it
    # to go anywhere)

    @property
    def time(self) -> int:
        """The time riders should expect: the prediction when there is one, else the timetable."""
        return self.expected if self.expected is not None else self.scheduled

    @property
    def platform_changed(self) -> bool:
        """Whether realtime moved this departure to another platform."""
        return self.platform != self.scheduled_platform


def destination(tt: Timetable, trip: int, row: int) -> str:
    """What the front of the vehicle says at this stop: stop_headsign, trip_headsign, else the last stop."""
    code = int(tt.st_headsign[row])
    if code >= 0:
        return tt.headsigns[code]
    if tt.trip_headsign[trip]:
        return tt.trip_headsign[trip]
    last = tt.stops[int(tt.st_stop[tt.trip_first[trip + 1] - 1])]
    return tt.stops[last.parent].name if last.parent >= 0 else last.name


def platform_of(stop: Stop) -> str:
    """The platform riders see for a stop: its platform_code (may be empty)."""
    return stop.platform_code


def make_departure(tt: Timetable, row: int, scheduled: int, day: int, start: int, **live: object) -> Departure:
    """The departure of stop_times `row` on service day `day` (ordinal); `live` sets realtime fields."""
    trip = int(tt.st_trip[row])
    route = tt.routes[int(tt.trip_route[trip])]
    stop = tt.stops[int(tt.st_stop[row])]
    direction = int(tt.trip_direction[trip])
    fields: dict[str, object] = {
        "trip_id": tt.trip_ids[trip],
        "service_date": format_service_date(dt.date.fromordinal(day)),
        "route_id": route.route_id,
        "route_short_name": route.short_name,
        "route_long_name": route.long_name,
        "route_type": route.route_type,
        "route_color": route.color,
        "route_text_color": route.text_color,
        "headsign": destination(tt, trip, row),
        "direction_id": direction if direction >= 0 else None,
        "stop_id": stop.stop_id,
        "stop_sequence": int(tt.st_seq[row]),
        "platform": platform_of(stop),
        "scheduled_platform": platform_of(stop),
        "scheduled": scheduled,
        "start_time": gtfs_time(start) if start >= 0 else "",
        "headway_based": start >= 0 and not _exact(tt, trip),
        "ends_here": _ends_at(tt, trip, row),
    }
    fields.update(live)
    return Departure(**fields)  # type: ignore[arg-type]


def _ends_at(tt: Timetable, trip: int, row: int) -> bool:
    """Whether the trip ends at this call's stop or station: its last stop, or a later stop of the same
    station (a train that comes in at platform 1 and ends at platform 3 of the same station)."""
    last_row = int(tt.trip_first[trip + 1]) - 1
    if row == last_row:
        return True
    here, last = int(tt.st_stop[row]), int(tt.st_stop[last_row])
    parent = tt.stops[here].parent
    return last == here or (parent >= 0 and tt.stops[last].parent == parent) or last == parent


def departures_from_calls(tt: Timetable, calls: Calls) -> list[Departure]:
    """Timetable departures for scheduled calls, in the calls' order."""
    columns = (calls.rows.tolist(), calls.times.tolist(), calls.days.tolist(), calls.starts.tolist())
    return [make_departure(tt, row, when, day, start) for row, when, day, start in zip(*columns)]


def _exact(tt: Timetable, trip: int) -> bool:
    hits = np.flatnonzero(tt.freq_trip == trip)
    return bool(hits.size and tt.freq_exact[hits[0]] == 1)


def timetable_departures(tt: Timetable, stop_id: str, at: int, horizon_s: int, limit: int) -> list[Departure]:
    """Scheduled departures at a stop (or a station's platforms) in [at, at + horizon], by time.

    KeyError when the feed has no such stop.
    """
    return departures_from_calls(tt, tt.scheduled_calls(tt.platforms(stop_id), at, at + horizon_s).head(limit))


def next_scheduled(tt: Timetable, stop_ids: Sequence[str], after: int, within_s: int = 24 * 3600) -> int | None:
    """The first scheduled departure at the stops (or stations) after `after`, within a day; None if none."""
    calls = tt.scheduled_calls(tt.platforms_of(stop_ids), after, after + within_s)
    return int(calls.times[0]) if len(calls) else None
