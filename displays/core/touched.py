"""What a realtime update touches (issue 28, "compose only what changed"): the stops whose departures may differ
between the live state every board was last composed from and a new one. Pure: two LiveStates in, stop ids out.

A board depends on realtime through the departures at its stops (the trips calling there, their predictions,
cancellations, added calls, occupancy), the alerts, whether the sources are fresh, and the header's "data as of"
text. Whatever cannot be pinned to stops (another timetable, a source turning stale or fresh, changed alerts or
one whose active period begins or ends, the "Stand HH:MM" header) touches everything (None). A trip counts as
changed when its update differs, when it is deleted in one state only, when its update is old in either (an old
update's times count only until the trip is under way: a matter of the clock), when the merge attaches it to
another service day, or when it was predicted too early and its first departure lies between the two instants
(it is believed once it has started)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from google.transit import gtfs_realtime_pb2 as rt

from displays.core.notices import Scope
from feeds.live import Findings, LiveState
from feeds.predict import TripKey, predict_trip
from feeds.times import service_day_origin
from feeds.timetable import Timetable
from layouts.board import OLD_DATA_AFTER, Board

__all__ = ["Memo", "Touched", "due", "touched_stops"]


class Memo:
    """What the engine remembers so that it composes less: each display's scope and platforms per timetable, the inputs
    of the last composition, the live state every board was last composed from (or is equal to what it gives)
    and the merge's findings (first and latest of the same inputs)."""

    __slots__ = ("scopes", "platforms", "scopes_of", "last_inputs", "base", "findings")

    def __init__(self) -> None:
        self.scopes: dict[tuple[str, tuple[str, ...]], Scope] = {}
        self.platforms: dict[tuple[str, ...], frozenset[str]] = {}  # a display's stops -> its departures' stop ids
        self.scopes_of = 0  # id() of the timetable the scopes were computed for
        self.last_inputs: tuple = ()
        self.base: LiveState | None = None
        self.findings: tuple[tuple, list[dict[str, Findings]]] = ((), [])

    def of_timetable(self, tt: Timetable | None) -> None:
        """Forget the scopes and platforms worked out for another timetable than `tt`."""
        if self.scopes_of != id(tt):
            self.scopes, self.platforms, self.scopes_of = {}, {}, id(tt)

    def touches(self, stops: tuple[str, ...], tt: Timetable | None, touched: frozenset[str]) -> bool:
        """Whether an update that touched the departures at `touched` (stop ids) reaches the board of a display
        at `stops` (the departures at a station are at its platforms)."""
        self.of_timetable(tt)
        ids = self.platforms.get(stops)
        if ids is None:
            ids = self.platforms[stops] = frozenset(stops) if tt is None else frozenset(
                tt.stops[i].stop_id for i in tt.platforms_of([s for s in stops if s in tt.stop_index]))
        return not touched.isdisjoint(ids)


def due(board: Board | None, frame: object, now: int) -> bool:
    """Whether a display's board is composed again at `now` whatever changed: it has none (or no frame yet), or
    it said it changes by now."""
    return board is None or frame is None or board.next_change <= now


@dataclass(frozen=True, slots=True)
class Touched:
    """What changed between two live states: the stop ids whose departures may differ, and the trip ids whose
    departures may (a departure of another trip is the same: its row can be shifted rather than made again)."""

    stops: frozenset[str]
    trips: frozenset[str]


def touched_stops(old: LiveState | None, new: LiveState | None) -> Touched | None:
    """The stop ids (platforms, as stop_times name them, and the stops of added calls) whose departures may
    differ between `old` (built at old.now) and `new` (at new.now), and the trips of those departures; None when
    anything may have changed."""
    if old is None or new is None or old.timetable is not new.timetable:
        return None
    if old.fresh_sources != new.fresh_sources or old.stale_sources != new.stale_sources:
        return None  # a source turned stale or fresh: boards switch between realtime and timetable
    if old.data_as_of != new.data_as_of and any(
        t is not None and new.now - t > OLD_DATA_AFTER for t in (old.data_as_of, new.data_as_of)
    ):
        return None  # the header's "Stand HH:MM" (shown once the data is old) is on every board
    if old.alerts != new.alerts or _alert_edge(new, old.now):
        return None
    if not new.is_live:
        return Touched(frozenset(), frozenset())  # neither shows realtime (the same sources are stale): timetable
    tt = new.timetable
    trips = {key[0] for key in _changed_keys(old, new)}
    occupied = _changed_items(old.occupancy, new.occupancy)
    trips.update(tt.trip_index[t] for t in occupied if t in tt.trip_index)
    stops = _stops_of_trips(tt, trips)
    added = _changed_items(old.added, new.added)
    stops.update(tt.stops[s].stop_id for s in added)
    ids = {tt.trip_ids[t] for t in trips} | occupied
    ids.update(call.trip_id for s in added for calls in (old.added.get(s, ()), new.added.get(s, ())) for call in calls)
    return Touched(frozenset(stops), frozenset(ids))


def _changed_keys(old: LiveState, new: LiveState) -> set[TripKey]:
    """The trip instances whose merged realtime may differ."""
    changed = {k for k in old.updates.keys() | new.updates.keys() if not _same(old.updates.get(k), new.updates.get(k))}
    changed |= old.deleted ^ new.deleted
    changed |= old.old_updates | new.old_updates
    rest = [k for k in new.updates if k not in changed]
    if rest:
        firsts = _first_departures(new.timetable, rest)
        changed.update(k for k, first in zip(rest, firsts, strict=True) if old.now < first <= new.now
                       and predict_trip(new.timetable, k, new.updates[k], new.rules, old.now).early)
    return changed


def _same(a: rt.TripUpdate | None, b: rt.TripUpdate | None) -> bool:
    """Whether two TripUpdates say the same about a trip, whatever their own timestamps (a producer that stamps
    every update anew changes no board by that: an update's age counts only once it is old, see _changed_keys)."""
    if a is None or b is None:
        return a is b
    if a == b:
        return True
    return a.timestamp != b.timestamp and (
        a.trip == b.trip and a.stop_time_update == b.stop_time_update and a.delay == b.delay
        and a.HasField("delay") == b.HasField("delay") and a.trip_properties == b.trip_properties
        and a.HasField("trip_properties") == b.HasField("trip_properties"))


def _first_departures(tt: Timetable, keys: list[TripKey]) -> list[int]:
    """When each trip instance is scheduled to leave its first stop (Unix seconds)."""
    origins: dict[int, int] = {}
    out = []
    for trip, day, start in keys:
        origin = origins.get(day)
        if origin is None:
            origin = origins[day] = service_day_origin(dt.date.fromordinal(day), tt.timezone)
        out.append(origin + start if start >= 0 else origin + int(tt.st_dep[tt.trip_first[trip]]))
    return out


def _changed_items(old: dict, new: dict) -> set:
    """The keys whose values differ between two dicts (present in one only, or unequal)."""
    return {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}


def _stops_of_trips(tt: Timetable, trips: set[int]) -> set[str]:
    """The stop ids every stop_times row of `trips` calls at."""
    if not trips:
        return set()
    rows = np.concatenate([np.arange(tt.trip_first[t], tt.trip_first[t + 1]) for t in trips])
    return {tt.stops[int(s)].stop_id for s in np.unique(tt.st_stop[rows])}


def _alert_edge(new: LiveState, since: int) -> bool:
    """Whether one of the alerts starts or ends being active in (since, new.now]."""
    return any(
        since < edge <= new.now
        for alert in new.alerts
        for start, end in alert.periods
        for edge in (start, end + 1 if end else 0)
    )
