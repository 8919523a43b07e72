"""The service's end of the pillar protocol for one display: a state machine (firmware_bridge/
states.py) fed with typed events (show, tick, ack, status, remove) that answers with publishes."""

from __future__ import annotations

from . import codec
from .codec import FLAG_FULL_REFRESH, FLAG_ZLIB, KIND_DELTA, KIND_FULL, Header
from .messages import Frame, PillarAck, PillarStatus, Publish
from .states import ChannelEvent, ChannelState, LocalProtocolError, transition
from .topics import display_topic

__all__ = ["DisplayChannel", "FULL_FRAME_RESEND_GAP"]

FULL_FRAME_RESEND_GAP = 5  # seconds: a pillar asking again and again gets at most one full frame per gap


class DisplayChannel:
    """The service's side of one display: what was sent, what the pillar confirmed."""

    def __init__(self, display_id: str, prefix: str, max_packet: int, frame_ttl: int, full_refresh_every: int = 10) -> None:
        self.display_id = display_id
        self.prefix = prefix
        self.max_packet = max_packet
        self.frame_ttl = frame_ttl
        self.full_refresh_every = full_refresh_every
        self.state = ChannelState.IDLE
        self.current: Frame | None = None
        self.sequence = 0
        self.partials = 0
        self.valid_until = 0
        self.retained_chunks = 0  # how many frame/{i} topics hold retained chunks (0: the frame topic does)
        self.last_full_at = -FULL_FRAME_RESEND_GAP
        self.online = False
        self.status: dict = {}
        self.last_ack_at: int | None = None
        self.last_status_at: int | None = None
        self.last_frame_at: int | None = None
        self.bytes_sent = 0

    def _topic(self, leaf: str) -> str:
        return display_topic(self.prefix, self.display_id, leaf)

    def _event(self, event: ChannelEvent) -> None:
        """Move along the transition table; an impossible event is a LocalProtocolError (state ERROR)."""
        try:
            self.state = transition(self.state, event)  # type: ignore[assignment]
        except LocalProtocolError:
            self.state = ChannelState.ERROR
            raise

    @property
    def acked_hash(self) -> int | None:
        """The hash of the frame the pillar confirmed, while that is the current one."""
        return self.current.hash if self.state is ChannelState.SYNCED and self.current is not None else None

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
        old, synced = self.current, self.state is ChannelState.SYNCED
        self._event(ChannelEvent.SHOW)
        self.current = frame
        self.sequence += 1
        self.valid_until = now + self.frame_ttl
        out = [Publish(self._topic("board"), frame.board_json, True)] if frame.board_json else []
        if old is not None and synced and self.online and old.raster.shape == frame.raster.shape:
            full_size = len(codec.pack(frame.raster, frame.encoding, frame.color_mode))
            delta = self._delta(old, now, full_size)
            if delta is not None:
                return out + delta
        return out + self._full(now)

    def tick(self, now: int, margin: int) -> list[Publish]:
        """Before the frame's validity runs out: extend it (an empty delta to a synced pillar, else the full frame)."""
        if self.current is None or now < self.valid_until - margin:
            return []
        self._event(ChannelEvent.TICK)
        self.valid_until = now + self.frame_ttl
        if self.online and self.state is ChannelState.SYNCED:
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
        current = self.current is not None and not ack.need_full and ack.hash == self.current.hash
        self._event(ChannelEvent.ACK_CURRENT if current else ChannelEvent.ACK_OTHER)
        if self.current is None or current:
            return []
        if now - self.last_full_at < FULL_FRAME_RESEND_GAP:
            return []
        return self._full(now)

    def on_status(self, status: PillarStatus, now: int | None = None) -> None:
        """Record the pillar's status; an offline pillar gets full frames until it acks again."""
        if now is not None:
            self.last_status_at = now
        self.online = status.online
        self.status = {**self.status, **status.details}  # an offline Will says nothing new: keep what was known
        self._event(ChannelEvent.ONLINE if status.online else ChannelEvent.OFFLINE)

    def clear(self) -> list[Publish]:
        """Empty retained messages that remove this display's frame and board from the broker."""
        self._event(ChannelEvent.REMOVE)
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
