"""The loaded timetable: stops, routes, trips and an array index of departures per stop."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .calendar import ServiceCalendar
from .errors import FeedWarning
from .times import local_date, service_day_origin


@dataclass(frozen=True, slots=True)
class Stop:
    """A stop, platform or station from stops.txt."""

    stop_id: str
    name: str
    location_type: int
    parent: int  # index of the parent station, -1 for none
    platform_code: str
    lat: float | None
    lon: float | None


@dataclass(frozen=True, slots=True)
class Route:
    """A line from routes.txt; colours are six hex digits, upper case, never empty."""

    route_id: str
    agency_id: str
    short_name: str
    long_name: str
    route_type: int
    color: str
    text_color: str


@dataclass(frozen=True, slots=True)
class Calls:
    """Scheduled departure instances, as parallel arrays sorted by time."""

    rows: np.ndarray  # stop_times row (see Timetable.st_*)
    times: np.ndarray  # Unix seconds of the scheduled departure
    days: np.ndarray  # service day as a date ordinal
    starts: np.ndarray  # frequency instance start (seconds of the service day), -1 if none

    def __len__(self) -> int:
        return len(self.rows)

    def head(self, limit: int) -> Calls:
        """The first `limit` calls."""
        return Calls(self.rows[:limit], self.times[:limit], self.days[:limit], self.starts[:limit])


@dataclass(frozen=True)
class Timetable:
    """A GTFS feed indexed for 'departures at these stops between t and t + h'.

    stop_times rows are sorted by trip, then stop_sequence; times are seconds after the
    service day's origin (noon minus 12 h, local).
    """

    timezone: str
    agency_lang: str  # the feed's language: feed_info.feed_lang, else the first agency's agency_lang (lower case)
    agency_ids: tuple[str, ...]
    stops: tuple[Stop, ...]
    stop_index: dict[str, int]
    children: dict[int, tuple[int, ...]]
    routes: tuple[Route, ...]
    route_index: dict[str, int]
    trip_ids: Sequence[str]  # feeds.strings.Strings: arrays, not one Python string per trip
    trip_index: Mapping[str, int]  # built on first use
    trip_route: np.ndarray
    trip_service: np.ndarray
    trip_direction: np.ndarray  # -1 when not given
    trip_headsign: Sequence[str]
    trip_short_name: Sequence[str]
    trip_first: np.ndarray  # offsets into st_* per trip, len(trips) + 1
    st_trip: np.ndarray
    st_stop: np.ndarray
    st_seq: np.ndarray
    st_arr: np.ndarray
    st_dep: np.ndarray
    st_pickup: np.ndarray
    st_headsign: np.ndarray  # index into headsigns, -1 for none
    headsigns: Sequence[str]
    freq_trip: np.ndarray
    freq_start: np.ndarray
    freq_end: np.ndarray
    freq_headway: np.ndarray
    freq_exact: np.ndarray
    ix_offsets: np.ndarray  # per stop, into ix_*
    ix_dep: np.ndarray  # departure seconds of the service day, sorted within each stop
    ix_row: np.ndarray
    ix_start: np.ndarray  # frequency instance start, -1 for timetabled trips
    calendar: ServiceCalendar
    max_time: int
    warnings: tuple[FeedWarning, ...] = field(default=())

    def platforms(self, stop_id: str) -> list[int]:
        """Indexes of the stops that `stop_id` stands for: itself, or a station's platforms.

        KeyError when the feed has no such stop.
        """
        index = self.stop_index[stop_id]
        kids = self.children.get(index)
        return list(kids) if kids else [index]

    def platforms_of(self, stop_ids: Sequence[str]) -> list[int]:
        """Indexes of the stops that several stop ids or stations stand for, each once, sorted."""
        return sorted({index for one in stop_ids for index in self.platforms(one)})

    def scheduled_calls(self, stops: list[int], start: int, end: int) -> Calls:
        """Scheduled departures at `stops` whose time lies in [start, end] (Unix seconds).

        Only calls where riders may board: not a trip's last stop, not pickup_type 1, and only
        on service days whose calendar runs the trip.
        """
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        first = local_date(start - self.max_time, self.timezone) - dt.timedelta(days=1)
        last = local_date(end, self.timezone) + dt.timedelta(days=1)
        day = first
        while day <= last:
            origin = service_day_origin(day, self.timezone)
            lo, hi = start - origin, end - origin
            if hi >= 0 and lo <= self.max_time:
                running = self.calendar.active(day)
                for stop in stops:
                    a, b = self.ix_offsets[stop], self.ix_offsets[stop + 1]
                    deps = self.ix_dep[a:b]
                    i, j = np.searchsorted(deps, (lo, hi + 1))
                    if i == j:
                        continue
                    rows = self.ix_row[a + i : a + j]
                    keep = running[self.trip_service[self.st_trip[rows]]]
                    if not keep.any():
                        continue
                    parts.append(
                        (
                            rows[keep],
                            deps[i:j][keep].astype(np.int64) + origin,
                            np.full(int(keep.sum()), day.toordinal(), np.int64),
                            self.ix_start[a + i : a + j][keep],
                        )
                    )
            day += dt.timedelta(days=1)
        if not parts:
            empty = np.zeros(0, np.int64)
            return Calls(empty, empty, empty, empty)
        rows, times, days, starts = (np.concatenate(p) for p in zip(*parts))
        order = np.argsort(times, kind="stable")
        return Calls(rows[order], times[order], days[order], starts[order])
