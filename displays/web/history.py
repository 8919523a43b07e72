"""Each display's presence over the last 24 hours (online, pulling, offline, dark, never seen), as
ops see it on the dashboard: recorded whenever the state is looked at or sampled, drawn as a small
timeline (SVG)."""

from __future__ import annotations

from collections import deque
from html import escape

__all__ = ["PresenceHistory", "timeline_svg"]

SPAN = 24 * 3600
COLOURS = {"online": "#1a7f37", "pulling": "#2f81f7", "offline": "#cf222e", "dark": "#82071e",
           "never seen": "#8c959f", "browser": "#6e8fd0"}


class PresenceHistory:
    """Transitions of each display's presence state, kept for SPAN seconds."""

    def __init__(self) -> None:
        self._changes: dict[str, deque[tuple[int, str]]] = {}

    def record(self, display_id: str, now: int, state: str) -> None:
        """The state at `now`; only changes are kept."""
        changes = self._changes.setdefault(display_id, deque())
        if not changes or changes[-1][1] != state:
            changes.append((now, state))
        while len(changes) > 1 and changes[1][0] < now - SPAN:
            changes.popleft()

    def segments(self, display_id: str, now: int) -> list[tuple[int, int, str]]:
        """(start, end, state) over the last SPAN seconds, oldest first (nothing known: no segments)."""
        changes = list(self._changes.get(display_id, ()))
        out = []
        for i, (start, state) in enumerate(changes):
            end = changes[i + 1][0] if i + 1 < len(changes) else now
            start = max(start, now - SPAN)
            if end > start:
                out.append((start, end, state))
        return out


def timeline_svg(segments: list[tuple[int, int, str]], now: int, width: int = 240, height: int = 14) -> str:
    """The last 24 hours as a bar: one coloured stretch per state (titles say which and when);
    the unknown part (before the service started) stays light grey."""
    scale = width / SPAN
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="presence over the last 24 hours">',
             f'<rect width="{width}" height="{height}" fill="#eaeef2"/>']
    for start, end, state in segments:
        x = (start - (now - SPAN)) * scale
        w = max((end - start) * scale, 1)
        minutes = (end - start) // 60
        parts.append(f'<rect x="{x:.1f}" width="{w:.1f}" height="{height}" fill="{COLOURS.get(state, "#8c959f")}">'
                     f'<title>{escape(state)} for {minutes} min</title></rect>')
    parts.append("</svg>")
    return "".join(parts)
