"""Rules of docs/mqtt.md that no broader test covers on its own: the pillar's order and chunk rules, PNG
bit depths and filters, hashes in JSON, the growing wait for a missing ack, and the bound on answers to
all pillars together."""

from __future__ import annotations

import io
import json
import struct
import zlib
from dataclasses import replace

import numpy as np
from boardkit import NOW
from memory_link import Link
from PIL import Image
from speckit import spec
from test_protocol import PREFIX, frame_at, pair

from firmware_bridge import codec
from firmware_bridge.codec import KIND_FULL
from firmware_bridge.messages import parse_ack
from firmware_bridge.protocol import Bridge, PillarSession
from firmware_bridge.states import MalformedMessage
from layouts.spec import load_layout

TOPIC = f"{PREFIX}/displays/hbf-a/frame"


def retained(bridge: Bridge, now: int) -> bytes:
    return next(p.payload for p in bridge.show("hbf-a", frame_at(now), now) if p.topic == TOPIC)


class StaysSubscribed(PillarSession):
    """A pillar that never leaves frame/# (allowed, but then it downloads every retained update)."""

    def subscriptions(self) -> list[str]:
        return [*super().subscriptions(), self._topic("frame/#")] if not self.wants_frame else super().subscriptions()


@spec("P-6")
def test_a_pillar_that_stays_subscribed_to_frame_takes_every_update_by_the_order_rules() -> None:
    bridge = Bridge(PREFIX, 1 << 20, 600)
    bridge.channel("hbf-a")
    pillar = StaysSubscribed("hbf-a", PREFIX)
    link = Link(bridge, pillar)
    link.connect_pillar(NOW)
    for minute in range(3):
        frame = frame_at(NOW + 60 * minute)
        link.deliver(bridge.show("hbf-a", frame, NOW + 60 * minute), NOW + 60 * minute)
        assert pillar.hash == frame.hash and pillar.refused == 0  # the delta and the retained frame agree


@spec("P-9", "P-15", "P-50")
def test_a_pillar_showing_nothing_asks_with_all_three_ack_fields() -> None:
    pillar = PillarSession("hbf-a", PREFIX)
    (ask,) = pillar.no_frame()
    assert json.loads(ask.payload) == {"hash": None, "seq": -1, "need_full": True}
    bridge = Bridge(PREFIX, 1 << 20, 600)
    pillar.receive(TOPIC, retained(bridge, NOW), NOW)
    assert pillar.no_frame() == []  # it shows a frame: nothing to ask for
    (ack,) = pillar.hello()[1:]
    assert set(json.loads(ack.payload)) == {"hash", "seq", "need_full"}


@spec("P-17", "P-25")
def test_validity_is_judged_by_the_pillars_own_clock_up_to_and_including_valid_until() -> None:
    bridge = Bridge(PREFIX, 1 << 20, 300)
    payload = retained(bridge, NOW)
    valid_until = codec.parse_header(payload).valid_until
    late = PillarSession("hbf-a", PREFIX)
    assert late.receive(TOPIC, payload, valid_until + 1) == [] and late.hash is None  # expired by its clock
    exact = PillarSession("hbf-a", PREFIX)
    assert exact.receive(TOPIC, payload, valid_until) and exact.hash is not None  # valid_until == now: valid
    assert exact.is_current(valid_until) and not exact.is_current(valid_until + 1)


@spec("P-26", "P-23")
def test_a_refused_message_does_not_raise_the_highest_epoch_seen() -> None:
    bridge = Bridge(PREFIX, 1 << 20, 600, epoch=NOW)
    good = retained(bridge, NOW)
    pillar = PillarSession("hbf-a", PREFIX)
    pillar.receive(TOPIC, good, NOW)
    header = codec.parse_header(good)
    forged = replace(header, epoch=2**32 - 1, content_hash=header.content_hash ^ 1).pack() + good[codec.HEADER.size:]
    pillar.receive(TOPIC, forged, NOW + 1)  # does not verify: refused
    assert pillar.epoch == NOW
    newer = Bridge(PREFIX, 1 << 20, 600, epoch=NOW + 5)
    frame = frame_at(NOW + 60)
    pillar.receive(TOPIC, next(p.payload for p in newer.show("hbf-a", frame, NOW + 60) if p.topic == TOPIC), NOW + 60)
    assert pillar.hash == frame.hash and pillar.epoch == NOW + 5  # what it shows raises it
    assert pillar.receive(TOPIC, retained(bridge, NOW + 120), NOW + 120) == []  # the lower epoch: ignored, no ack


@spec("P-27")
def test_a_payload_of_another_header_version_is_not_shown() -> None:
    payload = bytearray(retained(Bridge(PREFIX, 1 << 20, 600), NOW))
    payload[2] = 3
    pillar = PillarSession("hbf-a", PREFIX)
    (ack,) = pillar.receive(TOPIC, bytes(payload), NOW)
    assert pillar.hash is None and isinstance(pillar.last_error, MalformedMessage)
    assert json.loads(ack.payload)["need_full"] is True


@spec("P-29")
def test_chunk_sets_with_the_same_sequence_but_other_hashes_never_mix() -> None:
    tft = load_layout("tft-320x240")
    one, two = frame_at(NOW, spec=tft), frame_at(NOW + 60, spec=tft)
    a = Bridge(PREFIX, 2000, 600, epoch=NOW).channel("hbf-a")
    b = Bridge(PREFIX, 2000, 600, epoch=NOW).channel("hbf-a")
    a.show(one, NOW)
    b.show(two, NOW)  # the same epoch and sequence, another content
    first, second = a.full_payloads(a._room()), b.full_payloads(b._room())
    assert codec.parse_header(first[0]).sequence == codec.parse_header(second[0]).sequence and len(first) > 2
    pillar = PillarSession("hbf-a", PREFIX)
    for x, y in zip(first, second):  # interleaved, as two publishers might
        pillar.receive(TOPIC + "/0", x, NOW)
        pillar.receive(TOPIC + "/0", y, NOW)
    assert pillar.refused == 0 and pillar.hash in (one.hash, two.hash)


@spec("P-33")
def test_png_frames_and_delta_rectangles_use_the_documented_colour_type_and_bit_depth() -> None:
    expected = {"mono": (1, 0), "bwr": (2, 3), "gray4": (8, 0), "rgb565": (8, 2), "rgb": (8, 2)}
    for mode, (depth, colour_type) in expected.items():
        image = Image.new("RGB", (32, 16), (255, 255, 255))
        raster = np.zeros((16, 32), dtype=np.uint8) if mode == "bwr" else codec.raster_of(image, mode)
        data = codec.pack(raster, "png", mode)
        assert data[:8] == b"\x89PNG\r\n\x1a\n", mode
        assert struct.unpack(">BB", data[24:26]) == (depth, colour_type), mode
        assert data[28] == 0, mode  # no interlacing
    epaper = load_layout("epaper-800x480")
    old, new = frame_at(NOW, spec=epaper), frame_at(NOW + 60, spec=epaper)
    rects = codec.changed_rects(old.raw, new.raw, "mono", 800, 480)
    body = codec.delta_body(new.raw, rects, "png", "mono", 800, 480)
    (count,) = struct.unpack_from("<H", body)
    x, y, w, h, length = struct.unpack_from("<HHHHI", body, 2)
    rect_png = Image.open(io.BytesIO(body[14:14 + length]))
    assert count == len(rects) and rect_png.size == (w, h) and rect_png.mode == "1"  # a PNG of its own


@spec("P-34")
def test_a_png_with_filtered_rows_decodes_to_the_same_pixels() -> None:
    raster = (np.arange(64 * 48).reshape(48, 64) % 7 == 0).astype(np.uint8)
    image = codec.image_of(raster, "mono").convert("L")
    rows = bytearray()
    pixels = np.asarray(image)
    previous = np.zeros(64, dtype=np.uint8)
    for row in pixels:  # filter type 2 (Up) on every row, by hand
        rows += b"\x02" + ((row.astype(np.int16) - previous) % 256).astype(np.uint8).tobytes()
        previous = row
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 48, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(bytes(rows))) + chunk(b"IEND", b""))
    assert np.array_equal(codec.unpack(png, "png", 64, 48, "mono"), raster)


@spec("P-35")
def test_hashes_in_json_are_eight_lowercase_hex_digits_and_upper_case_is_accepted() -> None:
    bridge, pillar, link = pair()
    link.connect_pillar(NOW)
    link.deliver(bridge.show("hbf-a", frame_at(NOW), NOW), NOW)
    (ack,) = pillar.hello()[1:]
    written = json.loads(ack.payload)["hash"]
    assert len(written) == 8 and written == written.lower() and int(written, 16) == pillar.hash
    assert parse_ack("hbf-a", json.dumps({"hash": written.upper()}).encode()).hash == pillar.hash


@spec("P-40")
def test_the_wait_for_a_missing_ack_doubles_and_an_ack_resets_it() -> None:
    bridge, pillar, link = pair()
    link.connect_pillar(NOW)
    link.deliver(bridge.show("hbf-a", frame_at(NOW), NOW), NOW)
    link.pillar_connected = False
    bridge.show("hbf-a", frame_at(NOW + 60), NOW + 60)  # lost, and so is every copy
    sent_at = []
    for second in range(61, 400):
        if [p for p in bridge.tick(NOW + second) if p.topic.endswith("/delta")]:
            sent_at.append(second)
    assert sent_at[:4] == [75, 105, 165, 285]  # 15, 30, 60, 120 s after the last send
    link.pillar_connected = True
    ack = json.dumps({"hash": f"{pillar.hash:08x}", "need_full": False}).encode()
    link.deliver(bridge.receive(f"{PREFIX}/displays/hbf-a/ack", ack, NOW + 400)[1], NOW + 400)
    assert bridge.channels["hbf-a"].ack_wait == 15


@spec("P-43")
def test_answers_to_all_pillars_together_are_bounded_by_one_token_bucket() -> None:
    tft = load_layout("tft-320x240")
    bridge = Bridge(PREFIX, 1 << 20, 600)
    ids = [f"tft-{i}" for i in range(40)]
    for n, display_id in enumerate(ids):
        frame = frame_at(NOW, spec=tft)
        plain = replace(frame, compress=False, hash=frame.hash)
        bridge.show(display_id, plain, NOW + n % 2)
    sent = 0
    ask = b'{"hash": null, "need_full": true}'
    for second in range(10, 70):  # every pillar asks every second for a minute
        now = NOW + second
        for display_id in ids:
            sent += sum(len(p.payload) for p in bridge.receive(f"{PREFIX}/displays/{display_id}/ack", ask, now)[1])
        sent += sum(len(p.payload) for p in bridge.tick(now))
    assert sent <= 4 * 2**20 + 61 * 256 * 1024 + 160_000, sent  # the bucket: 4 MiB, then 256 KiB/s
    assert all(c.limited for c in bridge.channels.values())
    kinds = {codec.parse_header(p).kind for p in bridge.channels[ids[0]].full_payloads(1 << 20)}
    assert kinds == {KIND_FULL}
