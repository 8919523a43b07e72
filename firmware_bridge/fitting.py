"""Making JSON messages fit a packet limit (docs/mqtt.md, "Board JSON"): no message the service publishes
is larger than max_packet, so a board that does not fit loses its last rows (with the `drawn` texts of those
rows), then the alert pages beyond those shown, its last alert pages (with their `drawn` texts), then the
last of its other `drawn` texts, and says so with `"truncated": true`. Pure."""

from __future__ import annotations

import json
from collections.abc import Callable

__all__ = ["fit_board"]


def _beyond(item: object, key: str, n: int) -> bool:
    value = item.get(key) if isinstance(item, dict) else None
    return isinstance(value, int) and not isinstance(value, bool) and value >= n


def _role(item: object) -> object:
    return item.get("role") if isinstance(item, dict) else None


# What a board too large loses, in this order, from the end of each list: its rows (and their drawn texts),
# every alert page beyond those shown, the alert pages (and their drawn texts), then its other drawn texts.
STEPS: tuple[tuple[str, Callable[[object, int], bool] | None], ...] = (
    ("rows", lambda d, n: _beyond(d, "row", n)),
    ("alert_all", None),
    ("alert_pages", lambda d, n: _role(d) == "alert" and _beyond(d, "page", n)),
    ("drawn", None),
)


def fit_board(board_json: bytes, room: int) -> bytes | None:
    """`board_json` as it is when it fits `room` bytes, else the board cut as the module says; None when not
    even the board without rows, alert pages and drawn texts fits."""
    if len(board_json) <= room:
        return board_json
    try:
        doc = json.loads(board_json)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    doc["truncated"] = True
    base = doc
    for key, drawn_of in STEPS:  # each step starts from the board the steps before cut to nothing
        items, drawn = _list(base, key), _list(base, "drawn")

        def cut(n: int, base: dict = base, key: str = key, items: list = items, drawn: list = drawn,
                drawn_of: Callable[[object, int], bool] | None = drawn_of) -> dict:
            out = {**base, key: items[:n]}
            if drawn_of is not None and key != "drawn":
                out["drawn"] = [d for d in drawn if not drawn_of(d, n)]
            return out

        keep = _most_that_fit(cut, len(items), room)
        if keep is not None:
            return _dump(cut(keep))
        base = cut(0)
    return None


def _list(doc: dict, key: str) -> list:
    value = doc.get(key)
    return value if isinstance(value, list) else []


def _most_that_fit(cut: Callable[[int], dict], count: int, room: int) -> int | None:
    """The largest n <= count for which cut(n) fits `room` (None when not even cut(0) does)."""
    low, high = -1, count + 1  # cut(low) fits (or low = -1: unknown), cut(high) does not (or is past the end)
    while high - low > 1:
        middle = (low + high) // 2
        if len(_dump(cut(middle))) <= room:
            low = middle
        else:
            high = middle
    return low if low >= 0 else None


def _dump(doc: dict) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
