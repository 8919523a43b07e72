"""What the HTTP side keeps per display, in the aiohttp app (not in the service): live pages
waiting for board changes, the frame encoded for pulling clients, and what pulling devices report."""

from __future__ import annotations

import asyncio
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from displays.core.frames import pull_bytes
from displays.web.history import PresenceHistory
from firmware_bridge.protocol import Frame

__all__ = ["DEVICE_HEADER", "KEY_HEADER", "PULLS", "PullState", "Pulls", "device_of", "pull_counts"]

KEPT_ENCODINGS = 8  # encoded pull frames kept per display (a few frames in a few formats)
DEVICE_HEADER = "X-Stopcast-Device"  # or ?device=: a pulling pillar names itself
KEY_HEADER = "X-Stopcast-Device-Key"  # or ?key=: and proves it is the display's device (its pull_key)


def device_of(query: Mapping[str, str], headers: Mapping[str, str]) -> str:
    """The device a pull request names (?device= or the X-Stopcast-Device header), "" for none.
    Only a name of 1 to 64 printable ASCII characters counts."""
    name = str(query.get("device", "") or headers.get(DEVICE_HEADER, "") or "").strip()
    return name if 0 < len(name) <= 64 and name.isascii() and name.isprintable() else ""


def pull_counts(pull_key: str, query: Mapping[str, str], headers: Mapping[str, str]) -> bool:
    """Whether a pull proves it comes from the display's device: the display has a pull_key ("env:NAME" reads
    it from the environment) and the request carries it. Anonymous or merely named pulls never count."""
    expected = os.environ.get(pull_key[4:], "") if pull_key.startswith("env:") else pull_key
    given = str(headers.get(KEY_HEADER, "") or query.get("key", "") or "")
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


@dataclass
class PullState:
    """One display's HTTP-side state."""

    subscribers: set[asyncio.Queue[str]] = field(default_factory=set)  # live HTML boards waiting for changes
    device: dict = field(default_factory=dict)  # what a pulling device (TRMNL) last reported
    last_pull: int | None = None  # when an identified device last fetched this display over HTTP
    device_name: str = ""  # which device (TRMNL: its friendly id; others: ?device= or X-Stopcast-Device)
    _encoded: dict[tuple[int, str], bytes] = field(default_factory=dict)  # (hash, format) -> bytes, recent frames

    def pulled_by(self, device: str, now: int) -> None:
        """An identified device fetched the display (a browser or an anonymous client never counts)."""
        self.device_name, self.last_pull = device, now

    def encoded(self, frame: Frame, fmt: str) -> bytes:
        """The frame in a pull format, computed once per frame and format; the last few are kept, so that
        a device that was told a frame's hash gets exactly that frame even after the board moved on."""
        found = self._encoded.get((frame.hash, fmt))
        if found is None:
            found = self._encoded[(frame.hash, fmt)] = pull_bytes(frame, fmt)
            while len(self._encoded) > KEPT_ENCODINGS:
                del self._encoded[next(iter(self._encoded))]
        return found

    def kept(self, frame_hash: int, fmt: str) -> bytes | None:
        """A recent frame's bytes in a pull format, by its hash (None when no longer kept)."""
        return self._encoded.get((frame_hash, fmt))


class Pulls:
    """Every display's PullState; told by the service when a board changed."""

    def __init__(self) -> None:
        self._states: dict[str, PullState] = {}
        self.history = PresenceHistory()  # each display's presence over the last 24 hours

    def of(self, display_id: str) -> PullState:
        """The state of one display (made on first use)."""
        return self._states.setdefault(display_id, PullState())

    def get(self, display_id: str) -> PullState | None:
        """The state of one display, if any request touched it."""
        return self._states.get(display_id)

    def board_changed(self, display_id: str) -> None:
        """Wake the live pages of a display whose board changed."""
        state = self._states.get(display_id)
        for queue in state.subscribers if state else ():
            if not queue.full():
                queue.put_nowait("board")

    def close_all(self) -> None:
        """End every live page's stream (at shutdown)."""
        for state in self._states.values():
            for queue in list(state.subscribers):
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait("close")


PULLS = web.AppKey("pulls", Pulls)  # the app's Pulls (displays/web/http.py makes it in a cleanup context)
