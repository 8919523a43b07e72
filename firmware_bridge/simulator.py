"""The reference pillar: subscribes as firmware would, applies frames and deltas, verifies hashes,
acknowledges, reports its status with a Last Will, and writes what it shows as PNG; its "read aloud"
button asks for audio on `audio/request` and collects the answer (`ask_audio`).

The executable spec for pillar vendors (docs/mqtt.md); the protocol is PillarSession's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from pathlib import Path

import aiomqtt
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import client as mqtt
from .audio import AudioError, AudioHeader, parse_audio
from .codec import image_of
from .messages import Publish
from .pillar import FRAME_WAIT
from .protocol import PillarSession
from .ticker import ticker_window
from .topics import display_topic

log = logging.getLogger("stopcast.pillar")


async def _goodbye(client: aiomqtt.Client, session: PillarSession, settings: mqtt.BrokerSettings) -> None:
    """Publish the pillar's offline status (retained) before a clean exit."""
    try:
        await asyncio.wait_for(mqtt.publish_all(client, [session.will()], settings.version), 2)
    except (mqtt.BridgeError, aiomqtt.MqttError, asyncio.TimeoutError):
        log.warning("pillar %s: could not say offline before leaving", session.display_id)


def no_data_screen(width: int, height: int, stop_name: str = "", clock: str = "") -> Image.Image:
    """The screen a pillar shows itself when it has no current frame, in its own size: a black band with the
    stop's name and the clock, and "Keine aktuellen Daten / No current data" large below it, never stale
    departures (a rider must see that the pillar works and has no data, not a blank or a wrong board)."""
    width, height = max(width, 64), max(height, 32)
    image = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(image)
    band = max(16, height // 7) if stop_name or clock else 0
    pad = max(1, max(16, height // 7) // 8)
    head = ImageFont.load_default(size=max(8, band - 2 * pad))
    if band:
        draw.rectangle((0, 0, width - 1, band - 1), fill=0)
    clock_w = draw.textlength(clock, font=head) if clock else 0
    name = stop_name
    while name and draw.textlength(name, font=head) > width - clock_w - 4 * pad:
        name = name[:-2] + "…" if len(name) > 2 else ""
    if name:
        draw.text((pad, band // 2), name, fill=1, font=head, anchor="lm")
    if clock:
        draw.text((width - pad, band // 2), clock, fill=1, font=head, anchor="rm")
    lines = ["Keine aktuellen Daten", "No current data"]
    size = max(8, min((height - band) // 4, int(width / 12)))
    while (
        size > 8
        and max(draw.textlength(line, font=ImageFont.load_default(size=size)) for line in lines) > width - 2 * pad
    ):
        size -= 1
    body = ImageFont.load_default(size=size)
    top = band + (height - band - 2 * size - size // 2) // 2
    for i, line in enumerate(lines):
        draw.text((width // 2, top + i * (size + size // 2) + size // 2), line, fill=0, font=body, anchor="mm")
    return image


def screen(session: PillarSession, now: float) -> Image.Image:
    """What the pillar shows at `now`: its frame while it is valid, else the forecast's frame for `now` (docs/mqtt.md,
    "Forecast"), else its own "no current data" screen with the stop's name and its clock (local time from the last
    board it read)."""
    if session.raster is not None and session.is_current(int(now)):
        image = image_of(session.raster, session.color_mode)
        ticker = session.ticker
        if (
            ticker is not None
            and ticker.region[0] + ticker.region[2] <= image.width
            and ticker.region[1] + ticker.region[3] <= image.height
        ):
            x, y, w, h = ticker.region
            window = ticker_window(ticker, now - session.ticker_since)
            if image.mode == "1":
                ink, paper = (1, 0) if ticker.ink >= ticker.paper else (0, 1)
                pixels = np.where(window, ink, paper).astype(np.uint8) * 255
                image.paste(Image.fromarray(pixels, "L").convert("1"), (x, y))
            else:
                colors = np.array([_rgb(ticker.paper), _rgb(ticker.ink)], dtype=np.uint8)
                image.paste(Image.fromarray(colors[window.astype(int)], "RGB").convert(image.mode), (x, y))
        return image
    predicted = session.predicted(int(now))
    if predicted is not None:  # cut off: the forecast's frame for now (hollow markers), for its horizon at most
        return image_of(*predicted)
    width, height = (session.raster.shape[1], session.raster.shape[0]) if session.raster is not None else session.size
    local = (int(now) // 60 + session.utc_offset) % 1440
    clock = f"{local // 60:02d}:{local % 60:02d}" if session.stop_name else ""
    return no_data_screen(width, height, session.stop_name, clock)


def _rgb(value: int) -> tuple[int, int, int]:
    """RGB565 as 8-bit RGB."""
    r, g, b = value >> 11, (value >> 5) & 63, value & 31
    return (r << 3) | (r >> 2), (g << 2) | (g >> 4), (b << 3) | (b >> 2)


def write_screen(session: PillarSession, now: float, output: Path) -> Path:
    """Write the shown screen as PNG to a file, or into a folder as {display}-{hash}.png."""
    if output.suffix.lower() != ".png":
        output.mkdir(parents=True, exist_ok=True)
        name = f"{session.display_id}-nodata.png"
        if session.hash is not None:
            name = f"{session.display_id}-{session.hash:08x}.png"
        elif session.predicted(int(now)) is not None:
            name = f"{session.display_id}-forecast-{int(now) // 60 * 60}.png"
        output = output / name
    screen(session, now).save(output)
    return output


async def follow(
    client: aiomqtt.Client,
    session: PillarSession,
    clock: Callable[[], float],
    version: int,
    details: dict | None = None,
    on_message: Callable[[str, bytes], bool | None] | None = None,
    unsubscribe: bool = True,
    on_tick: Callable[[], None] | None = None,
) -> None:
    """The pillar's loop on a connected client (docs/mqtt.md, "The pillar's loop"): subscribe to what
    the session wants (`frame/#` only while it shows nothing), say hello, apply every message and ack;
    ask for a full frame after FRAME_WAIT seconds without a usable one; show "no current data" when the
    frame's validity runs out. Runs until `on_message` returns True, a cancellation, or a failed connection."""
    loop = _Follow(client, session, clock, version, unsubscribe, on_tick)
    await loop.sync()
    await mqtt.publish_all(client, session.hello(details), version)
    while True:
        received = await mqtt.next_message(client, 1.0)
        if received is None:
            await loop.timer()
            continue
        topic, payload = received
        replies = session.receive(topic, payload, int(clock()))
        await mqtt.publish_all(client, replies, version)
        await loop.sync()
        if on_message is not None and on_message(topic, payload):
            return


class _Follow:
    """The pillar's subscriptions and its own clock, for `follow`."""

    def __init__(self, client: aiomqtt.Client, session: PillarSession, clock: Callable[[], float], version: int,
                 unsubscribe: bool, on_tick: Callable[[], None] | None) -> None:
        self.client, self.session, self.clock, self.version = client, session, clock, version
        self.unsubscribe, self.on_tick = unsubscribe, on_tick
        self.subscribed: set[str] = set()
        self.waiting_since = clock()

    async def sync(self) -> None:
        """Subscribed to what the session wants now (`frame/#` only while it shows nothing)."""
        wanted = set(self.session.subscriptions())
        if wanted - self.subscribed:
            self.waiting_since = self.clock()
            await mqtt.subscribe_all(self.client, sorted(wanted - self.subscribed))
        if self.unsubscribe:  # a pillar may stay subscribed to frame/#: it then also gets every retained update
            await mqtt.unsubscribe_all(self.client, sorted(self.subscribed - wanted))
            self.subscribed = wanted
        else:
            self.subscribed |= wanted

    async def timer(self) -> None:
        """The pillar's own clock: expiry, and the wait for a frame (one task: the loop in `follow` calls it)."""
        session, clock = self.session, self.clock
        replies = session.expire(int(clock()))
        if session.wants_frame and clock() - self.waiting_since >= FRAME_WAIT:
            self.waiting_since = clock()
            replies += session.no_frame()
        await mqtt.publish_all(self.client, replies, self.version)
        await self.sync()
        if self.on_tick is not None:
            self.on_tick()


async def run_pillar(
    settings: mqtt.BrokerSettings,
    session: PillarSession,
    clock: Callable[[], float],
    *,
    once: bool = False,
    timeout: float | None = None,
    output: Path | None = None,
    details: dict | None = None,
    unsubscribe: bool = True,
    max_backoff: float = 30.0,
    jitter: Callable[[], float] = random.random,
) -> bool:
    """Run the pillar; with `once`, stop after the first verified frame. True when a frame was shown."""
    run = _PillarRun(settings, session, clock, once, output, details, unsubscribe, max_backoff, jitter)
    try:
        await asyncio.wait_for(run.loop(), timeout)
    except asyncio.TimeoutError:
        pass
    return run.shown.is_set()


class _PillarRun:
    """One run of the reference pillar: its connection kept up, what it shows logged and written."""

    def __init__(self, settings: mqtt.BrokerSettings, session: PillarSession, clock: Callable[[], float], once: bool,
                 output: Path | None, details: dict | None, unsubscribe: bool, max_backoff: float,
                 jitter: Callable[[], float]) -> None:
        self.settings, self.session, self.clock, self.once, self.output = settings, session, clock, once, output
        self.details, self.unsubscribe, self.max_backoff, self.jitter = details, unsubscribe, max_backoff, jitter
        self.shown = asyncio.Event()
        self.last: tuple[int | None, int] = (None, 0)  # what it showed and had refused when last looked at
        self.screen: object = None  # what the written screen shows (a hash, or a forecast's step)

    async def loop(self) -> None:
        """Connected until done; a lost connection is made again with backoff and jitter (docs/mqtt.md asks it of
        every pillar). Only a broker that cannot be reached at the start is an error."""
        session, settings = self.session, self.settings
        failures, connected = 0, False
        while True:
            try:
                async with mqtt.connect(settings, session.will()) as client:
                    connected, failures = True, 0
                    lost = False
                    self.last, self.screen = (session.hash, session.refused), None  # anew for each connection
                    try:
                        await follow(client, session, self.clock, settings.version, self.details, self.seen,
                                     self.unsubscribe, self.tick)
                        return
                    except (mqtt.BridgeError, aiomqtt.MqttError):
                        lost = True
                        raise
                    finally:  # a clean exit says so: a clean disconnect does not fire the Last Will
                        if not lost:
                            await asyncio.shield(_goodbye(client, session, settings))
            except (mqtt.BridgeError, aiomqtt.MqttError) as exc:
                if not connected:
                    raise mqtt.BridgeError(str(exc)) from None
                failures += 1
                delay = min(self.max_backoff, 0.5 * 2 ** min(failures, 10)) * (0.5 + self.jitter())
                log.warning(
                    "pillar %s: connection lost (%s); connecting again in %.1f s", session.display_id, exc, delay
                )
                await asyncio.sleep(delay)

    def seen(self, _topic: str, _payload: bytes) -> bool:
        """Log and write what changed; True (stop) after the first frame with `once`."""
        session = self.session
        changed = session.hash is not None and session.hash != self.last[0]
        if session.refused != self.last[1]:
            log.warning("pillar %s: %s", session.display_id, session.last_error)
        self.last = (session.hash, session.refused)
        if changed:
            log.info("pillar %s shows %08x", session.display_id, session.hash)
            if self.output is not None:
                write_screen(session, self.clock(), self.output)
            self.shown.set()
        return changed and self.once

    def tick(self) -> None:
        """Write the screen again when the pillar, cut off, moves on to another forecast step (or to none)."""
        session, now = self.session, int(self.clock())
        forecast = session.forecast if session.predicted(now) is not None else None
        screen = (id(forecast), forecast.index_at(now)) if forecast is not None else session.hash
        if self.output is not None and screen != self.screen:
            write_screen(session, self.clock(), self.output)
        self.screen = screen


async def ask_audio(client: aiomqtt.Client, prefix: str, display_id: str, language: str, detail: str = "short",
                    version: int = 5, timeout: float = 10.0,
                    first: Callable[[], None] | None = None) -> tuple[AudioHeader, list[bytes]]:
    """The button pressed (docs/mqtt.md, "Audio"): subscribe to `audio/{lang}` and its chunks, publish
    {"lang", "detail"} on `audio/request`, and collect the chunks of the answer (all of one text hash, in
    order; each an Ogg Opus stream that plays on its own: `first` is called when chunk 0 is there, when a
    pillar starts playing). TimeoutError when no complete answer comes within `timeout` seconds."""
    topic = display_topic(prefix, display_id, f"audio/{language}")
    await mqtt.subscribe_all(client, [topic, f"{topic}/+"])
    request = json.dumps({"lang": language, "detail": detail}).encode()
    await mqtt.publish_all(
        client, [Publish(display_topic(prefix, display_id, "audio/request"), request, False)], version
    )
    chunks: dict[int, bytes] = {}
    head: AudioHeader | None = None
    async with asyncio.timeout(timeout):
        while head is None or len(chunks) < head.count:
            received = await mqtt.next_message(client, timeout)
            if received is None or not received[1] or not received[0].startswith(topic):
                continue  # an empty payload clears a retained topic: never audio
            try:
                header, body = parse_audio(received[1])
            except AudioError as exc:
                log.warning("pillar %s: audio refused: %s", display_id, exc)
                continue
            if head is None or header.text_hash != head.text_hash:  # a newer text: start over
                head, chunks = header, {}
            chunks[header.index] = body
            if header.index == 0 and first is not None:
                first()
    return head, [chunks[i] for i in range(head.count)]


async def press_button(settings: mqtt.BrokerSettings, prefix: str, display_id: str, language: str,
                       clock: Callable[[], float], detail: str = "short",
                       timeout: float = 10.0) -> tuple[AudioHeader, list[bytes], float]:
    """Connect, ask for audio once and return its chunks with the seconds (by `clock`) from the request to the
    first chunk (when the pillar starts to play)."""
    async with mqtt.connect(settings) as client:
        started = clock()
        heard: list[float] = []
        header, chunks = await ask_audio(client, prefix, display_id, language, detail, settings.version, timeout,
                                         lambda: heard.append(clock() - started))
        return header, chunks, heard[0]
