"""Bounds on what the service sends in answer to pillars (docs/mqtt.md, "When the service publishes"):
a token bucket per pillar and one for all pillars, and a backoff per pillar. Pure: `now` is passed in."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ANSWER_GAP_MAX", "PILLAR_ANSWERS", "TOTAL_ANSWER_BYTES", "Backoff", "TokenBucket"]

ANSWER_GAP_MAX = 300  # seconds: the longest a pillar that keeps asking waits between two answers
PILLAR_ANSWERS = (4.0, 1 / 15)  # answers a pillar may get at once, and per second after that (one every 15 s)
TOTAL_ANSWER_BYTES = (4 * 1024 * 1024.0, 256 * 1024.0)  # payload bytes of answers to all pillars: burst, per second


@dataclass
class TokenBucket:
    """`capacity` tokens, refilled at `rate` per second; spending more than there is waits (never drops)."""

    capacity: float
    rate: float
    tokens: float | None = None  # None: full (set on first use); below 0 after a cost above what it held
    at: float = 0.0

    def _fill(self, now: float) -> None:
        if self.tokens is None:
            self.tokens, self.at = self.capacity, now
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = max(self.at, now)

    def ready_at(self, now: float, cost: float = 1.0) -> float:
        """When `cost` tokens are there (now, or later); a cost above the capacity waits for a full bucket."""
        self._fill(now)
        assert self.tokens is not None
        need = min(cost, self.capacity) - self.tokens
        return now if need <= 0 else now + need / self.rate

    def spend(self, now: float, cost: float = 1.0) -> None:
        """Take `cost` tokens (the bucket may go below zero for a cost above what it holds: later answers wait)."""
        self._fill(now)
        assert self.tokens is not None
        self.tokens -= cost


@dataclass
class Backoff:
    """The gap before a pillar's next answer: none for the first after progress, then `first`, doubling to `most`."""

    first: int
    most: int = ANSWER_GAP_MAX
    gap: int = 0
    next_at: int = 0

    def ready_at(self) -> int:
        """When the next answer may go."""
        return self.next_at

    def answered(self, now: int) -> None:
        """An answer went at `now`: the next waits longer."""
        self.next_at = now + self.gap
        self.gap = min(self.most, max(self.first, self.gap * 2))

    def reset(self) -> None:
        """The pillar made progress (it shows the current frame): answers are prompt again."""
        self.gap, self.next_at = 0, 0
