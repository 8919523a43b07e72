"""The merge of GTFS-Realtime into the timetable, as the GTFS-Realtime reference defines it.

`build_live` indexes fresh snapshots by trip instance; a trip's predictions are computed on first
use (a pure function of timetable, update and rules) and memoised, so a large feed costs only what
the boards actually read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
from google.transit import gtfs_realtime_pb2 as rt

from .alerts import Alert, alert_from_entity
from .dating import service_date_near, start_seconds, trip_key
from .departures import destination
from .guard import Passage, passage
from .predict import OCCUPANCY, TripKey, TripPrediction, instance_base, predict_trip
from .realtime import RealtimeRules, Snapshot
from .times import local_date_text, plausible_instant
from .timetable import Timetable

__all__ = ["AddedCall", "Findings", "LiveState", "MergeStats", "build_live", "trip_key"]

_TRIP = rt.TripDescriptor
_STU = rt.TripUpdate.StopTimeUpdate
_ADDED, _NEW, _REPLACEMENT = _TRIP.ADDED, _TRIP.NEW, _TRIP.REPLACEMENT  # read once per update: plain ints
_DUPLICATED, _DELETED, _SCHEDULED = _TRIP.DUPLICATED, _TRIP.DELETED, _TRIP.SCHEDULED


@dataclass(frozen=True, slots=True)
class AddedCall:
    """A departure of a trip the timetable does not have (ADDED, NEW, DUPLICATED)."""

    trip_id: str
    service_date: str
    route: int  # route index, -1 if unknown
    route_id: str
    headsign: str
    direction_id: int | None
    stop: int
    stop_sequence: int
    time: int
    skipped: bool


@dataclass
class MergeStats:
    """What could not be used, for ops: counters grow as predictions are computed."""

    unknown_trips: int = 0
    stale_trip_updates: int = 0
    unmatched_stop_updates: int = 0
    implausible_predictions: int = 0


@dataclass
class Findings:
    """What one source's current data needed put right, for ops (/healthz, /metrics)."""

    redated: int = 0  # trip updates dated by the calendar, attached to the previous service day's run
    wormholes: int = 0  # ADDED trips dropped: consecutive stops imply impossible speeds
    early: int = 0  # trips not yet started predicted more than max_early before schedule: timetable shown
    kept: int = 0  # trip updates of the last good full dataset kept through a collapse


@dataclass
class LiveState:
    """Realtime merged into one timetable at one instant; read by board queries."""

    timetable: Timetable
    now: int
    rules: RealtimeRules
    updates: dict[TripKey, rt.TripUpdate]
    added: dict[int, list[AddedCall]]  # stop index -> calls
    deleted: set[TripKey]
    occupancy: dict[str, str]  # trip_id -> OccupancyStatus name
    alerts: tuple[Alert, ...]
    fresh_sources: tuple[str, ...]
    stale_sources: tuple[str, ...]
    data_as_of: int | None = None  # when the newest realtime data (fresh or stale) was written
    stats: MergeStats = field(default_factory=MergeStats)
    old_updates: set[TripKey] = field(default_factory=set)  # TripUpdates whose own timestamp is old
    findings: dict[str, Findings] = field(default_factory=dict)  # source -> what its data needed put right
    update_source: dict[TripKey, str] = field(default_factory=dict)  # which source each update came from
    _predictions: dict[TripKey, TripPrediction] = field(default_factory=dict)
    _updated: np.ndarray | None = None

    def updated_trips(self) -> np.ndarray:
        """A bool per trip index: whether some TripUpdate is about it (computed once)."""
        if self._updated is None:
            self._updated = np.zeros(len(self.timetable.trip_ids), dtype=bool)
            self._updated[[key[0] for key in self.updates]] = True
        return self._updated

    @property
    def is_live(self) -> bool:
        """Whether any realtime source is fresh enough to show."""
        return bool(self.fresh_sources)

    def prediction(self, key: TripKey) -> TripPrediction | None:
        """The trip instance's prediction, computed once per LiveState."""
        cached = self._predictions.get(key)
        if cached is not None:
            return cached
        update = self.updates.get(key)
        if update is None:
            return None
        predicted = predict_trip(self.timetable, key, update, self.rules, self.now)
        if key in self.old_updates and _under_way(predicted, self.now):
            # A trip under way whose update is old: its times are not live (cancellations and
            # skipped stops still are). A trip waiting at its terminus keeps its prediction.
            self.stats.stale_trip_updates += 1
            predicted = replace(predicted, expected=np.full_like(predicted.expected, -1))
        elif predicted.early and self.now < predicted.first_departure:
            # Nearest-time matching at the producer (delays like -3133 s): a trip that has not left its first
            # stop is not believed to run that early; its timetable times show (cancellations still count).
            predicted = replace(predicted, expected=np.full_like(predicted.expected, -1))
            source = self.update_source.get(key) or (self.fresh_sources[0] if len(self.fresh_sources) == 1 else "")
            self.findings.setdefault(source, Findings()).early += 1
        self.stats.implausible_predictions += predicted.implausible
        self.stats.unmatched_stop_updates += predicted.unmatched
        self._predictions[key] = predicted
        return predicted


def _under_way(predicted: TripPrediction, now: int) -> bool:
    """Whether the trip has started by its own prediction: its first predicted time is not after now."""
    times = predicted.expected[predicted.expected >= 0]
    return bool(len(times)) and int(times[0]) <= now


def build_live(tt: Timetable, snapshots: Iterable[Snapshot], now: int, rules: RealtimeRules) -> LiveState:
    """Index the fresh snapshots' TripUpdates, vehicles and alerts against the timetable at `now`."""
    live = LiveState(tt, now, rules, {}, {}, set(), {}, (), (), ())
    snapshots = list(snapshots)
    stale = [s.is_stale(now, rules) for s in snapshots]
    fresh = [s for s, old in zip(snapshots, stale) if not old]
    live.fresh_sources = tuple(s.source for s in fresh)
    live.stale_sources = tuple(s.source for s, old in zip(snapshots, stale) if old)
    several = len(fresh) > 1  # with one source, every update is from it (no need to remember whose it is)
    alerts: list[Alert] = []
    for snap in fresh:
        found = live.findings.setdefault(snap.source, Findings())
        for entity in snap.message.entity:
            if entity.is_deleted:
                continue
            if entity.HasField("trip_update"):
                _index_trip_update(live, entity.trip_update, snap.source if several else "", found)
            if entity.HasField("vehicle"):
                _index_vehicle(live, entity.vehicle)
            if entity.HasField("alert"):
                alerts.append(alert_from_entity(entity, snap.source))
        for entity in snap.carried:  # a collapsed dataset: the last good one's updates, until their own staleness
            if now - (entity.trip_update.timestamp or snap.carried_written) <= rules.trip_stale_after:
                found.kept += 1
                _index_trip_update(live, entity.trip_update, snap.source if several else "", found)
    live.alerts = tuple(alerts)
    live.data_as_of = max((s.header_timestamp or s.received_at for s in snapshots), default=None)
    return live


def _index_vehicle(live: LiveState, vehicle: rt.VehiclePosition) -> None:
    if vehicle.timestamp and live.now - vehicle.timestamp > live.rules.stale_after:
        return
    if vehicle.HasField("occupancy_status") and vehicle.trip.trip_id:
        live.occupancy[vehicle.trip.trip_id] = OCCUPANCY.Name(vehicle.occupancy_status)


def _index_trip_update(live: LiveState, update: rt.TripUpdate, source: str = "", found: Findings | None = None) -> None:
    tt, now = live.timetable, live.now
    desc = update.trip
    relation = desc.schedule_relationship
    if relation != _SCHEDULED:
        if relation == _ADDED or relation == _NEW or (relation == _REPLACEMENT and desc.trip_id not in tt.trip_index):
            _index_added(live, update, found)
            return
        if relation == _DUPLICATED:
            _index_duplicated(live, update)
            return
    trip = tt.trip_index.get(desc.trip_id, -1)
    if trip < 0:
        live.stats.unknown_trips += 1
        return
    key, redated = trip_key(tt, trip, desc, now, update)
    if key is None:
        live.stats.unknown_trips += 1
        return
    if redated and found is not None:
        found.redated += 1
    if relation == _DELETED:
        live.deleted.add(key)
    live.updates[key] = update
    if source:
        live.update_source[key] = source
    if update.timestamp and now - update.timestamp > live.rules.trip_stale_after:
        live.old_updates.add(key)  # its predictions count only while the trip has not started


def _index_added(live: LiveState, update: rt.TripUpdate, found: Findings | None = None) -> None:
    """A trip that is not in the timetable: its calls come from the update itself (none when its stops
    imply impossible speeds: a wormhole)."""
    tt = live.timetable
    desc = update.trip
    props = update.trip_properties if update.HasField("trip_properties") else None
    trip_id = (props.trip_id if props is not None and props.trip_id else "") or desc.trip_id
    route = tt.route_index.get(desc.route_id, -1) if desc.route_id else -1
    stus = [(stu, tt.stop_index[stu.stop_id]) for stu in update.stop_time_update if stu.stop_id in tt.stop_index]
    if not stus:
        live.stats.unknown_trips += 1
        return
    headsign = props.trip_headsign if props is not None and props.trip_headsign else ""
    if not headsign:
        last = tt.stops[stus[-1][1]]
        headsign = tt.stops[last.parent].name if last.parent >= 0 else last.name
    direction = desc.direction_id if desc.HasField("direction_id") else None
    calls: list[AddedCall] = []
    at: Passage | None = None  # the last timed stop, for the speed to the next
    final = len(stus) - 1
    for n, (stu, stop) in enumerate(stus):
        arrival, departure = stu.arrival.time, stu.departure.time
        at, speed = passage(at, tt.stops[stop], arrival, departure, live.rules.max_speed_kmh)
        if speed is not None:  # a wormhole: the whole trip is wrong
            if found is not None:
                found.wormholes += 1
            return
        when = int(departure or arrival)
        if n == final or not when or not plausible_instant(when, live.now):  # no departure at the last stop
            continue
        service_date = desc.start_date or local_date_text(when, tt.timezone)
        calls.append(AddedCall(
            trip_id, service_date, route, desc.route_id, headsign, direction, stop,
            int(stu.stop_sequence) if stu.HasField("stop_sequence") else n,
            when, stu.schedule_relationship == _STU.SKIPPED,
        ))
    for call in calls:
        live.added.setdefault(call.stop, []).append(call)


def _index_duplicated(live: LiveState, update: rt.TripUpdate) -> None:
    """A copy of a timetabled trip at another start date/time (trip_properties say which)."""
    tt = live.timetable
    desc = update.trip
    props = update.trip_properties
    trip = tt.trip_index.get(desc.trip_id, -1)
    if trip < 0 or not props.start_date or not props.start_time:
        live.stats.unknown_trips += 1
        return
    start = start_seconds(props.start_time)
    day = service_date_near(props.start_date, live.now)
    if start < 0 or day is None:
        live.stats.unknown_trips += 1
        return
    key = (trip, day.toordinal(), start)
    shifted = instance_base(tt, key)  # counts offsets from the new start, like a frequency instance
    predicted = predict_trip(tt, key, update, live.rules)
    a, b = int(tt.trip_first[trip]), int(tt.trip_first[trip + 1])
    route = int(tt.trip_route[trip])
    direction = int(tt.trip_direction[trip])
    for i in range(b - a - 1):
        row = a + i
        if tt.st_pickup[row] == 1:
            continue
        when = int(predicted.expected[i]) if predicted.expected[i] >= 0 else shifted + int(tt.st_dep[row])
        call = AddedCall(
            props.trip_id or f"{desc.trip_id}@{props.start_date}T{props.start_time}", props.start_date, route,
            tt.routes[route].route_id, destination(tt, trip, row), direction if direction >= 0 else None,
            int(tt.st_stop[row]), int(tt.st_seq[row]), when, bool(predicted.skipped[i]),
        )
        live.added.setdefault(call.stop, []).append(call)
