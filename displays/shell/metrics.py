"""What the service counts and times for /metrics, kept in prometheus_client's types.

Each Service has its own registry (tests run many services in one process). Adding a metric is one line:

- something the service counts or times where it happens: an attribute here, e.g.
  ``self.pulls_refused = self.counter("stopcast_pulls_refused_total", "Pull requests refused.")``,
  then ``service.metrics.pulls_refused.inc()`` at that place (``.labels(...)`` first for a labelled one);
- a value read from the service when /metrics is scraped (a gauge, or a count kept elsewhere): one entry
  of ``READINGS`` (or ``FEED_READINGS``, per realtime source) in ``status.py``.

Names start with ``stopcast_``; a name once published is never renamed (dashboards and alerts use it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.metrics_core import Metric

# Bucket bounds in seconds, for the three histograms ops read latencies from.
RENDER_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
PUBLISH_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)


class Metrics:
    """Everything /metrics reports that is not read from elsewhere, plus the process collector
    (RSS, CPU seconds, open file descriptors, start time)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        self.renders = self.histogram("stopcast_render_seconds", "Board build + render + encode time, per board.",
                                      RENDER_BUCKETS)
        self.publishes = self.histogram("stopcast_publish_seconds",
                                        "Time for a batch of publishes to be acknowledged.", PUBLISH_BUCKETS)
        self.update_latency = self.histogram(
            "stopcast_feed_update_to_frame_seconds",
            "From a realtime feed update's arrival to the frames it changed being sent.", LATENCY_BUCKETS)
        self.messages_published = self.counter("stopcast_published_messages_total",
                                               "MQTT messages acknowledged by the broker.")
        self.bytes_published = self.counter(
            "stopcast_published_bytes_total", "Payload bytes acknowledged by the broker."
        )
        self.rejected = self.counter(
            "stopcast_pillar_messages_rejected_total", "Pillar messages that broke the contract."
        )
        self.http_frames = self.counter("stopcast_http_frames_total", "Frames served over HTTP.")
        self.http_not_modified = self.counter("stopcast_http_not_modified_total", "304 answers to pulling pillars.")
        self.display_errors = self.counter("stopcast_display_errors_total",
                                           "Boards that could not be composed, rendered or encoded.")
        self.audio_answers = self.counter(
            "stopcast_audio_answers_total", "Audio requests (MQTT audio/request) answered."
        )
        self.audio_dropped = self.counter("stopcast_audio_dropped_total",
                                          "Audio requests dropped: too many waiting, or the service overloaded.")
        self.publish_refused = self.counter(
            "stopcast_publish_refused_total", "MQTT messages the client refused to send."
        )
        self.publish_oversize = self.counter("stopcast_publish_oversize_total",
                                             "Messages over max_packet, never sent (0 unless there is a bug).")
        self.sent = 0  # messages acknowledged so far, read without a scrape (the update latency asks after each step)

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        """A counter in this service's registry (the name ends in _total)."""
        return Counter(name, documentation, labelnames=labels, registry=self.registry)

    def histogram(
        self, name: str, documentation: str, buckets: Sequence[float], labels: Sequence[str] = ()
    ) -> Histogram:
        """A histogram in this service's registry (seconds, with `buckets` as upper bounds)."""
        return Histogram(name, documentation, labelnames=labels, buckets=buckets, registry=self.registry)

    def value(self, name: str, **labels: str) -> float:
        """The current value of one sample (0 when it has none yet), e.g. value("stopcast_http_frames_total")."""
        return self.registry.get_sample_value(name, labels) or 0.0

    def observe_render_batch(self, boards: int, seconds: float) -> None:
        """Boards rendered on the pool: the time is shared out evenly."""
        for _ in range(boards):
            self.renders.observe(seconds / boards)

    def observe_publish(self, messages: int, payload_bytes: int, seconds: float) -> None:
        """One batch of publishes acknowledged by the broker."""
        self.sent += messages
        self.messages_published.inc(messages)
        self.bytes_published.inc(payload_bytes)
        self.publishes.observe(seconds)

    def exposition(self, readings: Iterable[Metric] = ()) -> bytes:
        """The Prometheus text format of this registry and of `readings` (metric families read at scrape time)."""
        return generate_latest(_Joined(self.registry, list(readings)))


class _Joined:
    """A registry and extra metric families, collected as one (what generate_latest asks of a registry)."""

    def __init__(self, registry: CollectorRegistry, extra: list[Metric]) -> None:
        self.registry, self.extra = registry, extra

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()
        yield from self.extra
