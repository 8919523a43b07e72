"""Making JSON messages fit a packet limit (docs/mqtt.md, "Board JSON"): no message the service publishes
is larger than max_packet, so a board that does not fit loses its last rows, then its alert pages, and
says so with `"truncated": true`. Pure."""

from __future__ import annotations

import json

__all__ = ["fit_board"]

SHRINKABLE = ("rows", "alert_pages")  # dropped from the end, in this order, until the board fits


def fit_board(board_json: bytes, room: int) -> bytes | None:
    """`board_json` as it is when it fits `room` bytes, else the board with its last rows (then alert pages)
    left out and `"truncated": true`; None when not even the board without rows and pages fits."""
    if len(board_json) <= room:
        return board_json
    try:
        doc = json.loads(board_json)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    doc["truncated"] = True
    for key in SHRINKABLE:
        items = doc.get(key)
        if not isinstance(items, list):
            continue
        keep = _most_that_fit(doc, key, items, room)
        if keep is not None:
            doc[key] = items[:keep]
            return _dump(doc)
        doc[key] = []
    out = _dump(doc)
    return out if len(out) <= room else None


def _most_that_fit(doc: dict, key: str, items: list, room: int) -> int | None:
    """The largest n for which the board with items[:n] under `key` fits (None when not even n = 0 does)."""
    low, high = -1, len(items)  # fits(low) holds (or low = -1: unknown), fits(high) does not
    while high - low > 1:
        middle = (low + high) // 2
        if len(_dump({**doc, key: items[:middle]})) <= room:
            low = middle
        else:
            high = middle
    return low if low >= 0 else None


def _dump(doc: dict) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
