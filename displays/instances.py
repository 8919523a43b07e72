"""Several `stopcast serve` instances on one config and broker: who is live, and which live instance
owns which display (rendezvous hashing over the live names, so a change moves only the displays it
must). Pure: announcements in, ownership out; the service publishes and reads them (docs/deploy.md).

Each instance announces itself on `{prefix}/service/instances/{name}` (retained; its Last Will on a
connection of its own says offline) with its ownership epoch, which it raises above every epoch it has
seen whenever it takes displays over, so that pillars ignore late frames of a previous owner.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from firmware_bridge.messages import Publish
from firmware_bridge.topics import instance_topic, is_instance, parse_instance_topic

from .sharding import rendezvous

__all__ = ["Member", "Membership", "announcement", "default_instance_name", "owner_of", "parse_member"]


@dataclass(frozen=True)
class Member:
    """One instance as its last announcement says."""

    name: str
    online: bool
    epoch: int = 0
    since: int = 0
    http: str = ""  # where its HTTP side answers (for proxying), "" when unknown


def default_instance_name() -> str:
    """The host name and the process id: unique per running process."""
    host = "".join(c if is_instance(c) else "-" for c in socket.gethostname())[:100] or "host"
    return f"{host}:{os.getpid()}"


def announcement(prefix: str, member: Member) -> Publish:
    """The retained announcement of an instance (online, or offline as its Last Will)."""
    doc = {"state": "online" if member.online else "offline", "since": member.since, "epoch": member.epoch,
           "http": member.http}
    return Publish(instance_topic(prefix, member.name), json.dumps(doc).encode(), True)


def parse_member(prefix: str, topic: str, payload: bytes) -> Member | None:
    """An announcement as a Member; None when the topic or payload is not one (never trusted)."""
    name = parse_instance_topic(prefix, topic)
    if name is None:
        return None
    if not payload:
        return Member(name, False)  # a cleared announcement
    try:
        doc = json.loads(payload.decode("utf-8")) if len(payload) <= 2048 else None
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("state") not in ("online", "offline"):
        return None
    epoch, since, http = doc.get("epoch", 0), doc.get("since", 0), doc.get("http", "")
    if not isinstance(epoch, int) or not isinstance(since, int) or not isinstance(http, str) or not 0 <= epoch < 1 << 32:
        return None
    return Member(name, doc["state"] == "online", epoch, since, http[:300])


def owner_of(display_id: str, live: Iterable[str]) -> str | None:
    """The live instance that owns a display (None: nobody is live); see sharding.rendezvous."""
    return rendezvous(display_id, live)


class Membership:
    """What one instance knows of all instances; it counts itself live while it runs."""

    def __init__(self, me: str) -> None:
        self.me = me
        self.members: dict[str, Member] = {}
        self.highest_epoch = 0  # the highest epoch any instance ever announced

    def update(self, member: Member) -> bool:
        """Take an announcement; True when the live set changed."""
        before = self.live()
        self.highest_epoch = max(self.highest_epoch, member.epoch)
        self.members[member.name] = member
        return self.live() != before

    def live(self) -> tuple[str, ...]:
        """The names of the live instances, this one included."""
        return tuple(sorted({self.me, *(m.name for m in self.members.values() if m.online)}))

    def owns(self, display_id: str) -> bool:
        """Whether this instance owns the display among the live ones."""
        return owner_of(display_id, self.live()) == self.me

    def http_of(self, display_id: str) -> str:
        """The HTTP address of the display's owner ("" when it is this instance or unknown)."""
        name = owner_of(display_id, self.live())
        member = self.members.get(name or "")
        return member.http if member is not None and name != self.me else ""
