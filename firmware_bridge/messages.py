"""The messages of the pillar contract as values: what the service publishes, what pillars send
back, and the parsing of the latter (never trusted: malformed ones raise ValueError)."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field

import numpy as np

from . import codec, png

__all__ = [
    "Event", "Frame", "PillarAck", "PillarStatus", "PillarView", "Publish", "Rejected", "Sent", "hex_hash",
    "packet_room", "parse_ack", "parse_status",
]

MAX_PILLAR_MESSAGE = 2048  # bytes: larger acks or status messages are rejected unread
# An MQTT PUBLISH packet around its payload: the fixed header (1 byte and up to 4 of remaining length),
# the topic's length (2), the packet id (QoS 1: 2) and MQTT 5 properties (1 byte of length, 5 of expiry).
PUBLISH_OVERHEAD = 1 + 4 + 2 + 2 + 1 + 5


def text_hash(text: str) -> int:
    """The CRC-32 of a text's UTF-8 bytes: how audio and ticker headers name the text they carry."""
    return zlib.crc32(text.encode("utf-8"))


def packet_room(max_packet: int, topic: str) -> int:
    """The payload bytes that keep a PUBLISH on `topic` within `max_packet` bytes, MQTT's packet size."""
    return max_packet - PUBLISH_OVERHEAD - len(topic.encode())


@dataclass(frozen=True, slots=True)
class Publish:
    """One MQTT message to send (QoS 1 unless said otherwise)."""

    topic: str
    payload: bytes
    retain: bool
    qos: int = 1
    expiry: int | None = None  # MQTT 5 message expiry, seconds


@dataclass(frozen=True, slots=True)
class Sent:
    """What one send did: messages and payload bytes the broker acknowledged, and refused topics."""

    messages: int = 0
    payload_bytes: int = 0
    refused: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Frame:
    """A screen a display should show, as the service rendered it.

    It keeps its pixels packed in the colour mode's raw encoding and deflated (an e-paper frame in ~8 KB,
    not a 384 KB raster): a service holds the current and recent frames of thousands of displays. The
    raster is unpacked when a delta or a pull needs it."""

    packed: bytes = field(compare=False)  # RAW_FOR_MODE[color_mode] bytes, deflated (png.deflate); an RGB
    # frame's PNG body is kept as it is (it holds the same rows: a second deflate of 6 MB saved per frame)
    width: int
    height: int
    color_mode: str
    encoding: str
    compress: bool
    hash: int
    board_json: bytes = field(default=b"", compare=False)
    full_body: bytes | None = field(default=None, compare=False)  # the encoded (compressed) full body, if known

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width), as a raster's shape."""
        return self.height, self.width

    @property
    def raw(self) -> bytes:
        """The frame's pixels in the colour mode's raw encoding (what the content hash covers)."""
        if self.color_mode == "rgb" and self.packed[:8] == png.SIGNATURE:
            return png.decode_rgb(self.packed)
        return png.inflate(self.packed)

    @property
    def raster(self) -> np.ndarray:
        """The frame's pixels, one value per pixel (unpacked on each call)."""
        return codec.unpack(self.raw, codec.RAW_FOR_MODE[self.color_mode], self.width, self.height, self.color_mode)

    @staticmethod
    def of(raster: np.ndarray, color_mode: str, encoding: str, compress: bool, board_json: bytes = b"") -> Frame:
        """A frame with its content hash computed."""
        raw = codec.pack(raster, codec.RAW_FOR_MODE[color_mode], color_mode)
        height, width = raster.shape
        return Frame(png.deflate(raw), width, height, color_mode, encoding, compress, png.crc32(raw), board_json)


@dataclass(frozen=True, slots=True)
class PillarAck:
    """A pillar says which frame it shows (or that it needs a full one)."""

    display_id: str
    hash: int | None
    need_full: bool
    seq: int | None = None  # the shown frame's sequence number, when the pillar says it (-1: none shown)


@dataclass(frozen=True, slots=True)
class PillarStatus:
    """A pillar's retained status (online, or offline by its Last Will) and what it reports."""

    display_id: str
    online: bool
    details: dict = field(compare=False)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that broke the contract; it was ignored."""

    topic: str
    reason: str


Event = PillarAck | PillarStatus | Rejected


@dataclass(frozen=True, slots=True)
class PillarView:
    """A read-only view of one display's pillar, for ops."""

    online: bool
    status: dict = field(compare=False)
    last_ack_at: int | None = None
    last_frame_at: int | None = None
    in_sync: bool = False
    frame_hash: int | None = None
    last_status_at: int | None = None
    limited: int = 0  # answers to it the limits deferred (it asked more often than they allow)
    limited_at: int | None = None  # when the last one was
    streak: int = 0  # of them since it last showed the current frame

    @property
    def last_seen(self) -> int | None:
        """When the pillar last said anything (an ack or a status)."""
        seen = [t for t in (self.last_ack_at, self.last_status_at) if t is not None]
        return max(seen) if seen else None


def hex_hash(value: int) -> str:
    """A content hash as the contract writes it: 8 lowercase hex digits."""
    return f"{value:08x}"


def _parse_pillar_json(payload: bytes) -> dict:
    if len(payload) > MAX_PILLAR_MESSAGE:
        raise ValueError(f"message of {len(payload)} bytes exceeds {MAX_PILLAR_MESSAGE}")
    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc


def parse_ack(display_id: str, payload: bytes) -> PillarAck:
    """An ack: {"hash": "89abcdef" | null, "need_full": bool, "seq": int}; ValueError when malformed."""
    doc = _parse_pillar_json(payload)
    raw = doc.get("hash")
    need_full = doc.get("need_full", False)
    if not isinstance(need_full, bool):
        raise ValueError("need_full must be true or false")
    seq = doc.get("seq")
    if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool) or not -1 <= seq < 1 << 32):
        raise ValueError("seq must be an integer from -1 to 2^32-1")
    if raw is None:
        return PillarAck(display_id, None, need_full, seq)
    if not isinstance(raw, str) or len(raw) != 8 or any(c not in "0123456789abcdefABCDEF" for c in raw):
        raise ValueError("hash must be 8 hex digits or null")
    return PillarAck(display_id, int(raw, 16), need_full, seq)


def parse_status(display_id: str, payload: bytes) -> PillarStatus:
    """A status: {"state": "online" | "offline", ...}; ValueError when malformed."""
    doc = _parse_pillar_json(payload)
    state = doc.get("state")
    if state not in ("online", "offline"):
        raise ValueError("state must be online or offline")
    details = {}
    for key, kind in (("fw", str), ("battery_v", (int, float)), ("rssi", int), ("shows", str), ("model", str),
                      ("max_packet", int)):
        value = doc.get(key)
        if value is not None and isinstance(value, kind) and not isinstance(value, bool):
            details[key] = value
    if isinstance(doc.get("ticker"), bool):
        details["ticker"] = doc["ticker"]
    return PillarStatus(display_id, state == "online", details)
