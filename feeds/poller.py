"""Fetching GTFS-Realtime sources (http(s) or files), with a health record per source.

The I/O shell of the realtime side: the clock and the random source are passed in, parsing and
merging stay pure. A source that fails keeps its last good snapshot; staleness decides whether
that snapshot is still shown.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
from yarl import URL

from .errors import FeedError, Location
from .guard import CountHistory, carried_over
from .health import FeedHealth
from .realtime import RealtimeSource, Snapshot, parse_feed

log = logging.getLogger("stopcast.feeds")

REJECTED_TYPES = ("text/html", "text/plain", "application/json", "text/xml", "application/xml")
MAX_REDIRECTS = 10
CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class _Fetched:
    """A payload and what identifies its version (HTTP validators or the file's stamp)."""

    payload: bytes
    validators: tuple[str | None, str | None] | tuple[int, int]
    content_type: str = ""  # what an HTTP producer said it sends (explains a payload that does not parse)


class _Phase:
    """How far one HTTP fetch got, for a timeout message that says where it stopped."""

    def __init__(self) -> None:
        self.name = "first byte"
        self.received = 0
        self.expected: int | None = None

    def timeout_message(self, source: RealtimeSource) -> str:
        if self.name == "first byte":
            return f"timeout: connected, but no answer within {source.timeout:g} s"
        of = f" of {self.expected}" if self.expected is not None else ""
        return (f"timeout while reading the body: {self.received}{of} bytes received "
                f"(no data for {source.timeout:g} s, or over the total of {source.total_timeout:g} s)")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


def _check_response(response: aiohttp.ClientResponse, source: RealtimeSource, where: Location) -> None:
    """FeedError for an HTTP status or content type that cannot carry a feed."""
    if response.status != 200:
        hint = {401: "check the source's headers (API key)", 403: "check the source's headers (API key)",
                404: "check the URL", 429: "the producer limits requests; raise the interval"}.get(response.status)
        if hint is None and response.status >= 500:
            hint = "the producer is failing"
        text = f"HTTP {response.status} {response.reason or ''}".rstrip()
        raise FeedError(f"{text}: {hint}" if hint else text, where)
    if response.content_length is not None and response.content_length > source.max_bytes:
        raise FeedError(f"too large: {response.content_length} bytes announced, over the cap of {source.max_bytes}"
                        " (max_bytes)", where)


async def _read_body(response: aiohttp.ClientResponse, cap: int, phase: _Phase, where: Location) -> bytes:
    """The whole body, whatever its chunking or pacing, refusing more than `cap` bytes."""
    phase.expected = response.content_length
    body = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK):
        body += chunk
        phase.received = len(body)
        if len(body) > cap:
            raise FeedError(f"too large: more than {cap} bytes (max_bytes)", where)
    return bytes(body)


def content_digest(payload: bytes) -> bytes:
    """A digest of a FeedMessage's content without its header (whose timestamp a frozen producer may still move):
    the header is field 1, written first by every producer; a payload laid out otherwise is digested whole."""
    body = payload
    if payload[:1] == b"\x0a":
        length, shift, i = 0, 0, 1
        while i < len(payload) and i < 11:
            byte = payload[i]
            length |= (byte & 0x7F) << shift
            shift += 7
            i += 1
            if not byte & 0x80:
                body = payload[i + length:]
                break
    return hashlib.blake2b(body, digest_size=16).digest()


def same_origin(a: URL, b: URL) -> bool:
    """Whether two absolute URLs share scheme, host and port (credentials may follow a redirect only then)."""
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


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
        scheduled: Callable[[int], int | None] | None = None,
        collapse_fraction: float = 0.3,
    ) -> None:
        self.source = source
        self.session = session
        self.clock = clock
        self.random = random
        self.on_update = on_update
        self.snapshot: Snapshot | None = None
        self.health = FeedHealth(source.url)
        # ETag and Last-Modified (HTTP) or (mtime, size) (file) of the last payload that parsed
        self._validators: tuple[str | None, str | None] | tuple[int, int] | None = None
        self._digest: bytes | None = None  # of the content of the last payload that parsed (feeds/guard.py)
        self.scheduled = scheduled  # trips the timetable runs around an instant, to tell a collapse from the night
        self.collapse_fraction = collapse_fraction
        self.history = CountHistory()
        self._good: Snapshot | None = None  # the last full dataset that was not a collapse

    async def fetch_once(self) -> bool:
        """One attempt; True when new data was taken. Never raises for a bad source."""
        now = int(self.clock())
        self.health = replace(self.health, last_attempt=now)
        try:
            fetched = await (self._fetch_http() if self.source.is_http else self._fetch_file())
            if fetched is None:  # unchanged since the last payload that parsed
                self.health = replace(
                    self.health, last_success=now, consecutive_failures=0, not_modified=self.health.not_modified + 1
                )
                return False
            snapshot = self._parsed(fetched, now)
        except FeedError as exc:
            self._failed(now, exc.message)
            return False
        # Validators are remembered only for a payload that parsed: an unchanged corrupt payload
        # must stay failing, never turn into "not modified".
        self._validators = fetched.validators
        self.snapshot = snapshot
        self.health = replace(
            self.health,
            last_success=now,
            header_timestamp=snapshot.header_timestamp or None,
            trip_updates=snapshot.trip_updates,
            vehicles=snapshot.vehicles,
            alerts=snapshot.alerts,
            consecutive_failures=0,
            changed_at=snapshot.changed_at,
            collapse=snapshot.collapse,
        )
        if self.on_update is not None:
            result = self.on_update(snapshot)
            if result is not None:
                await result
        return True

    def _parsed(self, fetched: _Fetched, now: int) -> Snapshot:
        """The payload as a snapshot: since when its content is unchanged, and, for a full dataset that
        collapsed, the last good dataset's trip updates for the trips it lacks."""
        try:
            snapshot = parse_feed(fetched.payload, self.source.url, now)
        except FeedError as exc:
            kind = fetched.content_type.lower()
            if kind.startswith(REJECTED_TYPES):
                raise FeedError(
                    f"wrong content type '{kind}' (expected protobuf): {exc.message}", exc.location
                ) from None
            raise
        digest = content_digest(fetched.payload)
        unchanged = digest == self._digest and self.snapshot is not None
        self._digest = digest
        changed_at = self.snapshot.changed_at if unchanged and self.snapshot is not None else now
        snapshot = replace(snapshot, stale_after=self.source.stale_after, changed_at=changed_at)
        scheduled = self._scheduled(now)
        collapse = self.history.judge(now, snapshot.trip_updates, scheduled, self.collapse_fraction)
        self.history = self.history.record(now, snapshot.trip_updates, scheduled)
        was = self.snapshot is not None and self.snapshot.collapse is not None
        if collapse is None:
            if was:
                log.warning("realtime source %s: the full dataset is back (%d trip updates)", self.source.url,
                            snapshot.trip_updates)
            self._good = snapshot
            return snapshot
        good = self._good
        if not was:  # once per collapse, not on every poll
            log.warning(
                "realtime source %s: %s; keeping the last good dataset's trip updates", self.source.url, collapse
            )
        if good is None:
            return replace(snapshot, collapse=collapse)
        return replace(snapshot, collapse=collapse, carried=carried_over(good.message, snapshot.message),
                       carried_written=good.header_timestamp or good.received_at)

    def _scheduled(self, now: int) -> int | None:
        """Trips the timetable runs around `now` (None without one): a failure there never stops the polling."""
        if self.scheduled is None:
            return None
        try:
            return self.scheduled(now)
        except Exception:  # noqa: BLE001 - judged by the feed's own history then
            log.exception("realtime source %s: counting the timetable's trips failed", self.source.url)
            return None

    def _failed(self, now: int, message: str) -> None:
        kept = "keeping the last good data" if self.snapshot else "no data yet"
        log.warning("realtime source %s: %s (%s)", self.source.url, message, kept)
        self.health = replace(
            self.health,
            last_error=message,
            last_error_at=now,
            consecutive_failures=self.health.consecutive_failures + 1,
        )

    async def _fetch_http(self) -> _Fetched | None:
        if self.session is None:
            raise FeedError("no HTTP session", Location(self.source.url))
        headers = dict(self.source.headers)
        etag, modified = self._validators if isinstance(self._validators, tuple) else (None, None)
        if etag:
            headers["If-None-Match"] = str(etag)
        if modified:
            headers["If-Modified-Since"] = str(modified)
        where = Location(self.source.url)
        source = self.source
        phase = _Phase()
        try:
            async with asyncio.timeout(source.total_timeout):
                return await self._follow(URL(source.url), headers, phase, where)
        except aiohttp.ConnectionTimeoutError:
            raise FeedError(f"timeout: no connection within {source.timeout:g} s", where) from None
        except asyncio.TimeoutError:  # aiohttp's read timeouts are TimeoutErrors too
            raise FeedError(phase.timeout_message(source), where) from None
        except aiohttp.ClientPayloadError as exc:
            raise FeedError(f"the body broke off after {phase.received} bytes ({_reason(exc)})", where) from None
        except aiohttp.ClientConnectorError as exc:
            raise FeedError(f"cannot connect ({_reason(exc)})", where) from None
        except (aiohttp.ClientError, ValueError) as exc:
            raise FeedError(f"request failed ({_reason(exc)})", where) from None

    async def _follow(self, url: URL, headers: dict[str, str], phase: _Phase, where: Location) -> _Fetched | None:
        """GET `url`, following redirects by hand: the source's headers (API keys) and validators go only to
        the source's own origin, never to the host a redirect points at (as browsers and requests do)."""
        assert self.session is not None
        source = self.source
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=source.timeout, sock_read=source.timeout)
        origin = url
        for _ in range(MAX_REDIRECTS + 1):
            sent = headers if same_origin(url, origin) else {}
            async with self.session.get(url, headers=sent, timeout=timeout, allow_redirects=False) as response:
                if response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                    url = url.join(URL(response.headers["Location"]))
                    if url.scheme not in ("http", "https"):
                        raise FeedError(f"redirect to an unsupported URL '{url}'", where)
                    continue
                phase.name = "body"
                if response.status == 304:
                    return None
                _check_response(response, source, where)
                body = await _read_body(response, source.max_bytes, phase, where)
                return _Fetched(body, (response.headers.get("ETag"), response.headers.get("Last-Modified")),
                                response.content_type)
        raise FeedError(f"redirect loop: more than {MAX_REDIRECTS} redirects", where)

    async def _fetch_file(self) -> _Fetched | None:
        path = Path(self.source.url)
        try:
            stat = await asyncio.to_thread(path.stat)
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp == self._validators and self.snapshot is not None:
                return None
            if stat.st_size > self.source.max_bytes:
                raise FeedError(f"too large: the file has {stat.st_size} bytes, over the cap of {self.source.max_bytes}"
                                " (max_bytes)", Location(str(path)))
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise FeedError(f"cannot be read ({exc.strerror or exc})", Location(str(path))) from None
        return _Fetched(data, stamp)

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
