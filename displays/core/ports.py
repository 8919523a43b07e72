"""The service's edges as Protocols: where realtime comes from, how frames reach the pillars, and
where boards are rendered. The production implementations are wired in displays/shell/wiring.py; tests
hand the service in-memory ones (MemoryLink here, fakes of sources in tests/)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from displays.core.frames import Rendered, RenderJob
from feeds.health import FeedHealth
from feeds.realtime import RealtimeSource, Snapshot
from firmware_bridge.protocol import Publish, Sent

__all__ = ["FeedSource", "MemoryLink", "PillarLink", "Renderer", "Sent"]


class FeedSource(Protocol):
    """One realtime source: its last good snapshot and its health (FeedPoller over HTTP or files)."""

    source: RealtimeSource
    snapshot: Snapshot | None
    health: FeedHealth

    async def fetch_once(self) -> bool:
        """One attempt; True when new data was taken. Never raises for a bad source."""
        ...

    async def run(self) -> None:
        """Fetch forever (every interval, backing off while failing)."""
        ...


Hello = Callable[[], list[Publish]]  # what to send on every (re)connect: status, every retained frame
Incoming = Callable[[str, bytes], list[Publish]]  # a pillar's message in, the replies out


class PillarLink(Protocol):
    """How publishes reach the pillars and their messages reach the service (MQTT in production)."""

    connected: bool
    error: str  # why the last connection failed or ended ("" while connected)
    reconnects: int  # connections lost since the start

    async def run(self, subscriptions: list[str], hello: Hello, incoming: Incoming) -> None:
        """Stay connected: on each (re)connect subscribe and send `hello()`; deliver incoming messages."""
        ...

    async def send(self, publishes: Sequence[Publish]) -> Sent:
        """Send while connected (waiting for acknowledgements); nothing is sent while disconnected,
        since `hello()` republishes everything retained after the reconnect."""
        ...

    async def close(self, goodbye: Sequence[Publish]) -> None:
        """Send the last messages (the service's offline status) and disconnect cleanly."""
        ...


class Renderer(Protocol):
    """Where boards become frames: in this process, or on worker processes."""

    async def render(self, jobs: list[RenderJob]) -> list[Rendered | str]:
        """Each job's frame, or the error's text for a board that could not be rendered."""
        ...


@dataclass
class MemoryLink:
    """A PillarLink in memory: records what is sent; `deliver` plays a pillar's message. Used by
    `serve --once` (which sends the recorded messages in one connection) and by tests."""

    connected: bool = True
    error: str = ""
    reconnects: int = 0
    sent: list[Publish] = field(default_factory=list)
    subscriptions: list[str] = field(default_factory=list)
    _incoming: Incoming | None = None

    async def run(self, subscriptions: list[str], hello: Hello, incoming: Incoming) -> None:
        """Record the subscriptions and the hello; incoming messages arrive through deliver()."""
        self.subscriptions, self._incoming = list(subscriptions), incoming
        await self.send(hello())

    async def send(self, publishes: Sequence[Publish]) -> Sent:
        """Record the publishes (nothing while 'disconnected')."""
        if not self.connected:
            return Sent()
        self.sent.extend(publishes)
        return Sent(len(publishes), sum(len(p.payload) for p in publishes))

    async def close(self, goodbye: Sequence[Publish]) -> None:
        """Record the goodbye and disconnect."""
        await self.send(goodbye)
        self.connected = False

    async def deliver(self, topic: str, payload: bytes) -> None:
        """A pillar's message arrives; the replies are sent."""
        if self._incoming is not None:
            await self.send(self._incoming(topic, payload))

    def take(self) -> list[Publish]:
        """What was sent since the last take()."""
        sent, self.sent = self.sent, []
        return sent
