"""The pillar protocol as sans-I/O state machines: bytes and `now` in, publishes and events out.

`Bridge` is the service's end (one `DisplayChannel` per display), `PillarSession` the pillar's.
Neither touches a socket or a clock; aiomqtt carries their messages (see client.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from . import codec
from .codec import FLAG_FULL_REFRESH, FLAG_ZLIB, KIND_DELTA, KIND_FULL, CodecError, Header
from .topics import display_topic, parse_display_topic, service_status_topic

MAX_PILLAR_MESSAGE = 2048  # bytes: larger acks or status messages are rejected unread
FULL_FRAME_RESEND_GAP = 5  # seconds: a pillar asking again and again gets at most one full frame per gap


@dataclass(frozen=True, slots=True)
class Publish:
    """One MQTT message to send (QoS 1 unless said otherwise)."""

    topic: str
    payload: bytes
    retain: bool
    qos: int = 1
    expiry: int | None = None  # MQTT 5 message expiry, seconds


@dataclass(frozen=True, slots=True)
class Sent:
    """What one send did: messages and payload bytes the broker acknowledged, and refused topics."""

    messages: int = 0
    payload_bytes: int = 0
    refused: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Frame:
    """A screen a display should show, as the service rendered it."""

    raster: np.ndarray = field(compare=False)
    color_mode: str
    encoding: str
    compress: bool
    hash: int
    board_json: bytes = field(default=b"", compare=False)
    full_body: bytes | None = field(default=None, compare=False)  # the encoded (compressed) full body, if known

    @staticmethod
    def of(raster: np.ndarray, color_mode: str, encoding: str, compress: bool, board_json: bytes = b"") -> Frame:
        """A frame with its content hash computed."""
        return Frame(raster, color_mode, encoding, compress, codec.frame_hash(raster, color_mode), board_json)


@dataclass(frozen=True, slots=True)
class PillarAck:
    """A pillar says which frame it shows (or that it needs a full one)."""

    display_id: str
    hash: int | None
    need_full: bool


@dataclass(frozen=True, slots=True)
class PillarStatus:
    """A pillar's retained status (online, or offline by its Last Will) and what it reports."""

    display_id: str
    online: bool
    details: dict = field(compare=False)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that broke the contract; it was ignored."""

    topic: str
    reason: str


Event = PillarAck | PillarStatus | Rejected


@dataclass(frozen=True, slots=True)
class PillarView:
    """A read-only view of one display's pillar, for ops."""

    online: bool
    status: dict = field(compare=False)
    last_ack_at: int | None = None
    last_frame_at: int | None = None
    in_sync: bool = False
    frame_hash: int | None = None


def _hex(value: int) -> str:
    return f"{value:08x}"


def _parse_pillar_json(payload: bytes) -> dict:
    if len(payload) > MAX_PILLAR_MESSAGE:
        raise ValueError(f"message of {len(payload)} bytes exceeds {MAX_PILLAR_MESSAGE}")
    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc


def parse_ack(display_id: str, payload: bytes) -> PillarAck:
    """An ack: {"hash": "89abcdef" | null, "need_full": bool}; ValueError when malformed."""
    doc = _parse_pillar_json(payload)
    raw = doc.get("hash")
    need_full = doc.get("need_full", False)
    if not isinstance(need_full, bool):
        raise ValueError("need_full must be true or false")
    if raw is None:
        return PillarAck(display_id, None, True)
    if not isinstance(raw, str) or len(raw) != 8 or any(c not in "0123456789abcdefABCDEF" for c in raw):
        raise ValueError("hash must be 8 hex digits or null")
    return PillarAck(display_id, int(raw, 16), need_full)


def parse_status(display_id: str, payload: bytes) -> PillarStatus:
    """A status: {"state": "online" | "offline", ...}; ValueError when malformed."""
    doc = _parse_pillar_json(payload)
    state = doc.get("state")
    if state not in ("online", "offline"):
        raise ValueError("state must be online or offline")
    details = {}
    for key, kind in (("fw", str), ("battery_v", (int, float)), ("rssi", int), ("shows", str), ("model", str)):
        value = doc.get(key)
        if value is not None and isinstance(value, kind) and not isinstance(value, bool):
            details[key] = value
    return PillarStatus(display_id, state == "online", details)


class DisplayChannel:
    """The service's side of one display: what was sent, what the pillar confirmed."""

    def __init__(self, display_id: str, prefix: str, max_packet: int, frame_ttl: int, full_refresh_every: int = 10) -> None:
        self.display_id = display_id
        self.prefix = prefix
        self.max_packet = max_packet
        self.frame_ttl = frame_ttl
        self.full_refresh_every = full_refresh_every
        self.current: Frame | None = None
        self.sequence = 0
        self.acked_hash: int | None = None
        self.partials = 0
        self.valid_until = 0
        self.retained_chunks = 0  # how many frame/{i} topics hold retained chunks (0: the frame topic does)
        self.last_full_at = -FULL_FRAME_RESEND_GAP
        self.online = False
        self.status: dict = {}
        self.last_ack_at: int | None = None
        self.last_frame_at: int | None = None
        self.bytes_sent = 0

    def _topic(self, leaf: str) -> str:
        return display_topic(self.prefix, self.display_id, leaf)

    def _header(self, kind: int, frame: Frame, base: int, flags: int, region: tuple[int, int, int, int]) -> Header:
        h, w = frame.raster.shape
        if frame.compress and frame.encoding != "png":
            flags |= FLAG_ZLIB
        return Header(kind, frame.encoding, flags, w, h, region, frame.hash, base, self.valid_until, self.sequence,
                      frame.color_mode)

    def full_payloads(self, max_packet: int) -> list[bytes]:
        """The current frame as full-frame payloads (header + body), chunked to `max_packet`."""
        frame = self.current
        if frame is None:
            return []
        h, w = frame.raster.shape
        header = self._header(KIND_FULL, frame, 0, FLAG_FULL_REFRESH, (0, 0, w, h))
        if frame.full_body is not None:
            return codec.encode_message(header, frame.full_body, max_packet, compressed=True)
        return codec.encode_message(header, codec.pack(frame.raster, frame.encoding, frame.color_mode), max_packet)

    def _full(self, now: int) -> list[Publish]:
        payloads = self.full_payloads(self.max_packet)
        if not payloads:
            return []
        self.partials = 0
        self.last_full_at = now
        self.last_frame_at = now
        expiry = max(1, self.valid_until - now)
        out: list[Publish] = []
        if len(payloads) == 1:
            out.append(Publish(self._topic("frame"), payloads[0], True, expiry=expiry))
            out += [Publish(self._topic(f"frame/{i}"), b"", True) for i in range(self.retained_chunks)]
            self.retained_chunks = 0
        else:
            if self.retained_chunks == 0:
                out.append(Publish(self._topic("frame"), b"", True))  # clears the unchunked retained frame
            out += [Publish(self._topic(f"frame/{i}"), p, True, expiry=expiry) for i, p in enumerate(payloads)]
            out += [Publish(self._topic(f"frame/{i}"), b"", True) for i in range(len(payloads), self.retained_chunks)]
            self.retained_chunks = len(payloads)
        self.bytes_sent += sum(len(p.payload) for p in out)
        return out

    def _delta(self, old: Frame, now: int, full_size: int) -> list[Publish] | None:
        """A delta from the frame the pillar confirmed, or None when a full frame is as cheap."""
        frame = self.current
        if frame is None:
            return None
        rects = codec.changed_rects(old.raster, frame.raster)
        flags = 0
        if self.partials + 1 >= self.full_refresh_every:
            flags |= FLAG_FULL_REFRESH
        region = _bounding(rects)
        header = self._header(KIND_DELTA, frame, old.hash, flags, region)
        payloads = codec.encode_message(header, codec.delta_body(frame.raster, rects, frame.encoding, frame.color_mode),
                                        self.max_packet)
        if len(payloads) > 1 or len(payloads[0]) >= full_size:
            return None
        self.partials = 0 if flags & FLAG_FULL_REFRESH else self.partials + 1
        self.last_frame_at = now
        self.bytes_sent += len(payloads[0])
        return [Publish(self._topic("delta"), payloads[0], False, expiry=max(1, self.valid_until - now))]

    def show(self, frame: Frame, now: int) -> list[Publish]:
        """Publishes for a newly rendered frame; nothing when its content has not changed."""
        if self.current is not None and frame.hash == self.current.hash:
            return []
        old = self.current
        self.current = frame
        self.sequence += 1
        self.valid_until = now + self.frame_ttl
        out = [Publish(self._topic("board"), frame.board_json, True)] if frame.board_json else []
        if old is not None and self.acked_hash == old.hash and self.online and old.raster.shape == frame.raster.shape:
            full_size = len(codec.pack(frame.raster, frame.encoding, frame.color_mode))
            delta = self._delta(old, now, full_size)
            if delta is not None:
                return out + delta
        return out + self._full(now)

    def tick(self, now: int, margin: int) -> list[Publish]:
        """Before the frame's validity runs out: extend it (an empty delta to a synced pillar, else the full frame)."""
        if self.current is None or now < self.valid_until - margin:
            return []
        self.valid_until = now + self.frame_ttl
        if self.online and self.acked_hash == self.current.hash:
            header = self._header(KIND_DELTA, self.current, self.current.hash, 0, (0, 0, 0, 0))
            payload = codec.encode_message(header, codec.delta_body(self.current.raster, [], self.current.encoding,
                                                                      self.current.color_mode), self.max_packet)[0]
            self.bytes_sent += len(payload)
            return [Publish(self._topic("delta"), payload, False, expiry=self.frame_ttl)]
        return self._full(now)

    def republish(self, now: int) -> list[Publish]:
        """Everything retained again (after a reconnect the broker may have lost it)."""
        if self.current is None:
            return []
        out = [Publish(self._topic("board"), self.current.board_json, True)] if self.current.board_json else []
        return out + self._full(now)

    def on_ack(self, ack: PillarAck, now: int) -> list[Publish]:
        """Record what the pillar shows; send a full frame when it has not got the current one."""
        self.last_ack_at = now
        self.online = True
        if self.current is None:
            return []
        if not ack.need_full and ack.hash == self.current.hash:
            self.acked_hash = ack.hash
            return []
        self.acked_hash = None
        if now - self.last_full_at < FULL_FRAME_RESEND_GAP:
            return []
        return self._full(now)

    def on_status(self, status: PillarStatus) -> None:
        """Record the pillar's status; an offline pillar gets full frames until it acks again."""
        self.online = status.online
        self.status = dict(status.details)
        if not status.online:
            self.acked_hash = None

    def clear(self) -> list[Publish]:
        """Empty retained messages that remove this display's frame and board from the broker."""
        topics = ["frame", "board"] + [f"frame/{i}" for i in range(self.retained_chunks)]
        return [Publish(self._topic(t), b"", True) for t in topics]


def _bounding(rects: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    if not rects:
        return (0, 0, 0, 0)
    x0 = min(r[0] for r in rects)
    y0 = min(r[1] for r in rects)
    x1 = max(r[0] + r[2] for r in rects)
    y1 = max(r[1] + r[3] for r in rects)
    return (x0, y0, x1 - x0, y1 - y0)


class Bridge:
    """The service's end of the protocol for all its displays."""

    def __init__(self, prefix: str, max_packet: int, frame_ttl: int, margin: int = 60) -> None:
        self.prefix = prefix
        self.max_packet = max_packet
        self.frame_ttl = frame_ttl
        self.margin = min(margin, frame_ttl // 2)
        self.channels: dict[str, DisplayChannel] = {}

    def channel(self, display_id: str, full_refresh_every: int = 10) -> DisplayChannel:
        """The channel of a display, created on first use."""
        found = self.channels.get(display_id)
        if found is None:
            found = DisplayChannel(display_id, self.prefix, self.max_packet, self.frame_ttl, full_refresh_every)
            self.channels[display_id] = found
        found.full_refresh_every = full_refresh_every
        return found

    def frame_payload(self, display_id: str) -> bytes | None:
        """The display's current frame as one unchunked full-frame message (header + body), if any."""
        channel = self.channels.get(display_id)
        payloads = channel.full_payloads(1 << 62) if channel is not None else []
        return payloads[0] if payloads else None

    def pillar(self, display_id: str) -> PillarView | None:
        """What the service knows of a display's pillar (None before its first frame)."""
        c = self.channels.get(display_id)
        if c is None:
            return None
        in_sync = c.current is not None and c.acked_hash == c.current.hash
        return PillarView(c.online, dict(c.status), c.last_ack_at, c.last_frame_at, in_sync,
                          c.current.hash if c.current else None)

    def subscriptions(self) -> list[str]:
        """What the service subscribes to: every pillar's status and ack."""
        return [display_topic(self.prefix, "+", "status"), display_topic(self.prefix, "+", "ack")]

    def service_status(self, online: bool, now: int, details: dict | None = None) -> Publish:
        """The service's retained status (its Last Will is the offline one)."""
        doc = {"state": "online" if online else "offline", "since": now, **(details or {})}
        return Publish(service_status_topic(self.prefix), json.dumps(doc).encode(), True)

    def show(self, display_id: str, frame: Frame, now: int, full_refresh_every: int = 10) -> list[Publish]:
        """Publishes for a display's newly rendered frame (nothing when unchanged)."""
        return self.channel(display_id, full_refresh_every).show(frame, now)

    def receive(self, topic: str, payload: bytes, now: int) -> tuple[list[Event], list[Publish]]:
        """Handle a message from a pillar; malformed ones become Rejected events, never exceptions."""
        parsed = parse_display_topic(self.prefix, topic)
        if parsed is None or parsed[0] not in self.channels:
            return [Rejected(topic, "not a configured display's topic")], []
        display_id, leaf = parsed
        channel = self.channels[display_id]
        try:
            if leaf == "ack":
                ack = parse_ack(display_id, payload)
                return [ack], channel.on_ack(ack, now)
            if leaf == "status":
                if not payload:  # a cleared retained status
                    return [], []
                status = parse_status(display_id, payload)
                channel.on_status(status)
                return [status], []
        except ValueError as exc:
            return [Rejected(topic, str(exc))], []
        return [Rejected(topic, f"pillars may not publish to '{leaf}'")], []

    def tick(self, now: int) -> list[Publish]:
        """Validity extensions due at `now`."""
        out: list[Publish] = []
        for channel in self.channels.values():
            out += channel.tick(now, self.margin)
        return out

    def next_deadline(self) -> int | None:
        """When tick() next has something to do."""
        deadlines = [c.valid_until - self.margin for c in self.channels.values() if c.current is not None]
        return min(deadlines) if deadlines else None

    def republish_all(self, now: int) -> list[Publish]:
        """Every display's retained messages again, after a reconnect."""
        out: list[Publish] = []
        for channel in self.channels.values():
            out += channel.republish(now)
        return out

    def remove(self, display_id: str) -> list[Publish]:
        """Forget a display and clear its retained messages."""
        channel = self.channels.pop(display_id, None)
        return channel.clear() if channel else []


class PillarSession:
    """A pillar's end: assembles frames and deltas, verifies hashes, acknowledges."""

    def __init__(self, display_id: str, prefix: str) -> None:
        self.display_id = display_id
        self.prefix = prefix
        self.raster: np.ndarray | None = None
        self.hash: int | None = None
        self.color_mode = ""
        self.valid_until = 0
        self.sequence = -1
        self.full_refresh = False
        self.applied = 0
        self.errors: list[str] = []
        self._chunks: dict[tuple[int, int], dict[int, bytes]] = {}  # (kind, sequence) -> chunk index -> body

    def _topic(self, leaf: str) -> str:
        return display_topic(self.prefix, self.display_id, leaf)

    def subscriptions(self) -> list[str]:
        """What the pillar subscribes to: its frame (and frame chunks) and deltas."""
        return [self._topic("frame/#"), self._topic("delta")]

    def will(self) -> Publish:
        """The Last Will the pillar registers: offline, retained."""
        return Publish(self._topic("status"), json.dumps({"state": "offline"}).encode(), True)

    def hello(self, details: dict | None = None) -> list[Publish]:
        """What the pillar says after connecting: online, and what it shows."""
        status = {"state": "online", **(details or {})}
        if self.hash is not None:
            status["shows"] = _hex(self.hash)
        return [Publish(self._topic("status"), json.dumps(status).encode(), True), self._ack(need_full=self.hash is None)]

    def _ack(self, need_full: bool = False) -> Publish:
        doc = {"hash": _hex(self.hash) if self.hash is not None else None, "seq": self.sequence, "need_full": need_full}
        return Publish(self._topic("ack"), json.dumps(doc).encode(), False)

    def is_current(self, now: int) -> bool:
        """Whether the pillar may show its frame: it has one and its validity has not run out."""
        return self.raster is not None and now <= self.valid_until

    def receive(self, topic: str, payload: bytes, now: int) -> list[Publish]:
        """Apply a frame, a chunk or a delta; answer with an ack (or a request for a full frame)."""
        if not payload:
            return []  # a cleared retained message
        try:
            header = codec.parse_header(payload)
        except CodecError as exc:
            self.errors.append(f"{topic}: {exc}")
            return []
        body = payload[codec.HEADER.size :]
        if header.chunks > 1:
            parts = self._chunks.setdefault((header.kind, header.sequence), {})
            parts[header.chunk] = body
            if len(parts) < header.chunks:
                return []
            body = b"".join(parts[i] for i in range(header.chunks))
            self._chunks = {k: v for k, v in self._chunks.items() if k[1] > header.sequence}
        try:
            data = codec.decode_body(header, body)
            if header.kind == KIND_FULL:
                raster = codec.unpack(data, header.encoding, header.width, header.height, header.color_mode)
            else:
                if self.raster is None or self.hash != header.base_hash or self.raster.shape != (header.height, header.width):
                    self.errors.append(f"{topic}: delta for base {_hex(header.base_hash)}, showing "
                                       f"{_hex(self.hash) if self.hash is not None else 'nothing'}")
                    return [self._ack(need_full=True)]
                raster = codec.apply_delta(self.raster, data, header.encoding, header.color_mode)
        except CodecError as exc:
            self.errors.append(f"{topic}: {exc}")
            return [self._ack(need_full=True)]
        if codec.frame_hash(raster, header.color_mode) != header.content_hash:
            self.errors.append(f"{topic}: content hash mismatch")
            return [self._ack(need_full=True)]
        if header.kind == KIND_FULL and header.sequence < self.sequence and header.content_hash != self.hash:
            return []  # an older retained frame arriving late
        already = header.content_hash == self.hash and header.valid_until <= self.valid_until
        self.raster, self.hash, self.color_mode = raster, header.content_hash, header.color_mode
        self.valid_until = max(self.valid_until, header.valid_until) if already else header.valid_until
        self.sequence = max(self.sequence, header.sequence)
        self.full_refresh = bool(header.flags & FLAG_FULL_REFRESH)
        self.applied += 1
        return [self._ack()]
