"""Spoken departures on MQTT (docs/mqtt.md, "Audio"): a WAV behind a 24-byte header, retained on
`audio/{lang}`, cut into chunks on `audio/{lang}/{i}` when it does not fit one packet. Pure."""

from __future__ import annotations

import io
import struct
import wave
from dataclasses import dataclass

from .messages import Publish, packet_room, text_hash
from .topics import display_topic

MAGIC = b"SA"
VERSION = 1
FORMAT_WAV = 1  # RIFF WAVE, PCM signed 16-bit little-endian
HEADER = struct.Struct(">2sBBIIIBHH2sB")  # magic, version, format, rate, duration ms, text crc, volume %, index, count, lang, 0
HEADER_SIZE = HEADER.size  # 24


class AudioError(ValueError):
    """An audio payload that does not follow the contract."""


@dataclass(frozen=True, slots=True)
class AudioHeader:
    """What precedes every audio chunk."""

    sample_rate: int
    duration_ms: int
    text_hash: int  # CRC-32 of the spoken text (UTF-8): chunks of one text share it
    volume: int  # percent, what the pillar plays at now
    index: int
    count: int
    language: str
    format: int = FORMAT_WAV


def wav_facts(wav: bytes) -> tuple[int, int]:
    """(sample rate, duration in ms) of a PCM WAV; AudioError when it is not one."""
    try:
        with wave.open(io.BytesIO(wav)) as w:
            rate, frames = w.getframerate(), w.getnframes()
            if w.getsampwidth() != 2 or w.getcomptype() != "NONE":
                raise AudioError("not 16-bit PCM")
    except (wave.Error, EOFError) as exc:
        raise AudioError(f"not a WAV file ({exc})") from None
    if frames == 0 or rate == 0:  # espeak-ng writes 0x7FFFFFFF or 0 when streaming; count the data
        frames = max(0, len(wav) - 44) // 2
    return rate, round(1000 * frames / rate) if rate else 0


def audio_publishes(prefix: str, display_id: str, language: str, wav: bytes, spoken: str, volume: float,
                    max_packet: int, retained_chunks: int = 0) -> tuple[list[Publish], int]:
    """The retained messages that carry one spoken text, and how many chunk topics they use (`retained_chunks`:
    how many the previous text used; the ones it leaves over are cleared)."""
    rate, duration = wav_facts(wav)
    topic = display_topic(prefix, display_id, f"audio/{language}")
    room = packet_room(max_packet, f"{topic}/65535") - HEADER_SIZE
    pieces = [wav[i : i + room] for i in range(0, len(wav), room)] or [b""]
    if len(pieces) > 65535:
        raise AudioError(f"{len(wav)} bytes of audio need more than 65535 chunks of {room}")
    out = []
    for i, piece in enumerate(pieces):
        header = HEADER.pack(MAGIC, VERSION, FORMAT_WAV, rate, duration, text_hash(spoken),
                             max(0, min(100, round(volume * 100))), i, len(pieces), language.encode()[:2].ljust(2), 0)
        out.append(Publish(topic if i == 0 else f"{topic}/{i}", header + piece, True))
    out += [Publish(f"{topic}/{i}", b"", True) for i in range(len(pieces), retained_chunks)]
    return out, len(pieces)


def parse_audio(payload: bytes) -> tuple[AudioHeader, bytes]:
    """The header and the chunk's bytes; AudioError naming what is wrong."""
    if len(payload) < HEADER_SIZE:
        raise AudioError(f"{len(payload)} bytes is shorter than the {HEADER_SIZE}-byte header")
    magic, version, fmt, rate, duration, crc, volume, index, count, lang, _ = HEADER.unpack_from(payload)
    if magic != MAGIC or version != VERSION:
        raise AudioError(f"not a stopcast audio header (magic {magic!r}, version {version})")
    if fmt != FORMAT_WAV or not 0 < count or index >= count or volume > 100:
        raise AudioError(f"format {fmt}, chunk {index} of {count}, volume {volume}: not allowed")
    return AudioHeader(rate, duration, crc, volume, index, count, lang.decode("ascii", "replace"), fmt), payload[HEADER_SIZE:]
