"""Spoken departures on MQTT (docs/mqtt.md, "Audio"): the spoken text, small and retained, on
`audio/text/{lang}`; a pillar asks for audio on `audio/request` ({"lang": "de", "detail": "short"}) and gets
it on `audio/{lang}`: Opus in Ogg (or, from services before version 2 of the contract, a WAV) behind a 24-byte
header, cut into chunks on `audio/{lang}/{i}` when it does not fit one packet. Pure."""

from __future__ import annotations

import io
import json
import struct
import wave
from dataclasses import dataclass

from .messages import Publish, packet_room, text_hash
from .topics import display_topic

MAGIC = b"SA"
VERSION = 1
FORMAT_WAV = 1  # RIFF WAVE, PCM signed 16-bit little-endian
FORMAT_OGG_OPUS = 2  # Ogg with one Opus stream (RFC 7845), mono
FORMATS = (FORMAT_WAV, FORMAT_OGG_OPUS)
DETAILS = ("short", "full")  # the first press of the button, and the second
MAX_REQUEST = 256  # bytes of an audio request at most
# magic, version, format, rate, duration ms, text crc, volume %, index, count, lang, 0
HEADER = struct.Struct(">2sBBIIIBHH2sB")
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


@dataclass(frozen=True, slots=True)
class AudioRequest:
    """A pillar's button was pressed: it wants the board said in `language`, at `detail`."""

    display_id: str
    language: str
    detail: str


def parse_request(display_id: str, payload: bytes, languages: tuple[str, ...]) -> AudioRequest:
    """An `audio/request` payload; AudioError naming what is wrong (it is never answered then)."""
    if len(payload) > MAX_REQUEST:
        raise AudioError(f"an audio request is at most {MAX_REQUEST} bytes, got {len(payload)}")
    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise AudioError('an audio request is JSON, e.g. {"lang": "de", "detail": "short"}') from None
    if not isinstance(doc, dict):
        raise AudioError('an audio request is a JSON object, e.g. {"lang": "de", "detail": "short"}')
    language, detail = doc.get("lang"), doc.get("detail", "short")
    if language not in languages:
        raise AudioError(f"lang must be one of {', '.join(languages)}, got {str(language)[:16]!r}")
    if detail not in DETAILS:
        raise AudioError(f"detail must be short or full, got {str(detail)[:16]!r}")
    return AudioRequest(display_id, language, detail)


def text_publish(prefix: str, display_id: str, language: str, spoken: str, volume: float) -> Publish:
    """The retained spoken text of a display in one language (what the first press says)."""
    doc = {"lang": language, "detail": "short", "text": spoken, "hash": f"{text_hash(spoken):08x}",
           "volume": max(0, min(100, round(volume * 100)))}
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    return Publish(display_topic(prefix, display_id, f"audio/text/{language}"), body, True)


def ogg_facts(ogg: bytes) -> tuple[int, int]:
    """(sample rate, duration in ms) of an Ogg Opus stream, from its OpusHead and its last page's granule
    position (48 kHz units, less the pre-skip); AudioError when it is not one."""
    head = ogg.find(b"OpusHead")
    last = ogg.rfind(b"OggS")
    if not ogg.startswith(b"OggS") or head < 0 or len(ogg) < head + 19 or last < 0 or len(ogg) < last + 14:
        raise AudioError("not an Ogg Opus stream")
    pre_skip, rate = struct.unpack_from("<HI", ogg, head + 10)
    granule = struct.unpack_from("<q", ogg, last + 6)[0]
    return rate, max(0, round((granule - pre_skip) / 48))


def audio_publishes(prefix: str, display_id: str, language: str, wav: bytes, spoken: str, volume: float,
                    max_packet: int, retained_chunks: int = 0, fmt: int = FORMAT_WAV,
                    retain: bool = True) -> tuple[list[Publish], int]:
    """The messages that carry one spoken text's audio (`fmt`: a WAV, or Opus in Ogg), and how many chunk topics
    they use (`retained_chunks`: how many the previous text used; the ones it leaves over are cleared). Answers
    to a request are not retained (`retain`)."""
    rate, duration = wav_facts(wav) if fmt == FORMAT_WAV else ogg_facts(wav)
    topic = display_topic(prefix, display_id, f"audio/{language}")
    room = packet_room(max_packet, f"{topic}/65535") - HEADER_SIZE
    pieces = [wav[i : i + room] for i in range(0, len(wav), room)] or [b""]
    if len(pieces) > 65535:
        raise AudioError(f"{len(wav)} bytes of audio need more than 65535 chunks of {room}")
    out = []
    for i, piece in enumerate(pieces):
        header = HEADER.pack(MAGIC, VERSION, fmt, rate, duration, text_hash(spoken),
                             max(0, min(100, round(volume * 100))), i, len(pieces), language.encode()[:2].ljust(2), 0)
        out.append(Publish(topic if i == 0 else f"{topic}/{i}", header + piece, retain))
    out += [Publish(f"{topic}/{i}", b"", True) for i in range(len(pieces), retained_chunks)]
    return out, len(pieces)


def chunk_room(prefix: str, display_id: str, language: str, max_packet: int) -> int:
    """The bytes of audio one chunk may carry after its header within `max_packet`."""
    return packet_room(max_packet, display_topic(prefix, display_id, f"audio/{language}/65535")) - HEADER_SIZE


def audio_chunk(
    prefix: str,
    display_id: str,
    language: str,
    body: bytes,
    *,
    index: int,
    count: int,
    rate: int,
    duration_ms: int,
    spoken: str,
    volume: float,
    fmt: int = FORMAT_OGG_OPUS,
    retain: bool = False,
) -> Publish:
    """Chunk `index` of `count` of an answer: with Opus, each chunk is one whole Ogg Opus stream of consecutive
    audio (a link of a chained Ogg file), so a pillar plays chunk 0 while the next ones arrive."""
    if not 0 <= index < count <= 65535:
        raise AudioError(f"chunk {index} of {count}: not allowed")
    header = HEADER.pack(
        MAGIC,
        VERSION,
        fmt,
        rate,
        duration_ms,
        text_hash(spoken),
        max(0, min(100, round(volume * 100))),
        index,
        count,
        language.encode()[:2].ljust(2),
        0,
    )
    topic = display_topic(prefix, display_id, f"audio/{language}")
    return Publish(topic if index == 0 else f"{topic}/{index}", header + body, retain)


def parse_audio(payload: bytes) -> tuple[AudioHeader, bytes]:
    """The header and the chunk's bytes; AudioError naming what is wrong."""
    if len(payload) < HEADER_SIZE:
        raise AudioError(f"{len(payload)} bytes is shorter than the {HEADER_SIZE}-byte header")
    magic, version, fmt, rate, duration, crc, volume, index, count, lang, _ = HEADER.unpack_from(payload)
    if magic != MAGIC or version != VERSION:
        raise AudioError(f"not a stopcast audio header (magic {magic!r}, version {version})")
    if fmt not in FORMATS or not 0 < count or index >= count or volume > 100:
        raise AudioError(f"format {fmt}, chunk {index} of {count}, volume {volume}: not allowed")
    header = AudioHeader(rate, duration, crc, volume, index, count, lang.decode("ascii", "replace"), fmt)
    return header, payload[HEADER_SIZE:]
