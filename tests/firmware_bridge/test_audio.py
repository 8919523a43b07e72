"""The audio payloads of the MQTT contract: a 24-byte header, a WAV cut into chunks that fit the packet."""

from __future__ import annotations

import io
import wave

import pytest
from speckit import spec

from firmware_bridge.audio import HEADER_SIZE, AudioError, audio_publishes, parse_audio, text_hash
from firmware_bridge.messages import PUBLISH_OVERHEAD


def wav(seconds: float, rate: int = 22050) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(range(256)) * int(seconds * rate * 2 / 256))
    return out.getvalue()


def test_a_wav_that_fits_is_one_retained_message() -> None:
    sound = wav(0.5)
    publishes, chunks = audio_publishes(
        "stopcast/v1", "uni-tft", "de", sound, "Haltestelle Universität.", 0.8, 256 * 1024
    )
    assert chunks == 1 and [p.topic for p in publishes] == ["stopcast/v1/displays/uni-tft/audio/de"]
    header, body = parse_audio(publishes[0].payload)
    assert publishes[0].retain and body == sound
    assert (header.sample_rate, header.duration_ms, header.volume, header.index, header.count, header.language) == (
        22050, 499, 80, 0, 1, "de")
    assert header.text_hash == text_hash("Haltestelle Universität.")


@spec("P-52", "P-2")
def test_a_long_wav_is_cut_into_chunks_that_fit_the_packet_and_leftovers_are_cleared() -> None:
    sound = wav(3.0)
    max_packet = 32 * 1024
    publishes, chunks = audio_publishes("stopcast/v1", "hbf", "en", sound, "long text", 1.0, max_packet)
    topic = "stopcast/v1/displays/hbf/audio/en"
    assert chunks == len(publishes) > 1
    assert [p.topic for p in publishes] == [topic] + [f"{topic}/{i}" for i in range(1, chunks)]
    assert all(len(p.payload) + len(p.topic) + PUBLISH_OVERHEAD <= max_packet for p in publishes)
    parts = sorted((parse_audio(p.payload) for p in publishes), key=lambda hb: hb[0].index)
    assert {h.count for h, _ in parts} == {chunks} and b"".join(b for _, b in parts) == sound
    shorter, _ = audio_publishes("stopcast/v1", "hbf", "en", wav(0.2), "short", 1.0, max_packet, retained_chunks=chunks)
    assert [p.topic for p in shorter[1:]] == [f"{topic}/{i}" for i in range(1, chunks)]
    assert all(p.payload == b"" and p.retain for p in shorter[1:])  # the old chunks are cleared


@pytest.mark.parametrize("payload", [b"", b"SA", b"XX" + bytes(HEADER_SIZE), b"SA\x01\x02" + bytes(HEADER_SIZE)])
def test_foreign_payloads_are_refused(payload: bytes) -> None:
    with pytest.raises(AudioError):
        parse_audio(payload)
