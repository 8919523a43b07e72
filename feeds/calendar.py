"""Which services run on which day, from calendar.txt and calendar_dates.txt."""

from __future__ import annotations

import datetime as dt

import numpy as np


class ServiceCalendar:
    """Service days per service id: weekly patterns in a date range plus dated exceptions.

    Service index len(service_ids) is a sentinel that never runs (for trips whose service_id
    is in neither file).
    """

    def __init__(
        self,
        service_ids: list[str],
        weekdays: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
        added: dict[int, list[int]],
        removed: dict[int, list[int]],
    ) -> None:
        self.service_ids = service_ids
        self.weekdays = weekdays  # (n, 7) bool, Monday first
        self.start = start  # date ordinals, inclusive
        self.end = end
        self.added = added  # date ordinal -> service indexes (exception_type 1)
        self.removed = removed  # date ordinal -> service indexes (exception_type 2)
        self._cache: dict[int, np.ndarray] = {}
        self._cache_bounds: dict[str, tuple[dt.date, dt.date] | None] = {}

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_cache"] = {}
        state["_cache_bounds"] = {}
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_cache_bounds", {})

    @property
    def sentinel(self) -> int:
        """The index of the service that never runs."""
        return len(self.service_ids)

    def active(self, day: dt.date) -> np.ndarray:
        """A bool per service index (plus the sentinel) telling whether it runs on `day`."""
        ordinal = day.toordinal()
        cached = self._cache.get(ordinal)
        if cached is not None:
            return cached
        on = np.zeros(len(self.service_ids) + 1, dtype=bool)
        n = len(self.service_ids)
        on[:n] = self.weekdays[:, day.weekday()] & (self.start <= ordinal) & (ordinal <= self.end)
        on[self.added.get(ordinal, [])] = True
        on[self.removed.get(ordinal, [])] = False
        if len(self._cache) > 64:
            self._cache.clear()
        self._cache[ordinal] = on
        return on

    def period(self) -> tuple[dt.date, dt.date] | None:
        """The first and last day any service runs by the feed (None for a feed without service days)."""
        if "_period" not in self._cache_bounds:
            weekly = self.weekdays.any(axis=1) if len(self.weekdays) else np.zeros(0, dtype=bool)
            days = [int(d) for d in self.start[weekly]] + [int(d) for d in self.end[weekly]]
            days += [day for day, services in self.added.items() if services]
            self._cache_bounds["_period"] = (
                (dt.date.fromordinal(min(days)), dt.date.fromordinal(max(days))) if days else None
            )
        return self._cache_bounds["_period"]

    def last_day(self) -> dt.date | None:
        """The last day any service runs by the feed."""
        found = self.period()
        return found[1] if found else None
