"""Guards against the known failures of large producers (documented on DELFI's national feed): a full
dataset that collapses to a fraction of its size, and ADDED trips whose stops imply impossible speeds.

Pure: the poller keeps a `CountHistory` per source and asks `judge` about each new dataset; the merge
follows each ADDED trip stop by stop with `passage`.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass

import numpy as np
from google.transit import gtfs_realtime_pb2 as rt

from .times import local_date, service_day_origin
from .timetable import Stop, Timetable

WINDOW = 3600  # seconds of history the recent median is taken over
MIN_HISTORY = 3  # datasets needed before one is judged
MIN_MEDIAN = 20  # trip updates: smaller feeds vary too much to judge
BEFORE, AHEAD = 30 * 60, 60 * 60  # the trips a full dataset covers: under way or starting within the hour


@dataclass(frozen=True, slots=True)
class CountHistory:
    """Recent full datasets of one source: (received at, trip updates, trips scheduled then or -1)."""

    entries: tuple[tuple[int, int, int], ...] = ()

    def record(self, at: int, trips: int, scheduled: int | None) -> CountHistory:
        """This history with one more dataset, forgetting those older than the window."""
        kept = tuple(e for e in self.entries if at - e[0] <= WINDOW)
        return CountHistory(kept + ((at, trips, -1 if scheduled is None else scheduled),))

    def judge(self, now: int, trips: int, scheduled: int | None, fraction: float) -> str | None:
        """Why a dataset of `trips` trip updates received at `now` is a collapse, None when it is not.

        Suspect is a dataset below `fraction` of the median of the last hour, scaled by how much the timetable
        itself shrank since (`scheduled`: trips the timetable runs around now): the end of service at night
        shrinks both and is no collapse."""
        recent = [e for e in self.entries if 0 <= now - e[0] <= WINDOW]
        if len(recent) < MIN_HISTORY:
            return None
        median = statistics.median(e[1] for e in recent)
        if median < MIN_MEDIAN:
            return None
        expected = float(median)
        before = [e[2] for e in recent if e[2] >= 0]
        if scheduled is not None and before:
            usual = statistics.median(before)
            expected *= min(1.0, scheduled / usual) if usual > 0 else 1.0
        if trips >= fraction * expected:
            return None
        return (f"full dataset collapsed: {trips} trip updates, {100 * trips / median:.0f} % of the recent median of "
                f"{median:g} (the timetable expects about {expected:.0f})")


def scheduled_trips(tt: Timetable, now: int) -> int:
    """Trip instances the timetable has under way at `now` or starting within the next hour."""
    first = tt.trip_first[:-1]
    starts = tt.st_dep[first].astype(np.int64)
    ends = tt.st_dep[tt.trip_first[1:] - 1].astype(np.int64)
    today = local_date(now, tt.timezone)
    count = 0
    for offset in (-1, 0):
        day = today + dt.timedelta(days=offset)
        origin = service_day_origin(day, tt.timezone)
        running = tt.calendar.active(day)[tt.trip_service]
        count += int(np.count_nonzero(running & (origin + starts <= now + AHEAD) & (origin + ends >= now - BEFORE)))
    return count


def carried_over(good: rt.FeedMessage, collapsed: rt.FeedMessage) -> tuple[rt.FeedEntity, ...]:
    """The trip updates of the last good dataset for trips the collapsed one lacks."""
    present = {(e.trip_update.trip.trip_id, e.trip_update.trip.start_date) for e in collapsed.entity
               if e.HasField("trip_update")}
    return tuple(e for e in good.entity if e.HasField("trip_update") and not e.is_deleted
                 and (e.trip_update.trip.trip_id, e.trip_update.trip.start_date) not in present)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Distance on the Earth's surface, as a flat map around the two points sees it (within a few per mille
    of the great circle for the distances between consecutive stops)."""
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    y = math.radians(lat2 - lat1)
    return 6371.0088 * math.hypot(x, y)


Passage = tuple[float, float, int]  # latitude, longitude and time of a vehicle at a stop


def passage(previous: Passage | None, stop: Stop, arrival: int, departure: int,
            limit_kmh: float) -> tuple[Passage | None, float | None]:
    """An ADDED trip's next stop: the passage to measure the next hop from, and the speed from `previous` when it
    is above `limit_kmh` (a wormhole), else None. Times count to the minute at least (producers round them), so
    a short hop in '0 minutes' is fine; a stop without coordinates or times is passed over."""
    if stop.lat is None or stop.lon is None or not (arrival or departure):
        return previous, None
    if previous is not None:
        km = distance_km(previous[0], previous[1], stop.lat, stop.lon)
        hours = max(60, (arrival or departure) - previous[2]) / 3600
        if km > limit_kmh * hours:
            return previous, km / hours
    return (stop.lat, stop.lon, departure or arrival), None
