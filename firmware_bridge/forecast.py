"""The forecast (docs/mqtt.md, "Forecast"): the frames of the next minutes as the service predicts them
from the timetable and the last delays it knew, for a pillar to show when its link is gone.

One retained message on `{prefix}/displays/{id}/next`: a 12-byte header, then one zlib stream of the
steps (one stream: a step shares glyphs and shifted rows with the steps before it, which halves the
forecast against a stream per step). Each step is its start (u32), the length of its message (u32) and
a frame message as on `frame`/`delta` (the 48-byte header with its own `valid_until`, and the body,
itself not compressed): the first step a full frame, every later one a delta from the step before. Both ends
are here: `forecast_payload` (the service) and `parse_forecast` / `Forecast.frame_at` (the pillar), sans I/O.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from . import codec
from .codec import FLAG_FULL_REFRESH, KIND_DELTA, KIND_FULL, CodecError, Header
from .messages import Frame

__all__ = ["Forecast", "ForecastError", "ForecastStep", "FORECAST_HEADER", "forecast_payload", "parse_forecast"]

MAGIC, VERSION = b"SF", 1
FORECAST_HEADER = struct.Struct("<2sBBHHI")  # magic, version, flags, horizon minutes, step count, epoch
STEP = struct.Struct("<II")  # valid from (Unix seconds), length of the step's message
FLAG_ZLIB = 1  # the steps are one zlib stream (always set by the service)
WINDOW_BITS = codec.ZLIB_WINDOW_BITS  # 16 KB, as every stream to pillars: 13 (8 KB) would lose the matches between
# steps (an e-paper forecast of 45 KB instead of 31); 15 (32 KB) would make it 24 KB but double the inflater
MAX_STEPS_BYTES = 64 << 20  # a forecast inflating to more than this is refused (a pillar's bound on a zip bomb)


class ForecastError(ValueError):
    """A forecast message that does not parse or whose steps do not verify."""


@dataclass(frozen=True, slots=True)
class ForecastStep:
    """One predicted frame: shown from `start` to `until` (inclusive, Unix seconds)."""

    start: int
    until: int
    frame: Frame


def _header(kind: int, frame: Frame, base: int, flags: int, region: tuple[int, int, int, int], until: int,
            sequence: int, epoch: int) -> Header:
    h, w = frame.shape
    return Header(kind, frame.encoding, flags, w, h, region, frame.hash, base, until, sequence, frame.color_mode,
                  epoch=epoch)


def _step_message(step: ForecastStep, before: Frame | None, sequence: int, epoch: int) -> bytes:
    """A step as one frame message: the full frame for the first, else a delta from the step before."""
    frame = step.frame
    h, w = frame.shape
    if before is None or before.shape != frame.shape:
        header = _header(KIND_FULL, frame, 0, FLAG_FULL_REFRESH, (0, 0, w, h), step.until, sequence, epoch)
        if frame.encoding == codec.RAW_FOR_MODE[frame.color_mode]:
            body = frame.raw
        elif frame.encoding == "png" and frame.full_body is not None:
            body = frame.full_body
        else:
            body = codec.pack(frame.raster, frame.encoding, frame.color_mode)
        return codec.encode_message(header, body, 1 << 62)[0]
    raw = frame.raw
    rects = codec.changed_rects(before.raw, raw, frame.color_mode, w, h) if frame.hash != before.hash else []
    x0 = min((r[0] for r in rects), default=0)
    y0 = min((r[1] for r in rects), default=0)
    region = (
        x0,
        y0,
        max((r[0] + r[2] for r in rects), default=0) - x0,
        max((r[1] + r[3] for r in rects), default=0) - y0,
    )
    header = _header(KIND_DELTA, frame, before.hash, 0, region, step.until, sequence, epoch)
    body = codec.delta_body(raw, rects, frame.encoding, frame.color_mode, w, h)
    return codec.encode_message(header, body, 1 << 62)[0]


def forecast_payload(steps: list[ForecastStep], horizon_minutes: int, sequence: int, epoch: int) -> bytes:
    """The `next` message for these steps (b"" for none: an empty retained message clears the topic)."""
    if not steps:
        return b""
    parts = []
    before: Frame | None = None
    for step in steps:
        message = _step_message(step, before, sequence, epoch)
        parts += [STEP.pack(step.start, len(message)), message]
        before = step.frame
    deflate = zlib.compressobj(9, zlib.DEFLATED, WINDOW_BITS)
    body = deflate.compress(b"".join(parts)) + deflate.flush()
    return FORECAST_HEADER.pack(MAGIC, VERSION, FLAG_ZLIB, horizon_minutes, len(steps), epoch) + body


@dataclass(frozen=True, slots=True)
class Forecast:
    """A parsed forecast: its horizon, epoch and steps as (start, header, body)."""

    horizon_minutes: int
    epoch: int
    steps: tuple[tuple[int, Header, bytes], ...]

    @property
    def end(self) -> int:
        """The last second any step is valid."""
        return max((h.valid_until for _, h, _ in self.steps), default=0)

    def index_at(self, now: int) -> int | None:
        """The step shown at `now` (None when no step covers it)."""
        for i, (start, header, _) in enumerate(self.steps):
            if start <= now <= header.valid_until:
                return i
        return None

    def frame_at(self, index: int) -> tuple[np.ndarray, str]:
        """The raster and colour mode of step `index`: the first step's full frame with the deltas up to it
        applied, every result verified; ForecastError when one does not."""
        raster: np.ndarray | None = None
        for start, header, body in self.steps[: index + 1]:
            try:
                data = codec.decode_body(header, body)
                if header.kind == KIND_FULL:
                    raster = codec.unpack(data, header.encoding, header.width, header.height, header.color_mode)
                elif raster is None or raster.shape != (header.height, header.width):
                    raise ForecastError(f"step from {start}: a delta with no frame before it")
                else:
                    raster = codec.apply_delta(raster, data, header.encoding, header.color_mode)
            except CodecError as exc:
                raise ForecastError(f"step from {start}: {exc}") from None
            if codec.frame_hash(raster, header.color_mode) != header.content_hash:
                raise ForecastError(f"step from {start}: content hash does not verify")
        if raster is None:
            raise ForecastError("no such step")
        return raster, self.steps[index][1].color_mode


def parse_forecast(payload: bytes) -> Forecast:
    """A `next` message; ForecastError when it is not one of this version."""
    if len(payload) < FORECAST_HEADER.size:
        raise ForecastError(f"{len(payload)} bytes: no forecast header")
    magic, version, flags, horizon, count, epoch = FORECAST_HEADER.unpack_from(payload)
    if magic != MAGIC or version != VERSION or flags & ~FLAG_ZLIB:
        raise ForecastError(f"magic {magic!r} version {version} flags {flags}: not a forecast of version {VERSION}")
    payload = payload[FORECAST_HEADER.size :]
    if flags & FLAG_ZLIB:
        inflate = zlib.decompressobj()
        try:
            payload = inflate.decompress(payload, MAX_STEPS_BYTES)
        except zlib.error as exc:
            raise ForecastError(f"corrupt zlib stream: {exc}") from None
        if not inflate.eof or inflate.unconsumed_tail or inflate.unused_data:
            raise ForecastError("the zlib stream is cut short, too large, or followed by other bytes")
    offset, steps = 0, []
    for i in range(count):
        if offset + STEP.size > len(payload):
            raise ForecastError(f"step {i}: truncated")
        start, length = STEP.unpack_from(payload, offset)
        message = payload[offset + STEP.size : offset + STEP.size + length]
        if len(message) != length or length < codec.HEADER.size:
            raise ForecastError(f"step {i}: truncated")
        try:
            header = codec.parse_header(message)
        except CodecError as exc:
            raise ForecastError(f"step {i}: {exc}") from None
        if (header.kind == KIND_FULL) != (i == 0) or header.chunks != 1 or header.kind not in (KIND_FULL, KIND_DELTA):
            raise ForecastError(f"step {i}: the first step is a full frame, the others deltas, none chunked")
        steps.append((start, header, message[codec.HEADER.size :]))
        offset += STEP.size + length
    if offset != len(payload):
        raise ForecastError("trailing bytes after the last step")
    return Forecast(horizon, epoch, tuple(steps))
