"""Line badges: what a badge says (a label ops set, the short name, else the long name's initials), in which
type a badge of a given width holds it whole, and how wide a board's line column must be for its labels.

A label is never cut: the line column widens for it up to the layout's line_max_width (every badge of the board
keeps the rows' type where that is enough), the badge's type shrinks down to the small text's size, and where
even that cannot hold it (`labels_that_do_not_fit`: `layouts --check --gtfs` and `check-config` fail, ops set a
shorter label with route_labels) the board still shows it whole: its column widens beyond line_max_width into
the destination's room (`MIN_DESTINATION_SHARE` of the screen stays the destination's)."""

from __future__ import annotations

import re

from PIL import ImageFont

from .fit import width_of
from .fonts import font
from .geometry import geometry, widened
from .spec import LayoutSpec
from .texts import clean

_NAME_PARTS = re.compile(r"[\s/\-–]+")
BADGE_INSET = 4  # px between a badge's edge and its label (a coloured box)
MIN_DESTINATION_SHARE = 0.3  # of the screen's width a label that fits no badge leaves the destination


LED_INSET = 2  # px an LED's lit label (no box) keeps clear of the destination after it


def badge_inset(spec: LayoutSpec) -> int:
    """Px of a badge's width its label may not use: the box's edges; on an LED matrix (lit text, no box) the
    gap to the destination."""
    return LED_INSET if spec.font_family == "terminus" else BADGE_INSET


def route_label(labels: tuple[tuple[str, str], ...], route_id: str, short_name: str, long_name: str) -> str:
    """What a line's badge says: the label ops set for the route (by route_id or short name), else its short
    name, else the initials of its long name."""
    chosen = dict(labels)
    label = chosen.get(route_id) or chosen.get(short_name)
    if label:
        return clean(label)
    name = clean(short_name)
    if name:
        return name
    words = [w for w in _NAME_PARTS.split(clean(long_name)) if w and w[0].isalnum()]
    return "".join(w[0] for w in words[:3]).upper() if len(words) > 1 else (words[0][:3] if words else "")


def badge_font(spec: LayoutSpec, label: str, width: int) -> ImageFont.FreeTypeFont | None:
    """The bold type a badge `width` px wide draws `label` in: the rows' size, else smaller down to the small
    text's size (a bitmap font only in its own sizes); None when it does not fit even then."""
    size = spec.row_size
    while True:
        fnt = font(spec.font_family, size, bold=True)
        if width_of(label, fnt) <= width - badge_inset(spec):
            return fnt
        if size <= spec.small_size or fnt.size <= spec.small_size:
            return None
        size = max(spec.small_size, size - max(1, size // 10))


def badge_column_width(spec: LayoutSpec, labels: list[str]) -> int:
    """The line column's width for a board with these labels: the layout's, widened up to its line_max_width
    for a label that needs it at the rows' type size (a label that needs more is drawn smaller); beyond
    line_max_width only for a label that no badge holds even in the small type, as far as it needs while the
    destination keeps MIN_DESTINATION_SHARE of the screen (0: the layout's width)."""
    col = next((c for c in spec.columns if c.kind == "line"), None)
    if col is None or not col.width or not labels:
        return 0
    inset = badge_inset(spec)
    widest = max(spec.line_max_width, col.width)
    bold = font(spec.font_family, spec.row_size, bold=True)
    need = max(width_of(label, bold) + inset + 2 for label in labels)
    width = min(max(need, col.width), widest)
    small = font(spec.font_family, spec.small_size, bold=True)
    least = max(width_of(label, small) + inset for label in labels)  # the small type: the last size a badge takes
    if least > width:  # fits no badge of the layout (the checks fail): whole all the same, the destination narrower
        width = max(width, min(least, col.width + _spare(spec, col.width)))
    return width if width != col.width else 0


def _spare(spec: LayoutSpec, line_width: int) -> int:
    """Px the destination column can give the line column and keep MIN_DESTINATION_SHARE of the screen."""
    dest = geometry(widened(spec, line_width)).column("destination")
    return max(0, dest[2] - int(spec.width * MIN_DESTINATION_SHARE)) if dest else 0


def badge_label(short_name: str, long_name: str, fnt: ImageFont.FreeTypeFont, width: int) -> str:
    """What a line badge says: the short name when it fits; else an abbreviation by rule, never a letter and
    an ellipsis: the first word cut to the letters that fit, with the initials of the other words ("Orange" ->
    "Ora", "Blue-Sun" -> "BluS"); without a short name the initials of the long name's words ("Antioch - SFO/
    Millbrae" -> "ASM")."""
    name = clean(short_name)
    if not name:
        words = [w for w in _NAME_PARTS.split(clean(long_name)) if w and w[0].isalnum()]
        name = "".join(w[0] for w in words[:3]).upper() if len(words) > 1 else (words[0][:3] if words else "")
    if width_of(name, fnt) <= width:
        return name
    parts = [p for p in _NAME_PARTS.split(name) if p]
    head, initials = parts[0], "".join(p[0] for p in parts[1:])
    for keep in range(min(3, len(head) - 1), 1, -1):  # three letters at most: "Yel", "Pur", never "Yell"
        candidate = head[:keep] + initials
        if width_of(candidate, fnt) <= width:
            return candidate
    for candidate in (head[0] + initials, head[:2], head[:1]):
        if width_of(candidate, fnt) <= width:
            return candidate
    return ""


def labels_that_do_not_fit(spec: LayoutSpec, routes: list[tuple[str, str, str]],
                           labels: tuple[tuple[str, str], ...] = ()) -> list[str]:
    """The badge labels of `routes` ((route_id, short name, long name)) that no badge of the layout holds whole,
    even at its line_max_width and the small type (`check-config`, `layouts --check --gtfs`)."""
    col = next((c for c in spec.columns if c.kind == "line"), None)
    if col is None or not col.width:
        return []
    widest = max(col.width, spec.line_max_width)
    found = {route_label(labels, *route) for route in routes}  # ops' labels where they set one
    return sorted(label for label in found if label and badge_font(spec, label, widest) is None)
