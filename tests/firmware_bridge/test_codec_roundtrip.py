"""Property tests: decode(encode(x)) == x for every encoding, delta and chunking."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from firmware_bridge import codec
from firmware_bridge.codec import FLAG_ZLIB, KIND_DELTA, KIND_FULL, CodecError, Header

MODES = {  # colour mode -> (largest value + 1, dtype, encodings a config may choose for it)
    mode: (top, dtype, codec.encodings_for(mode))
    for mode, top, dtype in (("mono", 2, np.uint8), ("gray4", 4, np.uint16), ("bwr", 3, np.uint8),
                             ("rgb565", 65536, np.uint16), ("rgb", 1 << 24, np.uint32))
}


@st.composite
def rasters(draw: st.DrawFn, mode: str) -> np.ndarray:
    top, dtype, _ = MODES[mode]
    h = draw(st.integers(1, 40))
    w = draw(st.integers(1, 70))
    return draw(arrays(dtype, (h, w), elements=st.integers(0, top - 1)))


@pytest.mark.parametrize("mode", sorted(MODES))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_encoding_round_trips(mode: str, data: st.DataObject) -> None:
    raster = data.draw(rasters(mode))
    for encoding in MODES[mode][2]:
        back = codec.unpack(codec.pack(raster, encoding, mode), encoding, raster.shape[1], raster.shape[0], mode)
        assert np.array_equal(back.astype(np.int64), raster.astype(np.int64)), encoding


@pytest.mark.parametrize("mode", sorted(MODES))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_delta_applied_to_its_base_gives_the_new_frame(mode: str, data: st.DataObject) -> None:
    old = data.draw(rasters(mode))
    top, dtype, encodings = MODES[mode]
    new = old.copy()
    for _ in range(data.draw(st.integers(0, 5))):
        y = data.draw(st.integers(0, old.shape[0] - 1))
        x = data.draw(st.integers(0, old.shape[1] - 1))
        new[y, x] = data.draw(st.integers(0, top - 1))
    height, width = old.shape
    raw = codec.RAW_FOR_MODE[mode]
    old_raw, new_raw = codec.pack(old, raw, mode), codec.pack(new, raw, mode)
    rects = codec.changed_rects(old_raw, new_raw, mode, width, height)
    covered = np.zeros(old.shape, dtype=bool)
    for x, y, w, h in rects:
        covered[y : y + h, x : x + w] = True
    assert covered[old != new].all()
    for encoding in encodings:
        body = codec.delta_body(new_raw, rects, encoding, mode, width, height)
        assert np.array_equal(codec.apply_delta(old, body, encoding, mode).astype(np.int64), new.astype(np.int64))


@settings(max_examples=60, deadline=None)
@given(
    body=st.binary(max_size=3000),
    max_packet=st.integers(min_value=codec.HEADER.size + 1, max_value=1200),
    compress=st.booleans(),
    kind=st.sampled_from([KIND_FULL, KIND_DELTA]),
)
def test_header_and_chunking_round_trip(body: bytes, max_packet: int, compress: bool, kind: int) -> None:
    header = Header(
        kind, "mono1", FLAG_ZLIB if compress else 0, 800, 480, (0, 8, 16, 24), 0xDEADBEEF, 7, 1_800_000_000, 42, "mono"
    )
    payloads = codec.encode_message(header, body, max_packet)
    assert all(len(p) <= max_packet for p in payloads)
    headers = [codec.parse_header(p) for p in payloads]
    assert [h.chunk for h in headers] == list(range(len(payloads)))
    assert {(h.content_hash, h.base_hash, h.valid_until, h.sequence, h.region, h.color_mode) for h in headers} == {
        (0xDEADBEEF, 7, 1_800_000_000, 42, (0, 8, 16, 24), "mono")}
    joined = b"".join(p[codec.HEADER.size :] for p in payloads)
    assert codec.decode_body(headers[0], joined) == body


def test_bad_payloads_are_codec_errors() -> None:
    with pytest.raises(CodecError, match="shorter than the 48-byte header"):
        codec.parse_header(b"SC")
    with pytest.raises(CodecError, match="bad magic"):
        codec.parse_header(b"XX" + bytes(46))
    with pytest.raises(CodecError, match="unsupported header version 1"):
        codec.parse_header(b"SC\x01" + bytes(45))  # the 40-byte header of version 1 has no epoch
    with pytest.raises(CodecError, match="mono1 8x2 needs 2 bytes, got 3"):
        codec.unpack(b"abc", "mono1", 8, 2, "mono")
    with pytest.raises(CodecError, match="does not fit the frame"):
        codec.apply_delta(
            np.zeros((8, 8), np.uint8), b"\x01\x00" + bytes([0, 0, 0, 0, 16, 0, 8, 0, 1, 0, 0, 0, 0]), "mono1", "mono"
        )


def test_raw_formats_are_as_documented() -> None:
    mono = np.array([[1, 0, 0, 0, 0, 0, 0, 1, 1]], dtype=np.uint8)
    assert codec.pack(mono, "mono1", "mono") == bytes([0b10000001, 0b10000000])  # MSB first, row padded
    gray = np.array([[3, 2, 1, 0, 3]], dtype=np.uint16)
    assert codec.pack(gray, "gray2", "gray4") == bytes([0b11100100, 0b11000000])
    bwr = np.array([[1, 2, 0, 1]], dtype=np.uint8)
    assert codec.pack(bwr, "bwr", "bwr") == bytes([0b10010000, 0b01000000])  # black plane, then red plane
    assert codec.pack(np.array([[0xF800, 0x001F]], dtype=np.uint16), "rgb565", "rgb565") == bytes(
        [0x00, 0xF8, 0x1F, 0x00]
    )
