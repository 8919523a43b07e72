"""The pillar protocol's states and its one transition table, for both ends (as h11 keeps HTTP's).

The service keeps three states per display: `ChannelState` (its current frame, confirmed or not),
`Presence` (whether the pillar is there) and `Screen` (what the pillar shows, which decides what it
gets on `delta`); the pillar keeps a `PillarState`. The service's SYNCED is the pillar's SHOWING of
the same frame. Every change of state goes through `step`, which looks the (state, event) pair up in
the table and answers the next state and the action to take on the way (what is data of a state,
such as the hash the pillar shows, the channel keeps beside it); a pair that is not there is a
`LocalProtocolError` (a bug on our side) and moves the end to ERROR. What the other side sent and
cannot be used is a `RemoteProtocolError`: the pillar moves to ERROR or KEEPING and says what it
shows (asking for a whole frame unless a delta from it will do); the service answers the message with
a Rejected event.
"""

from __future__ import annotations

import enum
from typing import NamedTuple, TypeVar

__all__ = [
    "Action", "BaseMismatch", "ChannelEvent", "ChannelState", "HashMismatch", "LocalProtocolError", "MACHINES",
    "MalformedMessage", "PillarEvent", "PillarState", "Presence", "ProtocolError", "RemoteProtocolError", "Screen",
    "ScreenEvent", "TRANSITIONS", "Transition", "markdown", "step", "transition",
]


class ChannelState(enum.Enum):
    """The service's view of one display's frame: sent, and confirmed or not."""

    IDLE = "idle"  # no frame rendered yet
    SENT = "sent"  # the current frame went out (retained, and on `delta` if the pillar takes that); not confirmed
    SYNCED = "synced"  # the pillar confirmed the current frame
    CLOSED = "closed"  # the display was removed and its retained messages cleared
    ERROR = "error"  # an impossible event arrived (a bug); the channel sends nothing more


class ChannelEvent(enum.Enum):
    """What happens to a channel."""

    SHOW = "show"  # a newly rendered frame
    TICK = "tick"  # the frame's validity is about to run out: extend it
    ACK_CURRENT = "ack_current"  # the pillar shows the current frame
    ACK_OTHER = "ack_other"  # the pillar shows another frame, or asks for a full one
    ONLINE = "online"  # the pillar's status says online (an ack says so too)
    OFFLINE = "offline"  # the pillar's status says offline (or its Last Will fired)
    REMOVE = "remove"  # the display leaves the config


class Presence(enum.Enum):
    """Whether the pillar is there, as its last status (or ack) said: a whole frame goes only to one that is."""

    OFFLINE = "offline"  # no status yet, or offline (its Will, or a forged one): deltas only, no ack awaited
    ONLINE = "online"


class Screen(enum.Enum):
    """What the service knows of the pillar's screen; it decides what the pillar gets on `delta`."""

    NEW = "new"  # not known since this instance took the display: the whole frame on `delta`
    RETAINED = "retained"  # it shows nothing and takes the retained frame (its null ack, or its request)
    SHOWS = "shows"  # it shows the frame `pillar_hash` (the current one once sent): deltas from it
    LOST = "lost"  # it was taken to show `pillar_hash`, but a send to it may have been lost: the whole frame


class ScreenEvent(enum.Enum):
    """What moves the service's view of the pillar's screen."""

    FRAME = "frame"  # a new current frame, or its validity extended: the retained frame was published again
    SENT = "sent"  # the current frame went to it on `delta` (whole or as a delta): it applies it
    REPUBLISH = "republish"  # after a reconnect: the retained messages again
    RECHUNK = "rechunk"  # its packet limit changed: the retained frame again, in chunks it can take
    DUE = "due"  # an answer deferred by the resend gap or the limits is due
    TIMEOUT = "timeout"  # what it was sent went unacknowledged for ack_wait (an online pillar)
    UNSENT = "unsent"  # a delta to it may not have reached the broker
    ACK_NOTHING = "ack_nothing"  # its ack: it shows nothing (or asks with no frame here to send)
    ASK_RETAINED = "ask_retained"  # its ack: it shows nothing and asks for a frame
    ASK_WHOLE = "ask_whole"  # its ack: it shows a frame, and asks for a whole one (it cannot apply a delta)
    ACK_CURRENT = "ack_current"  # its ack: it shows the current frame
    ACK_OTHER = "ack_other"  # its ack: it shows another frame


class Action(enum.Enum):
    """What the channel does for the pillar on a transition (firmware_bridge/channel.py runs it)."""

    NONE = "none"
    TAKEN = "taken"  # the retained frame just published counts as a whole frame sent to it
    COURTESY = "courtesy"  # taken, and a delta from the frame it last acknowledged (its null ack may be forged)
    WHOLE = "whole"  # the whole frame on `delta`: only when online, at most once per resend gap (else due then)
    CATCH_UP = "catch_up"  # a delta from the frame it shows (the whole frame when no delta can be made)
    RESEND = "resend"  # the whole frame again, and the next ack awaited twice as long
    RETAINED_AGAIN = "retained_again"  # the retained frame again, when the limits and the resend gap allow
    RETAINED_TO_IT = "retained_to_it"  # the same, taken by it
    ANSWER = "answer"  # catch_up, when the limits allow (else due then)
    ANSWER_BEHIND = "answer_behind"  # answer, unless it shows the current frame
    SETTLE = "settle"  # it is in step: deferred answers and the backoff end
    SHOW = "show"  # (pillar) show the frame, ack it
    IGNORE = "ignore"  # (pillar) nothing: an older frame, or an earlier owner's
    ASK = "ask"  # (pillar) ack what it shows, asking for a whole frame unless a delta from it will do (for a frame
    # or delta; a refused ticker or forecast is only recorded)
    BLANK = "blank"  # (pillar) "no current data", ack nothing: the retained frame comes


class PillarState(enum.Enum):
    """The pillar's view of its display."""

    WAITING = "waiting"  # no verified frame (yet, or its validity ran out): it takes the retained frame
    SHOWING = "showing"  # a verified frame (current while its validity lasts)
    KEEPING = "keeping"  # the last message could not be verified: it keeps showing its last good frame, and
    # said which (a delta from it will do, unless what it refused was a whole frame or one it could not read)
    ERROR = "error"  # the last message could not be verified and it shows nothing: it asked for a whole frame


class PillarEvent(enum.Enum):
    """What happens to a pillar."""

    VERIFIED = "verified"  # a frame or delta applied, and its hash matched
    LATE = "late"  # an older frame (or one from an earlier owner) arrived after a newer one: ignored
    REFUSED = "refused"  # a message that could not be decoded or verified
    EXPIRED = "expired"  # the shown frame's validity ran out: "no current data", and wait for a frame


class Transition(NamedTuple):
    """Where a (state, event) pair leads, and what the end does on the way."""

    next: enum.Enum
    action: Action = Action.NONE


C, E, Pr, S, SE, A = ChannelState, ChannelEvent, Presence, Screen, ScreenEvent, Action
P, V = PillarState, PillarEvent
T = Transition


def _screen_rows() -> dict[tuple[enum.Enum, enum.Enum], Transition]:
    """The service's view of the pillar's screen: one row per state (what its ack says moves every state alike)."""
    rows: dict[tuple[enum.Enum, enum.Enum], Transition] = {}
    per_state = {
        S.NEW: {SE.FRAME: T(S.NEW, A.WHOLE), SE.SENT: T(S.SHOWS), SE.REPUBLISH: T(S.NEW, A.WHOLE),
                SE.RECHUNK: T(S.NEW), SE.DUE: T(S.NEW, A.RETAINED_AGAIN), SE.TIMEOUT: T(S.NEW, A.RESEND),
                SE.UNSENT: T(S.NEW)},
        S.RETAINED: {SE.FRAME: T(S.RETAINED, A.COURTESY), SE.REPUBLISH: T(S.RETAINED, A.TAKEN),
                     SE.RECHUNK: T(S.RETAINED, A.TAKEN), SE.DUE: T(S.RETAINED, A.RETAINED_TO_IT),
                     SE.TIMEOUT: T(S.NEW, A.RESEND), SE.UNSENT: T(S.NEW)},
        S.SHOWS: {SE.FRAME: T(S.SHOWS, A.CATCH_UP), SE.SENT: T(S.SHOWS), SE.REPUBLISH: T(S.SHOWS),
                  SE.RECHUNK: T(S.SHOWS), SE.DUE: T(S.SHOWS, A.ANSWER_BEHIND), SE.TIMEOUT: T(S.LOST, A.RESEND),
                  SE.UNSENT: T(S.LOST)},
        S.LOST: {SE.FRAME: T(S.LOST, A.WHOLE), SE.SENT: T(S.SHOWS), SE.REPUBLISH: T(S.LOST, A.WHOLE),
                 SE.RECHUNK: T(S.LOST), SE.DUE: T(S.LOST, A.ANSWER), SE.TIMEOUT: T(S.LOST, A.RESEND),
                 SE.UNSENT: T(S.LOST)},
    }
    said = {
        SE.ACK_NOTHING: T(S.RETAINED),
        SE.ASK_RETAINED: T(S.RETAINED, A.RETAINED_TO_IT),
        SE.ASK_WHOLE: T(S.SHOWS, A.ANSWER),
        SE.ACK_CURRENT: T(S.SHOWS, A.SETTLE),
        SE.ACK_OTHER: T(S.SHOWS, A.ANSWER),
    }
    for state, moves in per_state.items():
        for event, move in {**moves, **said}.items():
            rows[(state, event)] = move
    return rows


TRANSITIONS: dict[tuple[enum.Enum, enum.Enum], Transition] = {
    # the service's side: the current frame, confirmed or not
    (C.IDLE, E.SHOW): T(C.SENT),
    (C.SENT, E.SHOW): T(C.SENT),
    (C.SYNCED, E.SHOW): T(C.SENT),  # what the pillar gets is the Screen's to say: a delta, or the whole frame
    (C.SENT, E.TICK): T(C.SENT),
    (C.SYNCED, E.TICK): T(C.SYNCED),
    (C.IDLE, E.ACK_CURRENT): T(C.IDLE),
    (C.IDLE, E.ACK_OTHER): T(C.IDLE),
    (C.SENT, E.ACK_CURRENT): T(C.SYNCED),
    (C.SYNCED, E.ACK_CURRENT): T(C.SYNCED),
    (C.SENT, E.ACK_OTHER): T(C.SENT),
    (C.SYNCED, E.ACK_OTHER): T(C.SENT),
    (C.IDLE, E.ONLINE): T(C.IDLE),
    (C.SENT, E.ONLINE): T(C.SENT),
    (C.SYNCED, E.ONLINE): T(C.SYNCED),
    (C.IDLE, E.OFFLINE): T(C.IDLE),
    (C.SENT, E.OFFLINE): T(C.SENT),
    (C.SYNCED, E.OFFLINE): T(C.SENT),  # it must confirm again
    (C.IDLE, E.REMOVE): T(C.CLOSED),
    (C.SENT, E.REMOVE): T(C.CLOSED),
    (C.SYNCED, E.REMOVE): T(C.CLOSED),
    # the service's side: whether the pillar is there
    (Pr.OFFLINE, E.ONLINE): T(Pr.ONLINE),
    (Pr.ONLINE, E.ONLINE): T(Pr.ONLINE),
    (Pr.OFFLINE, E.OFFLINE): T(Pr.OFFLINE),
    (Pr.ONLINE, E.OFFLINE): T(Pr.OFFLINE),
    # the service's side: what the pillar's screen shows, and what it gets on `delta`
    **_screen_rows(),
    # the pillar's side
    (P.WAITING, V.VERIFIED): T(P.SHOWING, A.SHOW),
    (P.SHOWING, V.VERIFIED): T(P.SHOWING, A.SHOW),
    (P.KEEPING, V.VERIFIED): T(P.SHOWING, A.SHOW),
    (P.ERROR, V.VERIFIED): T(P.SHOWING, A.SHOW),
    (P.WAITING, V.LATE): T(P.WAITING, A.IGNORE),
    (P.SHOWING, V.LATE): T(P.SHOWING, A.IGNORE),
    (P.KEEPING, V.LATE): T(P.KEEPING, A.IGNORE),
    (P.ERROR, V.LATE): T(P.ERROR, A.IGNORE),
    (P.WAITING, V.REFUSED): T(P.ERROR, A.ASK),
    (P.SHOWING, V.REFUSED): T(P.KEEPING, A.ASK),  # it keeps showing its last good frame meanwhile
    (P.KEEPING, V.REFUSED): T(P.KEEPING, A.ASK),
    (P.ERROR, V.REFUSED): T(P.ERROR, A.ASK),
    (P.WAITING, V.EXPIRED): T(P.WAITING, A.BLANK),
    (P.SHOWING, V.EXPIRED): T(P.WAITING, A.BLANK),
    (P.KEEPING, V.EXPIRED): T(P.WAITING, A.BLANK),
    (P.ERROR, V.EXPIRED): T(P.WAITING, A.BLANK),
}
MACHINES: tuple[tuple[type[enum.Enum], type[enum.Enum]], ...] = (
    (ChannelState, ChannelEvent), (Presence, ChannelEvent), (Screen, ScreenEvent), (PillarState, PillarEvent))


class ProtocolError(Exception):
    """A message or event the protocol cannot take."""


class LocalProtocolError(ProtocolError):
    """Our own code asked for a transition the table does not have."""


class RemoteProtocolError(ProtocolError):
    """The other side sent something that cannot be used."""


class MalformedMessage(RemoteProtocolError):
    """Not a message of the contract (header, body, JSON), or on a topic a pillar may not use."""


class BaseMismatch(RemoteProtocolError):
    """A delta for a frame other than the one shown."""


class HashMismatch(RemoteProtocolError):
    """The result's content hash differs from the one the header promises."""


class Unauthentic(RemoteProtocolError):
    """Not from the service: unsigned or wrongly signed for a display with a key, or an epoch or sequence
    implausibly far ahead of the pillar's clock."""


_State = TypeVar("_State", bound=enum.Enum)


def step(state: _State, event: enum.Enum) -> tuple[_State, Action]:
    """The state after `event` and the action on the way; LocalProtocolError when the table has no such transition."""
    found = TRANSITIONS.get((state, event))
    if found is None:
        raise LocalProtocolError(f"no transition from {state.name} on {event.name}")
    return found.next, found.action  # type: ignore[return-value]


def transition(state: _State, event: enum.Enum) -> _State:
    """The state after `event`; LocalProtocolError when the table has no such transition."""
    return step(state, event)[0]


def markdown(states: type[enum.Enum], events: type[enum.Enum]) -> str:
    """One machine's part of the table as a Markdown table (docs/architecture.md holds them; a test compares):
    a row per state, a column per event, each cell `NEXT` or `NEXT, action`, `–` where there is no transition."""
    used = [e for e in events if any((s, e) in TRANSITIONS for s in states)]
    lines = ["| state \\ event | " + " | ".join(e.name for e in used) + " |", "|---" * (len(used) + 1) + "|"]
    for state in states:
        cells = []
        for event in used:
            found = TRANSITIONS.get((state, event))
            cells.append("–" if found is None else found.next.name + (
                "" if found.action is Action.NONE else f", {found.action.value}"))
        lines.append(f"| {state.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
