"""The frames the service renders: raw bytes straight from the image's pixels and the fast PNG must give a
pillar exactly the pixels the renderer drew, in every built-in layout."""

from __future__ import annotations

import io
import zlib
from dataclasses import replace

import numpy as np
import pytest
from boardkit import NOW, TZ, stop_departures
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from displays.core.frames import frame_of, render
from firmware_bridge import codec, png
from layouts.board import BoardInput, DisplaySettings, build_board
from layouts.image import render_image
from layouts.spec import builtin_names, load_layout

GRAY4 = "epaper-800x480 in gray4"  # no built-in layout has four greys; a vendor's may


@pytest.mark.parametrize("name", [*builtin_names(), GRAY4])
def test_rendered_frame_is_the_drawn_image(name: str) -> None:
    spec = replace(load_layout("epaper-800x480"), color_mode="gray4") if name == GRAY4 else load_layout(name)
    board = build_board(spec, DisplaySettings(), BoardInput(stop_departures(), TZ, data_as_of=NOW - 20,
                                                            realtime_configured=True), NOW)
    drawn = codec.raster_of(render_image(board, spec), spec.color_mode)
    for encoding in codec.encodings_for(spec.color_mode):
        for compress in (False, True):
            frame = render(board, spec, encoding, compress)
            raw = frame_of(frame, b"").raw  # the frame's pixels as the service keeps them
            if not frame.packed.startswith(b"\x89PNG"):
                assert zlib.decompress(frame.packed) == raw
            assert raw == codec.pack(drawn, codec.RAW_FOR_MODE[spec.color_mode], spec.color_mode)
            assert frame.content_hash == zlib.crc32(raw)  # what pillars compute with their own CRC-32
            body = zlib.decompress(frame.full_body) if compress and encoding != "png" else frame.full_body
            shown = codec.unpack(body, encoding, spec.width, spec.height, spec.color_mode)
            assert np.array_equal(shown.astype(np.int64), drawn.astype(np.int64)), (encoding, compress)


def test_fast_png_is_a_standard_png() -> None:
    spec = load_layout("lcd-portrait-1080x1920")
    board = build_board(spec, DisplaySettings(), BoardInput(stop_departures(), TZ, data_as_of=NOW - 20,
                                                            realtime_configured=True), NOW)
    image = render_image(board, spec)
    data = render(board, spec, "png", False).full_body
    decoded = Image.open(io.BytesIO(data))
    decoded.verify()  # chunk CRCs and structure, as a strict decoder checks them
    decoded = Image.open(io.BytesIO(data))
    assert decoded.mode == "RGB" and decoded.size == (1080, 1920)
    assert np.array_equal(np.asarray(decoded), np.asarray(image.convert("RGB")))
    assert len(data) < 400_000  # a board, not a photograph: it compresses (Pillow's level 6 made 221 KiB)


def test_png_rows_read_back_from_any_encoder() -> None:
    """A frame keeps its RGB PNG as its pixels: read back exactly, whoever wrote the PNG (our Up-only rows, or
    Pillow's adaptive filters), and anything else is refused rather than misread."""
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (37, 23, 3), dtype=np.uint8)
    pixels[10:20] = pixels[9]  # repeated rows, as a board has
    assert png.decode_rgb(png.encode_rgb(pixels)) == pixels.tobytes()
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, format="PNG", optimize=True)
    assert png.decode_rgb(out.getvalue()) == pixels.tobytes()
    grey = io.BytesIO()
    Image.fromarray(pixels[..., 0], "L").save(grey, format="PNG")
    with pytest.raises(ValueError, match="8-bit RGB"):
        png.decode_rgb(grey.getvalue())
    with pytest.raises(ValueError, match="not a PNG"):
        png.decode_rgb(b"GIF89a")


def test_consecutive_lcd_frames_reusing_deflated_bands_decode_to_their_own_pixels() -> None:
    """A large frame is deflated in bands of rows, each band's deflate kept by its content: the next minute's
    frame reuses the unchanged bands. Every frame must still be a standard PNG of exactly its own pixels,
    also when a change falls in one band only, at the last (short) band, or in one pixel."""
    rng = np.random.default_rng(11)
    base = np.full((1080, 1000, 3), (0, 20, 60), np.uint8)  # 1080 rows: the last band is short
    for _ in range(40):
        y, x = rng.integers(0, 1060), rng.integers(0, 900)
        base[y : y + 18, x : x + 90] = rng.integers(0, 256, 3)
    frames = [base]
    for y, x in ((5, 5), (png.BAND_ROWS * 7 + 3, 400), (1079, 999)):
        changed = frames[-1].copy()
        changed[y, x] = (255, 255, 254)
        frames.append(changed)
    for pixels in frames * 2:  # the second round is served from kept bands
        data = png.encode_rgb(pixels.tobytes(), 1000, 1080)
        decoded = Image.open(io.BytesIO(data))
        decoded.verify()
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), pixels)
        assert png.decode_rgb(data) == pixels.tobytes()
        idat = data[data.index(b"IDAT") + 4 : data.index(b"IEND") - 8]
        assert zlib.decompress(idat)[1 : 1 + 3000] == pixels[0].tobytes()  # zlib's own check of the stream's Adler-32


@given(st.binary(max_size=300), st.binary(max_size=300))
def test_adler32_of_two_pieces_combines_to_that_of_both(first: bytes, second: bytes) -> None:
    combined = png.adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second))
    assert combined == zlib.adler32(first + second)


def test_adler32_combines_over_long_pieces() -> None:
    first, second = bytes(range(256)) * 300, b"\xff" * 200_000  # sums past the modulus many times over
    assert png.adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second)) == zlib.adler32(first + second)
