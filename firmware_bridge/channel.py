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

from .framing import FULL_FRAME_RESEND_GAP, MAX_EPOCH, FrameMessages, PillarFacts, Sent
from .limits import ANSWER_GAP_MAX, PILLAR_ANSWERS, Backoff, TokenBucket
from .messages import Frame, PillarAck, PillarStatus, PillarView, Publish
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

__all__ = ["Acks", "Answers", "DisplayChannel", "FULL_FRAME_RESEND_GAP", "MAX_EPOCH", "PillarFacts", "Sent"]

ACK_WAIT = 15  # seconds: what a pillar was sent and did not acknowledge by then is taken as lost
MIN_PILLAR_PACKET = 1024  # bytes: the smallest packet limit a pillar's status may announce (smaller is taken as this)


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
class Acks:
    """The pillar's acks: the one awaited, and the newest taken."""

    unacked_since: int | None = None  # since when the pillar owes an ack for what it was sent
    wait: int = ACK_WAIT  # doubles with each whole frame sent again for a missing ack
    last_seq: int | None = None  # the highest `seq` the pillar acknowledged (a restarted pillar's acks count
    # again once it shows a frame: sequence numbers only grow)


class DisplayChannel(FrameMessages):
    """The service's side of one display: what was sent, what the pillar shows. It decides by its three states
    (`state`, the pillar's presence and screen), which move only through the table in states.py; what else it
    keeps is data (of a state, or for the messages, firmware_bridge/framing.py: sequence numbers, partial updates,
    chunks)."""

    def __init__(self, display_id: str, prefix: str, max_packet: int, frame_ttl: int, full_refresh_every: int = 10,
                 epoch: int = 0, key: bytes = b"", total: TokenBucket | None = None) -> None:
        super().__init__(display_id, prefix, max_packet, frame_ttl, full_refresh_every, epoch, key)
        self.state = ChannelState.IDLE
        self._screen = Screen.NEW
        self._shows: int | None = None  # the hash the pillar shows (data of SHOWS; of LOST: what it last did)
        self.answers = Answers(total=total)
        self.acks = Acks()

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

    def show(self, frame: Frame, now: int, true_until: int | None = None, night: bool = False) -> list[Publish]:
        """Publishes for a newly rendered frame, true until `true_until` (exclusive; None: for frame_ttl);
        nothing when its content has not changed (its validity then moves on with the next tick). A `night`
        screen is valid until `true_until` at once, so nothing more is sent to the pillar during the night."""
        if self.current is not None and frame.hash == self.current.hash:
            self.extend_to(true_until)
            return []
        self._event(ChannelEvent.SHOW)
        self._take(frame, now, true_until, night)
        board = self.set_board(frame.board_json, lambda: frame.board_json) if frame.board_json else []
        return board + self._retained(now) + self._step(ScreenEvent.FRAME, now)

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
        if (ack.seq is not None and self.acks.last_seq is not None
                and ack.seq < self.acks.last_seq and not ack.need_full):
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
        Action.NONE: _nothing,
        Action.TAKEN: _taken,
        Action.COURTESY: _courtesy,
        Action.WHOLE: _catch_up,
        Action.CATCH_UP: _catch_up,
        Action.RESEND: _resend,
        Action.RETAINED_AGAIN: _retained_again,
        Action.RETAINED_TO_IT: _retained_to_it_answer,
        Action.ANSWER: _whole_answer,
        Action.ANSWER_BEHIND: _answer_behind,
        Action.SETTLE: _settle,
    }
