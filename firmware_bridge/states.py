"""The pillar protocol's states and its one transition table, for both ends (as h11 keeps HTTP's).

The service keeps a `ChannelState` per display, the pillar a `PillarState`; they mirror each other:
the service's SYNCED is the pillar's SHOWING of the same frame. Every change of state goes through
`transition`, which looks the (state, event) pair up in the table; a pair that is not there is a
`LocalProtocolError` (a bug on our side) and moves the end to ERROR. What the other side sent and
cannot be used is a `RemoteProtocolError`: the pillar moves to ERROR and asks for a full frame,
the service answers the message with a Rejected event.
"""

from __future__ import annotations

import enum

__all__ = [
    "BaseMismatch", "ChannelEvent", "ChannelState", "HashMismatch", "LocalProtocolError", "MalformedMessage",
    "PillarEvent", "PillarState", "ProtocolError", "RemoteProtocolError", "TRANSITIONS", "transition",
]


class ChannelState(enum.Enum):
    """The service's view of one display."""

    IDLE = "idle"  # no frame rendered yet
    SENT = "sent"  # the current frame went out; the pillar has not confirmed it (full frames only)
    SYNCED = "synced"  # the pillar confirmed the current frame: the next change may go as a delta
    CLOSED = "closed"  # the display was removed and its retained messages cleared
    ERROR = "error"  # an impossible event arrived (a bug); the channel sends nothing more


class ChannelEvent(enum.Enum):
    """What happens to a channel."""

    SHOW = "show"  # a newly rendered frame
    TICK = "tick"  # the frame's validity is about to run out: extend it
    ACK_CURRENT = "ack_current"  # the pillar shows the current frame
    ACK_OTHER = "ack_other"  # the pillar shows another frame, or asks for a full one
    ONLINE = "online"  # the pillar's status says online
    OFFLINE = "offline"  # the pillar's status says offline (or its Last Will fired)
    REMOVE = "remove"  # the display leaves the config


class PillarState(enum.Enum):
    """The pillar's view of its display."""

    WAITING = "waiting"  # no verified frame (yet, or its validity ran out): it takes the retained frame
    SHOWING = "showing"  # a verified frame (current while its validity lasts)
    ERROR = "error"  # the last message could not be verified: it said what it shows instead


class PillarEvent(enum.Enum):
    """What happens to a pillar."""

    VERIFIED = "verified"  # a frame or delta applied, and its hash matched
    LATE = "late"  # an older frame (or one from an earlier owner) arrived after a newer one: ignored
    REFUSED = "refused"  # a message that could not be decoded or verified
    EXPIRED = "expired"  # the shown frame's validity ran out: "no current data", and wait for a frame


C, E, P, V = ChannelState, ChannelEvent, PillarState, PillarEvent
TRANSITIONS: dict[tuple[enum.Enum, enum.Enum], enum.Enum] = {
    # the service's side
    (C.IDLE, E.SHOW): C.SENT,
    (C.SENT, E.SHOW): C.SENT,
    (C.SYNCED, E.SHOW): C.SENT,  # a delta or a full frame went out; it is confirmed by the next ack
    (C.SENT, E.TICK): C.SENT,
    (C.SYNCED, E.TICK): C.SYNCED,
    (C.IDLE, E.ACK_CURRENT): C.IDLE,
    (C.IDLE, E.ACK_OTHER): C.IDLE,
    (C.SENT, E.ACK_CURRENT): C.SYNCED,
    (C.SYNCED, E.ACK_CURRENT): C.SYNCED,
    (C.SENT, E.ACK_OTHER): C.SENT,
    (C.SYNCED, E.ACK_OTHER): C.SENT,
    (C.IDLE, E.ONLINE): C.IDLE,
    (C.SENT, E.ONLINE): C.SENT,
    (C.SYNCED, E.ONLINE): C.SYNCED,
    (C.IDLE, E.OFFLINE): C.IDLE,
    (C.SENT, E.OFFLINE): C.SENT,
    (C.SYNCED, E.OFFLINE): C.SENT,  # it must confirm again before deltas
    (C.IDLE, E.REMOVE): C.CLOSED,
    (C.SENT, E.REMOVE): C.CLOSED,
    (C.SYNCED, E.REMOVE): C.CLOSED,
    # the pillar's side
    (P.WAITING, V.VERIFIED): P.SHOWING,
    (P.SHOWING, V.VERIFIED): P.SHOWING,
    (P.ERROR, V.VERIFIED): P.SHOWING,
    (P.WAITING, V.LATE): P.WAITING,
    (P.SHOWING, V.LATE): P.SHOWING,
    (P.ERROR, V.LATE): P.ERROR,
    (P.WAITING, V.REFUSED): P.ERROR,
    (P.SHOWING, V.REFUSED): P.ERROR,  # it keeps showing its last good frame meanwhile
    (P.ERROR, V.REFUSED): P.ERROR,
    (P.WAITING, V.EXPIRED): P.WAITING,
    (P.SHOWING, V.EXPIRED): P.WAITING,
    (P.ERROR, V.EXPIRED): P.WAITING,
}


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


def transition(state: enum.Enum, event: enum.Enum) -> enum.Enum:
    """The state after `event`; LocalProtocolError when the table has no such transition."""
    found = TRANSITIONS.get((state, event))
    if found is None:
        raise LocalProtocolError(f"no transition from {state.name} on {event.name}")
    return found
