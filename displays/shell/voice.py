"""Speech synthesis at the edge: a `Synthesizer` turns a spoken text into a WAV. The one implementation
runs Debian's `espeak-ng` (offline, no network, German, English and Spanish voices); without it the service
says so and keeps serving frames. Recent results are kept by (language, text), so a display's audio and its
speech.wav, or several displays at one stop, cost one synthesis.

`ogg_opus` compresses a WAV for mobile links: Opus in Ogg through libsndfile (the soundfile wheel bundles a
libsndfile built with Opus), at about 13 kbit/s (12 kHz): a 20 s announcement is about 35 KB instead of 880 KB."""

from __future__ import annotations

import asyncio
import io
import logging
import shutil
import wave
from typing import Protocol

import numpy as np
import soundfile
from cachetools import LRUCache

log = logging.getLogger("stopcast.speech")
VOICES = {"de": "de", "en": "en-gb", "es": "es"}
OPUS_RATE = 12000  # Hz: speech up to 6 kHz (Opus "mediumband"); Opus takes 8, 12, 16, 24 or 48 kHz, espeak-ng
# writes 22,050. 16 kHz costs 60 % more encoding (0.49 against 0.31 s of CPU for 19 s of speech) for little a
# rider at a roadside hears
OPUS_LEVEL = 0.97  # libsndfile compression level (0 best quality .. 1 smallest): about 13 kbit/s of speech
WORDS_PER_MINUTE = 200  # above espeak-ng's own 175: a first press says four departures in 20 s
TIMEOUT = 30.0  # seconds for one synthesis
MAX_TEXT = 5000  # characters spoken at most
KEPT = 64  # recent WAVs kept


class SpeechError(Exception):
    """No audio: the synthesizer is missing or failed; the message says which and what to do."""


class Synthesizer(Protocol):
    """Text to a WAV (16-bit PCM, mono)."""

    @property
    def available(self) -> bool:
        """Whether it can speak."""

    @property
    def why_unavailable(self) -> str:
        """Why it cannot speak, and what to do about it ("" when it can)."""

    async def synthesize(self, text: str, language: str) -> bytes:
        """The WAV of `text` spoken in `language` ("de" or "en"); SpeechError when it cannot."""


class EspeakSynthesizer:
    """espeak-ng as a subprocess, the text on its standard input (never on the command line)."""

    def __init__(self, binary: str | None = None) -> None:
        self.binary = binary or shutil.which("espeak-ng") or ""
        self._kept: LRUCache[tuple[str, str], bytes] = LRUCache(maxsize=KEPT)

    @property
    def available(self) -> bool:
        """Whether espeak-ng is installed."""
        return bool(self.binary)

    @property
    def why_unavailable(self) -> str:
        """Why there is no speech ("" when espeak-ng is installed)."""
        return "" if self.binary else "espeak-ng is not installed (Debian: apt-get install espeak-ng); no speech"

    async def synthesize(self, text: str, language: str) -> bytes:
        """The WAV of `text`; SpeechError when espeak-ng is missing, fails or takes too long."""
        if not self.binary:
            raise SpeechError(self.why_unavailable)
        key = (language, text[:MAX_TEXT])
        kept = self._kept.get(key)
        if kept is not None:
            return kept
        process = await asyncio.create_subprocess_exec(
            self.binary, "-v", VOICES.get(language, "en-gb"), "-s", str(WORDS_PER_MINUTE), "-b", "1", "--stdout",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            wav, err = await asyncio.wait_for(process.communicate(key[1].encode("utf-8")), TIMEOUT)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
            raise SpeechError(f"espeak-ng took longer than {TIMEOUT:g} s") from None
        if process.returncode != 0 or not wav.startswith(b"RIFF"):
            raise SpeechError(
                f"espeak-ng failed (exit {process.returncode}): {err.decode(errors='replace').strip()[:200]}"
            )
        wav = _fixed_sizes(wav)
        self._kept[key] = wav
        return wav


def _fixed_sizes(wav: bytes) -> bytes:
    """espeak-ng writing to a pipe cannot seek back: its RIFF and data sizes say 'unknown'; set them."""
    if len(wav) < 44 or wav[36:40] != b"data":
        return wav
    size = len(wav) - 44
    return wav[:4] + (size + 36).to_bytes(4, "little") + wav[8:40] + size.to_bytes(4, "little") + wav[44:]


def wav_seconds(wav: bytes) -> float:
    """How long a PCM WAV plays; SpeechError when it is not one."""
    try:
        with wave.open(io.BytesIO(wav)) as w:
            return w.getnframes() / w.getframerate()
    except (wave.Error, EOFError, ZeroDivisionError) as exc:
        raise SpeechError(f"not a WAV file ({exc})") from None


def pcm_for_opus(wav: bytes) -> np.ndarray:
    """A 16-bit mono WAV as float samples at OPUS_RATE (resampled band-limited, through the FFT); SpeechError
    when it is not a WAV."""
    try:
        with wave.open(io.BytesIO(wav)) as w:
            rate, pcm = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    except (wave.Error, EOFError) as exc:
        raise SpeechError(f"not a WAV file ({exc})") from None
    samples = pcm.astype(np.float32) / 32768.0
    if rate != OPUS_RATE and len(samples):
        target = max(1, round(len(samples) * OPUS_RATE / rate))
        spectrum = np.fft.rfft(samples)[: target // 2 + 1]  # what lies above the new Nyquist frequency is dropped
        samples = np.fft.irfft(spectrum, target).astype(np.float32) * (target / len(samples))
    return np.clip(samples, -1.0, 1.0)


def opus_of(samples: np.ndarray) -> bytes:
    """Samples at OPUS_RATE as one Ogg Opus stream (libsndfile; it releases the GIL, so threads encode in
    parallel); SpeechError when libsndfile cannot write Opus."""
    out = io.BytesIO()
    try:
        soundfile.write(out, samples, OPUS_RATE, format="OGG", subtype="OPUS", compression_level=OPUS_LEVEL)
    except (soundfile.LibsndfileError, TypeError, ValueError) as exc:
        raise SpeechError(f"libsndfile could not write Ogg Opus ({exc})") from None
    return out.getvalue()


def ogg_opus(wav: bytes) -> bytes:
    """A 16-bit mono WAV as one Ogg Opus stream at OPUS_RATE."""
    return opus_of(pcm_for_opus(wav))


FRAME = OPUS_RATE // 100  # 10 ms: the unit in which quiet places are looked for


def segments(samples: np.ndarray, first_seconds: float, seconds: float) -> list[np.ndarray]:
    """The samples cut into pieces of at most `first_seconds` (the first) and `seconds` (the rest), each cut at
    the quietest 10 ms of its second half (between words or sentences), so that each piece is encoded and sent
    on its own: the pillar starts playing the first while the rest is still being encoded."""
    out = []
    start = 0
    longest = max(FRAME * 2, int(first_seconds * OPUS_RATE))
    while len(samples) - start > longest:
        window = samples[start + longest // 2 : start + longest]
        frames = len(window) // FRAME
        energy = np.square(window[: frames * FRAME].reshape(frames, FRAME)).mean(axis=1)
        cut = start + longest // 2 + int(np.argmin(energy)) * FRAME + FRAME // 2
        out.append(samples[start:cut])
        start = cut
        longest = max(FRAME * 2, int(seconds * OPUS_RATE))
    out.append(samples[start:])
    return out
