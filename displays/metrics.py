"""Counters the service keeps for /metrics (Prometheus text) and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Timing:
    """Count, sum and maximum of durations in seconds."""

    count: int = 0
    total: float = 0.0
    maximum: float = 0.0

    def add(self, seconds: float) -> None:
        """Record one duration."""
        self.count += 1
        self.total += seconds
        self.maximum = max(self.maximum, seconds)


@dataclass
class Metrics:
    """Everything /metrics reports that is not read from elsewhere."""

    renders: Timing = field(default_factory=Timing)
    publishes: Timing = field(default_factory=Timing)
    messages_published: int = 0
    bytes_published: int = 0
    rejected: int = 0
    http_frames: int = 0
    http_not_modified: int = 0
    display_errors: int = 0  # boards that could not be composed, rendered or encoded
    publish_refused: int = 0  # messages the MQTT client refused (e.g. an invalid topic)
    publish_oversize: int = 0  # messages over max_packet, never sent (a bug if it is ever not 0)

    def observe_render_batch(self, boards: int, seconds: float) -> None:
        """Boards rendered on the pool: the time is shared out evenly."""
        for _ in range(boards):
            self.renders.add(seconds / boards)

    def observe_publish(self, messages: int, payload_bytes: int, seconds: float) -> None:
        """One batch of publishes acknowledged by the broker."""
        self.messages_published += messages
        self.bytes_published += payload_bytes
        self.publishes.add(seconds)
