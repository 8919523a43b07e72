"""What ops need to know about one realtime source: a value the poller keeps and the views read."""

from __future__ import annotations

from dataclasses import dataclass

from .realtime import MAX_FUTURE


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """What ops need to know about one source."""

    source: str
    last_attempt: int | None = None
    last_success: int | None = None
    header_timestamp: int | None = None
    trip_updates: int = 0
    vehicles: int = 0
    alerts: int = 0
    last_error: str | None = None
    last_error_at: int | None = None
    consecutive_failures: int = 0
    not_modified: int = 0

    def age(self, now: int) -> int | None:
        """Seconds since the producer wrote the data we hold, None without data."""
        if self.header_timestamp:
            return now - self.header_timestamp
        return None if self.last_success is None else now - self.last_success

    def is_stale(self, now: int, stale_after: int) -> bool:
        """Whether the data we hold is too old, from the future, or missing, so not live."""
        age = self.age(now)
        return age is None or age > stale_after or self.from_future(now)

    def from_future(self, now: int) -> bool:
        """Whether the producer's header timestamp is ahead of now by more than the rules allow."""
        age = self.age(now)
        return age is not None and age < -MAX_FUTURE
