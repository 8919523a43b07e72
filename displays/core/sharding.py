"""Which instance owns which display when N instances share the displays (rendezvous hashing)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def rendezvous(display_id: str, names: Iterable[str]) -> str | None:
    """Which of `names` owns a display: the highest hash of (name, id) wins (None when there are none).

    Adding or removing a name moves only the displays that name wins or held."""
    def weight(name: str) -> int:
        return int.from_bytes(hashlib.blake2b(f"{name}/{display_id}".encode(), digest_size=8).digest(), "big")

    ordered = sorted(names)
    return max(ordered, key=weight) if ordered else None


def owner(display_id: str, shards: int) -> int:
    """The static shard (1..shards, --shard K/N) that owns a display: rendezvous over the shard numbers."""
    return int(rendezvous(display_id, (str(k) for k in range(1, shards + 1))) or 1)


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' with 1 <= K <= N; ValueError naming what is wrong."""
    k, sep, n = text.partition("/")
    if not sep or not k.isdigit() or not n.isdigit() or not 1 <= int(k) <= int(n):
        raise ValueError(f"'{text}' is not K/N with 1 <= K <= N (e.g. 1/2 and 2/2 for two instances)")
    return int(k), int(n)
