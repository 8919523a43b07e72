"""The pillar link over MQTT (aiomqtt): stays connected with backoff, subscribes and says hello on
every (re)connect, delivers pillar messages, sends with acknowledgements. aiomqtt's errors stay
inside: callers see `connected`, `error` and the counts of what was sent."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

import aiomqtt

from . import client as mqtt
from .protocol import Publish, Sent

log = logging.getLogger("stopcast.mqtt")

PRESENCE_KEEPALIVE = 5  # seconds: the broker declares a silent instance gone after 1.5 times this


class MqttLink:
    """A PillarLink over one broker connection (see displays/core/ports.py)."""

    def __init__(self, settings: mqtt.BrokerSettings, will: Publish, random: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 presence: tuple[Callable[[], Publish], Publish] | None = None, heartbeat: float = 10.0,
                 at_most_once: tuple[str, ...] = ()) -> None:
        self.settings, self.will, self.random, self.sleep = settings, will, random, sleep
        self.presence = presence  # (this instance's announcement, its Last Will) on a connection of their own
        self.heartbeat = heartbeat  # seconds between announcements (each proves the instance live for a while)
        self.at_most_once = at_most_once  # subscriptions taken at QoS 0 (what pillars write: see BrokerSettings)
        self.connected = False
        self.error = "not connected yet"
        self.reconnects = 0
        self._client: aiomqtt.Client | None = None
        self._closing = False  # close() began: nothing more is sent but the goodbye
        self._sending = 0  # send() calls under way (the goodbye waits for them: it must be the last word)
        self._idle = asyncio.Event()
        self._idle.set()
        self._presence_task: asyncio.Task | None = None
        self._leaving = asyncio.Event()  # close() asks the presence connection for its offline word

    async def run(self, subscriptions: list[str], hello: Callable[[], list[Publish]],
                  incoming: Callable[[str, bytes], list[Publish]]) -> None:
        """Stay connected until cancelled."""

        async def session(client: aiomqtt.Client) -> None:
            await mqtt.subscribe_all(client, subscriptions, self.at_most_once)
            self._client = client
            self.connected = True  # only now: sends before the subscriptions would be lost
            await self.send(hello())
            async for topic, payload in mqtt.messages(client):
                await self.send(incoming(topic, payload))

        main = mqtt.keep_connected(self.settings, self.will, session, self.sleep, self.random, self._state)
        if self.presence is None:
            await main
            return
        self._presence_task = asyncio.create_task(self._present(*self.presence), name="presence")
        try:
            await main
        finally:
            await mqtt.stop(self._presence_task)

    async def _present(self, announce: Callable[[], Publish], will: Publish) -> None:
        """A second connection that only announces the instance, again every heartbeat (an announcement that is
        not renewed goes stale: docs/deploy.md); it drops with the process, and then its Last Will says so at once
        (a short keepalive notices a lost network within PRESENCE_KEEPALIVE * 1.5 s)."""
        settings = replace(self.settings, client_id=f"{self.settings.client_id or 'stopcast'}-presence",
                           keepalive=PRESENCE_KEEPALIVE)

        async def session(client: aiomqtt.Client) -> None:
            while not self._leaving.is_set():
                await mqtt.publish_all(client, [announce()], settings.version)
                # nothing is subscribed: reading only ends when the heartbeat is due or fails when the connection drops
                reading = asyncio.ensure_future(mqtt.next_message(client, self.heartbeat))
                leaving = asyncio.ensure_future(self._leaving.wait())
                try:
                    await asyncio.wait({reading, leaving}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    reading.cancel()
                    leaving.cancel()
                if reading.done() and not reading.cancelled() and reading.exception() is not None:
                    raise reading.exception()  # type: ignore[misc]
            # the last word on this connection is offline: a heartbeat it sent before can never arrive after it
            await mqtt.publish_all(client, [will], settings.version)

        await mqtt.keep_connected(settings, will, session, self.sleep, self.random)

    def _state(self, connected: bool, error: str) -> None:
        self.error = error
        if not connected:
            self.connected, self._client = False, None
            self.reconnects += 1

    async def send(self, publishes: Sequence[Publish]) -> Sent:
        """Publish and wait for the acknowledgements; nothing while disconnected."""
        client = self._client
        if client is None or not publishes or self._closing:
            return Sent()
        refused: list[tuple[str, str]] = []
        self._sending += 1
        self._idle.clear()
        try:
            sent = await mqtt.publish_all(client, publishes, self.settings.version, refused=refused)
        except mqtt.BridgeError as exc:
            log.warning("%s; frames follow after the reconnect", exc)
            return Sent(refused=tuple(refused))
        finally:
            self._sending -= 1
            if not self._sending:
                self._idle.set()
        return Sent(len(publishes) - len(refused), sent, tuple(refused))

    async def close(self, goodbye: Sequence[Publish]) -> None:
        """Send the goodbye while still connected (a clean disconnect does not fire the Will), as the last word:
        the heartbeats stop and what is being sent is acknowledged first, and nothing is sent after it (else an
        announcement made just before the stop could arrive after the goodbye and say the instance is online)."""
        self._closing = True
        self._leaving.set()
        if self._presence_task is not None:
            await asyncio.wait({self._presence_task}, timeout=2)  # its offline announcement, acknowledged
            await mqtt.stop(self._presence_task)
        try:
            await asyncio.wait_for(self._idle.wait(), 2)
        except asyncio.TimeoutError:
            log.warning("sends still under way at the stop; saying goodbye anyway")
        client = self._client
        if client is None:
            return
        try:
            await asyncio.wait_for(mqtt.publish_all(client, goodbye, self.settings.version), 2)
        except (mqtt.BridgeError, asyncio.TimeoutError, aiomqtt.MqttError):
            pass

    async def deliver_once(self, publishes: Sequence[Publish]) -> int:
        """Connect, send every publish with acknowledgements, disconnect (serve --once); BridgeError
        when the broker cannot be reached."""
        async with mqtt.connect(self.settings, self.will) as client:
            return await mqtt.publish_all(client, publishes, self.settings.version)
