"""Which run of a timetabled trip a TripDescriptor means.

Its start_date, read literally when that run exists and its times agree with the update's; producers
(WMATA's and RIPTA's real feeds) date a trip scheduled past midnight (24:30 of one service day) by the
calendar date instead, sometimes with the clock time as start_time (00:30:00): such an update is
re-dated to the previous service day when that day's run fits it (as OneBusAway and MOTIS do).
Without start_date, the run nearest to now, when only one is plausible. Pure.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
from google.transit import gtfs_realtime_pb2 as rt

from .predict import TripKey
from .times import local_date, parse_gtfs_time, parse_service_date, service_day_origin
from .timetable import Timetable

DAY = 86400
AWAY = 12 * 3600  # an update whose times are further from the literal run means another run
FITS = 3 * 3600  # the previous day's run fits when the update's times lie this close to it
NEAR = 12 * 3600  # a run starting this close to now is the one meant: the previous day's run starts over 12 h
# before now, and an update fitting it (within 3 h) would be about a trip that ended 9 h ago, no live data
_EPOCH = dt.date(1970, 1, 1).toordinal()


def trip_key(tt: Timetable, trip: int, desc: rt.TripDescriptor, now: int,
             update: rt.TripUpdate | None = None) -> tuple[TripKey | None, bool]:
    """The trip instance a descriptor means, and whether it was re-dated to the previous service day.

    Frequency trips are told apart by start_time; None when no running instance fits."""
    freq = bool(len(tt.freq_trip)) and bool(np.any(tt.freq_trip == trip))
    start_date, start_time = desc.start_date, desc.start_time
    if start_date and not start_time and not freq:  # the common case: a run starting near now is the one meant
        ordinal = _ordinal(start_date)
        if ordinal < 0 or abs(ordinal - _EPOCH - now // 86400) > 7:
            return None, False
        t0 = _origin(ordinal, tt.timezone) + tt.st_dep.item(tt.trip_first.item(trip))
        if -NEAR <= now - t0 <= NEAR:
            return (trip, ordinal, -1), False
    start = clock = -1
    if start_time:
        seconds = start_seconds(start_time)
        if freq and seconds < 0:
            return None, False
        start, clock = (seconds, -1) if freq else (-1, seconds)
    elif freq:
        return None, False
    if start_date:
        day = service_date_near(start_date, now)
        if day is None:
            return None, False
        return _dated(tt, trip, day, start, clock, update, now)
    return _nearest(tt, trip, start, now), False


def _dated(tt: Timetable, trip: int, day: dt.date, start: int, clock: int, update: rt.TripUpdate | None,
           now: int) -> tuple[TripKey, bool]:
    """The run of `day`, or the previous day's when the literal one does not exist or is far from the update's
    times and the previous day's run fits (start_time + 24 h, or the update's times within 3 h of it)."""
    first = int(tt.st_dep[tt.trip_first[trip]])
    literal = (trip, day.toordinal(), start)
    late_start, by_clock = start, clock >= 0 and clock + DAY == first
    if start >= 0 and not _in_windows(tt, trip, start) and _in_windows(tt, trip, start + DAY):
        late_start, by_clock = start + DAY, True
    exists = not by_clock and _runs(tt, trip, day)
    when: int | None = None
    if exists:
        window = _window(tt, trip, day, start)
        if _distance(now, window) <= NEAR:
            return literal, False
        when = _update_time(update, now)
        if when is None or _distance(when, window) <= AWAY:
            return literal, False
    previous = day - dt.timedelta(days=1)
    if not _runs(tt, trip, previous):
        return literal, False
    if when is None:
        when = _update_time(update, now)
    evidence = when if when is not None else (None if exists else now)
    near = evidence is not None and _distance(evidence, _window(tt, trip, previous, late_start)) <= FITS
    if by_clock or near:
        return (trip, previous.toordinal(), late_start), True
    return literal, False


def _nearest(tt: Timetable, trip: int, start: int, now: int) -> TripKey | None:
    """The running day whose run is nearest to now; None when two runs are equally plausible (both within 3 h)."""
    first = tt.st_dep.item(tt.trip_first.item(trip))
    span = tt.st_dep.item(tt.trip_first.item(trip + 1) - 1) - first
    begin = start if start >= 0 else first
    service = tt.trip_service.item(trip)
    found: list[tuple[int, int]] = []
    for day, ordinal, origin in _around(now // 900, tt.timezone):
        if tt.calendar.active(day)[service]:
            t0 = origin + begin
            away = 0 if t0 <= now <= t0 + span else min(abs(now - t0), abs(now - t0 - span))
            found.append((away, ordinal))
    if not found:
        return None
    found.sort()
    if len(found) > 1 and found[1][0] <= FITS:
        return None
    return trip, found[0][1], start


@lru_cache(maxsize=256)
def _around(quarter: int, tz: str) -> tuple[tuple[dt.date, int, int], ...]:
    """The service days a run near a quarter hour may belong to (two days before its date to one after): each
    with its ordinal and origin. Every update without start_date asks, with the same now."""
    today = local_date(quarter * 900, tz)
    days = [today + dt.timedelta(days=offset) for offset in (-2, -1, 0, 1)]
    return tuple((day, day.toordinal(), service_day_origin(day, tz)) for day in days)


def _runs(tt: Timetable, trip: int, day: dt.date) -> bool:
    return bool(tt.calendar.active(day)[tt.trip_service[trip]])


def _window(tt: Timetable, trip: int, day: dt.date, start: int) -> tuple[int, int]:
    """Unix seconds of a run's first and last scheduled departure."""
    first, last = int(tt.st_dep[tt.trip_first[trip]]), int(tt.st_dep[tt.trip_first[trip + 1] - 1])
    t0 = service_day_origin(day, tt.timezone) + (start if start >= 0 else first)
    return t0, t0 + last - first


def _distance(instant: int, window: tuple[int, int]) -> int:
    return 0 if window[0] <= instant <= window[1] else min(abs(instant - window[0]), abs(instant - window[1]))


def _in_windows(tt: Timetable, trip: int, start: int) -> bool:
    """Whether a frequency trip has an instance window containing `start`."""
    rows = np.flatnonzero(tt.freq_trip == trip)
    return bool(np.any((tt.freq_start[rows] <= start) & (start < tt.freq_end[rows])))


def _update_time(update: rt.TripUpdate | None, now: int) -> int | None:
    """The first absolute time a TripUpdate gives; None when it gives delays only, or nonsense (hostile) times
    more than two days from now, which say nothing about the run."""
    if update is None:
        return None
    for stu in update.stop_time_update:
        when = stu.departure.time or stu.arrival.time
        if when:
            return int(when) if abs(when - now) <= 2 * DAY else None
    return None


@lru_cache(maxsize=1024)
def _ordinal(text: str) -> int:
    """A start_date's day ordinal, -1 when malformed."""
    try:
        return parse_service_date(text).toordinal()
    except ValueError:
        return -1


@lru_cache(maxsize=1024)
def _origin(ordinal: int, tz: str) -> int:
    return service_day_origin(dt.date.fromordinal(ordinal), tz)


def service_date_near(text: str, now: int) -> dt.date | None:
    """A descriptor's start_date, None when malformed or more than a week from now (not on any board)."""
    try:
        day = parse_service_date(text)
    except ValueError:
        return None
    if abs(day.toordinal() - _EPOCH - now // 86400) > 7:
        return None
    return day


def start_seconds(text: str) -> int:
    """A descriptor's start_time in seconds, -1 when malformed (the update is then not used)."""
    try:
        return parse_gtfs_time(text)
    except ValueError:
        return -1
