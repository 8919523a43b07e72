"""Spoken departures for the service: the text of a display's board in a language (pure, layouts/speech.py),
its audio (the synthesizer, displays/voice.py), and, for displays that ask for them (`speech = { languages =
[...] }`), the retained spoken text on `audio/text/{lang}` (republished only when the text or the volume
changes). Audio is made only when a pillar asks (`audio/request`, or speech.ogg / speech.wav over HTTP):
Opus in Ogg, about 35 KB for the 20 s of a first press, instead of a 1.5 MB WAV on every change.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from feeds.times import zone
from firmware_bridge.audio import FORMAT_OGG_OPUS, AudioRequest, audio_publishes, text_publish
from firmware_bridge.messages import Publish, text_hash
from firmware_bridge.topics import display_topic
from layouts.speech import SHORT_SECONDS, spoken_text

from .voice import SpeechError, Synthesizer, ogg_opus, wav_seconds

if TYPE_CHECKING:
    from .service import DisplayRuntime, Service

log = logging.getLogger("stopcast.speech")
WORKERS = 2  # audio requests made at once (a synthesis and an Opus encoding each take one core for a moment)
MAX_WAITING = 256  # audio requests queued at most; more are dropped (the pillar asks again)
RETRIES = 3  # a first press whose audio came out longer than SHORT_SECONDS is made again with less, this often


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
        budget -= over + 0.5
    return said, wav


class Speaker:
    """One service's spoken departures: what each display's text topics hold, the queue of displays whose
    board changed, and the queue of audio requests."""

    def __init__(self, service: Service, synthesizer: Synthesizer) -> None:
        self.service = service
        self.synthesizer = synthesizer
        self.published: dict[tuple[str, str], tuple[int, int]] = {}  # (display, lang) -> (text hash, volume %)
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.queued: set[str] = set()
        self.requests: asyncio.Queue[AudioRequest] = asyncio.Queue(maxsize=MAX_WAITING)
        self.error = ""  # why audio could not be made last ("" when it worked or none was asked for)
        self.answered = 0
        self.dropped = 0
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
        """(text, Opus in Ogg) of what the display says (encoded in a thread: the loop keeps serving)."""
        said, wav = await self.announcement(runtime, language, detail)
        return said, await asyncio.to_thread(ogg_opus, wav)

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
            self.requests.put_nowait(asked)
        except asyncio.QueueFull:
            self.dropped += 1
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
        async with asyncio.TaskGroup() as group:
            for i in range(WORKERS):
                group.create_task(self._answer_requests(), name=f"audio-requests-{i}")
            group.create_task(self._publish_texts(), name="spoken-texts")

    async def _publish_texts(self) -> None:
        while True:
            display_id = await self.queue.get()
            self.queued.discard(display_id)
            await self.update(display_id)

    async def _answer_requests(self) -> None:
        while True:
            asked = await self.requests.get()
            try:
                await self.service.send(await self.answer(asked))
            except SpeechError as exc:
                if str(exc) != self.error:
                    log.error("no audio for display %s: %s (frames are not affected)", asked.display_id, exc)
                self.error = str(exc)

    async def answer(self, asked: AudioRequest) -> list[Publish]:
        """The audio a request asked for, on `audio/{lang}` (not retained; chunked to fit max_packet)."""
        runtime = self.service.displays.get(asked.display_id)
        if runtime is None or runtime.board is None:
            return []
        mqtt = self.service.config.mqtt
        said, ogg = await self.ogg(runtime, asked.language, asked.detail)
        publishes, _ = audio_publishes(mqtt.prefix, asked.display_id, asked.language, ogg, said, self.volume(runtime),
                                       mqtt.max_packet, fmt=FORMAT_OGG_OPUS, retain=False)
        self.answered += 1
        self.error = ""
        return publishes

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
