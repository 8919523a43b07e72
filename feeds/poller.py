"""Fetching GTFS-Realtime sources (http(s) or files), with a health record per source.

The I/O shell of the realtime side: the clock and the random source are passed in, parsing and
merging stay pure. A source that fails keeps its last good snapshot; staleness decides whether
that snapshot is still shown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp

from .errors import FeedError, Location
from .realtime import RealtimeSource, Snapshot, parse_feed

log = logging.getLogger("stopcast.feeds")

REJECTED_TYPES = ("text/html", "text/plain", "application/json", "text/xml", "application/xml")


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
        """Whether the data we hold is too old (or missing) to be live."""
        age = self.age(now)
        return age is None or age > stale_after


def backoff_delay(interval: float, failures: int, maximum: float, jitter: float) -> float:
    """Seconds to wait after `failures` failures in a row: doubling, capped, times jitter in [0.5, 1.5)."""
    if failures <= 0:
        return interval
    return min(interval * 2 ** min(failures, 16), maximum) * (0.5 + jitter)


class FeedPoller:
    """Fetches one source; keeps its last good snapshot and health."""

    def __init__(
        self,
        source: RealtimeSource,
        session: aiohttp.ClientSession | None,
        clock: Callable[[], float],
        random: Callable[[], float],
        on_update: Callable[[Snapshot], Awaitable[None] | None] | None = None,
    ) -> None:
        self.source = source
        self.session = session
        self.clock = clock
        self.random = random
        self.on_update = on_update
        self.snapshot: Snapshot | None = None
        self.health = FeedHealth(source.url)
        self._etag: str | None = None
        self._last_modified: str | None = None
        self._file_stamp: tuple[int, int] | None = None

    async def fetch_once(self) -> bool:
        """One attempt; True when new data was taken. Never raises for a bad source."""
        now = int(self.clock())
        self.health = replace(self.health, last_attempt=now)
        try:
            payload = await (self._fetch_http() if self.source.is_http else self._fetch_file())
            if payload is None:  # unchanged
                self.health = replace(
                    self.health, last_success=now, consecutive_failures=0, not_modified=self.health.not_modified + 1
                )
                return False
            snapshot = parse_feed(payload, self.source.url, now)
        except FeedError as exc:
            self._failed(now, exc.message)
            return False
        self.snapshot = snapshot
        self.health = replace(
            self.health,
            last_success=now,
            header_timestamp=snapshot.header_timestamp or None,
            trip_updates=snapshot.trip_updates,
            vehicles=snapshot.vehicles,
            alerts=snapshot.alerts,
            consecutive_failures=0,
        )
        if self.on_update is not None:
            result = self.on_update(snapshot)
            if result is not None:
                await result
        return True

    def _failed(self, now: int, message: str) -> None:
        kept = "keeping the last good data" if self.snapshot else "no data yet"
        log.warning("realtime source %s: %s (%s)", self.source.url, message, kept)
        self.health = replace(
            self.health, last_error=message, last_error_at=now, consecutive_failures=self.health.consecutive_failures + 1
        )

    async def _fetch_http(self) -> bytes | None:
        if self.session is None:
            raise FeedError("no HTTP session", Location(self.source.url))
        headers = dict(self.source.headers)
        if self._etag:
            headers["If-None-Match"] = self._etag
        if self._last_modified:
            headers["If-Modified-Since"] = self._last_modified
        where = Location(self.source.url)
        try:
            async with self.session.get(
                self.source.url, headers=headers, timeout=aiohttp.ClientTimeout(total=self.source.timeout)
            ) as response:
                if response.status == 304:
                    return None
                if response.status != 200:
                    raise FeedError(f"HTTP {response.status} {response.reason or ''}".rstrip(), where)
                kind = response.content_type.lower()
                if kind.startswith(REJECTED_TYPES):
                    raise FeedError(f"wrong content type '{kind}' (expected protobuf)", where)
                if response.content_length is not None and response.content_length > self.source.max_bytes:
                    raise FeedError(f"payload of {response.content_length} bytes exceeds the cap of {self.source.max_bytes}", where)
                body = await response.content.read(self.source.max_bytes + 1)
                if len(body) > self.source.max_bytes:
                    raise FeedError(f"payload exceeds the cap of {self.source.max_bytes} bytes", where)
                self._etag = response.headers.get("ETag")
                self._last_modified = response.headers.get("Last-Modified")
                return body
        except asyncio.TimeoutError:
            raise FeedError(f"no answer within {self.source.timeout:g} s", where) from None
        except aiohttp.ClientError as exc:
            raise FeedError(f"request failed: {exc}", where) from None

    async def _fetch_file(self) -> bytes | None:
        path = Path(self.source.url)
        try:
            stat = await asyncio.to_thread(path.stat)
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp == self._file_stamp and self.snapshot is not None:
                return None
            if stat.st_size > self.source.max_bytes:
                raise FeedError(f"file of {stat.st_size} bytes exceeds the cap of {self.source.max_bytes}", Location(str(path)))
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise FeedError(f"cannot be read ({exc.strerror or exc})", Location(str(path))) from None
        self._file_stamp = stamp
        return data

    async def run(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """Fetch forever: every interval while healthy, backing off with jitter while failing."""
        while True:
            await self.fetch_once()
            failures = self.health.consecutive_failures
            await sleep(backoff_delay(self.source.interval, failures, self.source.max_backoff, self.random()))


async def fetch_all(sources: list[RealtimeSource], clock: Callable[[], float]) -> list[FeedPoller]:
    """Fetch every source once (for the CLI); each poller holds its snapshot or its error."""
    pollers: list[FeedPoller] = []
    async with aiohttp.ClientSession() as session:
        pollers = [FeedPoller(s, session, clock, lambda: 0.5) for s in sources]
        await asyncio.gather(*(p.fetch_once() for p in pollers))
    return pollers
