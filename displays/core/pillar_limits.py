"""What the service says about pillars that misbehave, without letting them flood its log: one WARNING a
minute for rejected pillar messages (the rest are counted), and the pillars that ask too often."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from firmware_bridge.messages import PillarView

log = logging.getLogger("stopcast.service")

LOG_EVERY = 60  # seconds between two WARNING lines about rejected pillar messages
ASKS_TOO_OFTEN_FOR = 300  # seconds: a pillar whose answers the limits deferred within this is a problem on /healthz
ASKS_TOO_OFTEN_AFTER = 3  # deferred answers since it last showed the current frame (one request within the
# resend gap is normal: a pillar that asks twice while a frame is on its way)


@dataclass
class RejectionLog:
    """Rejected pillar messages: the first is logged, then at most one line every LOG_EVERY seconds that says
    how many more there were (the metric counts every one)."""

    logged_at: float | None = None
    unlogged: int = 0

    def note(self, topic: str, reason: str, now: float) -> None:
        """One rejected message on `topic`."""
        if self.logged_at is not None and now - self.logged_at < LOG_EVERY:
            self.unlogged += 1
            return
        more = f" ({self.unlogged} more rejected since the last such line)" if self.unlogged else ""
        log.warning("ignored pillar message on %s: %s%s", topic[:200], reason[:300], more)
        self.logged_at, self.unlogged = now, 0


def asks_too_often(display_id: str, pillar: PillarView | None, now: int) -> str | None:
    """A /healthz problem when the display's pillar asked for frames more often than the limits allow lately."""
    if (pillar is None or pillar.limited_at is None or now - pillar.limited_at > ASKS_TOO_OFTEN_FOR
            or pillar.streak < ASKS_TOO_OFTEN_AFTER):
        return None
    return (f"display {display_id}: pillar asks too often ({pillar.streak} answers deferred by the rate limits; "
            "check its firmware or its link)")
