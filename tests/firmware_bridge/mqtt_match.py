"""MQTT topic filters, for the in-memory brokers of the tests (imports nothing of stopcast)."""

from __future__ import annotations


def matches(pattern: str, topic: str) -> bool:
    """Whether `topic` matches the filter `pattern` (with + and #)."""
    p, t = pattern.split("/"), topic.split("/")
    for i, part in enumerate(p):
        if part == "#":
            return True
        if i >= len(t) or (part != "+" and part != t[i]):
            return False
    return len(p) == len(t)
