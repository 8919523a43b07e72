"""The one place the service reads time: a real clock, one that starts at --at and runs, a fixed one."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """What the service asks for the current time (Unix seconds)."""

    def now(self) -> float: ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> float:
        """Unix seconds now."""
        return time.time()


class StartedClock:
    """Time that starts at a given instant and then runs at the real pace (for --at replays)."""

    def __init__(self, start: float) -> None:
        self._start = start
        self._origin = time.monotonic()

    def now(self) -> float:
        """The start instant plus the real time elapsed since."""
        return self._start + (time.monotonic() - self._origin)


class FixedClock:
    """Time that moves only when told to (tests)."""

    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> float:
        """The set instant."""
        return self.at

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.at += seconds
