"""Connects the service's and a pillar's protocol ends in memory, with MQTT's retain and filters."""

from __future__ import annotations

from firmware_bridge.protocol import Bridge, PillarSession, Publish


def matches(pattern: str, topic: str) -> bool:
    """MQTT topic filter matching with + and #."""
    p, t = pattern.split("/"), topic.split("/")
    for i, part in enumerate(p):
        if part == "#":
            return True
        if i >= len(t) or (part != "+" and part != t[i]):
            return False
    return len(p) == len(t)


class Link:
    """A broker in miniature: retained messages, subscriptions, and byte counts per direction."""

    def __init__(self, bridge: Bridge, pillar: PillarSession) -> None:
        self.bridge, self.pillar = bridge, pillar
        self.retained: dict[str, bytes] = {}
        self.to_pillar_bytes = 0
        self.pillar_connected = True
        self.events: list[object] = []

    def deliver(self, publishes: list[Publish], now: int) -> None:
        """Route publishes until nothing more comes back."""
        queue = list(publishes)
        while queue:
            msg = queue.pop(0)
            if msg.retain:
                if msg.payload:
                    self.retained[msg.topic] = msg.payload
                else:
                    self.retained.pop(msg.topic, None)
            if self.pillar_connected and any(matches(f, msg.topic) for f in self.pillar.subscriptions()):
                if msg.payload:
                    self.to_pillar_bytes += len(msg.payload)
                queue += self.pillar.receive(msg.topic, msg.payload, now)
            if any(matches(f, msg.topic) for f in self.bridge.subscriptions()):
                events, replies = self.bridge.receive(msg.topic, msg.payload, now)
                self.events += events
                queue += replies

    def connect_pillar(self, now: int) -> None:
        """The pillar (re)connects: it gets the retained messages, then says hello."""
        self.pillar_connected = True
        retained = [Publish(t, p, True) for t, p in sorted(self.retained.items())
                    if any(matches(f, t) for f in self.pillar.subscriptions())]
        for msg in retained:
            self.to_pillar_bytes += len(msg.payload)
            self.deliver(self.pillar.receive(msg.topic, msg.payload, now), now)
        self.deliver(self.pillar.hello(), now)
