"""The pillar protocol as sans-I/O state machines: bytes and `now` in, publishes and events out.

`Bridge` is the service's end (one `DisplayChannel` per display, firmware_bridge/channel.py),
`PillarSession` the pillar's (firmware_bridge/pillar.py); their states and the one transition
table are in firmware_bridge/states.py, the message values in firmware_bridge/messages.py.
Neither end touches a socket or a clock; aiomqtt carries their messages (see link.py, client.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from .audio import AudioRequest, parse_request
from .channel import MAX_EPOCH, DisplayChannel
from .forecast import ForecastStep
from .limits import TOTAL_ANSWER_BYTES, TokenBucket
from .messages import (
    MAX_PILLAR_MESSAGE,
    Event,
    Frame,
    PillarAck,
    PillarStatus,
    PillarView,
    Publish,
    Rejected,
    Sent,
    packet_room,
    parse_ack,
    parse_status,
)
from .pillar import PillarSession
from .states import ChannelState, PillarState, ProtocolError
from .topics import display_topic, parse_display_topic, service_status_topic

SPOKEN = ("de", "en", "es")  # the languages a pillar may ask audio in

__all__ = [
    "AudioRequest", "Bridge", "ChannelState", "DisplayChannel", "Event", "ForecastStep", "Frame", "PillarAck",
    "PillarSession", "PillarState",
    "PillarStatus", "PillarView", "ProtocolError", "Publish", "Rejected", "Sent",
]


class Bridge:
    """The service's end of the protocol for all its displays."""

    def __init__(self, prefix: str, max_packet: int, frame_ttl: int, margin: int = 60, epoch: int = 0) -> None:
        self.prefix = prefix
        self.max_packet = max_packet
        self.frame_ttl = frame_ttl
        self.margin = min(margin, frame_ttl // 2)
        self.epoch = epoch  # the ownership epoch in every header: raise it when taking displays over
        self.channels: dict[str, DisplayChannel] = {}
        self.keys: dict[str, bytes] = {}  # display -> its frame key (signed frames); see set_keys
        self.failures: dict[str, str] = {}  # display -> why its last tick failed (it keeps its frame)
        self.answers = TokenBucket(*TOTAL_ANSWER_BYTES)  # answer bytes to all pillars together

    def channel(self, display_id: str, full_refresh_every: int = 10) -> DisplayChannel:
        """The channel of a display, created on first use."""
        found = self.channels.get(display_id)
        if found is None:
            found = DisplayChannel(display_id, self.prefix, self.max_packet, self.frame_ttl, full_refresh_every,
                                   self.epoch, self.keys.get(display_id, b""), self.answers)
            self.channels[display_id] = found
        found.configure(full_refresh_every=full_refresh_every)
        return found

    def expect(self, display_ids: list[str]) -> None:
        """Channels for these displays before their first frame, so that the pillars' retained statuses
        (delivered when the service subscribes) are read at start."""
        for display_id in display_ids:
            if display_id not in self.channels:  # an existing channel keeps its layout's full_refresh_every
                self.channel(display_id)

    def release(self, display_id: str) -> None:
        """Stop publishing a display another instance took over (its retained messages stay); what is known
        of its pillar is kept."""
        old = self.channels.pop(display_id, None)
        if old is None:
            return
        self.channel(display_id, old.full_refresh_every).resume(old)

    def set_keys(self, keys: dict[str, bytes]) -> None:
        """The frame keys of the displays whose messages are signed (docs/mqtt.md, "Signed frames"); what is
        published from now on is signed with them."""
        self.keys = dict(keys)
        for display_id, channel in self.channels.items():
            channel.configure(key=self.keys.get(display_id, b""))

    def set_epoch(self, epoch: int) -> None:
        """A new ownership epoch (it only grows) for every frame published from now on."""
        self.epoch = min(max(self.epoch, epoch), MAX_EPOCH)
        for channel in self.channels.values():
            channel.configure(epoch=self.epoch)

    def frame_payload(self, display_id: str) -> bytes | None:
        """The display's current frame as one unchunked full-frame message (header + body), if any."""
        channel = self.channels.get(display_id)
        payloads = channel.full_payloads(1 << 62) if channel is not None else []
        return payloads[0] if payloads else None

    def pillar(self, display_id: str) -> PillarView | None:
        """What the service knows of a display's pillar (None for a display it does not handle)."""
        channel = self.channels.get(display_id)
        return channel.view() if channel is not None else None

    def deferred_answers(self) -> int:
        """Answers to pillar requests the rate limits deferred, over every display this bridge handles."""
        return sum(channel.limited for channel in self.channels.values())

    def subscriptions(self) -> list[str]:
        """What the service subscribes to: every pillar's status and ack."""
        return [display_topic(self.prefix, "+", "status"), display_topic(self.prefix, "+", "ack"),
                display_topic(self.prefix, "+", "audio/request")]

    def service_status(self, online: bool, now: int, details: dict | None = None) -> Publish:
        """The service's retained status (its Last Will is the offline one)."""
        doc = {"state": "online" if online else "offline", "since": now, **(details or {})}
        return Publish(service_status_topic(self.prefix), json.dumps(doc).encode(), True)

    def show(self, display_id: str, frame: Frame, now: int, full_refresh_every: int = 10,
             true_until: int | None = None, night: bool = False) -> list[Publish]:
        """Publishes for a display's newly rendered frame, whose content is true until `true_until` (None: for
        frame_ttl; a `night` screen's validity reaches it at once); nothing when unchanged."""
        return self.channel(display_id, full_refresh_every).show(frame, now, true_until, night)

    def board(self, display_id: str, key: object, make: Callable[[], bytes]) -> list[Publish]:
        """The retained board JSON of a display when its board changed: `key` is what the JSON is made of (equal
        keys, equal JSON), `make` builds it, only when the key changed; nothing otherwise."""
        channel = self.channels.get(display_id) or self.channel(display_id)  # (show configures a new one)
        return channel.set_board(key, make)

    def forecast(self, display_id: str, steps: list[ForecastStep], horizon_minutes: int, now: int) -> list[Publish]:
        """The retained forecast of a display (docs/mqtt.md, "Forecast")."""
        channel = self.channels.get(display_id)
        return (
            channel.forecast(steps, horizon_minutes, now) if channel is not None and channel.current is not None else []
        )

    def extend_to(self, display_id: str, true_until: int) -> None:
        """A display's board was composed again with the same texts: its frame stays true until `true_until`."""
        channel = self.channels.get(display_id)
        if channel is not None:
            channel.extend_to(true_until)

    def receive(self, topic: str, payload: bytes, now: int) -> tuple[list[Event | AudioRequest], list[Publish]]:
        """Handle a message from a pillar; malformed ones become Rejected events, never exceptions."""
        if len(payload) > MAX_PILLAR_MESSAGE:  # refused unread, whatever the topic
            return [Rejected(topic[:200], f"message of {len(payload)} bytes exceeds {MAX_PILLAR_MESSAGE}")], []
        parsed = parse_display_topic(self.prefix, topic)
        if parsed is None or parsed[0] not in self.channels:
            return [Rejected(topic, "not a configured display's topic")], []
        display_id, leaf = parsed
        channel = self.channels[display_id]
        try:
            if leaf == "ack":
                ack = parse_ack(display_id, payload)
                return [ack], channel.on_ack(ack, now)
            if leaf == "status":
                if not payload:  # a cleared retained status
                    return [], []
                status = parse_status(display_id, payload)
                return [status], channel.on_status(status, now)
            if leaf == "audio/request":  # answered by the service's speaker (it owns the synthesizer)
                return [parse_request(display_id, payload, SPOKEN)], []
        except (ValueError, ProtocolError) as exc:
            return [Rejected(topic, str(exc))], []
        return [Rejected(topic, f"pillars may not publish to '{leaf}'")], []

    def room(self, display_id: str, leaf: str) -> int:
        """Payload bytes that fit the display's packet limit (its pillar's, when smaller) on its topic `leaf`."""
        channel = self.channels.get(display_id)
        return (
            channel.room(leaf)
            if channel is not None
            else packet_room(self.max_packet, display_topic(self.prefix, display_id, leaf))
        )

    def scrolls(self, display_id: str) -> bool:
        """Whether the display's pillar said it scrolls the ticker itself (its frames need not page the alerts)."""
        channel = self.channels.get(display_id)
        return channel is not None and channel.scrolls

    def tick(self, now: int) -> list[Publish]:
        """Validity extensions due at `now`."""
        out: list[Publish] = []
        for display_id, channel in self.channels.items():
            try:
                out += channel.tick(now, self.margin)
            except Exception as exc:  # noqa: BLE001 - one display's failure never stops the others, nor the service
                self.failures[display_id] = f"{type(exc).__name__}: {exc}"
            else:
                self.failures.pop(display_id, None)
        return out

    def next_deadline(self) -> int | None:
        """When tick() next has something to do."""
        deadlines = [d for c in self.channels.values() if (d := c.next_deadline(self.margin)) is not None]
        return min(deadlines) if deadlines else None

    def unsent(self, publishes: Sequence[Publish]) -> None:
        """Publishes that may not have reached the broker: the pillars they were for are no longer known to
        show what they were sent (the next republish sends them the whole frame)."""
        for publish in publishes:
            parsed = parse_display_topic(self.prefix, publish.topic)
            if parsed is not None and parsed[1] == "delta" and parsed[0] in self.channels:
                self.channels[parsed[0]].unsent()

    def republish_all(self, now: int) -> list[Publish]:
        """Every display's retained messages again, after a reconnect."""
        out: list[Publish] = []
        for channel in self.channels.values():
            out += channel.republish(now)
        return out

    def remove(self, display_id: str) -> list[Publish]:
        """Forget a display and clear its retained messages."""
        channel = self.channels.pop(display_id, None)
        return channel.clear() if channel else []
