"""Spoken departures for the service: the text of a display's board in a language (pure, layouts/speech.py),
its audio (the synthesizer, displays/voice.py), and the retained `audio/{lang}` messages of the displays
that ask for them (`speech = { languages = [...] }`), republished only when the text or the volume changes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING

from feeds.times import zone
from firmware_bridge.audio import audio_publishes
from firmware_bridge.messages import Publish, text_hash
from firmware_bridge.topics import display_topic
from layouts.speech import spoken_text

from .voice import SpeechError, Synthesizer

if TYPE_CHECKING:
    from .service import DisplayRuntime, Service

log = logging.getLogger("stopcast.speech")


class Speaker:
    """One service's spoken departures: what each display's audio topics hold, and the queue of displays
    whose board changed."""

    def __init__(self, service: Service, synthesizer: Synthesizer) -> None:
        self.service = service
        self.synthesizer = synthesizer
        self.published: dict[tuple[str, str], tuple[int, int, int]] = {}  # (display, lang) -> (text hash, volume %, chunks)
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.queued: set[str] = set()
        self.error = ""  # why audio could not be made last ("" when it worked or none was asked for)
        service.board_listeners.append(self.due)

    def text(self, runtime: DisplayRuntime, language: str) -> str:
        """What the display says in `language` now ("" before its first board)."""
        if runtime.board is None:
            return ""
        lexicon = dict(dict(self.service.config.speech).get(language, ()))
        return spoken_text(runtime.board, language, lexicon)

    def volume(self, runtime: DisplayRuntime) -> float:
        """The display's volume at the service's now (its night volume at night, local time)."""
        local = dt.datetime.fromtimestamp(self.service.clock.now(), zone(self.service.timezone()))
        return runtime.config.speech.volume_at(local.hour * 60 + local.minute)

    def due(self, display_id: str) -> None:
        """A display's board changed: its audio is looked at (if it publishes any)."""
        runtime = self.service.displays.get(display_id)
        if runtime is None or not runtime.config.speech.languages or display_id in self.queued:
            return
        self.queued.add(display_id)
        self.queue.put_nowait(display_id)

    def again(self) -> None:
        """Publish every display's audio again (after a reconnect the broker may have lost it)."""
        self.published.clear()
        for display_id in list(self.service.displays):
            self.due(display_id)

    def cleared(self, display_id: str) -> list[Publish]:
        """Empty retained audio topics of a display that left the config."""
        out = []
        for (shown, language), (_, _, chunks) in list(self.published.items()):
            if shown == display_id:
                topic = display_topic(self.service.config.mqtt.prefix, display_id, f"audio/{language}")
                out += [Publish(topic if i == 0 else f"{topic}/{i}", b"", True) for i in range(chunks)]
                del self.published[(shown, language)]
        return out

    async def run(self) -> None:
        """Update the audio of each display whose board changed, one at a time, until cancelled."""
        while True:
            display_id = await self.queue.get()
            self.queued.discard(display_id)
            try:
                await self.update(display_id)
            except SpeechError as exc:
                if str(exc) != self.error:
                    log.error("no audio for display %s: %s (frames are not affected)", display_id, exc)
                self.error = str(exc)

    async def update(self, display_id: str) -> None:
        """Publish the display's audio in each of its languages whose text or volume changed."""
        runtime = self.service.displays.get(display_id)
        if runtime is None or runtime.board is None:
            return
        mqtt = self.service.config.mqtt
        for language in runtime.config.speech.languages:
            text, volume = self.text(runtime, language), self.volume(runtime)
            key, wanted = (display_id, language), (text_hash(text), round(volume * 100))
            before = self.published.get(key)
            if before is not None and before[:2] == wanted:
                continue
            wav = await self.synthesizer.synthesize(text, language)
            publishes, chunks = audio_publishes(mqtt.prefix, display_id, language, wav, text, volume, mqtt.max_packet,
                                                before[2] if before else 0)
            await self.service.send(publishes)
            self.published[key] = (*wanted, chunks)
            self.error = ""
