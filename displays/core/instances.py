"""Several `stopcast serve` instances on one config and broker: who is live, and which live instance
owns which display (rendezvous hashing over the live names, so a change moves only the displays it
must). Pure: announcements and `now` in, ownership out; the service publishes and reads them (docs/deploy.md).

Each instance announces itself on `{prefix}/service/instances/{name}` (retained; its Last Will on a
connection of its own says offline) with its ownership epoch, which it raises above every epoch it has
seen whenever it takes displays over, so that pillars ignore late frames of a previous owner.

An announcement proves liveness only for a while: it is repeated every heartbeat and says for how long it
holds (`at` + `ttl`, also its MQTT 5 message expiry); an older one is a dead instance's. It names its
deployment and display set: an instance of another deployment, with another display set, or (with a
shared secret) without a valid proof is never joined; it is named as a problem instead. An epoch more than
a day ahead of the clock is never believed (it would push ours past the header's 32 bits).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from displays.core.sharding import rendezvous
from firmware_bridge.messages import Publish
from firmware_bridge.topics import instance_topic, parse_instance_topic

__all__ = ["FUTURE", "MAX_EPOCH", "Identity", "Member", "Membership", "announcement", 
           "display_set", "owner_of", "parse_member"]

MAX_EPOCH = (1 << 32) - 1  # epochs and sequence numbers are 32-bit fields of the frame header
FUTURE = 86400  # seconds: an epoch or heartbeat further ahead of this clock is implausible and ignored
MAX_TTL = 3600  # the longest an announcement may claim to hold


@dataclass(frozen=True)
class Identity:
    """What makes instances one deployment: its name ([service] deployment), its display set, and the shared
    secret that proves membership (b"": none configured)."""

    deployment: str = ""
    displays: str = ""  # display_set() of the config
    secret: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class Member:
    """One instance as its last announcement says."""

    name: str
    online: bool
    epoch: int = 0
    since: int = 0
    http: str = ""  # where its HTTP side answers (for proxying), "" when unknown
    at: int = 0  # when the announcement was made (the sender's clock)
    ttl: int = 0  # seconds after `at` for which it proves the instance live
    deployment: str = ""
    displays: str = ""
    proven: bool = False  # it carries a valid proof of the shared secret


def display_set(ids: Iterable[str]) -> str:
    """A short fingerprint of a set of display ids (equal sets, equal fingerprints)."""
    return hashlib.sha256("\n".join(sorted(set(ids))).encode()).hexdigest()[:16]


def _proof(secret: bytes, name: str, doc: dict) -> str:
    body = json.dumps({k: v for k, v in doc.items() if k != "proof"}, sort_keys=True, separators=(",", ":"))
    return hmac.new(secret, f"{name}\n{body}".encode(), hashlib.sha256).hexdigest()


def announcement(prefix: str, member: Member, secret: bytes = b"") -> Publish:
    """The retained announcement of an instance (online with its MQTT 5 expiry, or offline as its Last Will)."""
    doc = {k: v for k, v in asdict(member).items() if k not in ("name", "online", "proven")}
    doc["state"] = "online" if member.online else "offline"
    if secret:
        doc["proof"] = _proof(secret, member.name, doc)
    expiry = member.ttl if member.online and member.ttl else None
    return Publish(instance_topic(prefix, member.name), json.dumps(doc).encode(), True, expiry=expiry)


def parse_member(prefix: str, topic: str, payload: bytes, secret: bytes = b"") -> Member | None:
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
    numbers = {k: doc.get(k, 0) for k in ("epoch", "since", "at", "ttl")}
    texts = {k: doc.get(k, "") for k in ("http", "deployment", "displays", "proof")}
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_EPOCH for v in numbers.values()):
        return None
    if not all(isinstance(v, str) and len(v) <= 300 for v in texts.values()):
        return None
    proven = bool(secret) and hmac.compare_digest(_proof(secret, name, doc), texts["proof"])
    return Member(name, doc["state"] == "online", numbers["epoch"], numbers["since"], texts["http"], numbers["at"],
                  min(numbers["ttl"], MAX_TTL), texts["deployment"], texts["displays"], proven)


def owner_of(display_id: str, live: Iterable[str]) -> str | None:
    """The live instance that owns a display (None: nobody is live); see sharding.rendezvous."""
    return rendezvous(display_id, live)


class Membership:
    """What one instance knows of all instances; it counts itself live while it runs."""

    def __init__(self, me: str, identity: Identity | None = None) -> None:
        self.me = me
        self.identity = identity or Identity()
        self.members: dict[str, Member] = {}  # the instances of this deployment, as last announced
        self.announced: dict[str, Member] = {}  # every instance's last announcement, joined or not
        self.refused: dict[str, str] = {}  # instance -> why it is not joined (named as a problem)
        self.highest_epoch = 0  # the highest epoch a member of this deployment announced
        self.now = 0

    def update(self, member: Member, now: int) -> bool:
        """Take an announcement at `now`; True when the live set changed."""
        before = self.live()
        self.now = max(self.now, now)
        self.announced[member.name] = member
        self._judge(member)
        return self.live() != before

    def set_identity(self, identity: Identity) -> bool:
        """This deployment's identity changed (its display set, with a config change): every announcement is
        judged again; True when the live set changed."""
        before = self.live()
        self.identity = identity
        for member in list(self.announced.values()):
            self._judge(member)
        return self.live() != before

    def _judge(self, member: Member) -> None:
        """Join an announcement, or record why it is refused."""
        reason = self._refusal(member, self.now) if member.online else ""
        if reason:
            self.refused[member.name] = reason
            self.members.pop(member.name, None)
        else:
            self.refused.pop(member.name, None)
            self.members[member.name] = member
            if member.online:
                self.highest_epoch = max(self.highest_epoch, member.epoch)

    def _refusal(self, member: Member, now: int) -> str:
        """Why an online announcement is not joined ('' when it is)."""
        if member.epoch > now + FUTURE or member.at > now + FUTURE:
            return (f"announces epoch {member.epoch} at {member.at}, more than a day ahead of this clock ({now}): "
                    "ignored")
        mine = self.identity
        if member.deployment != mine.deployment:
            return (f"belongs to deployment '{member.deployment}', not '{mine.deployment}' (same broker and prefix): "
                    "not joined")
        if member.displays != mine.displays:
            return "has another display set (another config on the same broker and prefix): not joined"
        if mine.secret and not member.proven:
            return "does not prove the deployment's shared secret ([service] secret_env): not joined"
        return ""

    def alive(self, member: Member) -> bool:
        """Whether an announcement still proves its instance live."""
        return member.online and member.at + member.ttl >= self.now

    def expire(self, now: int) -> bool:
        """Move the clock on; True when an announcement went stale and the live set changed."""
        before = self.live()
        self.now = max(self.now, now)
        return self.live() != before

    def next_expiry(self) -> int | None:
        """When the next live member's announcement goes stale (None: none is live)."""
        ends = [m.at + m.ttl + 1 for m in self.members.values() if self.alive(m)]
        return min(ends) if ends else None

    def live(self) -> tuple[str, ...]:
        """The names of the live instances, this one included."""
        return tuple(sorted({self.me, *(m.name for m in self.members.values() if self.alive(m))}))

    def owns(self, display_id: str) -> bool:
        """Whether this instance owns the display among the live ones."""
        return owner_of(display_id, self.live()) == self.me

    def owner(self, display_id: str) -> Member | None:
        """The live member that owns the display (None when it is this instance or nobody)."""
        name = owner_of(display_id, self.live())
        return self.members.get(name or "") if name != self.me else None

    def http_of(self, display_id: str) -> str:
        """The HTTP address of the display's owner ("" when it is this instance or unknown)."""
        member = self.owner(display_id)
        return member.http if member is not None else ""

    def problems(self) -> list[str]:
        """The instances seen on the broker that are not joined, and why."""
        return [
            f"instance {name} on the same broker and prefix {reason}" for name, reason in sorted(self.refused.items())
        ]
