"""A pillar written from docs/mqtt.md alone (it imports nothing of firmware_bridge): the decoder the
conformance suite checks the service's messages with. Every rule it checks cites the document's words;
a violation is a `Violation`, never silently tolerated."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

HEADER = struct.Struct("<2sBBBBHHHHHHIIIIHHBBII")  # "a 48-byte header ... little-endian"
FORECAST = struct.Struct("<2sBBHHI")  # "Forecast": magic SF, version 1, flags, horizon, steps, epoch
ENCODINGS = {0: "png", 1: "mono1", 2: "gray2", 3: "bwr", 4: "rgb565"}
MODES = {0: "mono", 1: "gray4", 2: "bwr", 3: "rgb565", 4: "rgb"}
RAW_OF_MODE = {"mono": "mono1", "gray4": "gray2", "bwr": "bwr", "rgb565": "rgb565"}
ALLOWED = {"mono": {"mono1", "png"}, "gray4": {"gray2", "png"}, "bwr": {"bwr", "png"}, "rgb565": {"rgb565", "png"},
           "rgb": {"png"}}


class Violation(AssertionError):
    """The service broke a rule of docs/mqtt.md."""


@dataclass(frozen=True)
class Head:
    version: int
    kind: int
    encoding: str
    flags: int
    width: int
    height: int
    region: tuple[int, int, int, int]
    content_hash: int
    base_hash: int
    valid_until: int
    seq: int
    chunk: int
    chunks: int
    mode: str
    epoch: int


def head(payload: bytes) -> Head:
    """The header, with every field rule of the table checked."""
    if len(payload) < HEADER.size:
        raise Violation(f"payload of {len(payload)} bytes has no 48-byte header")
    (magic, version, kind, enc, flags, w, h, rx, ry, rw, rh, content, base, valid, seq, chunk, chunks, mode,
     reserved1, epoch, reserved2) = HEADER.unpack_from(payload)
    if magic != b"SC" or version != 2:
        raise Violation(f"magic {magic!r} version {version}: the document defines SC and version 2")
    if kind not in (0, 1) or enc not in ENCODINGS or mode not in MODES:
        raise Violation(f"kind {kind}, encoding {enc}, colour mode {mode}: not in the tables")
    if flags & ~31 or reserved1 or reserved2:
        raise Violation("flags beyond bits 0-4 or reserved bytes not 0")
    if chunks < 1 or chunk >= chunks or bool(flags & 4) != (chunks > 1):
        raise Violation(f"chunk {chunk} of {chunks} with flags {flags}")
    if kind == 0 and ((rx, ry, rw, rh) != (0, 0, w, h) or base != 0):
        raise Violation("a full frame's region is the whole frame and its base hash 0")
    if kind == 1 and (rx + rw > w or ry + rh > h):
        raise Violation("a delta's region lies outside the frame")
    if ENCODINGS[enc] not in ALLOWED[MODES[mode]]:
        raise Violation(f"encoding {ENCODINGS[enc]} is not defined for colour mode {MODES[mode]}")
    if ENCODINGS[enc] == "png" and flags & 1:
        raise Violation("zlib is never set for png")
    return Head(version, kind, ENCODINGS[enc], flags, w, h, (rx, ry, rw, rh), content, base, valid, seq, chunk, chunks,
                MODES[mode], epoch)


def _rows(data: bytes, row_bytes: int, height: int, what: str) -> np.ndarray:
    if len(data) != row_bytes * height:
        raise Violation(f"{what}: {len(data)} bytes, the document says {row_bytes * height}")
    return np.frombuffer(data, dtype=np.uint8).reshape(height, row_bytes)


def decode(data: bytes, encoding: str, mode: str, w: int, h: int) -> np.ndarray:
    """Pixels as the colour mode's raw values (mono 0/1 with 1 light, gray 0-3, bwr 0 white 1 black 2 red,
    rgb565 as integers, rgb as (R, G, B) triples)."""
    if encoding == "png":
        image = Image.open(io.BytesIO(data))
        if image.size != (w, h):
            raise Violation(f"PNG of {image.size}, header says {w}x{h}")
        expected = {"mono": "1", "gray4": "L", "bwr": "P", "rgb565": "RGB", "rgb": "RGB"}[mode]
        if image.mode != expected:
            raise Violation(f"PNG mode {image.mode} for colour mode {mode}; the document says {expected}")
        if mode == "mono":
            return (np.asarray(image.convert("L")) == 255).astype(np.uint8)
        if mode == "gray4":
            values = np.asarray(image)
            if not set(np.unique(values)) <= {0, 85, 170, 255}:
                raise Violation("gray4 PNG with values other than 0, 85, 170, 255")
            return (values.astype(np.uint16) + 42) // 85
        if mode == "bwr":
            palette = image.getpalette()[:9]  # type: ignore[index]
            if palette != [255, 255, 255, 0, 0, 0, 255, 0, 0]:
                raise Violation(f"bwr PNG palette {palette}; the document says white, black, red")
            return np.asarray(image).astype(np.uint8)
        rgb = np.asarray(image).astype(np.uint32)
        if mode == "rgb565":
            return ((rgb[..., 0] >> 3) << 11) | ((rgb[..., 1] >> 2) << 5) | (rgb[..., 2] >> 3)
        return rgb
    if encoding == "mono1":
        return np.unpackbits(_rows(data, -(-w // 8), h, "mono1"), axis=1)[:, :w]
    if encoding == "gray2":
        b = _rows(data, -(-w // 4), h, "gray2")
        return np.stack([b >> 6, (b >> 4) & 3, (b >> 2) & 3, b & 3], -1).reshape(h, -1)[:, :w].astype(np.uint16)
    if encoding == "bwr":
        row = -(-w // 8)
        planes = _rows(data, row, 2 * h, "bwr")
        black, red = np.unpackbits(planes[:h], axis=1)[:, :w], np.unpackbits(planes[h:], axis=1)[:, :w]
        if np.any(black & red):
            raise Violation("a bwr pixel set in both planes: the service never does that")
        return np.where(red == 1, 2, black).astype(np.uint8)
    if len(data) != 2 * w * h:
        raise Violation(f"rgb565: {len(data)} bytes, the document says {2 * w * h}")
    return np.frombuffer(data, dtype="<u2").reshape(h, w).astype(np.uint32)


def raw_bytes(pixels: np.ndarray, mode: str) -> bytes:
    """The colour mode's raw form that the content hash covers."""
    if mode == "rgb":
        return pixels.astype(np.uint8).tobytes()
    if mode == "rgb565":
        return pixels.astype("<u2").tobytes()
    if mode == "mono":
        return np.packbits(pixels.astype(np.uint8), axis=1).tobytes()
    if mode == "gray4":
        h, w = pixels.shape
        padded = np.zeros((h, -(-w // 4) * 4), dtype=np.uint8)
        padded[:, :w] = pixels
        q = padded.reshape(h, -1, 4)
        return ((q[..., 0] << 6) | (q[..., 1] << 4) | (q[..., 2] << 2) | q[..., 3]).astype(np.uint8).tobytes()
    return (np.packbits((pixels == 1).astype(np.uint8), axis=1).tobytes()
            + np.packbits((pixels == 2).astype(np.uint8), axis=1).tobytes())


def content_hash(pixels: np.ndarray, mode: str) -> int:
    """CRC32 (zlib's) of the raw pixels."""
    return zlib.crc32(raw_bytes(pixels, mode))


@dataclass
class SpecPillar:
    """The pillar's loop of docs/mqtt.md over a message stream; it records what it showed."""

    display_id: str
    prefix: str = "stopcast/v1"
    pixels: np.ndarray | None = None
    mode: str = ""
    shown_hash: int | None = None
    shown_order: tuple[int, int] = (0, 0)  # (epoch, sequence) of the frame on screen
    highest_epoch: int = 0
    valid_until: int = 0
    acks: list[dict] = field(default_factory=list)
    chunks: dict[tuple[int, ...], dict[int, bytes]] = field(default_factory=dict)
    ignored: int = 0
    key: bytes = b""  # the display's frame key ("Signed frames"): every message must be signed with it
    forecast: bytes = b""  # the last `next` message ("Forecast")

    def topic(self, leaf: str) -> str:
        return f"{self.prefix}/displays/{self.display_id}/{leaf}"

    def subscriptions(self) -> list[str]:
        """`delta` and `next` always, `frame/#` exactly while it shows no frame."""
        return [self.topic("delta"), self.topic("next")] + ([self.topic("frame/#")] if self.pixels is None else [])

    def shows(self, now: int) -> np.ndarray | None:
        """What is on screen at `now`: the frame while it is valid, else the forecast's step for `now` within
        the horizon, else nothing ("no current data")."""
        if self.pixels is not None and now <= self.valid_until:
            return self.pixels
        return self.predicted(now)

    def predicted(self, now: int) -> np.ndarray | None:
        """"Forecast": the step whose start <= now <= its valid_until, built from the first step's full frame and
        the deltas after it, each verified; only until `horizon` minutes after the shown frame ran out (or after
        the first step's start, when that is later)."""
        if len(self.forecast) < FORECAST.size:
            return None
        magic, version, flags, horizon, count, epoch = FORECAST.unpack_from(self.forecast)
        if magic != b"SF" or version != 1 or flags != 1 or epoch < self.highest_epoch:
            raise Violation(f"forecast magic {magic!r} version {version} flags {flags} epoch {epoch}")
        if self.forecast[FORECAST.size] >> 4 > 6:
            raise Violation("the forecast's zlib stream has a window over 16 KB")
        steps = zlib.decompress(self.forecast[FORECAST.size:])  # "one zlib stream" (flag 1, always set)
        offset, pixels, last, first = 0, None, None, 0
        for i in range(count):
            start, length = struct.unpack_from("<II", steps, offset)
            h = head(steps[offset + 8:offset + 8 + length])
            body = steps[offset + 8 + HEADER.size:offset + 8 + length]
            offset += 8 + length
            if (h.kind == 0) != (i == 0) or h.chunks != 1 or h.epoch != epoch or h.flags & 1:
                raise Violation(f"forecast step {i}: kind {h.kind}, {h.chunks} chunks, epoch {h.epoch}")
            if last is not None and start != last + 1:
                raise Violation(f"forecast step {i} starts at {start}, the step before ends at {last}")
            last = h.valid_until
            if h.kind == 0:
                pixels = decode(body, h.encoding, h.mode, h.width, h.height)
            else:
                saved, self.pixels = self.pixels, pixels
                try:
                    pixels = self._apply(body, h)
                finally:
                    self.pixels = saved
            if content_hash(pixels, h.mode) != h.content_hash:
                raise Violation(f"forecast step {i}: content hash does not verify")
            first = start if i == 0 else first
            if start <= now <= h.valid_until:
                return pixels if now <= max(self.valid_until, first) + 60 * horizon else None
        if offset != len(steps):
            raise Violation("trailing bytes after the forecast's steps")
        return None

    def ack(self) -> tuple[str, bytes]:
        doc = {"hash": f"{self.shown_hash:08x}" if self.shown_hash is not None else None,
               "seq": self.shown_order[1] if self.shown_hash is not None else -1, "need_full": False}
        self.acks.append(doc)
        return self.topic("ack"), json.dumps(doc).encode()

    def receive(self, payload: bytes, now: int, topic: str = "") -> list[tuple[str, bytes]]:
        """Apply one message; the acks to publish. A message the document says to use but that does not
        decode or verify is a Violation (the service must never send one)."""
        if topic.endswith("/next"):
            self.forecast = payload
            return []
        if not payload:
            return []
        h = head(payload)
        payload = self._unsigned(payload, h)
        if h.epoch < self.highest_epoch or h.valid_until < now:
            self.ignored += 1
            return []
        body = payload[HEADER.size:]
        if h.chunks > 1:
            # "a set, identified by (kind, epoch, sequence, content hash, base hash)"
            parts = self.chunks.setdefault((h.kind, h.epoch, h.seq, h.content_hash, h.base_hash), {})
            parts[h.chunk] = body
            if len(parts) < h.chunks:
                return []
            body = b"".join(parts[i] for i in range(h.chunks))
            # "drops every incomplete set whose (epoch, sequence) is lower than or equal to the completed one's"
            self.chunks = {k: v for k, v in self.chunks.items() if k[1:3] > (h.epoch, h.seq)}
        if h.content_hash == self.shown_hash:  # "take only its valid_until ... (epoch, sequence) ... when higher"
            self.valid_until = max(self.valid_until, h.valid_until)
            self.shown_order = max(self.shown_order, (h.epoch, h.seq))
            self.highest_epoch = max(self.highest_epoch, h.epoch)
            return [self.ack()]
        if h.kind == 0 and (h.epoch, h.seq) < self.shown_order:
            self.ignored += 1
            return []
        if h.flags & 1:
            if body[0] >> 4 > 6:
                raise Violation(
                    f"a zlib stream with a {1 << (8 + (body[0] >> 4))}-byte window; the document says 16 KB at most"
                )
            body = zlib.decompress(body)
        if h.kind == 0:
            pixels = decode(body, h.encoding, h.mode, h.width, h.height)
        else:
            if self.pixels is None or h.base_hash != self.shown_hash:
                raise Violation(f"a delta for base {h.base_hash:08x} to a pillar showing {self.shown_hash}")
            pixels = self._apply(body, h)
        if content_hash(pixels, h.mode) != h.content_hash:
            raise Violation(f"content hash {h.content_hash:08x} does not verify")
        self.pixels, self.mode, self.shown_hash = pixels, h.mode, h.content_hash
        self.shown_order, self.valid_until = (h.epoch, h.seq), h.valid_until
        self.highest_epoch = max(self.highest_epoch, h.epoch)  # "only a message the pillar shows ... raises" it
        return [self.ack()]

    def _unsigned(self, payload: bytes, h: Head) -> bytes:
        """The message without its MAC, which must verify under the key (S-1, S-2, S-5)."""
        if not h.flags & 16:
            if self.key:
                raise Violation("[S-1] a signed display's message without the signed flag")
            return payload
        if len(payload) < HEADER.size + 16:
            raise Violation("[S-1] a signed message without room for its 16-byte MAC")
        signed, mac = payload[:-16], payload[-16:]
        if self.key and not hmac.compare_digest(hmac.new(self.key, signed, hashlib.sha256).digest()[:16], mac):
            raise Violation("[S-2] the MAC is not HMAC-SHA256 of header and body under the display's key")
        return signed

    def _apply(self, body: bytes, h: Head) -> np.ndarray:
        assert self.pixels is not None
        out = self.pixels.copy()
        (count,) = struct.unpack_from("<H", body)
        offset, tiles = 2, np.zeros(out.shape[:2], dtype=bool)
        for _ in range(count):
            x, y, w, hh, length = struct.unpack_from("<HHHHI", body, offset)
            offset += 12
            if x % 16 or y % 8 or x + w > h.width or y + hh > h.height:
                raise Violation(f"rectangle {x},{y} {w}x{hh} not on 16x8 tiles or outside the frame")
            if tiles[y:y + hh, x:x + w].any():
                raise Violation("rectangles overlap")
            tiles[y:y + hh, x:x + w] = True
            out[y:y + hh, x:x + w] = decode(body[offset:offset + length], h.encoding, h.mode, w, hh)
            offset += length
        if offset != len(body):
            raise Violation("trailing bytes after the delta's rectangles")
        return out


def packet_size(topic: str, payload: bytes) -> int:
    """The MQTT 5 PUBLISH packet for a QoS 1 message with a message expiry: fixed header, topic, packet id,
    properties, payload."""
    remaining = 2 + len(topic.encode()) + 2 + 1 + 5 + len(payload)
    varint = 1 if remaining < 128 else 2 if remaining < 16384 else 3 if remaining < 2097152 else 4
    return 1 + varint + remaining
