"""Rasters and images: a rendered image's raster in its colour mode, and back (what a pillar shows), without
a copy where Pillow allows. Pure functions of arrays and images; firmware_bridge/codec.py encodes rasters.

A raster holds one value per pixel in the display's colour mode (mono 0/1 with 1 = light, gray4 0..3,
bwr 0 white / 1 black / 2 red, rgb565 as uint16, rgb as 0xRRGGBB).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

__all__ = ["GRAY_LEVELS", "image_of", "image_of_raw", "pixels", "raster_of", "rgb565_of", "rgb_pixels", "rgb_rows"]

GRAY_LEVELS = np.array([0, 85, 170, 255], dtype=np.uint8)


def rgb565_of(r, g, b):  # type: ignore[no-untyped-def]
    """RGB565 of 8-bit red, green and blue (numbers or arrays wide enough for 16 bits)."""
    return ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3)


def raster_of(image: Image.Image, color_mode: str) -> np.ndarray:
    """The raster of a rendered image (as layouts.image produces it for that colour mode)."""
    if color_mode == "mono":
        return (np.asarray(image.convert("1"), dtype=np.uint8) > 0).astype(np.uint8)
    if color_mode == "bwr":
        return np.asarray(image, dtype=np.uint8).copy()
    if color_mode == "gray4":
        return (np.asarray(image.convert("L"), dtype=np.uint16) + 42) // 85
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint32)
    if color_mode == "rgb565":
        return rgb565_of(rgb[..., 0], rgb[..., 1], rgb[..., 2]).astype(np.uint16)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def pixels(image: Image.Image) -> np.ndarray:
    """The image's pixels as a read-only numpy view, without a copy where Pillow can export them (its Arrow
    interface): H x W bytes for modes 1 (0/255), L and P; H x W x 4 for RGB (the fourth byte is padding)."""
    import pyarrow as pa  # here: the light commands that import the codec need not load pyarrow

    width, height = image.size
    try:
        exported = pa.Array._import_from_c_capsule(*image.__arrow_c_array__())  # not pa.array: it imports pandas
    except (ValueError, TypeError, NotImplementedError, AttributeError, pa.ArrowException):  # several blocks
        exported = None
    if exported is not None and image.mode in ("1", "L", "P") and exported.type == pa.uint8():
        return np.frombuffer(exported.buffers()[1], np.uint8, width * height, exported.offset).reshape(height, width)
    if exported is not None and image.mode == "RGB" and isinstance(exported, pa.FixedSizeListArray):
        values = exported.values
        return np.frombuffer(values.buffers()[1], np.uint8, width * height * 4, values.offset).reshape(height, width, 4)
    if image.mode == "RGB":
        return np.asarray(image.convert("RGBA"))
    return np.asarray(image.convert("L") if image.mode == "1" else image)


def rgb_rows(image: Image.Image) -> bytes:
    """An RGB image's rows, 3 bytes per pixel, packed by Pillow in C (faster than numpy drops the padding
    byte) in one piece: `tobytes` packs 64 KB chunks and joins them, a second copy of 6 MB per LCD frame."""
    size = image.width * image.height * 3
    try:
        encoder = Image._getencoder("RGB", "raw", "RGB")  # what tobytes uses, asked for all rows at once
        try:
            encoder.setimage(image.im, (0, 0, *image.size))
            _, status, data = encoder.encode(size)
        finally:
            encoder.cleanup()
    except (AttributeError, TypeError, ValueError, OSError):  # another Pillow's internals: its public way
        return image.tobytes()
    return data if status == 1 and len(data) == size else image.tobytes()


def rgb_pixels(raster: np.ndarray, color_mode: str) -> np.ndarray:
    """An rgb565 or rgb raster as H x W x 3 bytes (565 widened as the renderer does)."""
    v = raster.astype(np.uint32)
    if color_mode == "rgb565":
        r5, g6, b5 = v >> 11, (v >> 5) & 63, v & 31
        return np.stack([(r5 << 3) | (r5 >> 2), (g6 << 2) | (g6 >> 4), (b5 << 3) | (b5 >> 2)], -1).astype(np.uint8)
    return np.stack([v >> 16, (v >> 8) & 255, v & 255], -1).astype(np.uint8)


def image_of(raster: np.ndarray, color_mode: str) -> Image.Image:
    """The image a pillar shows for a raster (pixel-identical to what the renderer drew)."""
    if color_mode == "mono":
        return Image.fromarray((raster * 255).astype(np.uint8), "L").convert("1", dither=Image.Dither.NONE)
    if color_mode == "bwr":
        image = Image.fromarray(raster.astype(np.uint8), "P")
        image.putpalette([255, 255, 255, 0, 0, 0, 255, 0, 0])
        return image
    if color_mode == "gray4":
        return Image.fromarray(GRAY_LEVELS[raster.astype(np.uint8)], "L")
    return Image.fromarray(rgb_pixels(raster, color_mode), "RGB")


@lru_cache(maxsize=1)
def _wide565() -> np.ndarray:
    """Every RGB565 value as the 8-bit RGB the renderer widens it to (a table: 192 KB, a lookup per pixel)."""
    return rgb_pixels(np.arange(1 << 16, dtype=np.uint32), "rgb565")


def image_of_raw(raw: bytes, color_mode: str, width: int, height: int) -> Image.Image:
    """The image a frame's raw bytes (the colour mode's raw encoding) show, in the mode the renderer draws in
    (mono "1", bwr "P", gray4 "L", rgb565 and rgb "RGB"): a partial redraw draws over it. Its raw bytes are
    `raw` again (gray4 and rgb565 come back at the panel's levels, which reduce to themselves)."""
    if color_mode == "mono":
        return Image.frombytes("1", (width, height), raw)  # the same bits: MSB first, 1 light, rows padded
    if color_mode == "rgb":
        return Image.frombytes("RGB", (width, height), raw)
    if color_mode == "rgb565":
        return Image.fromarray(_wide565()[np.frombuffer(raw, "<u2").reshape(height, width)], "RGB")
    row = -(-width * (2 if color_mode == "gray4" else 1) // 8)
    buf = np.frombuffer(raw, np.uint8)
    if color_mode == "bwr":
        planes = buf.reshape(2, height, row)
        black = np.unpackbits(planes[0], axis=1)[:, :width]
        red = np.unpackbits(planes[1], axis=1)[:, :width]
        image = Image.fromarray(np.where(red == 1, 2, black).astype(np.uint8), "P")
        image.putpalette([255, 255, 255, 0, 0, 0, 255, 0, 0])
        return image
    b = buf.reshape(height, row)
    quads = np.stack([(b >> 6) & 3, (b >> 4) & 3, (b >> 2) & 3, b & 3], -1).reshape(height, -1)[:, :width]
    return Image.fromarray(GRAY_LEVELS[quads], "L")
