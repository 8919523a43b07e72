"""What a pillar must hold, per layout size and encoding (docs/mqtt.md, "Memory"): its frame buffer, the
largest full-frame message the service can send it, the inflater, and the `max_packet` that carries the
largest message measured on real boards whole. Pure arithmetic from the contract; `bench/vendor_sizes.py`
measures the boards.
"""

from __future__ import annotations

from dataclasses import dataclass

from .codec import HEADER, RAW_FOR_MODE, ZLIB_WINDOW_BITS
from .messages import PUBLISH_OVERHEAD

__all__ = ["INFLATE_STATE", "PNG_WINDOW", "Needs", "needs", "raw_size", "recommended_max_packet"]

INFLATE_STATE = 7_200  # bytes of zlib's inflate state besides its window (sizeof(struct inflate_state), 32-bit)
PNG_WINDOW = 32_768  # a PNG's deflate stream may use the whole 32 KB window (the service's does)
TOPIC_ROOM = 100  # bytes of topic in a PUBLISH: `{prefix}/displays/{id}/frame/{i}` with a 64-character id


@dataclass(frozen=True, slots=True)
class Needs:
    """One layout size and encoding."""

    frame_buffer: int  # the frame's raw pixels (what deltas are applied to and the hash covers)
    worst_message: int  # the largest full-frame payload: header and a body zlib could not shrink (raw encodings)
    inflater: int  # window and state of the inflater the encoding needs


def raw_size(color_mode: str, width: int, height: int) -> int:
    """Bytes of a frame in its colour mode's raw encoding (rows padded to whole bytes)."""
    bits = {"mono1": 1, "gray2": 2, "bwr": 1, "rgb565": 16, "rgb888": 24}[RAW_FOR_MODE[color_mode]]
    planes = 2 if color_mode == "bwr" else 1
    return planes * height * -(-width * bits // 8)


def needs(color_mode: str, encoding: str, width: int, height: int) -> Needs:
    """What a pillar of this size needs for this encoding (PNG: the raw size bounds a filtered, stored image)."""
    raw = raw_size(color_mode, width, height)
    stored_blocks = -(-raw // 16_383)
    worst = HEADER.size + raw + 5 * stored_blocks + 6  # zlib's bound for data it cannot compress
    if encoding == "png":
        worst += height + 200  # a filter byte per row, and the PNG's chunks
    window = PNG_WINDOW if encoding == "png" else 1 << ZLIB_WINDOW_BITS
    return Needs(raw, worst, window + INFLATE_STATE)


def recommended_max_packet(largest_message: int) -> int:
    """The smallest power of two, at least 4 KiB, whose PUBLISH packet carries a message of this size whole: a
    larger frame comes in chunks (rare: boards compress 6-20 fold), a larger forecast loses its last steps."""
    packet = 4096
    while packet < largest_message + PUBLISH_OVERHEAD + TOPIC_ROOM:
        packet *= 2
    return packet
