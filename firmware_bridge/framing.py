"""A display's current frame and the messages that carry it (the retained frame and board, deltas and whole
frames on `delta`, the forecast), for firmware_bridge/channel.py, which decides what to send when. Nothing
here decides by a state: these are the message builders and the data they read (what was sent, what the
pillar said of its packet limit)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from . import codec
from .codec import FLAG_FULL_REFRESH, FLAG_NIGHT, FLAG_ZLIB, KIND_DELTA, KIND_FULL, Header
from .fitting import fit_board
from .forecast import ForecastStep, forecast_payload
from .messages import Frame, Publish, packet_room
from .states import LocalProtocolError, Presence
from .topics import display_topic

__all__ = ["FULL_FRAME_RESEND_GAP", "FrameMessages", "KEPT_FRAMES", "MAX_EPOCH", "PIXELS_QOS", "PillarFacts", "Sent"]

FULL_FRAME_RESEND_GAP = 5  # seconds: a pillar asking again and again gets at most one full frame per gap
MAX_EPOCH = (1 << 32) - 1  # epochs and sequence numbers are the header's 32-bit fields
# recent frames kept by hash: the current one and two before (one lost delta is repaired cheaply), to send a
# pillar that lags behind a delta from what it shows
KEPT_FRAMES = 3
# QoS of the frame's pixels (the retained frame and its chunks, `delta`): at most once, without a PUBACK each. The
# contract carries their delivery itself (docs/mqtt.md, "Connection"): a pillar acks what it shows, and the service
# answers an ack of another frame, a missing ack (15 s) and a request for the frame, and republishes every retained
# message after a reconnect. What nothing else carries (the board JSON, ticker, forecast, clears) keeps QoS 1.
PIXELS_QOS = 0


@dataclass(slots=True)
class PillarFacts:
    """What the pillar itself said (statuses, acks): kept when another instance of the channel takes over."""

    presence: Presence = Presence.OFFLINE
    status: dict = field(default_factory=dict)
    last_status_at: int | None = None
    last_ack_at: int | None = None
    max_packet: int | None = None  # the packet limit its status announced
    scrolls: bool = False  # its status says it scrolls the ticker itself


@dataclass(slots=True)
class Sent:
    """What went to the pillar: data for the next message's flags and for the resend gap."""

    partials: int = 0  # partial updates since the last full refresh
    retained_chunks: int = 0  # how many frame/{i} topics hold retained chunks (0: the frame topic does)
    last_full_at: int = -FULL_FRAME_RESEND_GAP  # when the pillar was last sent a whole frame's pixels
    last_frame_at: int | None = None  # when it was last sent pixels
    last_shown: int | None = None  # the last hash the pillar acknowledged (or was sent): a null ack or an offline
    # status may be forged, so a change still reaches it as a delta from this frame
    delta: tuple[int, int] | None = None  # (base, target) of the last delta with pixels sent on `delta`
    flags: int = 0  # and its flags: a copy of it carries the same ones and is not a new partial update
    repeats: int = 0  # how often the pillar answered that delta by acking its base (refused, or lost): 2 -> full


class FrameMessages:
    """One display's frame and the messages that carry it; DisplayChannel adds the decisions."""

    def __init__(self, display_id: str, prefix: str, max_packet: int, frame_ttl: int, full_refresh_every: int,
                 epoch: int, key: bytes) -> None:
        self.display_id = display_id
        self.key = key  # the display's frame key: every message signed (b"": none)
        self.prefix = prefix
        self.max_packet = max_packet
        self.frame_ttl = frame_ttl
        self.full_refresh_every = full_refresh_every
        self.epoch = epoch
        self.facts = PillarFacts()
        self.current: Frame | None = None
        self.recent: dict[int, Frame] = {}  # hash -> the last few frames
        self.sequence = 0
        self.valid_until = 0
        self.true_until: int | None = None  # the first second the current frame's content is no longer true
        # (None: unknown, its validity is extended by frame_ttl for as long as it is current)
        self.night = False  # the current frame is a night screen: valid, without extensions, while it is true
        self.sent = Sent()
        self.forecast_message = b""  # the retained `next` message (b"": none)
        self.forecast_end = 0  # the last second its last step is valid
        self.board_message = b""  # the retained `board` JSON (b"": none), kept here, not with every recent frame
        self.board_key: object = None  # what it was made of: the same again publishes (and builds) nothing

    def _topic(self, leaf: str) -> str:
        return display_topic(self.prefix, self.display_id, leaf)

    @property
    def packet_limit(self) -> int:
        """The largest MQTT packet for this display: the service's max_packet, or the pillar's when smaller."""
        return min(self.max_packet, self.facts.max_packet or self.max_packet)

    def _room(self) -> int:
        """Payload bytes per message: what fits the packet limit on the longest topic, so that a frame's chunks
        are the same on `frame/{i}` and on `delta` (a pillar may collect one set from both)."""
        return packet_room(self.packet_limit, self._topic("frame/65535"))

    def room(self, leaf: str) -> int:
        """Payload bytes that fit the packet limit on this display's topic `leaf` (e.g. `ticker`)."""
        return packet_room(self.packet_limit, self._topic(leaf))

    def _header(self, kind: int, frame: Frame, base: int, flags: int, region: tuple[int, int, int, int]) -> Header:
        h, w = frame.shape
        if frame.compress and frame.encoding != "png":
            flags |= FLAG_ZLIB
        if self.night:
            flags |= FLAG_NIGHT
        return Header(kind, frame.encoding, flags, w, h, region, frame.hash, base, self.valid_until, self.sequence,
                      frame.color_mode, epoch=self.epoch)

    def full_payloads(self, room: int) -> list[bytes]:
        """The current frame as full-frame payloads (header + body), chunked to `room` bytes each."""
        frame = self.current
        if frame is None:
            return []
        h, w = frame.shape
        header = self._header(KIND_FULL, frame, 0, FLAG_FULL_REFRESH, (0, 0, w, h))
        if frame.full_body is not None:
            return codec.encode_message(header, frame.full_body, room, compressed=True, key=self.key)
        return codec.encode_message(
            header, codec.pack(frame.raster, frame.encoding, frame.color_mode), room, key=self.key
        )

    def _retained(self, now: int) -> list[Publish]:
        """The current full frame into the retained `frame` topic (or `frame/{i}` chunks)."""
        payloads = self.full_payloads(self._room())
        if not payloads:
            return []
        expiry = max(1, self.valid_until - now)
        out: list[Publish] = []
        if len(payloads) == 1:
            out.append(Publish(self._topic("frame"), payloads[0], True, PIXELS_QOS, expiry))
            out += [Publish(self._topic(f"frame/{i}"), b"", True) for i in range(self.sent.retained_chunks)]
            self.sent.retained_chunks = 0
        else:
            if self.sent.retained_chunks == 0:
                out.append(Publish(self._topic("frame"), b"", True))  # clears the unchunked retained frame
            out += [Publish(self._topic(f"frame/{i}"), p, True, PIXELS_QOS, expiry) for i, p in enumerate(payloads)]
            out += [
                Publish(self._topic(f"frame/{i}"), b"", True) for i in range(len(payloads), self.sent.retained_chunks)
            ]
            self.sent.retained_chunks = len(payloads)
        return out

    def set_board(self, key: object, make: Callable[[], bytes]) -> list[Publish]:
        """The retained board JSON, when the board changed: `key` is what it is made of (e.g. the board and its
        layout), `make` builds it (called only when `key` differs from the last one); nothing when the key or the
        JSON is the same as last time (docs/mqtt.md, "Board JSON")."""
        if self.board_message and key == self.board_key:
            return []
        message = make()
        self.board_key = key
        if message == self.board_message:
            return []
        self.board_message = message
        return self._board()

    def _board(self) -> list[Publish]:
        """The board JSON, retained (nothing while there is none)."""
        if not self.board_message:
            return []
        fitted = fit_board(self.board_message, self.room("board"))
        return [Publish(self._topic("board"), fitted, True)] if fitted is not None else []

    def _direct_full(self, now: int) -> list[Publish]:
        """The current full frame on `delta`, for a pillar that shows another frame and is not subscribed to `frame`."""
        payloads = self.full_payloads(self._room())
        self.sent.partials, self.sent.delta, self.sent.repeats = 0, None, 0
        self.sent.last_full_at = self.sent.last_frame_at = now
        expiry = max(1, self.valid_until - now)
        return [Publish(self._topic("delta"), p, False, PIXELS_QOS, expiry) for p in payloads]

    def _delta(self, old: Frame, base: int, now: int, whole: bool = True) -> list[Publish]:
        """A delta from the frame the pillar shows (an empty one only moves the validity), or the full frame
        on `delta` when a delta would not be smaller (nothing then, unless `whole`). The `full refresh` flag
        goes on the first delta with pixels after `full_refresh_every` partial updates since the last full
        frame; a copy of a delta sent before (the pillar acked its base again) carries the same flags and is
        not counted again."""
        frame = self.current
        if frame is None:
            raise LocalProtocolError("a delta with no current frame")
        h, w = frame.shape
        raw = frame.raw if base != frame.hash else b""
        rects = codec.changed_rects(old.raw, raw, frame.color_mode, w, h) if raw else []
        again = bool(rects) and self.sent.delta == (base, frame.hash)
        if again:
            flags = self.sent.flags
        else:
            flags = FLAG_FULL_REFRESH if rects and self.sent.partials >= self.full_refresh_every else 0
        header = self._header(KIND_DELTA, frame, base, flags, _bounding(rects))
        body = codec.delta_body(raw, rects, frame.encoding, frame.color_mode, w, h)
        payloads = codec.encode_message(header, body, self._room(), key=self.key)
        if rects and (len(payloads) > 1 or len(payloads[0]) >= self._full_size(frame)):
            return self._direct_full(now) if whole else []
        if rects and not again:
            self.sent.partials = 0 if flags & FLAG_FULL_REFRESH else self.sent.partials + 1
            self.sent.delta, self.sent.flags, self.sent.repeats = (base, frame.hash), flags, 0
        if rects:
            self.sent.last_frame_at = now
        return [Publish(self._topic("delta"), payloads[0], False, PIXELS_QOS, max(1, self.valid_until - now))]

    @staticmethod
    def _full_size(frame: Frame) -> int:
        """The size of the full frame's body (known from rendering, or encoded here when it is not)."""
        if frame.full_body is not None:
            return len(frame.full_body)
        return len(codec.pack(frame.raster, frame.encoding, frame.color_mode))

    def _validity(self, now: int) -> int:
        """The last second the current frame may be shown: frame_ttl from now, and never past the second its
        content stops being true (docs/mqtt.md, "Validity")."""
        until = now + self.frame_ttl
        if self.night and self.true_until is not None:  # a night screen: until the night ends, nothing in between
            return self.true_until - 1
        return until if self.true_until is None else min(until, self.true_until - 1)

    def _forecast_publish(self, now: int) -> Publish:
        expiry = max(1, self.forecast_end - now) if self.forecast_message else None
        return Publish(self._topic("next"), self.forecast_message, True, expiry=expiry)

    def extend_to(self, true_until: int | None) -> None:
        """The current frame's content stays true until `true_until` (a board with the same pixels was rendered
        again): the next tick extends its validity that far."""
        if self.true_until is not None and (true_until is None or true_until > self.true_until):
            self.true_until = true_until

    def _take(self, frame: Frame, now: int, true_until: int | None, night: bool) -> None:
        """`frame` becomes the current one: kept among the recent frames, with the next sequence number and its
        validity."""
        self.true_until = true_until
        self.night = night and true_until is not None
        self.current = frame
        self.recent.pop(frame.hash, None)
        self.recent[frame.hash] = frame
        while len(self.recent) > KEPT_FRAMES:
            del self.recent[next(iter(self.recent))]
        # increases across restarts and owners (clocks in step)
        self.sequence = min(max(self.sequence + 1, now), MAX_EPOCH)
        self.valid_until = self._validity(now)

    def forecast(self, steps: list[ForecastStep], horizon_minutes: int, now: int) -> list[Publish]:
        """The retained forecast (`next`) for these steps; the last steps are left out until it fits max_packet
        (none fits: the topic is cleared)."""
        room = packet_room(self.max_packet, self._topic("next"))
        payload = forecast_payload(steps, horizon_minutes, self.sequence, self.epoch)
        while len(payload) > room and steps:
            steps = steps[: len(steps) * 3 // 4] if len(steps) > 4 else steps[:-1]
            payload = forecast_payload(steps, horizon_minutes, self.sequence, self.epoch)
        self.forecast_message = payload
        self.forecast_end = steps[-1].until if steps else 0
        return [self._forecast_publish(now)]


def _bounding(rects: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    if not rects:
        return (0, 0, 0, 0)
    x0 = min(r[0] for r in rects)
    y0 = min(r[1] for r in rects)
    x1 = max(r[0] + r[2] for r in rects)
    y1 = max(r[1] + r[3] for r in rects)
    return (x0, y0, x1 - x0, y1 - y0)
