"""The faults an independent pillar written from docs/mqtt.md found (issue 25) and the forged pillar
messages of issue 26, each reproduced on the sans-I/O protocol with both ends connected in memory."""

from __future__ import annotations

import json

from boardkit import NOW
from memory_link import Link
from speckit import spec
from test_protocol import PREFIX, frame_at, leaves, pair

from firmware_bridge import codec
from firmware_bridge.codec import FLAG_FULL_REFRESH, KIND_DELTA, KIND_FULL
from firmware_bridge.messages import Frame, Publish
from firmware_bridge.protocol import Bridge, PillarSession
from firmware_bridge.states import MalformedMessage
from layouts.spec import load_layout

ACK = f"{PREFIX}/displays/hbf-a/ack"
STATUS = f"{PREFIX}/displays/hbf-a/status"


def ask(bridge: Bridge, doc: dict, now: int) -> list[Publish]:
    return bridge.receive(ACK, json.dumps(doc).encode(), now)[1]


def in_sync(ttl: int = 600, max_packet: int = 256 * 1024) -> tuple[Bridge, PillarSession, Link]:
    bridge, pillar, link = pair(ttl, max_packet)
    link.connect_pillar(NOW)
    link.deliver(bridge.show("hbf-a", frame_at(NOW), NOW), NOW)
    assert bridge.channels["hbf-a"].acked_hash == pillar.hash
    return bridge, pillar, link


@spec("P-7", "P-10")
def test_need_full_with_seq_minus_one_after_a_restart_is_answered() -> None:
    bridge, _, _ = in_sync()  # the service took an ack with the frame's sequence number
    answer = ask(bridge, {"hash": None, "need_full": True, "seq": -1}, NOW + 30)  # the restarted pillar, as step 2 says
    assert "frame" in leaves(answer)


@spec("P-7", "P-10")
def test_need_full_after_validity_expiry_is_answered() -> None:
    bridge, pillar, link = in_sync(ttl=300)
    link.expire_pillar(NOW + 400)  # "no current data": it acks null and asks when no usable frame came
    answer = ask(bridge, {"hash": None, "need_full": True, "seq": -1}, NOW + 410)
    assert "frame" in leaves(answer)


class DeltaRefuser(PillarSession):
    """A pillar whose decoder cannot take deltas (it says what it shows, as the document asks)."""

    def _decoded(self, topic, header, body):  # type: ignore[no-untyped-def]
        if header.kind == KIND_DELTA and header.content_hash != self.hash:
            raise MalformedMessage(f"{topic}: this pillar cannot apply deltas")
        return super()._decoded(topic, header, body)


@spec("P-16", "P-14")
def test_a_refused_delta_escalates_to_a_full_frame_and_answers_back_off() -> None:
    bridge = Bridge(PREFIX, 256 * 1024, 600)
    bridge.channel("hbf-a")
    pillar = DeltaRefuser("hbf-a", PREFIX)
    link = Link(bridge, pillar)
    link.connect_pillar(NOW)
    link.deliver(bridge.show("hbf-a", frame_at(NOW), NOW), NOW)
    second = frame_at(NOW + 60)
    sent: list[Publish] = []
    queue = bridge.show("hbf-a", second, NOW + 60)
    for step in range(230):  # 20 s of a pillar answering within 88 ms, as the C pillar did
        now = NOW + 60 + step * 88 // 1000
        sent += [p for p in queue if p.topic.endswith("/delta")]
        queue = [r for p in queue if p.topic.endswith("/delta") for r in pillar.receive(p.topic, p.payload, now)]
        queue = [r for p in queue for r in bridge.receive(p.topic, p.payload, now)[1]]
        queue += bridge.tick(now)
    assert pillar.hash == second.hash  # it got the full frame
    kinds = [codec.parse_header(p.payload).kind for p in sent]
    assert KIND_FULL in kinds and len(sent) <= 3, kinds  # the delta, at most one copy, then the full frame


@spec("P-43")
def test_every_answer_to_a_pillar_that_keeps_asking_backs_off() -> None:
    bridge, _, _ = in_sync()
    answers = []
    for second in range(0, 300, 10):  # need_full every 10 s for 5 minutes
        now = NOW + 10 + second
        answers += [now for p in ask(bridge, {"hash": None, "need_full": True}, now) + bridge.tick(now)
                    if p.topic.endswith("/frame")]
    gaps = [b - a for a, b in zip(answers, answers[1:])]
    assert len(answers) <= 7 and gaps == sorted(gaps), answers  # 5, 10, 20, 40 ... s between answers


@spec("P-43")
def test_uncompressed_tft_frames_asked_for_every_10_s_are_not_sent_every_10_s() -> None:
    tft = load_layout("tft-320x240")
    bridge = Bridge(PREFIX, 256 * 1024, 600)
    bridge.channel("hbf-a")
    frame = frame_at(NOW, spec=tft)
    plain = Frame(frame.packed, frame.width, frame.height, frame.color_mode, frame.encoding, False, frame.hash, b"{}")
    bridge.show("hbf-a", plain, NOW)
    sent = 0
    for second in range(10, 310, 10):
        now = NOW + second
        sent += sum(len(p.payload) for p in ask(bridge, {"hash": None, "need_full": True}, now) + bridge.tick(now))
    assert 150_000 < sent < 8 * 160_000, sent  # before: 30 copies of 153,600 bytes (4.6 MB)


@spec("P-38")
def test_the_full_refresh_flag_comes_after_n_partial_updates_since_a_full_frame() -> None:
    bridge, pillar, link = pair()
    bridge.channel("hbf-a", full_refresh_every=3)
    link.connect_pillar(NOW)
    flags = []
    for minute in range(9):
        link.deliver(bridge.show("hbf-a", frame_at(NOW + 60 * minute), NOW + 60 * minute, full_refresh_every=3),
                     NOW + 60 * minute)
        flags.append(pillar.full_refresh)
    assert flags == [True, False, False, False, True, False, False, False, True]


@spec("P-38")
def test_a_resent_delta_is_not_counted_as_a_partial_update() -> None:
    bridge, pillar, link = pair()
    bridge.channel("hbf-a", full_refresh_every=3)
    link.connect_pillar(NOW)
    link.deliver(bridge.show("hbf-a", frame_at(NOW), NOW, 3), NOW)
    first = pillar.hash
    link.deliver(bridge.show("hbf-a", frame_at(NOW + 60), NOW + 60, 3), NOW + 60)
    # its ack of the older frame crosses the delta: a copy goes out, not a new partial update
    link.deliver(ask(bridge, {"hash": f"{first:08x}", "need_full": False}, NOW + 61), NOW + 61)
    flags = []
    for minute in (2, 3, 4):
        link.deliver(bridge.show("hbf-a", frame_at(NOW + 60 * minute), NOW + 60 * minute, 3), NOW + 60 * minute)
        flags.append(pillar.full_refresh)
    assert flags == [False, False, True]


@spec("P-38")
def test_png_deltas_carry_the_full_refresh_flag_too() -> None:
    spec = load_layout("epaper-800x480")
    bridge, pillar, link = pair()
    bridge.channel("hbf-a", full_refresh_every=2)
    link.connect_pillar(NOW)
    heads = []
    for minute in range(4):
        f = frame_at(NOW + 60 * minute, spec=spec)
        png_frame = Frame(f.packed, f.width, f.height, f.color_mode, "png", True, f.hash, b"{}")
        out = bridge.show("hbf-a", png_frame, NOW + 60 * minute, 2)
        heads += [codec.parse_header(p.payload) for p in out if p.topic.endswith("/delta")]
        link.deliver(out, NOW + 60 * minute)
    deltas = [h for h in heads if h.kind == KIND_DELTA]
    assert deltas and all(h.encoding == "png" for h in deltas)
    assert [bool(h.flags & FLAG_FULL_REFRESH) for h in deltas] == [False, False, True]


@spec("P-3")
def test_a_pillar_announcing_a_smaller_packet_limit_gets_every_message_within_it() -> None:
    bridge, pillar, link = pair()
    status = {"max_packet": 2048}  # an e-paper frame is some 6 KB
    link.connect_pillar(NOW)
    link.deliver(pillar.hello(status), NOW)  # its status announces the limit
    out = []
    for minute in range(3):
        publishes = bridge.show("hbf-a", frame_at(NOW + 60 * minute), NOW + 60 * minute)
        out += publishes
        link.deliver(publishes, NOW + 60 * minute)
    assert pillar.hash == bridge.channels["hbf-a"].current.hash  # type: ignore[union-attr]
    from spec_pillar import packet_size
    assert max(packet_size(p.topic, p.payload) for p in out) <= 2048
    assert any(p.topic.endswith("/frame/1") for p in out)  # its frame came in chunks


@spec("P-2", "P-46")
def test_the_board_json_fits_max_packet() -> None:
    rows = [{"line": "S1", "destination": "Somewhere far away " * 3, "time_text": "12 min"} for _ in range(40)]
    drawn = [{"role": "destination", "text": r["destination"], "row": i} for i, r in enumerate(rows)]
    board = json.dumps(
        {"stop_name": "Mainz Hbf", "rows": rows, "alert_pages": ["x" * 300] * 5, "drawn": drawn}
    ).encode()
    f = frame_at(NOW)
    frame = Frame(f.packed, f.width, f.height, f.color_mode, f.encoding, True, f.hash, board)
    bridge = Bridge(PREFIX, 2048, 600)
    out = bridge.show("hbf-a", frame, NOW)
    from spec_pillar import packet_size
    (published,) = [p for p in out if p.topic.endswith("/board")]
    assert max(packet_size(p.topic, p.payload) for p in out) <= 2048
    doc = json.loads(published.payload)
    assert doc["stop_name"] == "Mainz Hbf" and doc["truncated"] is True and 0 < len(doc["rows"]) < 40
    assert doc["rows"] == rows[: len(doc["rows"])]  # the first rows, whole
    assert doc["drawn"] == drawn[: len(doc["rows"])]  # and the texts drawn for them


@spec("P-8")
def test_an_ack_naming_a_sequence_never_sent_is_ignored() -> None:
    bridge, pillar, link = in_sync()
    forged = {"hash": f"{pillar.hash:08x}", "seq": 2**32 - 1, "need_full": False}
    bridge.receive(ACK, json.dumps(forged).encode(), NOW + 5)
    link.to_pillar_bytes = 0
    full = len(link.retained[f"{PREFIX}/displays/hbf-a/frame"])
    for minute in (1, 2, 3):
        now = NOW + 60 * minute
        link.deliver(bridge.show("hbf-a", frame_at(now), now), now)
        link.deliver(bridge.tick(now + 20), now + 20)  # past the wait for a missing ack
    assert link.to_pillar_bytes < full  # three deltas, not three full frames


@spec("P-22")
def test_a_forged_null_ack_does_not_freeze_a_pillar_on_stale_departures() -> None:
    bridge, pillar, link = in_sync()
    bridge.receive(ACK, json.dumps({"hash": None, "need_full": False}).encode(), NOW + 5)  # not from the pillar
    later = frame_at(NOW + 60)
    link.deliver(bridge.show("hbf-a", later, NOW + 60), NOW + 60)
    assert pillar.hash == later.hash


@spec("P-21")
def test_a_retained_offline_status_does_not_stop_deltas_to_a_pillar_showing_a_frame() -> None:
    bridge, pillar, link = in_sync()
    bridge.receive(STATUS, b'{"state": "offline"}', NOW + 5)  # a forged retained Will while the pillar is up
    full = len(link.retained[f"{PREFIX}/displays/hbf-a/frame"])
    link.to_pillar_bytes = 0
    for minute in (1, 2):
        later = frame_at(NOW + 60 * minute)
        link.deliver(bridge.show("hbf-a", later, NOW + 60 * minute), NOW + 60 * minute)
        assert pillar.hash == later.hash
    assert link.to_pillar_bytes < full  # by deltas


@spec("P-14", "P-39")
def test_a_pillar_showing_a_frame_that_cannot_apply_a_delta_asks_for_the_full_frame_on_delta() -> None:
    bridge, pillar, link = pair()
    pillar_refuses = DeltaRefuser("hbf-a", PREFIX)
    link = Link(bridge, pillar_refuses)
    link.connect_pillar(NOW)
    link.deliver(bridge.show("hbf-a", frame_at(NOW), NOW), NOW)
    shown = pillar_refuses.hash
    second = frame_at(NOW + 60)
    out = bridge.show("hbf-a", second, NOW + 60)
    (delta,) = [p for p in out if p.topic.endswith("/delta")]
    (asked,) = pillar_refuses.receive(delta.topic, delta.payload, NOW + 60)
    assert json.loads(asked.payload) == {"hash": f"{shown:08x}", "seq": NOW, "need_full": True}
    _, answer = bridge.receive(asked.topic, asked.payload, NOW + 60)
    (full,) = answer
    assert full.topic.endswith("/delta") and codec.parse_header(full.payload).kind == KIND_FULL
    assert pillar_refuses.receive(full.topic, full.payload, NOW + 60) and pillar_refuses.hash == second.hash
