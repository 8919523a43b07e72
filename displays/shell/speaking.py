"""Spoken departures for the service: the text of a display's board in a language (pure, layouts/speech.py),
its audio (the synthesizer, displays/shell/voice.py), and, for displays that ask for them (`speech = { languages =
[...] }`), the retained spoken text on `audio/text/{lang}` (republished only when the text or the volume
changes). Audio is made only when a pillar asks (`audio/request`, or speech.ogg / speech.wav over HTTP):
Opus in Ogg, about 35 KB for the 20 s of a first press, instead of a 1.5 MB WAV on every change.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cachetools import LRUCache

from displays.config.model import ServiceConfig
from displays.core.engine import DisplayRuntime
from displays.shell.clock import Clock
from displays.shell.encoding import FIRST_SOUND, EncoderPool
from displays.shell.metrics import Metrics
from displays.shell.voice import OPUS_RATE, SpeechError, Synthesizer, opus_of, pcm_for_opus, segments, wav_seconds
from feeds.times import zone
from firmware_bridge.audio import AudioRequest, audio_chunk, chunk_room, text_publish
from firmware_bridge.messages import Publish, text_hash
from firmware_bridge.topics import display_topic
from layouts.speech import SHORT_SECONDS, spoken_text


class Service(Protocol):
    """What spoken departures need of the service node (displays/shell/service.py)."""

    clock: Clock
    metrics: Metrics
    board_listeners: list[Callable[[str], None]]

    @property
    def config(self) -> ServiceConfig: ...

    @property
    def displays(self) -> dict[str, DisplayRuntime]: ...

    def timezone(self) -> str: ...

    async def send(self, publishes: Sequence[Publish]) -> None: ...

log = logging.getLogger("stopcast.speech")
WORKERS = 2  # requests synthesized at once (espeak-ng runs as a process of its own: the other core)
ENCODERS = 2  # threads encoding Opus (about one core's worth of work a second of speech per 15 s, loaded)
MAX_WAITING = 256  # audio requests queued at most; more are dropped (the pillar asks again)
STALE = 10.0  # seconds a request may wait for its synthesis; older ones are dropped (counted)
MAX_BACKLOG = 40.0  # seconds of speech waiting for the encoders above which new requests are dropped (overload)
RETRIES = 5  # a first press whose audio came out longer than SHORT_SECONDS is made again with less, this often
FIRST_SECONDS = 2.5  # of audio in the first chunk of an answer: what must be encoded before the pillar hears sound
CHUNK_SECONDS = 5.0  # of audio in each further chunk (less when max_packet is small)
OPUS_BYTES_PER_SECOND = 3000  # what a chunk's room is planned with (about 1,800 on average, 400 bytes of headers)
KEPT = 128  # answers kept, by (language, text): presses at one stop within a minute cost one encoding


async def announce(synthesizer: Synthesizer, text_for: Callable[[float], str], language: str,
                   detail: str) -> tuple[str, bytes]:
    """(text, WAV) of an announcement; `text_for(budget)` gives the text for a budget in seconds. A first press
    is made again with a smaller budget until its audio lasts at most SHORT_SECONDS (the text's estimate is
    close; the audio is what counts)."""
    budget = SHORT_SECONDS
    for _ in range(RETRIES + 1):
        said = text_for(budget)
        wav = await synthesizer.synthesize(said, language)
        over = wav_seconds(wav) - SHORT_SECONDS if detail == "short" else 0.0
        if over <= 0:
            break
        budget -= max(over + 0.5, 1.0)  # at least a second less: the text shrinks by whole sentences
    return said, wav


@dataclass(eq=False)
class Answer:
    """An answer on its way: what is said, and its pieces being encoded (in order)."""

    asked: AudioRequest
    said: str
    duration_ms: int
    volume: float
    key: tuple[str, str, float]
    bodies: list[asyncio.Future[bytes]]


class Speaker:
    """One service's spoken departures: what each display's text topics hold, the queue of displays whose
    board changed, and the queue of audio requests."""

    def __init__(self, service: Service, synthesizer: Synthesizer) -> None:
        self.service = service
        self.synthesizer = synthesizer
        self.published: dict[tuple[str, str], tuple[int, int]] = {}  # (display, lang) -> (text hash, volume %)
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.queued: set[str] = set()
        self.requests: asyncio.Queue[tuple[AudioRequest, float]] = asyncio.Queue(maxsize=MAX_WAITING)
        self.encoder = EncoderPool(ENCODERS)
        self._sending: set[asyncio.Task] = set()
        self.error = ""  # why audio could not be made last ("" when it worked or none was asked for)
        self.answered = 0
        self.dropped = 0
        self._kept: LRUCache[tuple[str, str, float], list[bytes]] = LRUCache(maxsize=KEPT)
        service.board_listeners.append(self.due)

    def text(self, runtime: DisplayRuntime, language: str, detail: str = "short", budget: float = SHORT_SECONDS) -> str:
        """What the display says in `language` now ("" before its first board)."""
        if runtime.board is None:
            return ""
        lexicon = dict(dict(self.service.config.speech).get(language, ()))
        return spoken_text(runtime.board, language, lexicon, detail, budget)

    async def announcement(self, runtime: DisplayRuntime, language: str, detail: str) -> tuple[str, bytes]:
        """(text, WAV) of what the display says (a first press within SHORT_SECONDS of audio)."""
        return await announce(self.synthesizer, lambda budget: self.text(runtime, language, detail, budget), language,
                              detail)

    async def ogg(self, runtime: DisplayRuntime, language: str, detail: str) -> tuple[str, bytes]:
        """(text, Opus in Ogg: one stream) of what the display says (encoded in a thread: the loop keeps serving)."""
        said, wav = await self.announcement(runtime, language, detail)
        key = (language, said, 0.0)
        kept = self._kept.get(key)
        if kept is None:
            kept = self._kept[key] = [await asyncio.to_thread(lambda: opus_of(pcm_for_opus(wav)))]
        return said, kept[0]

    def volume(self, runtime: DisplayRuntime) -> float:
        """The display's volume at the service's now (its night volume at night, local time)."""
        local = dt.datetime.fromtimestamp(self.service.clock.now(), zone(self.service.timezone()))
        return runtime.config.speech.volume_at(local.hour * 60 + local.minute)

    def due(self, display_id: str) -> None:
        """A display's board changed: its spoken text is looked at (if it publishes any)."""
        runtime = self.service.displays.get(display_id)
        if runtime is None or not runtime.config.speech.languages or display_id in self.queued:
            return
        self.queued.add(display_id)
        self.queue.put_nowait(display_id)

    def request(self, asked: AudioRequest) -> None:
        """A pillar's button was pressed: queued for the workers (dropped when too many wait)."""
        try:
            self.requests.put_nowait((asked, asyncio.get_running_loop().time()))
        except asyncio.QueueFull:
            self.dropped += 1
            self.service.metrics.audio_dropped.inc()
            log.warning("audio request of display %s dropped: %d requests wait", asked.display_id, MAX_WAITING)

    def again(self) -> None:
        """Publish every display's text again (after a reconnect the broker may have lost it)."""
        self.published.clear()
        for display_id in list(self.service.displays):
            self.due(display_id)

    def cleared(self, display_id: str) -> list[Publish]:
        """Empty retained text topics of a display that left the config."""
        out = []
        for shown, language in [key for key in self.published if key[0] == display_id]:
            out.append(Publish(display_topic(self.service.config.mqtt.prefix, display_id, f"audio/text/{language}"),
                               b"", True))
            del self.published[(shown, language)]
        return out

    async def run(self) -> None:
        """Publish the texts of displays whose board changed and answer audio requests, until cancelled."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.encoder.run(), name="opus-encoders")
                for i in range(WORKERS):
                    group.create_task(self._answer_requests(), name=f"audio-requests-{i}")
                group.create_task(self._publish_texts(), name="spoken-texts")
        finally:
            for task in list(self._sending):
                task.cancel()

    async def _publish_texts(self) -> None:
        while True:
            display_id = await self.queue.get()
            self.queued.discard(display_id)
            await self.update(display_id)

    async def _answer_requests(self) -> None:
        """Take requests in turn: make their audio's text and WAV (one espeak-ng at a time per worker), queue
        the pieces for encoding, and leave the sending to a task of its own, so that the next request's
        synthesis starts at once."""
        while True:
            asked, arrived = await self.requests.get()
            if asyncio.get_running_loop().time() - arrived > STALE or self.encoder.backlog > MAX_BACKLOG:
                # the rider has given up or pressed again, or answers already queued would make this one late
                # for everyone: no answer (the pillar may ask again) rather than every answer late
                self.dropped += 1
                self.service.metrics.audio_dropped.inc()
                continue
            try:
                answer = await self.prepare(asked, arrived)
            except SpeechError as exc:
                self._failed(asked, exc)
                continue
            if answer is not None:
                task = asyncio.create_task(self._send(answer), name=f"audio {asked.display_id}")
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)

    async def _send(self, answer: Answer) -> None:
        try:
            async for publish in self.chunks(answer):
                await self.service.send([publish])
        except SpeechError as exc:
            self._failed(answer.asked, exc)

    def _failed(self, asked: AudioRequest, exc: SpeechError) -> None:
        if str(exc) != self.error:
            log.error("no audio for display %s: %s (frames are not affected)", asked.display_id, exc)
        self.error = str(exc)

    async def answer(self, asked: AudioRequest, arrived: float | None = None) -> AsyncIterator[Publish]:
        """The audio a request asked for, chunk by chunk as each is encoded (see `prepare` and `chunks`)."""
        answer = await self.prepare(asked, asyncio.get_running_loop().time() if arrived is None else arrived)
        if answer is not None:
            async for publish in self.chunks(answer):
                yield publish

    async def prepare(self, asked: AudioRequest, arrived: float) -> Answer | None:
        """The text and WAV of a request, cut into pieces whose encoding is queued, each with the deadline by
        which the pillar needs it (`arrived`, loop time, plus FIRST_SOUND, plus where the piece starts)."""
        runtime = self.service.displays.get(asked.display_id)
        if runtime is None or runtime.board is None:
            return None
        mqtt = self.service.config.mqtt
        said, wav = await self.announcement(runtime, asked.language, asked.detail)
        room = chunk_room(mqtt.prefix, asked.display_id, asked.language, mqtt.max_packet)
        seconds = max(0.2, min(CHUNK_SECONDS, (room - 400) / OPUS_BYTES_PER_SECOND))
        key = (asked.language, said, seconds)
        kept = self._kept.get(key)
        if kept is not None:
            bodies: list[asyncio.Future[bytes]] = []
            for body in kept:
                bodies.append(asyncio.get_running_loop().create_future())
                bodies[-1].set_result(body)
        else:
            pieces = await asyncio.to_thread(lambda: segments(pcm_for_opus(wav), min(FIRST_SECONDS, seconds), seconds))
            starts = itertools.accumulate((len(p) / OPUS_RATE for p in pieces), initial=0.0)
            bodies = [asyncio.ensure_future(self.encoder.encode(piece, arrived + FIRST_SOUND + start))
                      for piece, start in zip(pieces, starts)]
        return Answer(asked, said, round(wav_seconds(wav) * 1000), self.volume(runtime), key, bodies)

    async def chunks(self, answer: Answer) -> AsyncIterator[Publish]:
        """The chunks of an answer in order, each as soon as it is encoded, on `audio/{lang}` and
        `audio/{lang}/{i}` (not retained): each one Ogg Opus stream, the first FIRST_SECONDS long."""
        prefix, asked, count = self.service.config.mqtt.prefix, answer.asked, len(answer.bodies)
        done = []
        try:
            for i, encoding in enumerate(answer.bodies):
                body = await encoding
                done.append(body)
                yield audio_chunk(prefix, asked.display_id, asked.language, body, index=i, count=count, rate=OPUS_RATE,
                                  duration_ms=answer.duration_ms, spoken=answer.said, volume=answer.volume)
        finally:
            for encoding in answer.bodies:
                encoding.cancel()
        self._kept[answer.key] = done
        self.answered += 1
        self.service.metrics.audio_answers.inc()
        self.error = ""

    async def update(self, display_id: str) -> None:
        """Publish the display's spoken text in each of its languages whose text or volume changed; the first
        time, clear the retained WAV that services before version 2 of the contract left on `audio/{lang}`."""
        runtime = self.service.displays.get(display_id)
        if runtime is None or runtime.board is None:
            return
        prefix = self.service.config.mqtt.prefix
        out = []
        for language in runtime.config.speech.languages:
            text, volume = self.text(runtime, language), self.volume(runtime)
            key, wanted = (display_id, language), (text_hash(text), round(volume * 100))
            before = self.published.get(key)
            if before == wanted:
                continue
            if before is None:
                out.append(Publish(display_topic(prefix, display_id, f"audio/{language}"), b"", True))
            out.append(text_publish(prefix, display_id, language, text, volume))
            self.published[key] = wanted
        if out:
            await self.service.send(out)
