"""docs/mqtt.md, "Memory": the table vendors size their pillars by agrees with the contract's arithmetic, and
every zlib stream the service sends fits the 16 KB window the document promises."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest

from displays.core.frames import frame_of, render
from firmware_bridge import codec
from firmware_bridge.channel import DisplayChannel
from firmware_bridge.forecast import ForecastStep, forecast_payload
from firmware_bridge.messages import Frame, PillarAck, PillarStatus
from firmware_bridge.sizing import needs, recommended_max_packet
from firmware_bridge.ticker import Ticker, ticker_payload
from layouts.board import Board
from layouts.spec import builtin_names, load_layout

DOC = Path(__file__).parents[2] / "docs" / "mqtt.md"


def _kib(text: str) -> float:
    return float(text.replace(" KiB", "").replace(",", ""))


def _rows() -> list[list[str]]:
    section = DOC.read_text().split("## Memory", 1)[1].split("\n## ", 1)[0]
    return [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| layout")]


def test_the_memory_table_covers_every_layout_and_agrees_with_the_arithmetic() -> None:
    """spec: F-11"""
    rows = _rows()
    expected = {(name, enc) for name in builtin_names() for enc in codec.encodings_for(load_layout(name).color_mode)}
    assert {(r[0], r[1]) for r in rows} == expected
    for name, encoding, buffer, full, _delta, forecast, inflater, packet, ram in rows:
        spec = load_layout(name)
        need = needs(spec.color_mode, encoding, spec.width, spec.height)
        worst, measured = (_kib(x) for x in full.split(" / "))
        assert _kib(buffer) == round(need.frame_buffer / 1024, 1) and worst == round(need.worst_message / 1024, 1)
        assert _kib(inflater) == round(need.inflater / 1024, 1)
        kept = _kib(forecast.split(" (")[0])
        assert measured < worst and int(packet.replace(",", "")) == recommended_max_packet(
            int(max(measured, kept) * 1024)
        )
        assert _kib(ram) >= (int(packet.replace(",", "")) + need.inflater) / 1024 + kept - 0.1


def _board() -> Board:
    return Board("Hauptbahnhof", "08:00", "", False, (), "", "", "", ("Linie 54: Umleitung",), 0, "", True, "de")


@pytest.mark.parametrize("name", ["epaper-800x480", "epaper-bwr-800x480", "tft-320x240", "led-192x64"])
def test_every_zlib_stream_to_a_pillar_fits_a_16_kb_window(name: str) -> None:
    """spec: F-11"""
    spec = load_layout(name)
    encoding = codec.default_encoding(spec.color_mode)
    frame = frame_of(render(_board(), spec, encoding, True), b"")
    other = frame_of(render(Board("Hauptbahnhof", "08:01", "", False, (), "", "", "", (), 0, "", True, "de"), spec,
                            encoding, True), b"")
    channel = DisplayChannel("d", "stopcast/v1", 1 << 20, 600)
    streams = [p.payload[codec.HEADER.size:] for p in channel.show(frame, 1000, 1060) if p.topic.endswith("/frame")]
    channel.on_status(PillarStatus("d", True, {}), 1000)  # an online pillar that shows `frame`
    channel.on_ack(PillarAck("d", frame.hash, False), 1000)
    streams += [p.payload[codec.HEADER.size:] for p in channel.show(other, 1060, 1120) if p.topic.endswith("/delta")]
    steps = [ForecastStep(1120, 1179, frame), ForecastStep(1180, 1239, other)]
    streams.append(forecast_payload(steps, 10, 1, 1)[12:])
    strip = np.zeros((8, 300), dtype=bool)
    strip[2:6, ::3] = True
    streams.append(ticker_payload(Ticker((0, 0, 64, 8), 30, 0xFFFF, 0, 1, strip))[26:])
    assert len(streams) == 4
    for stream in streams:
        assert stream[0] >> 4 <= 6, hex(stream[0])  # CINFO: a window of at most 2^(6+8) bytes
        assert _inflate_in_16_kb(stream)


def _inflate_in_16_kb(stream: bytes) -> bytes:
    """Inflate as a pillar with a 16 KB window does: output taken 64 bytes at a time, so that a back-reference
    further than the window is an error (inflating into one buffer would quietly read it from the output)."""
    inflater, out = zlib.decompressobj(14), b""
    while stream:
        out += inflater.decompress(stream, 64)
        stream = inflater.unconsumed_tail
    assert inflater.eof
    return out


def _far_repeats() -> bytes:
    """Random bytes whose 4 KB blocks come again 20 KB later: a 32 KB window would reach back for them."""
    block = np.random.default_rng(3).bytes(4000)
    return b"".join(block + np.random.default_rng(k).bytes(20000) for k in range(6))


@pytest.mark.parametrize("deflate", [codec.deflate, codec.deflate_fast])
def test_both_deflaters_stay_within_a_16_kb_window(deflate) -> None:
    """spec: F-11 (the full bodies of rendered frames are deflated by ISA-L, deltas by zlib)"""
    data = _far_repeats()
    assert _inflate_in_16_kb(deflate(data)) == data


def test_the_16_kb_check_fails_a_stream_that_reaches_further() -> None:
    """The check above can fail: a 32 KB-window stream, relabelled as 16 KB, reaches too far back."""
    deflater = zlib.compressobj(6, zlib.DEFLATED, 15)
    stream = bytearray(deflater.compress(_far_repeats()) + deflater.flush())
    stream[0], stream[1] = 0x68, 0  # CMF: deflate, a 16 KB window; FLG: its check bits
    stream[1] = (31 - (0x68 << 8) % 31) % 31
    with pytest.raises(zlib.error, match="too far back"):
        _inflate_in_16_kb(bytes(stream))


def test_a_frame_stream_made_at_16_kb_reads_with_a_full_window_inflater() -> None:
    """spec: F-11"""
    raster = np.random.default_rng(7).integers(0, 2, (480, 800), dtype=np.uint8)
    raster[:, 400:] = raster[:, :400]  # repeats 50 bytes apart in each row, and rows far apart
    frame = Frame.of(raster, "mono", "mono1", True)
    body = codec.deflate(frame.raw)
    assert zlib.decompress(body) == frame.raw and zlib.decompressobj(14).decompress(body) == frame.raw
