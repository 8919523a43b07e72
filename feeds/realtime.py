"""GTFS-Realtime payloads: parsing into snapshots, with errors that name the source."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2 as rt

from .errors import FeedError, Location

MAX_FUTURE = 300  # seconds a producer's clock may run ahead of ours


@dataclass(frozen=True, slots=True)
class RealtimeRules:
    """How much to trust realtime data; the defaults are what a rider-facing board needs."""

    stale_after: int = 180  # seconds: older feed headers are not live (a source may set its own)
    trip_stale_after: int = 600  # seconds: an older TripUpdate.timestamp is not live once its trip is under way
    max_deviation: int = 3 * 3600  # predictions further from the timetable are implausible
    lookback: int = 3 * 3600  # departures scheduled longer ago never show, whatever the delay
    early_margin: int = 30 * 60  # how far ahead to look for departures predicted early
    on_time_window: int = 60  # |delay| within this is on time
    max_future: int = MAX_FUTURE  # seconds: a feed header further ahead of now is wrong, not live
    frozen_after: int = 600  # seconds: trip updates or vehicles whose content has not changed for longer are stale
    # seconds: a trip not yet started predicted earlier than this before its schedule is not believed
    max_early: int = 600
    max_speed_kmh: float = 300.0  # an ADDED trip whose consecutive stops imply more is dropped (a wormhole)


@dataclass(frozen=True, slots=True)
class RealtimeSource:
    """Where and how to fetch one GTFS-Realtime feed."""

    url: str  # http(s) URL or a file path
    interval: float = 30.0  # seconds between successful fetches
    stale_after: int = 180
    timeout: float = 10.0  # seconds to connect, to the first byte, and between reads of the body
    total_timeout: float = 120.0  # seconds for a whole fetch (large feeds on slow links)
    headers: Mapping[str, str] = field(default_factory=dict)  # e.g. API keys
    max_bytes: int = 32 * 1024 * 1024
    max_backoff: float = 300.0

    @property
    def is_http(self) -> bool:
        """Whether the source is fetched over HTTP(S)."""
        return self.url.startswith(("http://", "https://"))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One successfully parsed payload of one source."""

    source: str
    message: rt.FeedMessage = field(compare=False)
    header_timestamp: int  # 0 when the producer gave none
    received_at: int
    trip_updates: int
    vehicles: int
    alerts: int
    stale_after: int | None = None  # the source's own limit (None: the rules')
    changed_at: int = 0  # when this content (entities, whatever the header) was first received; 0: received_at
    # A full dataset that collapsed (feeds/guard.py): the last good dataset's trip updates for the trips it lacks,
    # each kept until its own staleness, and when that dataset was written.
    carried: tuple[rt.FeedEntity, ...] = field(default=(), compare=False)
    carried_written: int = 0
    collapse: str | None = None  # why this dataset is suspect (None: it is not)

    def age(self, now: int) -> int:
        """Seconds since the producer wrote the data (or since its content was first received, without a header
        time)."""
        return now - (self.header_timestamp or self.changed_at or self.received_at)

    def frozen(self, now: int, rules: RealtimeRules) -> bool:
        """Whether predictions or vehicles have not changed for longer than the rules allow, whatever the header
        says."""
        since = self.changed_at or self.received_at
        return bool(self.trip_updates or self.vehicles) and now - since > rules.frozen_after

    def is_stale(self, now: int, rules: RealtimeRules) -> bool:
        """Whether this data is too old (by its source's stale_after, else the rules'), frozen, or, by its
        header, from the future, so not to be shown as live."""
        age = self.age(now)
        return age > (self.stale_after or rules.stale_after) or age < -rules.max_future or self.frozen(now, rules)


def parse_feed(payload: bytes, source: str, received_at: int) -> Snapshot:
    """Parse a GTFS-Realtime FeedMessage; FeedError names the source and what is wrong.

    The protobuf is parsed first, whatever its first bytes look like (a header of 123 bytes makes a
    valid feed start with '{' once its 0x0A is stripped); JSON, HTML or XML are only sniffed to explain
    a payload that did not parse."""
    where = Location(source)
    message = rt.FeedMessage()
    try:
        message.ParseFromString(payload)
    except (DecodeError, RuntimeWarning, ValueError) as exc:
        raise FeedError(_explained(payload) or f"corrupt or truncated GTFS-Realtime payload ({len(payload)} bytes): "
                        f"{exc}", where) from None
    if not message.header.gtfs_realtime_version:
        raise FeedError(_explained(payload) or "not a GTFS-Realtime feed: no header.gtfs_realtime_version "
                        f"({len(payload)} bytes)", where)
    if message.header.incrementality == rt.FeedHeader.DIFFERENTIAL:
        raise FeedError("DIFFERENTIAL feeds are not supported; use a FULL_DATASET feed", where)
    trips = vehicles = alerts = 0
    for entity in message.entity:
        trips += entity.HasField("trip_update")
        vehicles += entity.HasField("vehicle")
        alerts += entity.HasField("alert")
    return Snapshot(source, message, int(message.header.timestamp), received_at, trips, vehicles, alerts)


def _explained(payload: bytes) -> str | None:
    """What a payload that is no GTFS-Realtime feed looks like, when it is a text document."""
    head = payload.lstrip()[:64].lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<")):
        return "got a HTML/XML document, not a GTFS-Realtime protobuf"
    if head.startswith((b"{", b"[")):
        return "got a JSON document, not a GTFS-Realtime protobuf"
    return None
