"""Predictions for one trip instance from its TripUpdate, as the GTFS-Realtime reference defines
them: matching stop time updates to the timetable's rows, absolute times over delays, delays
carried forward (over skipped stops, stopped by NO_DATA), implausible values dropped. Pure."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from google.transit import gtfs_realtime_pb2 as rt

from .realtime import RealtimeRules
from .times import service_day_origin
from .timetable import Timetable

__all__ = ["OCCUPANCY", "TripKey", "TripPrediction", "instance_base", "predict_trip"]

TripKey = tuple[int, int, int]  # (trip index, service day ordinal, frequency start or -1)
_TRIP = rt.TripDescriptor
_STU = rt.TripUpdate.StopTimeUpdate
_PROPS = _STU.StopTimeProperties
OCCUPANCY = rt.VehiclePosition.OccupancyStatus
_ABSURD = 10 * 366 * 86400  # seconds: any delay beyond this is nonsense (and still fits int64 sums)


@dataclass(frozen=True, slots=True)
class TripPrediction:
    """Per stop_times row of one trip instance: expected departure (-1: none), skipped, platform."""

    expected: np.ndarray
    skipped: np.ndarray
    assigned_stop: np.ndarray  # stop index the departure moved to, -1 if unchanged
    cancelled: bool
    implausible: int
    no_pickup: frozenset[int] = frozenset()  # rows where stop_time_properties.pickup_type is NONE
    headsigns: dict[int, str] = field(default_factory=dict)  # row -> headsign override; row -1: the whole trip
    occupancy: dict[int, str] = field(default_factory=dict)  # row -> departure_occupancy_status
    unmatched: int = 0  # stop time updates that matched no stop of the trip
    first_departure: int = 0  # Unix seconds the instance is scheduled to leave its first stop
    early: bool = False  # some departure is predicted more than rules.max_early before its schedule

    def headsign(self, i: int) -> str | None:
        """The headsign realtime gives for row offset `i` (stop, else trip), or None."""
        return self.headsigns.get(i, self.headsigns.get(-1))


def instance_base(tt: Timetable, key: TripKey) -> int:
    """Unix seconds that the trip's stop_times offsets count from for this instance."""
    trip, day, start = key
    origin = service_day_origin(dt.date.fromordinal(day), tt.timezone)
    if start >= 0:
        return origin + start - int(tt.st_dep[tt.trip_first[trip]])
    return origin


def _match_rows(tt: Timetable, trip: int, update: rt.TripUpdate) -> list[tuple[int, _STU]]:
    """(row offset within the trip, update) pairs in trip order.

    By stop_sequence when its stop agrees with stop_id; else by stop_id (or its station), the
    first visit after the previous match. Feeds in the wild send contradicting pairs.
    """
    a, b = int(tt.trip_first[trip]), int(tt.trip_first[trip + 1])
    seqs = tt.st_seq[a:b]
    stops = tt.st_stop[a:b]
    matched: dict[int, _STU] = {}
    cursor = 0
    for stu in update.stop_time_update:
        stop = tt.stop_index.get(stu.stop_id, -1) if stu.stop_id else -1
        i = -1
        if stu.HasField("stop_sequence"):
            j = int(np.searchsorted(seqs, stu.stop_sequence))
            if j < len(seqs) and seqs[j] == stu.stop_sequence and (stop < 0 or _same_place(tt, int(stops[j]), stop)):
                i = j
        if i < 0 and stop >= 0:
            places = np.flatnonzero([_same_place(tt, int(s), stop) for s in stops])
            later = places[places >= cursor]
            if len(later) or len(places):
                i = int(later[0] if len(later) else places[0])
        if i >= 0:
            matched[i] = stu
            cursor = i + 1
    return sorted(matched.items(), key=lambda item: item[0])


def _same_place(tt: Timetable, row_stop: int, stop: int) -> bool:
    """Whether an update's stop means the scheduled one: the same stop or its parent station."""
    return row_stop == stop or tt.stops[row_stop].parent == stop


def _event_delay(event: rt.TripUpdate.StopTimeEvent, scheduled: int) -> int | None:
    """Delay of one StopTimeEvent: an absolute time wins over the delay field.

    A time absurdly far from the schedule (int64 extremes) becomes a delay just past any bound, so
    the prediction is counted as implausible instead of overflowing the arithmetic."""
    if event.HasField("time") and event.time:
        delay = event.time - scheduled
        return delay if -_ABSURD <= delay <= _ABSURD else (_ABSURD if delay > 0 else -_ABSURD)
    if event.HasField("delay"):
        return int(event.delay)
    return None


@dataclass(slots=True)
class _Rows:
    """What a TripUpdate says per row of one trip, filled in while its updates are read."""

    n: int
    expected: np.ndarray = field(init=False)
    skipped: np.ndarray = field(init=False)
    assigned: np.ndarray = field(init=False)
    no_pickup: set[int] = field(default_factory=set)
    headsigns: dict[int, str] = field(default_factory=dict)
    occupancy: dict[int, str] = field(default_factory=dict)
    lowest: int | None = None  # the most negative delay given to any row

    def __post_init__(self) -> None:
        self.expected = np.full(self.n, -1, dtype=np.int64)
        self.skipped = np.zeros(self.n, dtype=bool)
        self.assigned = np.full(self.n, -1, dtype=np.int32)

    def take_properties(self, tt: Timetable, i: int, stu: _STU) -> None:
        """A stop time update's properties: platform change, headsign, no pickup, occupancy."""
        if stu.HasField("stop_time_properties"):
            props = stu.stop_time_properties
            if props.assigned_stop_id:
                self.assigned[i] = tt.stop_index.get(props.assigned_stop_id, -1)
            if props.stop_headsign:
                self.headsigns[i] = props.stop_headsign
            if props.HasField("pickup_type") and props.pickup_type == _PROPS.NONE:
                self.no_pickup.add(i)
        if stu.HasField("departure_occupancy_status"):
            self.occupancy[i] = OCCUPANCY.Name(stu.departure_occupancy_status)


def predict_trip(tt: Timetable, key: TripKey, update: rt.TripUpdate, rules: RealtimeRules,
                 now: int | None = None) -> TripPrediction:
    """Expected departures for every stop of one trip instance from its TripUpdate (with `now`: whether a trip
    not yet started is predicted more than rules.max_early before its schedule somewhere)."""
    trip = key[0]
    a, b = int(tt.trip_first[trip]), int(tt.trip_first[trip + 1])
    base = instance_base(tt, key)
    sched_dep = tt.st_dep[a:b].astype(np.int64) + base
    sched_arr = tt.st_arr[a:b].astype(np.int64) + base
    rows = _Rows(b - a)
    if update.trip.schedule_relationship in (_TRIP.CANCELED, _TRIP.DELETED):
        return TripPrediction(rows.expected, rows.skipped, rows.assigned, True, 0)
    if update.HasField("trip_properties") and update.trip_properties.trip_headsign:
        rows.headsigns[-1] = update.trip_properties.trip_headsign
    matches = _match_rows(tt, trip, update)
    _propagate(tt, update, matches, rows, sched_dep, sched_arr)
    expected = rows.expected
    first = int(sched_dep[0])
    early = now is not None and rows.lowest is not None and rows.lowest < -rules.max_early and now < first
    implausible = (expected >= 0) & (np.abs(expected - sched_dep) > rules.max_deviation)
    count = int(implausible[:-1].sum())  # the last stop has no departure to show
    expected[implausible] = -1
    return TripPrediction(
        expected, rows.skipped, rows.assigned, False, count, frozenset(rows.no_pickup), rows.headsigns,
        rows.occupancy, len(update.stop_time_update) - len(matches), first, early,
    )


def _propagate(tt: Timetable, update: rt.TripUpdate, matches: list[tuple[int, _STU]], rows: _Rows,
               sched_dep: np.ndarray, sched_arr: np.ndarray) -> None:
    """Expected times row by row: each update's own time or delay, the last delay carried forward
    (also over skipped stops) until NO_DATA stops it; the trip's delay before the first update."""
    expected = rows.expected
    delay: int | None = int(update.delay) if update.HasField("delay") else None
    lowest: int | None = None  # what the early check of a trip not yet started needs, without another array pass
    position = 0
    for i, stu in matches:
        if delay is not None and i > position:
            expected[position:i] = sched_dep[position:i] + delay
            lowest = delay if lowest is None or delay < lowest else lowest
        position = i + 1
        if stu.HasField("stop_time_properties") or stu.HasField("departure_occupancy_status"):
            rows.take_properties(tt, i, stu)
        if stu.schedule_relationship == _STU.NO_DATA:
            delay = None
            continue
        if stu.schedule_relationship == _STU.SKIPPED:
            rows.skipped[i] = True  # the delay before a skipped stop propagates over it
            continue
        arrival = _event_delay(stu.arrival, int(sched_arr[i])) if stu.HasField("arrival") else None
        departure = _event_delay(stu.departure, int(sched_dep[i])) if stu.HasField("departure") else None
        own = departure if departure is not None else arrival  # the arrival's delay carries to the departure
        if own is not None:
            delay = own
        if delay is not None:
            expected[i] = sched_dep[i] + delay
            lowest = delay if lowest is None or delay < lowest else lowest
    if delay is not None and position < rows.n:
        expected[position:] = sched_dep[position:] + delay
        lowest = delay if lowest is None or delay < lowest else lowest
    rows.lowest = lowest
