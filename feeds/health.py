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
    # when the content held (entities, whatever the header or a 304 says) was first received
    changed_at: int | None = None
    collapse: str | None = None  # why the last full dataset is suspect (feeds/guard.py), None when it is not

    def age(self, now: int) -> int | None:
        """Seconds since the producer wrote the data we hold (by its header, else since its content was first
        received: answers 'not modified' do not make data younger), None without data."""
        if self.header_timestamp:
            return now - self.header_timestamp
        since = self.changed_at if self.changed_at is not None else self.last_success
        return None if since is None else now - since

    def frozen(self, now: int, frozen_after: int) -> bool:
        """Whether predictions or vehicles have not changed for longer than `frozen_after`, whatever the
        header timestamp, Last-Modified or a 304 says."""
        live_content = self.trip_updates or self.vehicles
        return bool(live_content) and self.changed_at is not None and now - self.changed_at > frozen_after

    def is_stale(self, now: int, stale_after: int, frozen_after: int | None = None) -> bool:
        """Whether the data we hold is too old, frozen, from the future, or missing, so not live."""
        age = self.age(now)
        frozen = frozen_after is not None and self.frozen(now, frozen_after)
        return age is None or age > stale_after or self.from_future(now) or frozen

    def from_future(self, now: int) -> bool:
        """Whether the producer's header timestamp is ahead of now by more than the rules allow."""
        age = self.age(now)
        return age is not None and age < -MAX_FUTURE
