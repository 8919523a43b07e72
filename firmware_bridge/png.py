"""PNG of an RGB frame in a few milliseconds: unfiltered rows deflated by ISA-L.

A portrait LCD frame is 6 MB of pixels; Pillow's encoder (zlib, adaptive filters) takes 35-90 ms for it,
which is most of the cost of a frame. The pixels a decoder gets back are exactly the same; only the
compressed bytes differ (a few per cent larger than zlib level 6). A frame of a megabyte or more is
deflated in bands of 32 rows, each ending on a byte boundary, one after the other in the one zlib stream:
a band whose pixels were deflated before (the last minute's board of the same LCD, or any other's) is
taken as it was, so a new frame costs what changed in it.
"""

from __future__ import annotations

import struct
import threading

import numpy as np
import xxhash
from cachetools import LRUCache
from isal import isal_zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
LEVEL = 1  # ISA-L's levels are 0-3; 1 is within 20 % of 3 in size here at half its time


def crc32(data: bytes | memoryview) -> int:
    """CRC-32 (the same value as zlib.crc32), an order of magnitude faster on frames of megabytes."""
    return isal_zlib.crc32(data)


def deflate(data: bytes | memoryview, level: int = LEVEL) -> bytes:
    """A zlib stream (RFC 1950) of `data`, readable by any inflater."""
    return isal_zlib.compress(data, level)


def inflate(data: bytes) -> bytes:
    """The bytes of a zlib stream (as `deflate` or zlib made it)."""
    return isal_zlib.decompress(data)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc32(kind + body))


BAND_ROWS = 32  # rows of a large frame deflated apart from the rest, and kept: most of a board stays as it was
BASE = 65521  # Adler-32's modulus


def _band_bytes(band: tuple[bytes, int, int]) -> int:
    return len(band[0]) + 100


# A frame's bands by the content of their rows (XXH3-128: a wrong hit would show another board's pixels, so
# not CRC-32). An LCD frame of 6 MB is some 60 bands of 1-20 KB deflated; a render worker of 10,000
# displays keeps the last minutes' bands of all its LCDs in this.
_bands: LRUCache = LRUCache(maxsize=128 << 20, getsizeof=_band_bytes)
_bands_lock = threading.Lock()


def adler32_combine(first: int, second: int, second_length: int) -> int:
    """Adler-32 of two byte strings one after the other, from theirs and the second's length."""
    a = (first & 0xFFFF) + (second & 0xFFFF) - 1
    b = (first >> 16) + (second >> 16) + second_length % BASE * ((first & 0xFFFF) - 1)
    return a % BASE | (b % BASE) << 16


def _band(rows: memoryview, row_bytes: int) -> tuple[bytes, int, int]:
    """Unfiltered PNG rows of `rows` as raw deflate ending on a byte (a sync flush, not final), their Adler-32
    and length: bands deflated so can follow each other in one zlib stream."""
    key = (xxhash.xxh3_128_intdigest(rows), row_bytes)
    with _bands_lock:
        kept = _bands.get(key)
    if kept is not None:
        return kept
    source = np.frombuffer(rows, np.uint8).reshape(-1, row_bytes)
    filtered = np.empty((source.shape[0], row_bytes + 1), np.uint8)
    filtered[:, 0] = 0  # filter type None on every row
    filtered[:, 1:] = source
    deflater = isal_zlib.compressobj(LEVEL, isal_zlib.DEFLATED, -15)
    made = (deflater.compress(filtered.data) + deflater.flush(isal_zlib.Z_SYNC_FLUSH), isal_zlib.adler32(filtered.data),
            filtered.size)
    with _bands_lock:
        _bands[key] = made
    return made


def _banded(rows: memoryview, row_bytes: int) -> bytes:
    """The zlib stream of a large frame's unfiltered rows, band by band (each band deflated once)."""
    parts, adler, step = [b"\x78\x01"], 1, BAND_ROWS * row_bytes  # zlib header: deflate, 32 KB window, no level claimed
    for start in range(0, len(rows), step):
        data, band_adler, length = _band(rows[start : start + step], row_bytes)
        parts.append(data)
        adler = adler32_combine(adler, band_adler, length)
    parts.append(b"\x03\x00")  # an empty final block (fixed Huffman) ends the deflate stream
    parts.append(struct.pack(">I", adler))
    return b"".join(parts)


def encode_rgb(pixels: np.ndarray | bytes, width: int = 0, height: int = 0) -> bytes:
    """PNG bytes (8-bit RGB, colour type 2) of an H x W x 3 uint8 array, or of RGB rows given as bytes with
    their width and height. Rows are not filtered: a board is flat colour with text, which deflates smaller
    that way than Up-filtered (232 KB vs 267 KB for a portrait LCD) and without the subtraction. A frame of a
    megabyte or more is deflated in bands of rows, each band once: the next minute's board of an LCD
    deflates only the rows whose pixels changed."""
    if isinstance(pixels, np.ndarray):
        if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
            raise ValueError("encode_rgb takes an H x W x 3 uint8 array")
        height, width = pixels.shape[:2]
        source = pixels.reshape(height, width * 3)
    else:
        if len(pixels) != width * height * 3:
            raise ValueError("encode_rgb: the bytes are not width x height RGB pixels")
        source = np.frombuffer(pixels, np.uint8).reshape(height, width * 3)
    if source.size >= 1 << 20:
        idat = _banded(np.ascontiguousarray(source).data.cast("B"), width * 3)
    else:
        rows = np.empty((height, width * 3 + 1), np.uint8)
        rows[:, 0] = 0  # filter type None on every row
        rows[:, 1:] = source
        idat = deflate(rows.data)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join((SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", idat), _chunk(b"IEND", b"")))


def decode_rgb(data: bytes) -> bytes:
    """The RGB rows (3 bytes per pixel) of an 8-bit RGB PNG: at once for what `encode_rgb` writes
    (unfiltered rows), any other filtering through Pillow. ValueError for anything else."""
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG")
    pos, width, height, idat = len(SIGNATURE), 0, 0, []
    while pos + 8 <= len(data):
        (length,), kind = struct.unpack_from(">I", data, pos), data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if (depth, colour, interlace) != (8, 2, 0):
                raise ValueError("not an 8-bit RGB PNG without interlacing")
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    rows = np.frombuffer(inflate(b"".join(idat)), np.uint8)
    if not width or rows.size != height * (width * 3 + 1):
        raise ValueError("PNG pixel data does not match its header")
    rows = rows.reshape(height, width * 3 + 1)
    if not rows[:, 0].any():  # no filter on any row (what encode_rgb writes)
        return rows[:, 1:].tobytes()
    import io

    from PIL import Image

    return Image.open(io.BytesIO(data)).convert("RGB").tobytes()
