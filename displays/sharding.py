"""Which instance owns which display when N instances share the displays (rendezvous hashing)."""

from __future__ import annotations

import hashlib


def owner(display_id: str, shards: int) -> int:
    """The shard (1..shards) that owns a display: the highest hash of (shard, id) wins.

    Adding or removing a shard moves only the displays that shard wins or held.
    """
    def weight(k: int) -> int:
        return int.from_bytes(hashlib.blake2b(f"{k}/{display_id}".encode(), digest_size=8).digest(), "big")

    return max(range(1, shards + 1), key=weight)


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' with 1 <= K <= N; ValueError naming what is wrong."""
    k, sep, n = text.partition("/")
    if not sep or not k.isdigit() or not n.isdigit() or not 1 <= int(k) <= int(n):
        raise ValueError(f"'{text}' is not K/N with 1 <= K <= N (e.g. 1/2 and 2/2 for two instances)")
    return int(k), int(n)
