"""Board to frame: render, rasterise, hash and encode, as a picklable job for the render pool.

A rendered frame travels as its raw bytes (packed pixels) and its encoded full body, which are far
smaller than the raster; the main process rebuilds the raster for deltas.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from firmware_bridge import codec
from firmware_bridge.protocol import Frame
from layouts.board import Board
from layouts.image import render_image
from layouts.spec import LayoutSpec


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered frame as it crosses process boundaries."""

    raw: bytes  # the colour mode's raw encoding (what the content hash covers)
    width: int
    height: int
    color_mode: str
    encoding: str
    compress: bool
    content_hash: int
    full_body: bytes  # the full frame's body in its encoding, zlib-compressed when asked


def render(board: Board, spec: LayoutSpec, encoding: str, compress: bool) -> Rendered:
    """Render a board for a layout into its frame bytes (runs in the pool's workers)."""
    raster = codec.raster_of(render_image(board, spec), spec.color_mode)
    raw = codec.pack(raster, codec.RAW_FOR_MODE[spec.color_mode], spec.color_mode)
    body = raw if encoding == codec.RAW_FOR_MODE[spec.color_mode] else codec.pack(raster, encoding, spec.color_mode)
    if compress and encoding != "png":
        body = zlib.compress(body, 6)
    height, width = raster.shape
    return Rendered(raw, width, height, spec.color_mode, encoding, compress, zlib.crc32(raw), body)


def render_batch(jobs: list[tuple[Board, LayoutSpec, str, bool]]) -> list[Rendered | str]:
    """Several boards at once (one pool task, fewer round trips); a board that fails gives its error's text."""
    out: list[Rendered | str] = []
    for job in jobs:
        try:
            out.append(render(*job))
        except Exception as exc:  # noqa: BLE001 - one board's failure must not lose the batch
            out.append(f"{type(exc).__name__}: {exc}")
    return out


def frame_of(rendered: Rendered, board_json: bytes) -> Frame:
    """The protocol's Frame from a rendered one (the raster is rebuilt from the raw bytes)."""
    mode = rendered.color_mode
    if mode == "rgb":
        rgb = np.frombuffer(rendered.raw, dtype=np.uint8).reshape(rendered.height, rendered.width, 3).astype(np.uint32)
        raster = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    else:
        raster = codec.unpack(rendered.raw, codec.RAW_FOR_MODE[mode], rendered.width, rendered.height, mode)
    return Frame(raster, mode, rendered.encoding, rendered.compress, rendered.content_hash, board_json, rendered.full_body)
