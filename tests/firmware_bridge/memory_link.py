"""Connects the service's and a pillar's protocol ends in memory, with MQTT's retain and filters."""

from __future__ import annotations

from mqtt_match import matches

from firmware_bridge.protocol import Bridge, PillarSession, Publish


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
                queue += self._to_pillar(msg, now)
            if any(matches(f, msg.topic) for f in self.bridge.subscriptions()):
                events, replies = self.bridge.receive(msg.topic, msg.payload, now)
                self.events += events
                queue += replies

    def _to_pillar(self, msg: Publish, now: int) -> list[Publish]:
        """The pillar takes a message; a filter it subscribes to as a result brings the retained messages."""
        before = set(self.pillar.subscriptions())
        replies = self.pillar.receive(msg.topic, msg.payload, now)
        return replies + self._subscribed(set(self.pillar.subscriptions()) - before, now)

    def _subscribed(self, filters: set[str], now: int) -> list[Publish]:
        replies: list[Publish] = []
        for topic, payload in sorted(self.retained.items()):
            if any(matches(f, topic) for f in filters) and any(matches(f, topic) for f in self.pillar.subscriptions()):
                self.to_pillar_bytes += len(payload)
                replies += self._to_pillar(Publish(topic, payload, True), now)
        return replies

    def connect_pillar(self, now: int) -> None:
        """The pillar (re)connects: it subscribes (and gets the retained messages), then says hello."""
        self.pillar_connected = True
        self.deliver(self.pillar.hello(), now)
        self.deliver(self._subscribed(set(self.pillar.subscriptions()), now), now)

    def expire_pillar(self, now: int) -> None:
        """The pillar's clock passes its frame's validity."""
        before = set(self.pillar.subscriptions())
        replies = self.pillar.expire(now)
        self.deliver(replies + self._subscribed(set(self.pillar.subscriptions()) - before, now), now)
