"""The service's end of the pillar protocol for one display: a state machine (firmware_bridge/
states.py) fed with typed events (show, tick, ack, status, remove) that answers with publishes.

The retained `frame` topic always holds the current full frame with its current validity; a pillar
subscribes to it only while it shows nothing (docs/mqtt.md), so updating it costs the broker, not
the pillars in sync. A pillar that shows a frame gets what it lacks on `delta`: a delta from the
frame it shows, or a full frame when a delta would not be smaller.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from . import codec
from .codec import FLAG_FULL_REFRESH, FLAG_NIGHT, FLAG_ZLIB, KIND_DELTA, KIND_FULL, Header
from .fitting import fit_board
from .forecast import ForecastStep, forecast_payload
from .limits import ANSWER_GAP_MAX, PILLAR_ANSWERS, Backoff, TokenBucket
from .messages import Frame, PillarAck, PillarStatus, PillarView, Publish, packet_room
from .states import (
    Action,
    ChannelEvent,
    ChannelState,
    LocalProtocolError,
    Presence,
    Screen,
    ScreenEvent,
    step,
    transition,
)
from .topics import display_topic

__all__ = ["Acks", "Answers", "DisplayChannel", "FULL_FRAME_RESEND_GAP", "PillarFacts", "Sent"]

FULL_FRAME_RESEND_GAP = 5  # seconds: a pillar asking again and again gets at most one full frame per gap
MAX_EPOCH = (1 << 32) - 1  # epochs and sequence numbers are the header's 32-bit fields
ACK_WAIT = 15  # seconds: what a pillar was sent and did not acknowledge by then is taken as lost
MIN_PILLAR_PACKET = 1024  # bytes: the smallest packet limit a pillar's status may announce (smaller is taken as this)
KEPT_FRAMES = 3  # recent frames kept by hash: the current one and two before (one lost delta is repaired cheaply), to send a pillar that lags behind a delta from what it shows


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
class Answers:
    """Answers to the pillar: when the next one is due, and what the limits deferred."""

    backoff: Backoff = field(default_factory=lambda: Backoff(FULL_FRAME_RESEND_GAP))  # while it makes no progress
    bucket: TokenBucket = field(default_factory=lambda: TokenBucket(*PILLAR_ANSWERS))  # answers to this pillar
    total: TokenBucket | None = None  # answer bytes to all pillars (the Bridge's)
    due: int | None = None  # an answer deferred by the resend gap or the limits: given then
    limited: int = 0  # answers deferred by the limits
    limited_at: int | None = None  # when one last was
    streak: int = 0  # answers deferred since the pillar last showed the current frame


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


@dataclass(slots=True)
class Acks:
    """The pillar's acks: the one awaited, and the newest taken."""

    unacked_since: int | None = None  # since when the pillar owes an ack for what it was sent
    wait: int = ACK_WAIT  # doubles with each whole frame sent again for a missing ack
    last_seq: int | None = None  # the highest `seq` the pillar acknowledged (a restarted pillar's acks count
    # again once it shows a frame: sequence numbers only grow)


class DisplayChannel:
    """The service's side of one display: what was sent, what the pillar shows. It decides by its three states
    (`state`, the pillar's presence and screen), which move only through the table in states.py; what else it
    keeps is data (of a state, or for encoding: sequence numbers, partial updates, chunks)."""

    def __init__(self, display_id: str, prefix: str, max_packet: int, frame_ttl: int, full_refresh_every: int = 10,
                 epoch: int = 0, key: bytes = b"", total: TokenBucket | None = None) -> None:
        self.display_id = display_id
        self.key = key  # the display's frame key: every message signed (b"": none)
        self.prefix = prefix
        self.max_packet = max_packet
        self.frame_ttl = frame_ttl
        self.full_refresh_every = full_refresh_every
        self.epoch = epoch
        self.state = ChannelState.IDLE
        self._screen = Screen.NEW
        self._shows: int | None = None  # the hash the pillar shows (data of SHOWS; of LOST: what it last did)
        self.facts = PillarFacts()
        self.answers = Answers(total=total)
        self.current: Frame | None = None
        self.recent: dict[int, Frame] = {}  # hash -> the last few frames
        self.sequence = 0
        self.valid_until = 0
        self.true_until: int | None = None  # the first second the current frame's content is no longer true
        # (None: unknown, its validity is extended by frame_ttl for as long as it is current)
        self.night = False  # the current frame is a night screen: valid, without extensions, while it is true
        self.sent = Sent()
        self.acks = Acks()
        self.forecast_message = b""  # the retained `next` message (b"": none)
        self.forecast_end = 0  # the last second its last step is valid

    def _topic(self, leaf: str) -> str:
        return display_topic(self.prefix, self.display_id, leaf)

    @property
    def online(self) -> bool:
        """Whether the pillar's last status (or ack) said it is there."""
        return self.facts.presence is Presence.ONLINE

    @property
    def status(self) -> dict:
        """What the pillar's statuses reported (an offline Will says nothing new: what was known stays)."""
        return self.facts.status

    @property
    def scrolls(self) -> bool:
        """Whether the pillar said it scrolls the ticker itself."""
        return self.facts.scrolls

    @property
    def limited(self) -> int:
        """Answers to the pillar the limits deferred."""
        return self.answers.limited

    @property
    def ack_wait(self) -> int:
        """Seconds an ack is awaited before the whole frame goes again (doubling while none comes)."""
        return self.acks.wait

    @property
    def screen(self) -> Screen:
        """What the service knows of the pillar's screen."""
        return self._screen

    @property
    def pillar_hash(self) -> int | None:
        """The frame the pillar shows, as far as known (None: it takes the retained frame, or nobody knows)."""
        return self._shows if self._screen in (Screen.SHOWS, Screen.LOST) else None

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

    def _event(self, event: ChannelEvent) -> None:
        """Move along the transition table; an impossible event is a LocalProtocolError (state ERROR)."""
        try:
            self.state = transition(self.state, event)
        except LocalProtocolError:
            self.state = ChannelState.ERROR
            raise

    def _heard(self, event: ChannelEvent) -> None:
        """The pillar said it is online or offline."""
        self.facts.presence = transition(self.facts.presence, event)

    def _move(self, event: ScreenEvent) -> Action:
        """Move the pillar's screen along the transition table; the action it names."""
        self._screen, action = step(self._screen, event)
        if self._screen in (Screen.NEW, Screen.RETAINED):
            self._shows = None
        return action

    def _step(self, event: ScreenEvent, now: int) -> list[Publish]:
        """Move the pillar's screen along the transition table and do the action it names."""
        return self._actions[self._move(event)](self, now)

    def view(self) -> PillarView:
        """What the service knows of the pillar, read-only (for ops)."""
        facts, answers = self.facts, self.answers
        return PillarView(self.online, dict(facts.status), facts.last_ack_at, self.sent.last_frame_at,
                          self.state is ChannelState.SYNCED, self.current.hash if self.current else None,
                          facts.last_status_at, answers.limited, answers.limited_at, answers.streak)

    def resume(self, old: DisplayChannel) -> None:
        """A new start for a display another instance took over: what its pillar said (`old`'s facts) stays."""
        self.facts = dataclasses.replace(old.facts)

    def configure(self, full_refresh_every: int | None = None, key: bytes | None = None,
                  epoch: int | None = None) -> None:
        """New settings from the Bridge: the layout's full refresh period, the frame key, the ownership epoch."""
        if full_refresh_every is not None:
            self.full_refresh_every = full_refresh_every
        if key is not None:
            self.key = key
        if epoch is not None:
            self.epoch = epoch

    @property
    def acked_hash(self) -> int | None:
        """The hash of the frame the pillar confirmed, while that is the current one."""
        return self.current.hash if self.state is ChannelState.SYNCED and self.current is not None else None

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
        return codec.encode_message(header, codec.pack(frame.raster, frame.encoding, frame.color_mode), room, key=self.key)

    def _retained(self, now: int) -> list[Publish]:
        """The current full frame into the retained `frame` topic (or `frame/{i}` chunks)."""
        payloads = self.full_payloads(self._room())
        if not payloads:
            return []
        expiry = max(1, self.valid_until - now)
        out: list[Publish] = []
        if len(payloads) == 1:
            out.append(Publish(self._topic("frame"), payloads[0], True, expiry=expiry))
            out += [Publish(self._topic(f"frame/{i}"), b"", True) for i in range(self.sent.retained_chunks)]
            self.sent.retained_chunks = 0
        else:
            if self.sent.retained_chunks == 0:
                out.append(Publish(self._topic("frame"), b"", True))  # clears the unchunked retained frame
            out += [Publish(self._topic(f"frame/{i}"), p, True, expiry=expiry) for i, p in enumerate(payloads)]
            out += [Publish(self._topic(f"frame/{i}"), b"", True) for i in range(len(payloads), self.sent.retained_chunks)]
            self.sent.retained_chunks = len(payloads)
        return out

    def _taken(self, now: int) -> list[Publish]:
        """TAKEN: the pillar takes the retained frame just published (docs/mqtt.md): it counts as a whole frame."""
        if self.current is not None:
            self.answers.due = None  # a request waiting for the resend gap is answered by this
            self.sent.partials = 0
            self.sent.last_full_at = self.sent.last_frame_at = now
        return []

    def _retained_to_it(self, now: int) -> list[Publish]:
        out = self._retained(now)
        return out + self._taken(now) if out else out

    def _deferred(self, now: int) -> bool:
        """Whether a whole frame now would come within the resend gap; it is then due when the gap ends
        (deferred, never dropped)."""
        if now - self.sent.last_full_at < FULL_FRAME_RESEND_GAP:
            self.answers.due = self.sent.last_full_at + FULL_FRAME_RESEND_GAP
            return True
        return False

    def _board(self) -> list[Publish]:
        """The current board JSON, retained (nothing for a frame without one)."""
        frame = self.current
        if frame is None or not frame.board_json:
            return []
        fitted = fit_board(frame.board_json, self.room("board"))
        return [Publish(self._topic("board"), fitted, True)] if fitted is not None else []

    def _direct_full(self, now: int) -> list[Publish]:
        """The current full frame on `delta`, for a pillar that shows another frame and is not subscribed to `frame`."""
        payloads = self.full_payloads(self._room())
        self.sent.partials, self.sent.delta, self.sent.repeats = 0, None, 0
        self.sent.last_full_at = self.sent.last_frame_at = now
        expiry = max(1, self.valid_until - now)
        return [Publish(self._topic("delta"), p, False, expiry=expiry) for p in payloads]

    def _base(self) -> int | None:
        """The frame a delta to the pillar starts from: the one it shows (SHOWS), else none (a whole frame)."""
        return self._shows if self._screen is Screen.SHOWS else None

    def _catch_up(self, now: int) -> list[Publish]:
        """CATCH_UP (and WHOLE, from no base): what the pillar needs on `delta` to reach the current frame from
        the one it shows: a delta, or the whole frame when none can be made (an offline pillar gets none, and one
        within the resend gap gets it when the gap ends). It is then taken to show the current frame (SENT)."""
        frame, base = self.current, self._base()
        if frame is None:
            return []
        old = self.recent.get(base) if base is not None else None
        if old is None or old.shape != frame.shape or self.sent.repeats >= 2:
            if not self.online or self._deferred(now):
                return []
            out = self._direct_full(now)
        else:
            out = self._delta(old, base or 0, now)
        self._shows = frame.hash
        self._step(ScreenEvent.SENT, now)  # it applies what it is sent
        self.answers.due = None
        self.sent.last_shown = frame.hash
        if out and self.acks.unacked_since is None:
            self.acks.unacked_since = now
        return out

    def _courtesy(self, now: int) -> list[Publish]:
        """COURTESY: the pillar took the retained frame; it also gets a delta from the last frame it acknowledged
        to the current one (never a whole frame), in case that null ack or offline status was not its own."""
        self._taken(now)
        frame, base = self.current, self.sent.last_shown
        old = self.recent.get(base) if base is not None else None
        if frame is None or base is None or old is None or old.shape != frame.shape:
            return []
        out = self._delta(old, base, now, whole=False)
        self.sent.last_shown = frame.hash
        return out

    def _resend(self, now: int) -> list[Publish]:
        """RESEND: what the pillar was sent went unacknowledged: the whole frame again, the next ack awaited longer."""
        self.acks.unacked_since = None
        self.acks.wait = min(ANSWER_GAP_MAX, self.acks.wait * 2)
        return self._catch_up(now)

    def _answer_behind(self, now: int) -> list[Publish]:
        """ANSWER_BEHIND: an answer, unless the pillar shows the current frame."""
        if self.current is not None and self._shows == self.current.hash:
            return []
        return self._answer(now, self._catch_up)

    def _settle(self, now: int) -> list[Publish]:
        """SETTLE: the pillar shows the current frame: deferred answers and the backoff end."""
        self.answers.due, self.sent.repeats, self.answers.streak = None, 0, 0
        self.answers.backoff.reset()
        return []

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
        return [Publish(self._topic("delta"), payloads[0], False, expiry=max(1, self.valid_until - now))]

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

    def show(self, frame: Frame, now: int, true_until: int | None = None, night: bool = False) -> list[Publish]:
        """Publishes for a newly rendered frame, true until `true_until` (exclusive; None: for frame_ttl);
        nothing when its content has not changed (its validity then moves on with the next tick). A `night`
        screen is valid until `true_until` at once, so nothing more is sent to the pillar during the night."""
        if self.current is not None and frame.hash == self.current.hash:
            self.extend_to(true_until)
            return []
        self.true_until = true_until
        self.night = night and true_until is not None
        self._event(ChannelEvent.SHOW)
        self.current = frame
        self.recent.pop(frame.hash, None)
        self.recent[frame.hash] = frame
        while len(self.recent) > KEPT_FRAMES:
            del self.recent[next(iter(self.recent))]
        self.sequence = min(max(self.sequence + 1, now), MAX_EPOCH)  # increases across restarts and owners (clocks in step)
        self.valid_until = self._validity(now)
        return self._board() + self._retained(now) + self._step(ScreenEvent.FRAME, now)

    def tick(self, now: int, margin: int) -> list[Publish]:
        """Send an answer deferred by the resend gap or the limits once they allow it, a whole frame again to a
        pillar that did not acknowledge what it was sent (waiting twice as long each time), and before the
        frame's validity runs out, extend it (the retained frame, and an empty delta to a pillar in sync)."""
        if self.current is None:
            return []
        out: list[Publish] = []
        if self.acks.unacked_since is not None and now - self.acks.unacked_since >= self.acks.wait and self.online:
            out += self._step(ScreenEvent.TIMEOUT, now)
        if self.answers.due is not None and now >= self.answers.due:
            self.answers.due = None
            out += self._step(ScreenEvent.DUE, now)
        if now < self.valid_until - margin or self._validity(now) <= self.valid_until:
            return out  # not due, or nothing to extend: the content changes when the validity ends
        self._event(ChannelEvent.TICK)
        self.valid_until = self._validity(now)
        return out + self._retained(now) + self._step(ScreenEvent.FRAME, now)

    def next_deadline(self, margin: int) -> int | None:
        """When tick() next has something to do."""
        if self.current is None:
            return None
        due = [self.valid_until - margin] if self.true_until is None or self.true_until - 1 > self.valid_until else []
        if self.answers.due is not None:
            due.append(self.answers.due)
        if self.acks.unacked_since is not None and self.online:
            due.append(self.acks.unacked_since + self.acks.wait)
        return min(due, default=None)

    def extend_to(self, true_until: int | None) -> None:
        """The current frame's content stays true until `true_until` (a board with the same pixels was rendered
        again): the next tick extends its validity that far."""
        if self.true_until is not None and (true_until is None or true_until > self.true_until):
            self.true_until = true_until

    def _answer(self, now: int, make: Callable[[int], list[Publish]], whole: bool = False) -> list[Publish]:
        """An answer to the pillar (`make(now)`), or nothing yet when the backoff, this pillar's token bucket, the
        one for all pillars or (for a `whole` frame) the resend gap say later: it is then due at that time
        (deferred, never dropped)."""
        answers = self.answers
        due = max(now, answers.backoff.ready_at(), int(-(-answers.bucket.ready_at(now) // 1)))
        if answers.total is not None:
            due = max(due, int(-(-answers.total.ready_at(now) // 1)))
        if whole:
            due = max(due, self.sent.last_full_at + FULL_FRAME_RESEND_GAP)
        if due > now:
            answers.due = due if answers.due is None else min(answers.due, due)
            answers.limited += 1
            answers.streak += 1
            answers.limited_at = now
            return []
        out = make(now)
        if out:
            answers.backoff.answered(now)
            answers.bucket.spend(now)
            if answers.total is not None:
                answers.total.spend(now, sum(len(p.payload) for p in out))
        return out

    def republish(self, now: int) -> list[Publish]:
        """Everything retained again (after a reconnect the broker may have lost it), and the whole frame to a
        pillar whose screen is unknown (a send to it may have been lost)."""
        if self.current is None:
            return []
        forecast = [self._forecast_publish(now)] if self.forecast_message and self.forecast_end >= now else []
        return self._board() + self._retained(now) + forecast + self._step(ScreenEvent.REPUBLISH, now)

    def unsent(self) -> None:
        """A delta to the pillar may not have reached the broker: what it shows is no longer known (the table
        names no action: the next republish, tick or frame sends the whole frame)."""
        self._move(ScreenEvent.UNSENT)

    def on_ack(self, ack: PillarAck, now: int) -> list[Publish]:
        """Record what the pillar shows; bring it to the current frame when it shows another one, and the
        retained frame again when it asks for it (answers back off while it makes no progress)."""
        if ack.seq is not None and ack.seq > max(self.sequence, now):
            raise ValueError(f"seq {ack.seq} names a frame this service never sent")
        self.facts.last_ack_at = now
        self._heard(ChannelEvent.ONLINE)
        if ack.seq is not None and self.acks.last_seq is not None and ack.seq < self.acks.last_seq and not ack.need_full:
            return []  # older than an ack already taken (a broker redelivering, or two acks crossing); a request for
            # a frame is always answered (a pillar that shows nothing must get one)
        if ack.seq is not None and ack.hash is not None:
            self.acks.last_seq = ack.seq
        self.acks.unacked_since, self.acks.wait = None, ACK_WAIT
        current = self.current is not None and not ack.need_full and ack.hash == self.current.hash
        self._event(ChannelEvent.ACK_CURRENT if current else ChannelEvent.ACK_OTHER)
        if ack.hash is not None:
            self.sent.last_shown = ack.hash
        return self._step(self._said(ack, current), now)

    def _said(self, ack: PillarAck, current: bool) -> ScreenEvent:
        """What the pillar's ack says of its screen (and the data that goes with it: the frame it shows, and how
        often it acked a delta's base instead of the delta)."""
        if ack.need_full and ack.hash is not None and self.current is not None:
            self._shows, self.sent.repeats = ack.hash, 2  # it shows a frame and cannot apply a delta: the whole frame
            return ScreenEvent.ASK_WHOLE  # on `delta` (it is not subscribed to frame)
        if ack.need_full or ack.hash is None:  # it is subscribed to the retained frame
            return ScreenEvent.ASK_RETAINED if ack.need_full and self.current is not None else ScreenEvent.ACK_NOTHING
        if self.current is not None and self.sent.delta == (ack.hash, self.current.hash):
            self.sent.repeats += 1  # it still shows that delta's base: refused (or lost); twice -> the whole frame
        self._shows = ack.hash
        return ScreenEvent.ACK_CURRENT if current else ScreenEvent.ACK_OTHER

    def on_status(self, status: PillarStatus, now: int | None = None) -> list[Publish]:
        """Record the pillar's status: what it reports, the packet limit and ticker it announces. An offline
        status (its Will, or a forged one) stops whole frames to it, not deltas from the frame it showed."""
        facts = self.facts
        if now is not None:
            facts.last_status_at = now
        event = ChannelEvent.ONLINE if status.online else ChannelEvent.OFFLINE
        self._heard(event)
        facts.status = {**facts.status, **status.details}  # an offline Will says nothing new: keep what was known
        self._event(event)
        if not status.online:
            return []
        facts.scrolls = status.details.get("ticker") is True
        limit = status.details.get("max_packet")
        before = self.packet_limit
        facts.max_packet = max(MIN_PILLAR_PACKET, limit) if isinstance(limit, int) else None
        if self.packet_limit != before and self.current is not None and now is not None:
            # chunked for its limit (it reads them while it shows nothing)
            return self._board() + self._retained(now) + self._step(ScreenEvent.RECHUNK, now)
        return []

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

    def _forecast_publish(self, now: int) -> Publish:
        expiry = max(1, self.forecast_end - now) if self.forecast_message else None
        return Publish(self._topic("next"), self.forecast_message, True, expiry=expiry)

    def clear(self) -> list[Publish]:
        """Empty retained messages that remove this display's frame, board and forecast from the broker."""
        self._event(ChannelEvent.REMOVE)
        topics = ["frame", "board", "next"] + [f"frame/{i}" for i in range(self.sent.retained_chunks)]
        return [Publish(self._topic(t), b"", True) for t in topics]

    def _nothing(self, now: int) -> list[Publish]:
        return []

    def _whole_answer(self, now: int) -> list[Publish]:
        return self._answer(now, self._catch_up)

    def _retained_again(self, now: int) -> list[Publish]:
        return self._answer(now, self._retained, whole=True)

    def _retained_to_it_answer(self, now: int) -> list[Publish]:
        return self._answer(now, self._retained_to_it, whole=True)

    _actions: dict[Action, Callable[[DisplayChannel, int], list[Publish]]] = {
        Action.NONE: _nothing, Action.TAKEN: _taken, Action.COURTESY: _courtesy, Action.WHOLE: _catch_up,
        Action.CATCH_UP: _catch_up, Action.RESEND: _resend, Action.RETAINED_AGAIN: _retained_again,
        Action.RETAINED_TO_IT: _retained_to_it_answer, Action.ANSWER: _whole_answer, Action.ANSWER_BEHIND: _answer_behind,
        Action.SETTLE: _settle,
    }


def _bounding(rects: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    if not rects:
        return (0, 0, 0, 0)
    x0 = min(r[0] for r in rects)
    y0 = min(r[1] for r in rects)
    x1 = max(r[0] + r[2] for r in rects)
    y1 = max(r[1] + r[3] for r in rects)
    return (x0, y0, x1 - x0, y1 - y0)
