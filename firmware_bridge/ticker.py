"""Tickers on MQTT (docs/mqtt.md, "Ticker"): one long 1-bit strip of alert text and where and how fast the
pillar scrolls it itself, so a scrolling line costs no traffic. Pure."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from .codec import ZLIB_WINDOW_BITS, rgb565_of

MAGIC = b"ST"
VERSION = 1
HEADER = struct.Struct(">2sBBHHHHIHHHI")  # magic, version, flags, x, y, w, h, strip width, speed, ink, paper, text crc
HEADER_SIZE = HEADER.size  # 26


class TickerError(ValueError):
    """A ticker payload that does not follow the contract."""


@dataclass(frozen=True, slots=True)
class Ticker:
    """A strip to scroll: `strip` is (h, strip_width) booleans (True = ink)."""

    region: tuple[int, int, int, int]  # x, y, w, h on the frame
    speed: int  # pixels per second, right to left
    ink: int  # RGB565 of the text
    paper: int  # RGB565 behind it
    text_hash: int
    strip: np.ndarray


def rgb565(color: str) -> int:
    """#RRGGBB as RGB565."""
    return int(rgb565_of(*(int(color[i : i + 2], 16) for i in (1, 3, 5))))


def ticker_payload(ticker: Ticker) -> bytes:
    """The header, then the strip's rows packed 1 bit per pixel (MSB first, rows padded to bytes), zlib-compressed."""
    h, w = ticker.strip.shape
    x, y, rw, rh = ticker.region
    if rh != h:
        raise TickerError(f"the strip is {h} px high, the region {rh}")
    header = HEADER.pack(MAGIC, VERSION, 0, x, y, rw, rh, w, ticker.speed, ticker.ink, ticker.paper, ticker.text_hash)
    deflater = zlib.compressobj(9, zlib.DEFLATED, ZLIB_WINDOW_BITS)  # the window every pillar's inflater has
    strip = np.packbits(ticker.strip.astype(bool), axis=1).tobytes()
    return header + deflater.compress(strip) + deflater.flush()


def parse_ticker(payload: bytes) -> Ticker:
    """A ticker from its payload; TickerError naming what is wrong."""
    if len(payload) < HEADER_SIZE:
        raise TickerError(f"{len(payload)} bytes is shorter than the {HEADER_SIZE}-byte header")
    magic, version, _, x, y, w, h, width, speed, ink, paper, crc = HEADER.unpack_from(payload)
    if magic != MAGIC or version != VERSION or not (w and h and width and speed):
        raise TickerError(
            f"not a stopcast ticker (magic {magic!r}, version {version}, {w}x{h}, strip {width}, speed {speed})"
        )
    try:
        raw = zlib.decompress(payload[HEADER_SIZE:], bufsize=h * ((width + 7) // 8))
    except zlib.error as exc:
        raise TickerError(f"strip: {exc}") from None
    row = (width + 7) // 8
    if len(raw) != h * row:
        raise TickerError(f"strip: {len(raw)} bytes, {h} rows of {row} expected")
    strip = np.unpackbits(np.frombuffer(raw, dtype=np.uint8).reshape(h, row), axis=1)[:, :width].astype(bool)
    return Ticker((x, y, w, h), speed, ink, paper, crc, strip)


def ticker_window(ticker: Ticker, seconds: float) -> np.ndarray:
    """What the region shows `seconds` after the ticker arrived: the strip entering from the right edge and
    moving left at its speed, over and over (h, w booleans)."""
    _, _, w, h = ticker.region
    loop = np.concatenate([np.zeros((h, w), dtype=bool), ticker.strip], axis=1)
    offset = int(seconds * ticker.speed) % loop.shape[1]
    return np.roll(loop, -offset, axis=1)[:, :w]
