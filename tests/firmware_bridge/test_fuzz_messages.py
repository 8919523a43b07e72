"""Hostile MQTT messages: whatever a pillar (or anyone with broker access) publishes, the service's
end of the protocol answers with Rejected events, never an exception; likewise the pillar's end
for whatever arrives on its frame topics."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from speckit import spec
from test_protocol import PREFIX, frame_at, pair

from firmware_bridge import codec
from firmware_bridge.protocol import Bridge, PillarAck, PillarSession, PillarStatus, Rejected

NOW = 1_764_000_000
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
fields = st.sampled_from(["hash", "seq", "sequence", "base", "online", "state", "fw", "battery_v", "rssi", "need_full",
                          "shown", "error", "applied", "valid_until"])
ack_like = st.dictionaries(fields, json_values, max_size=6).map(lambda d: json.dumps(d).encode())
payloads = st.one_of(st.binary(max_size=200), ack_like, json_values.map(lambda v: json.dumps(v).encode()))
topics = st.one_of(
    st.sampled_from(
        [f"{PREFIX}/displays/hbf-a/{leaf}" for leaf in ("ack", "status", "frame", "delta", "board", "x", "")]
    ),
    st.builds(
        lambda d, leaf: f"{PREFIX}/displays/{d}/{leaf}",
        st.sampled_from(["hbf-a", "other", "+", "#", ""]),
        st.text(max_size=10),
    ),
    st.text(max_size=40),
)


@spec("P-20")
@given(topic=topics, payload=payloads, now=st.integers(-(2**63), 2**63 - 1))
def test_bridge_rejects_and_never_raises(topic: str, payload: bytes, now: int) -> None:
    bridge = Bridge(PREFIX, 256 * 1024, 600)
    bridge.channel("hbf-a")
    events, replies = bridge.receive(topic, payload, now)
    assert all(isinstance(e, (Rejected, PillarAck, PillarStatus)) for e in events)
    assert all(r.topic.startswith(f"{PREFIX}/displays/hbf-a/") for r in replies)


HEADER = frame_at(NOW)


@given(body=st.binary(max_size=300), header=st.binary(min_size=codec.HEADER.size, max_size=codec.HEADER.size),
       keep_header=st.booleans(), leaf=st.sampled_from(["frame", "delta", "frame/0", "frame/1"]))
def test_pillar_session_never_raises(body: bytes, header: bytes, keep_header: bool, leaf: str) -> None:
    bridge, pillar, link = pair()
    link.deliver(bridge.show("hbf-a", HEADER, NOW), NOW)  # a synced pillar, then garbage arrives
    good = next(p.payload for p in bridge.republish_all(NOW) if p.topic.endswith("/frame"))
    payload = (good[: codec.HEADER.size] if keep_header else header) + body
    replies = pillar.receive(f"{PREFIX}/displays/hbf-a/{leaf}", payload, NOW + 60)
    assert all(r.topic.startswith(f"{PREFIX}/displays/hbf-a/") for r in replies)
    assert isinstance(pillar, PillarSession)
