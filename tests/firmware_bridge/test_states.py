"""The protocol's named states and its one transition table, at both ends."""

from __future__ import annotations

import dataclasses

import pytest
from speckit import spec
from test_protocol import NOW, frame_at, pair

from firmware_bridge import codec
from firmware_bridge.protocol import ChannelState, PillarState
from firmware_bridge.states import (
    TRANSITIONS,
    ChannelEvent,
    HashMismatch,
    LocalProtocolError,
    MalformedMessage,
    PillarEvent,
    transition,
)


def test_every_live_channel_state_takes_every_event_and_the_ends_take_none() -> None:
    for state in (ChannelState.IDLE, ChannelState.SENT, ChannelState.SYNCED):
        for event in ChannelEvent:
            if (state, event) == (ChannelState.IDLE, ChannelEvent.TICK):
                continue  # nothing to extend before the first frame: tick() never asks
            assert (state, event) in TRANSITIONS, (state, event)
    for state in (ChannelState.CLOSED, ChannelState.ERROR):
        for event in ChannelEvent:
            with pytest.raises(LocalProtocolError):
                transition(state, event)
    for pillar_state in PillarState:
        for pillar_event in PillarEvent:
            assert (pillar_state, pillar_event) in TRANSITIONS


def test_the_service_side_walks_its_states() -> None:
    bridge, pillar, link = pair()
    channel = bridge.channel("hbf-a")
    assert channel.state is ChannelState.IDLE
    link.connect_pillar(NOW)
    link.deliver(bridge.show("hbf-a", frame_at(NOW), NOW), NOW)
    assert channel.state is ChannelState.SYNCED and pillar.state is PillarState.SHOWING  # the two mirror
    assert channel.acked_hash == pillar.hash == frame_at(NOW).hash
    publishes = bridge.show("hbf-a", frame_at(NOW + 60), NOW + 60)
    assert channel.state is ChannelState.SENT and publishes[-1].topic.endswith("/delta")
    link.deliver(publishes, NOW + 60)
    assert channel.state is ChannelState.SYNCED
    bridge.receive("stopcast/v1/displays/hbf-a/status", b'{"state": "offline"}', NOW + 61)
    assert channel.state is ChannelState.SENT  # it must confirm again
    # (an offline status may be forged: the pillar, if it is there, still gets a delta from what it showed)
    assert bridge.show("hbf-a", frame_at(NOW + 120), NOW + 120)[-1].topic.endswith("/delta")
    bridge.remove("hbf-a")
    assert channel.state is ChannelState.CLOSED
    with pytest.raises(LocalProtocolError):
        channel.show(frame_at(NOW + 180), NOW + 180)  # a bug: the channel was removed
    assert channel.state is ChannelState.ERROR


@spec("P-11", "P-15")
def test_the_pillar_side_refuses_with_typed_errors_and_recovers() -> None:
    bridge, pillar, link = pair()
    topic = "stopcast/v1/displays/hbf-a/frame"
    (ask,) = pillar.receive(topic, b"not a frame at all, but long enough to be read" * 2, NOW)
    assert b'"need_full": true' in ask.payload  # it shows nothing: the retained frame did not do
    assert pillar.state is PillarState.ERROR and isinstance(pillar.last_error, MalformedMessage)
    good = next(p.payload for p in bridge.show("hbf-a", frame_at(NOW), NOW) if p.topic == topic)
    header = codec.parse_header(good)
    lying = dataclasses.replace(header, content_hash=header.content_hash ^ 1).pack() + good[codec.HEADER.size:]
    replies = pillar.receive(topic, lying, NOW)
    assert isinstance(pillar.last_error, HashMismatch) and b'"need_full": true' in replies[0].payload
    assert pillar.state is PillarState.ERROR and pillar.hash is None
    pillar.receive(topic, good, NOW)
    assert pillar.state is PillarState.SHOWING and pillar.hash == header.content_hash
    del link
