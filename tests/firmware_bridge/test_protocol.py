"""The sans-I/O pillar protocol, both ends connected in memory."""

from __future__ import annotations

import json

import numpy as np
import pytest
from boardkit import NOW, TZ, stop_departures
from memory_link import Link

from firmware_bridge import codec
from firmware_bridge.protocol import Bridge, Frame, PillarAck, PillarSession, PillarState, Rejected
from firmware_bridge.states import BaseMismatch
from layouts.board import BoardInput, DisplaySettings, build_board
from layouts.image import render_image
from layouts.spec import load_layout

PREFIX = "stopcast/v1"
EPAPER = load_layout("epaper-800x480")


STEADY = stop_departures().departures[1:]  # nothing leaves within the next minutes: a plain countdown tick


def frame_at(now: int, spec=EPAPER, deps=STEADY) -> Frame:  # type: ignore[no-untyped-def]
    data = BoardInput(stop_departures(deps), TZ, data_as_of=now - 20, realtime_configured=True)
    board = build_board(spec, DisplaySettings(), data, now)
    encoding = codec.default_encoding(spec.color_mode)
    return Frame.of(codec.raster_of(render_image(board, spec), spec.color_mode), spec.color_mode, encoding, True, b'{"board": 1}')


def pair(ttl: int = 600, max_packet: int = 256 * 1024) -> tuple[Bridge, PillarSession, Link]:
    bridge = Bridge(PREFIX, max_packet, ttl)
    bridge.channel("hbf-a")
    pillar = PillarSession("hbf-a", PREFIX)
    return bridge, pillar, Link(bridge, pillar)


def test_first_frame_is_full_retained_and_acknowledged() -> None:
    bridge, pillar, link = pair()
    link.connect_pillar(NOW)
    first = frame_at(NOW)
    link.deliver(bridge.show("hbf-a", first, NOW), NOW)
    assert pillar.hash == first.hash and np.array_equal(pillar.raster, first.raster)
    assert set(link.retained) == {f"{PREFIX}/displays/hbf-a/frame", f"{PREFIX}/displays/hbf-a/board", f"{PREFIX}/displays/hbf-a/status"}
    assert bridge.channels["hbf-a"].acked_hash == first.hash
    assert pillar.full_refresh


def test_unchanged_content_is_never_published() -> None:
    bridge, _, link = pair()
    link.connect_pillar(NOW)
    link.deliver(bridge.show("hbf-a", frame_at(NOW), NOW), NOW)
    assert bridge.show("hbf-a", frame_at(NOW + 5), NOW + 5) == []  # same minute: same pixels


def test_minute_tick_sends_a_small_delta() -> None:
    bridge, pillar, link = pair()
    link.connect_pillar(NOW)
    link.deliver(bridge.show("hbf-a", frame_at(NOW), NOW), NOW)
    full_bytes = link.to_pillar_bytes
    link.to_pillar_bytes = 0
    publishes = bridge.show("hbf-a", frame_at(NOW + 60), NOW + 60)
    assert [p.topic.rsplit("/", 1)[1] for p in publishes] == ["board", "delta"]
    link.deliver(publishes, NOW + 60)
    assert pillar.hash == frame_at(NOW + 60).hash
    delta_bytes = len(publishes[1].payload)
    assert delta_bytes <= 0.25 * full_bytes, (delta_bytes, full_bytes)


def test_pillar_with_a_wrong_base_asks_and_gets_a_full_frame() -> None:
    bridge, pillar, link = pair()
    link.connect_pillar(NOW)
    link.deliver(bridge.show("hbf-a", frame_at(NOW), NOW), NOW)
    pillar.raster, pillar.hash = None, None  # rebooted without the service noticing
    second = frame_at(NOW + 60)
    publishes = bridge.show("hbf-a", second, NOW + 60)
    assert publishes[-1].topic.endswith("/delta")
    link.deliver(publishes, NOW + 60)
    assert isinstance(pillar.last_error, BaseMismatch) and "delta for base" in str(pillar.last_error)
    assert pillar.refused == 1
    assert any(isinstance(e, PillarAck) and e.need_full for e in link.events)
    assert pillar.hash == second.hash and pillar.state is PillarState.SHOWING  # the full frame followed the request


def test_unacknowledged_delta_means_the_next_update_is_full() -> None:
    bridge, pillar, link = pair()
    link.connect_pillar(NOW)
    link.deliver(bridge.show("hbf-a", frame_at(NOW), NOW), NOW)
    link.pillar_connected = False  # the delta is lost on the mobile link, so no ack comes back
    link.deliver(bridge.show("hbf-a", frame_at(NOW + 60), NOW + 60), NOW + 60)
    link.pillar_connected = True
    third = frame_at(NOW + 120)
    publishes = bridge.show("hbf-a", third, NOW + 120)
    assert publishes[-1].topic.endswith("/frame")
    link.deliver(publishes, NOW + 120)
    assert pillar.hash == third.hash


def test_reconnecting_pillar_gets_current_frame_from_retained() -> None:
    bridge, pillar, link = pair()
    first = frame_at(NOW)
    link.deliver(bridge.show("hbf-a", first, NOW), NOW)  # nobody listening yet
    link.connect_pillar(NOW + 1)
    assert pillar.hash == first.hash


def test_large_frames_are_chunked_and_reassembled_and_old_chunks_cleared() -> None:
    bridge, pillar, link = pair(max_packet=2000)
    link.connect_pillar(NOW)
    tft = load_layout("tft-320x240")
    frame = frame_at(NOW, tft)
    link.deliver(bridge.show("hbf-a", frame, NOW), NOW)
    chunks = [t for t in link.retained if "/frame/" in t]
    assert len(chunks) > 5 and f"{PREFIX}/displays/hbf-a/frame" not in link.retained
    assert pillar.hash == frame.hash
    assert all(len(p) <= 2000 for p in link.retained.values())
    bridge.max_packet = bridge.channels["hbf-a"].max_packet = 1 << 20
    link.deliver(bridge.channels["hbf-a"].republish(NOW + 1), NOW + 1)
    assert not [t for t in link.retained if "/frame/" in t] and f"{PREFIX}/displays/hbf-a/frame" in link.retained


def test_validity_is_extended_before_expiry_and_lapses_without_service() -> None:
    bridge, pillar, link = pair(ttl=300)
    link.connect_pillar(NOW)
    link.deliver(bridge.show("hbf-a", frame_at(NOW), NOW), NOW)
    assert pillar.is_current(NOW + 299) and not pillar.is_current(NOW + 301)
    assert bridge.tick(NOW + 100) == []
    heartbeat = bridge.tick(NOW + 250)
    assert [p.topic.rsplit("/", 1)[1] for p in heartbeat] == ["delta"] and len(heartbeat[0].payload) < 100
    link.deliver(heartbeat, NOW + 250)
    assert pillar.is_current(NOW + 500)


def test_e_paper_gets_a_full_refresh_after_n_partial_updates() -> None:
    bridge, pillar, link = pair()
    bridge.channel("hbf-a", full_refresh_every=3)
    link.connect_pillar(NOW)
    flags = []
    for minute in range(7):
        link.deliver(bridge.show("hbf-a", frame_at(NOW + 60 * minute), NOW + 60 * minute, full_refresh_every=3), NOW + 60 * minute)
        flags.append(pillar.full_refresh)
    assert flags == [True, False, False, True, False, False, True]


@pytest.mark.parametrize(
    ("leaf", "payload", "reason"),
    [
        ("ack", b"not json", "not JSON"),
        ("ack", b'{"hash": "xyz"}', "hash must be 8 hex digits or null"),
        ("ack", b"[1, 2]", "not a JSON object"),
        ("status", b'{"state": "sleeping"}', "state must be online or offline"),
        ("status", b"{" + b" " * 5000 + b"}", "exceeds 2048"),
        ("frame", b"hello", "pillars may not publish to 'frame'"),
    ],
)
def test_malformed_pillar_messages_are_rejected_not_raised(leaf: str, payload: bytes, reason: str) -> None:
    bridge, _, _ = pair()
    events, replies = bridge.receive(f"{PREFIX}/displays/hbf-a/{leaf}", payload, NOW)
    assert replies == [] and len(events) == 1 and isinstance(events[0], Rejected)
    assert reason in events[0].reason


def test_unknown_display_and_status_details() -> None:
    bridge, _, _ = pair()
    events, _ = bridge.receive(f"{PREFIX}/displays/ghost/ack", b'{"hash": null}', NOW)
    assert isinstance(events[0], Rejected)
    status = json.dumps({"state": "online", "fw": "1.2.0", "battery_v": 3.91, "rssi": -71, "evil": "<script>"}).encode()
    events, _ = bridge.receive(f"{PREFIX}/displays/hbf-a/status", status, NOW)
    assert bridge.channels["hbf-a"].online and bridge.channels["hbf-a"].status == {"fw": "1.2.0", "battery_v": 3.91, "rssi": -71}


def test_corrupt_frame_is_not_shown_and_a_full_frame_is_requested() -> None:
    _, pillar, _ = pair()
    frame = frame_at(NOW)
    bridge = Bridge(PREFIX, 1 << 20, 600)
    (msg,) = [p for p in bridge.show("hbf-a", frame, NOW) if p.topic.endswith("/frame")]
    broken = msg.payload[:-10] + bytes(10)
    replies = pillar.receive(msg.topic, broken, NOW)
    assert pillar.raster is None and json.loads(replies[0].payload)["need_full"] is True
    assert pillar.receive(msg.topic, msg.payload, NOW) and pillar.hash == frame.hash
