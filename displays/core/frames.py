"""Board to frame: render, rasterise, hash and encode, as a picklable job for the render pool.

A rendered frame travels as its packed pixels, deflated, and its encoded full body, which are far
smaller than the raster; the main process keeps them so and finds deltas on the packed bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, fields
from operator import attrgetter

import numpy as np
from PIL import Image

from firmware_bridge import codec, png
from firmware_bridge.messages import Publish, text_hash
from firmware_bridge.protocol import Frame
from firmware_bridge.ticker import Ticker, rgb565, ticker_payload
from firmware_bridge.topics import display_topic
from layouts.board import Board
from layouts.contrast import shown_color
from layouts.drawn import drawn
from layouts.image import encode_png, render_image, render_ticker, ticker_area
from layouts.spec import LayoutSpec


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered frame as it crosses process boundaries."""

    packed: bytes  # the colour mode's raw encoding (what the content hash covers), deflated, or the RGB PNG
    width: int
    height: int
    color_mode: str
    encoding: str
    compress: bool
    content_hash: int
    full_body: bytes  # the full frame's body in its encoding, zlib-compressed when asked
    drawn: tuple = ()  # board.json's `drawn` (layouts/drawn.py), made here in the worker, not in the service

    def __reduce__(self) -> tuple:
        """Pickled as its class and field values: frames come back from the render workers by the thousand, and
        a frozen slotted dataclass otherwise pickles through fields() and a setattr per field."""
        return Rendered, _rendered_values(self)


_rendered_values = attrgetter(*(f.name for f in fields(Rendered)))


def render(board: Board, spec: LayoutSpec, encoding: str, compress: bool, key: str = "") -> Rendered:
    """Render a board for a layout into its frame bytes (runs in the pool's workers). `key` names the screen the
    frame is for (its display's id; "" for one-off renders): a worker may keep its last raster under it."""
    mode = spec.color_mode
    # raw_of and raster_of reduce it to the panel's colours; the image is encoded before the next is drawn
    image = render_image(board, spec, panel=False, scratch=True)
    raw = codec.raw_of(image, mode)
    if encoding == codec.RAW_FOR_MODE[mode]:
        body = raw
    elif encoding == "png" and mode == "rgb":  # raw is the RGB bytes: no second copy out of Pillow
        body = png.encode_rgb(raw, image.width, image.height)
    else:
        body = codec.pack(codec.raster_of(image, mode), encoding, mode)
    packed = body if encoding == "png" and mode == "rgb" else png.deflate(raw)  # an RGB PNG holds the raw rows already
    if compress and encoding != "png":
        body = codec.deflate(body)  # the window a pillar's inflater needs (codec.ZLIB_WINDOW_BITS)
    width, height = image.size
    return Rendered(packed, width, height, mode, encoding, compress, png.crc32(raw), body, tuple(drawn(board, spec)))


RenderJob = tuple[Board, LayoutSpec, str, bool] | tuple[Board, LayoutSpec, str, bool, str]  # board, layout,
# encoding, compress and optionally the key of the screen it is for (render's `key`)


def render_batch(jobs: list[RenderJob]) -> list[Rendered | str]:
    """Several boards at once (one pool task, fewer round trips); a board that fails gives its error's text."""
    out: list[Rendered | str] = []
    for job in jobs:
        try:
            out.append(render(*job))
        except Exception as exc:  # noqa: BLE001 - one board's failure must not lose the batch
            out.append(f"{type(exc).__name__}: {exc}")
    return out


def frame_of(rendered: Rendered, board_json: bytes) -> Frame:
    """The protocol's Frame from a rendered one."""
    return Frame(rendered.packed, rendered.width, rendered.height, rendered.color_mode, rendered.encoding,
                 rendered.compress, rendered.content_hash, board_json, rendered.full_body)


def ticker_publishes(
    prefix: str, display_id: str, board: Board, spec: LayoutSpec, previous: int | None
) -> tuple[list[Publish], int]:
    """The retained `ticker` message of a layout whose alerts scroll (docs/mqtt.md, "Ticker"), when its text
    changed since `previous` (the text hash last published), and the new hash; an empty retained message
    clears the ticker when the alerts are gone."""
    if spec.alert_style != "ticker":
        return [], 0
    text = board.ticker_text
    hashed = text_hash(text) if text else 0
    if hashed == previous:
        return [], hashed
    topic = display_topic(prefix, display_id, "ticker")
    strip, area = render_ticker(board, spec), ticker_area(spec)
    if strip is None or area is None:
        return [Publish(topic, b"", True)], hashed
    pal = spec.palette
    ticker = Ticker(
        (area.x, area.y, area.w, area.h),
        spec.ticker_speed,
        rgb565(shown_color(spec.color_mode, pal.alert_text)),
        rgb565(shown_color(spec.color_mode, pal.alert_background)),
        hashed,
        np.asarray(strip, dtype=bool),
    )
    return [Publish(topic, ticker_payload(ticker), True)], hashed


def one_bit(image: Image.Image, color_mode: str) -> Image.Image:
    """The frame as 1-bit (what TRMNL's classic firmware takes): red becomes black, grey is thresholded."""
    if color_mode == "mono":
        return image
    if color_mode == "bwr":
        return image.point(lambda v: 255 if v == 0 else 0, "L").convert("1", dither=Image.Dither.NONE)
    return image.convert("L").point(lambda v: 255 if v >= 128 else 0).convert("1", dither=Image.Dither.NONE)


def pull_bytes(frame: Frame, fmt: str) -> bytes:
    """A frame as a pulling client takes it: PNG (exactly the pillar's pixels) or a 1-bit BMP (TRMNL)."""
    if fmt == "png" and frame.color_mode in ("rgb", "rgb565"):
        return codec.pack(frame.raster, "png", frame.color_mode)
    image = codec.image_of(frame.raster, frame.color_mode)
    if fmt == "png":
        return encode_png(image)
    if fmt == "bmp":
        out = io.BytesIO()
        one_bit(image, frame.color_mode).save(out, format="BMP")
        return out.getvalue()
    raise ValueError(f"unknown pull format {fmt!r}")
