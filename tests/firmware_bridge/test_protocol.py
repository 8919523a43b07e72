"""The sans-I/O pillar protocol, both ends connected in memory."""

from __future__ import annotations

import json

import numpy as np
import pytest
from boardkit import NOW, TZ, stop_departures
from memory_link import Link
from speckit import spec

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
    return Frame.of(
        codec.raster_of(render_image(board, spec), spec.color_mode), spec.color_mode, encoding, True,
        json.dumps({"clock_text": board.clock_text, "rows": len(board.rows)}).encode(),  # a new board, a new JSON
    )


def pair(ttl: int = 600, max_packet: int = 256 * 1024) -> tuple[Bridge, PillarSession, Link]:
    bridge = Bridge(PREFIX, max_packet, ttl)
    bridge.channel("hbf-a")
    pillar = PillarSession("hbf-a", PREFIX)
    return bridge, pillar, Link(bridge, pillar)


@spec("P-37", "P-38")
def test_first_frame_is_full_retained_and_acknowledged() -> None:
    bridge, pillar, link = pair()
    link.connect_pillar(NOW)
    first = frame_at(NOW)
    link.deliver(bridge.show("hbf-a", first, NOW), NOW)
    assert pillar.hash == first.hash and np.array_equal(pillar.raster, first.raster)
    assert set(link.retained) == {
        f"{PREFIX}/displays/hbf-a/frame",
        f"{PREFIX}/displays/hbf-a/board",
        f"{PREFIX}/displays/hbf-a/status",
    }
    assert bridge.channels["hbf-a"].acked_hash == first.hash
    assert pillar.full_refresh


@spec("P-36")
def test_unchanged_content_is_never_published() -> None:
    bridge, _, link = pair()
    link.connect_pillar(NOW)
    link.deliver(bridge.show("hbf-a", frame_at(NOW), NOW), NOW)
    assert bridge.show("hbf-a", frame_at(NOW + 5), NOW + 5) == []  # same minute: same pixels


def leaves(publishes: list) -> list[str]:  # type: ignore[type-arg]
    return [p.topic.removeprefix(f"{PREFIX}/displays/hbf-a/") for p in publishes]


def retained_frame(link: Link) -> codec.Header:
    return codec.parse_header(link.retained[f"{PREFIX}/displays/hbf-a/frame"])


@spec("P-37")
def test_minute_tick_sends_a_small_delta_and_keeps_the_retained_frame_current() -> None:
    bridge, pillar, link = pair()
    link.connect_pillar(NOW)
    link.deliver(bridge.show("hbf-a", frame_at(NOW), NOW), NOW)
    full_bytes = link.to_pillar_bytes
    link.to_pillar_bytes = 0
    second = frame_at(NOW + 60)
    publishes = bridge.show("hbf-a", second, NOW + 60)
    assert leaves(publishes) == ["board", "frame", "delta"]
    link.deliver(publishes, NOW + 60)
    assert pillar.hash == second.hash
    assert (
        link.to_pillar_bytes == len(publishes[2].payload) <= 0.25 * full_bytes
    )  # the retained frame is not sent to it
    assert retained_frame(link).content_hash == second.hash  # a pillar joining now finds the current frame


@spec("P-13", "P-39")
def test_pillar_showing_another_frame_says_so_and_gets_what_it_lacks() -> None:
    bridge, pillar, link = pair()
    link.connect_pillar(NOW)
    link.deliver(bridge.show("hbf-a", frame_at(NOW), NOW), NOW)
    other = frame_at(NOW, deps=STEADY[1:])  # it shows a frame the service never sent (flash from another day)
    pillar.raster, pillar.hash = other.raster, other.hash
    link.events.clear()
    second = frame_at(NOW + 60)
    link.deliver(bridge.show("hbf-a", second, NOW + 60), NOW + 60)
    assert isinstance(pillar.last_error, BaseMismatch) and "delta for base" in str(pillar.last_error)
    assert pillar.refused == 1
    acks = [e for e in link.events if isinstance(e, PillarAck)]
    assert acks[0].hash == other.hash and not acks[0].need_full  # it says what it shows, no second download asked
    assert pillar.hash == second.hash and pillar.state is PillarState.SHOWING  # the full frame came on delta


@spec("P-13", "P-39")
def test_a_lost_delta_is_repaired_by_a_delta_from_what_the_pillar_shows() -> None:
    bridge, pillar, link = pair()
    link.connect_pillar(NOW)
    link.deliver(bridge.show("hbf-a", frame_at(NOW), NOW), NOW)
    full_bytes = link.to_pillar_bytes
    link.pillar_connected = False  # the delta is lost on the mobile link, so no ack comes back
    link.deliver(bridge.show("hbf-a", frame_at(NOW + 60), NOW + 60), NOW + 60)
    link.pillar_connected = True
    link.to_pillar_bytes = 0
    third = frame_at(NOW + 120)
    link.deliver(bridge.show("hbf-a", third, NOW + 120), NOW + 120)
    assert pillar.hash == third.hash and isinstance(pillar.last_error, BaseMismatch)
    assert link.to_pillar_bytes < 0.5 * full_bytes  # two deltas, no full frame


def test_a_pillar_joining_after_minutes_of_deltas_downloads_the_current_frame_once() -> None:
    bridge, pillar, link = pair()
    link.connect_pillar(NOW)
    for minute in range(4):
        link.deliver(bridge.show("hbf-a", frame_at(NOW + 60 * minute), NOW + 60 * minute), NOW + 60 * minute)
    newcomer = PillarSession("hbf-a", PREFIX)
    late = Link(bridge, newcomer)
    late.retained = dict(link.retained)
    late.connect_pillar(NOW + 200)
    current = bridge.channels["hbf-a"].current
    assert current is not None and newcomer.hash == current.hash
    frame_bytes = len(link.retained[f"{PREFIX}/displays/hbf-a/frame"])
    board_bytes = len(link.retained[f"{PREFIX}/displays/hbf-a/board"])  # names the stop for its no-data screen
    assert late.to_pillar_bytes == frame_bytes + board_bytes  # the retained frame once: no second copy for a need_full


@spec("P-42", "P-44", "P-10")
def test_need_full_within_the_gap_is_deferred_not_dropped() -> None:
    bridge, _, link = pair()
    link.connect_pillar(NOW)
    link.deliver(bridge.show("hbf-a", frame_at(NOW), NOW), NOW)
    ask = b'{"hash": null, "need_full": true}'
    _, first = bridge.receive(f"{PREFIX}/displays/hbf-a/ack", ask, NOW + 10)
    assert "frame" in leaves(first)
    _, second = bridge.receive(f"{PREFIX}/displays/hbf-a/ack", ask, NOW + 12)
    assert second == [] and bridge.next_deadline() == NOW + 15
    assert bridge.tick(NOW + 14) == []
    assert "frame" in leaves(bridge.tick(NOW + 15))  # answered as soon as the gap allows


def test_sequence_and_epoch_increase_across_a_service_restart() -> None:
    bridge, pillar, link = pair()
    link.connect_pillar(NOW)
    for minute in range(3):
        link.deliver(bridge.show("hbf-a", frame_at(NOW + 60 * minute), NOW + 60 * minute), NOW + 60 * minute)
    before = retained_frame(link)
    restarted = Bridge(PREFIX, 256 * 1024, 600, epoch=NOW + 130)  # a new process knows nothing of the old one
    restarted.expect(["hbf-a"])
    restarted.receive(f"{PREFIX}/displays/hbf-a/status", b'{"state": "online"}', NOW + 130)  # retained, read at start
    link.bridge = restarted
    link.deliver(restarted.show("hbf-a", frame_at(NOW + 180), NOW + 180), NOW + 180)
    after = retained_frame(link)
    assert after.sequence > before.sequence and after.epoch > before.epoch and after.after(before)
    assert pillar.hash == frame_at(NOW + 180).hash  # the pillar took it (sent on delta: its screen was unknown)


@spec("P-23", "P-24")
def test_a_late_frame_from_the_previous_owner_is_ignored() -> None:
    old_owner = Bridge(PREFIX, 1 << 20, 600, epoch=NOW - 3600)
    new_owner = Bridge(PREFIX, 1 << 20, 600, epoch=NOW)
    pillar = PillarSession("hbf-a", PREFIX)
    topic = f"{PREFIX}/displays/hbf-a/frame"
    current = frame_at(NOW + 60)
    (new,) = [p for p in new_owner.show("hbf-a", current, NOW + 60) if p.topic == topic]
    (late,) = [p for p in old_owner.show("hbf-a", frame_at(NOW + 120, deps=STEADY[2:]), NOW + 120) if p.topic == topic]
    pillar.receive(topic, new.payload, NOW + 60)
    assert pillar.receive(topic, late.payload, NOW + 121) == []
    assert pillar.hash == current.hash


@spec("P-2")
def test_every_packet_fits_max_packet_including_the_mqtt_header() -> None:
    bridge, pillar, link = pair(max_packet=2000)
    link.connect_pillar(NOW)
    tft = load_layout("tft-320x240")
    publishes = bridge.show("hbf-a", frame_at(NOW, tft), NOW) + bridge.show("hbf-a", frame_at(NOW + 60, tft), NOW + 60)
    for p in publishes:  # fixed header <= 5, topic length 2 + topic, packet id 2, properties 1 + 5 (expiry)
        assert 5 + 2 + len(p.topic.encode()) + 2 + 6 + len(p.payload) <= 2000, p.topic


@spec("P-4")
def test_reconnecting_pillar_gets_current_frame_from_retained() -> None:
    bridge, pillar, link = pair()
    first = frame_at(NOW)
    link.deliver(bridge.show("hbf-a", first, NOW), NOW)  # nobody listening yet
    link.connect_pillar(NOW + 1)
    assert pillar.hash == first.hash


@spec("P-28")
def test_large_frames_are_chunked_and_reassembled_and_old_chunks_cleared() -> None:
    bridge, pillar, link = pair(max_packet=2000)
    link.connect_pillar(NOW)
    tft = load_layout("tft-320x240")
    frame = frame_at(NOW, tft)
    link.deliver(bridge.show("hbf-a", frame, NOW), NOW)
    chunks = [t for t in link.retained if "/frame/" in t]
    assert len(chunks) > 5 and f"{PREFIX}/displays/hbf-a/frame" not in link.retained
    assert pillar.hash == frame.hash
    assert all(len(p) <= 2000 - 15 - len(t) for t, p in link.retained.items())
    bridge.max_packet = bridge.channels["hbf-a"].max_packet = 1 << 20
    link.deliver(bridge.channels["hbf-a"].republish(NOW + 1), NOW + 1)
    assert not [t for t in link.retained if "/frame/" in t] and f"{PREFIX}/displays/hbf-a/frame" in link.retained


@spec("P-12", "P-18", "P-19", "P-4")
def test_validity_is_extended_before_expiry_and_lapses_without_service() -> None:
    bridge, pillar, link = pair(ttl=300)
    link.connect_pillar(NOW)
    link.deliver(bridge.show("hbf-a", frame_at(NOW), NOW), NOW)
    assert pillar.is_current(NOW + 299) and not pillar.is_current(NOW + 301)
    assert bridge.tick(NOW + 100) == []
    heartbeat = bridge.tick(NOW + 250)
    assert leaves(heartbeat) == ["frame", "delta"] and len(heartbeat[1].payload) < 100
    link.to_pillar_bytes = 0
    link.deliver(heartbeat, NOW + 250)
    assert pillar.is_current(NOW + 500) and link.to_pillar_bytes == len(heartbeat[1].payload)
    assert retained_frame(link).valid_until == NOW + 550  # a pillar joining now gets the extended validity
    link.expire_pillar(NOW + 551)  # the service is gone: "no current data", and it takes the retained frame
    assert pillar.raster is None and pillar.state is PillarState.WAITING
    assert f"{PREFIX}/displays/hbf-a/frame/#" in pillar.subscriptions()


@spec("P-38")
def test_e_paper_gets_a_full_refresh_after_n_partial_updates() -> None:
    bridge, pillar, link = pair()
    bridge.channel("hbf-a", full_refresh_every=3)
    link.connect_pillar(NOW)
    flags = []
    for minute in range(9):
        link.deliver(
            bridge.show("hbf-a", frame_at(NOW + 60 * minute), NOW + 60 * minute, full_refresh_every=3),
            NOW + 60 * minute,
        )
        flags.append(pillar.full_refresh)
    assert flags == [True, False, False, False, True, False, False, False, True]  # after 3 partial updates


@spec("P-20")
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
    assert bridge.channels["hbf-a"].online and bridge.channels["hbf-a"].status == {
        "fw": "1.2.0",
        "battery_v": 3.91,
        "rssi": -71,
    }


@spec("P-11", "P-15")
def test_corrupt_frame_is_not_shown_and_a_full_frame_is_requested() -> None:
    _, pillar, _ = pair()
    frame = frame_at(NOW)
    bridge = Bridge(PREFIX, 1 << 20, 600)
    (msg,) = [p for p in bridge.show("hbf-a", frame, NOW) if p.topic.endswith("/frame")]
    broken = msg.payload[:-10] + bytes(10)
    replies = pillar.receive(msg.topic, broken, NOW)
    assert pillar.raster is None and json.loads(replies[0].payload)["need_full"] is True
    assert pillar.receive(msg.topic, msg.payload, NOW) and pillar.hash == frame.hash


@spec("P-40")
def test_what_a_pillar_never_acknowledged_is_sent_again_whole() -> None:
    bridge, pillar, link = pair()
    link.connect_pillar(NOW)
    link.deliver(bridge.show("hbf-a", frame_at(NOW), NOW), NOW)
    link.pillar_connected = False  # a broker loses the delta: no ack comes back
    second = frame_at(NOW + 60)
    link.deliver(bridge.show("hbf-a", second, NOW + 60), NOW + 60)
    link.pillar_connected = True
    assert bridge.next_deadline() == NOW + 60 + 15
    assert bridge.tick(NOW + 74) == []
    again = bridge.tick(NOW + 75)
    assert leaves(again) == ["delta"] and codec.parse_header(again[0].payload).kind == codec.KIND_FULL
    link.deliver(again, NOW + 75)
    assert pillar.hash == second.hash and bridge.channels["hbf-a"].state.name == "SYNCED"


@spec("P-7")
def test_an_ack_older_than_one_already_taken_is_ignored() -> None:
    bridge, pillar, link = pair()
    link.connect_pillar(NOW)
    link.deliver(bridge.show("hbf-a", frame_at(NOW), NOW), NOW)
    channel = bridge.channels["hbf-a"]
    assert channel.acked_hash is not None
    stale = json.dumps({"hash": None, "seq": -1, "need_full": False}).encode()  # the hello ack, redelivered
    bridge.receive(f"{PREFIX}/displays/hbf-a/ack", stale, NOW + 5)
    assert channel.acked_hash is not None and channel.pillar_hash == pillar.hash


def test_a_pillar_never_shows_another_displays_frame_a_broker_delivered_to_it() -> None:
    bridge = Bridge(PREFIX, 256 * 1024, 600)
    frame = frame_at(NOW)
    other = PillarSession("uni-b", PREFIX)
    for publish in bridge.show("hbf-a", frame, NOW):  # full frame, board and all, on hbf-a's topics
        assert other.receive(publish.topic, publish.payload, NOW) == []
    assert other.hash is None and other.raster is None
    assert other.receive(f"{PREFIX}/displays/hbf-a/status", b'{"state": "online"}', NOW) == []  # no "bad magic" either
