"""The reference pillar: subscribes as firmware would, applies frames and deltas, verifies hashes,
acknowledges, reports its status with a Last Will, and writes what it shows as PNG.

The executable spec for pillar vendors (docs/mqtt.md); the protocol is PillarSession's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import aiomqtt
from PIL import Image, ImageDraw

from . import client as mqtt
from .codec import image_of
from .protocol import PillarSession

log = logging.getLogger("stopcast.pillar")


async def _goodbye(client: aiomqtt.Client, session: PillarSession, settings: mqtt.BrokerSettings) -> None:
    """Publish the pillar's offline status (retained) before a clean exit."""
    try:
        await asyncio.wait_for(mqtt.publish_all(client, [session.will()], settings.version), 2)
    except (mqtt.BridgeError, aiomqtt.MqttError, asyncio.TimeoutError):
        log.warning("pillar %s: could not say offline before leaving", session.display_id)


def no_data_screen(width: int, height: int) -> Image.Image:
    """The screen a pillar holds itself for when its frame has expired: never stale departures."""
    image = Image.new("1", (max(width, 64), max(height, 32)), 1)
    draw = ImageDraw.Draw(image)
    draw.text((8, 8), "Keine aktuellen Daten / No current data", fill=0)
    return image


def screen(session: PillarSession, now: float) -> Image.Image:
    """What the pillar shows at `now`."""
    if session.raster is not None and session.is_current(int(now)):
        return image_of(session.raster, session.color_mode)
    height, width = session.raster.shape if session.raster is not None else (480, 800)
    return no_data_screen(width, height)


def write_screen(session: PillarSession, now: float, output: Path) -> Path:
    """Write the shown screen as PNG to a file, or into a folder as {display}-{hash}.png."""
    if output.suffix.lower() != ".png":
        output.mkdir(parents=True, exist_ok=True)
        name = f"{session.display_id}-{session.hash:08x}.png" if session.hash is not None else f"{session.display_id}-nodata.png"
        output = output / name
    screen(session, now).save(output)
    return output


async def run_pillar(
    settings: mqtt.BrokerSettings,
    session: PillarSession,
    clock: Callable[[], float],
    *,
    once: bool = False,
    timeout: float | None = None,
    output: Path | None = None,
    details: dict | None = None,
) -> bool:
    """Run the pillar; with `once`, stop after the first verified frame. True when a frame was shown."""
    shown = asyncio.Event()

    async def loop() -> None:
        async with mqtt.connect(settings, session.will()) as client:
            try:
                await session_loop(client)
            finally:  # a clean exit says so: a clean disconnect does not fire the Last Will
                await asyncio.shield(_goodbye(client, session, settings))

    async def session_loop(client: aiomqtt.Client) -> None:
        await mqtt.subscribe_all(client, session.subscriptions())
        await mqtt.publish_all(client, session.hello(details), settings.version)
        async for topic, payload in mqtt.messages(client):
            before, refused = session.hash, session.refused
            replies = session.receive(topic, payload, int(clock()))
            await mqtt.publish_all(client, replies, settings.version)
            if session.refused != refused:
                log.warning("pillar %s: %s", session.display_id, session.last_error)
            if session.hash is not None and session.hash != before:
                log.info("pillar %s shows %08x", session.display_id, session.hash)
                if output is not None:
                    write_screen(session, clock(), output)
                shown.set()
                if once:
                    return

    try:
        await asyncio.wait_for(loop(), timeout)
    except asyncio.TimeoutError:
        pass
    return shown.is_set()
