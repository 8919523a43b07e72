"""Where everything sits on a screen of a layout: header, rows, columns, alert area, footer."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from .spec import Column, LayoutSpec


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle in pixels."""

    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True, slots=True)
class Geometry:
    """The areas of one layout, computed once."""

    pad: int
    header: Box | None
    titles: Box | None
    rows: tuple[Box, ...]
    alerts: Box | None
    footer: Box | None
    columns: tuple[tuple[Column, int, int], ...]  # (column, x, width)
    small_line: int  # line height of the small font

    def column(self, kind: str) -> tuple[Column, int, int] | None:
        """The column of a kind, with its x and width, if the layout has one."""
        return next((c for c in self.columns if c[0].kind == kind), None)


@lru_cache(maxsize=64)
def geometry(spec: LayoutSpec) -> Geometry:
    """The areas of a layout."""
    pad = max(2, spec.row_size // 6)
    small_line = int(spec.small_size * 1.25)
    y = 0
    header = None
    if spec.header:
        header = Box(0, 0, spec.width, spec.header_height)
        y = spec.header_height
    titles = None
    if spec.column_titles:
        titles = Box(0, y, spec.width, small_line + pad)
        y += titles.h
    bottom = spec.height
    footer = None
    if spec.footer:
        footer = Box(0, spec.height - spec.footer_height, spec.width, spec.footer_height)
        bottom = footer.y
    alerts = None
    if spec.alert_lines:
        height = spec.alert_lines * small_line + pad
        alerts = Box(0, bottom - height, spec.width, height)
        bottom = alerts.y
    row_h = max(1, (bottom - y) // spec.rows)
    rows = tuple(Box(0, y + i * row_h, spec.width, row_h) for i in range(spec.rows))
    fixed = sum(c.width for c in spec.columns)
    gaps = pad * (len(spec.columns) + 1)
    flexible = max(8, spec.width - fixed - gaps)
    x = pad
    columns = []
    for col in spec.columns:
        width = col.width or flexible
        columns.append((col, x, width))
        x += width + pad
    return Geometry(pad, header, titles, rows, alerts, footer, tuple(columns), small_line)


def takeover_area(spec: LayoutSpec) -> Box:
    """Where an ops takeover's text goes: below the header (and its highlight bar), inside the padding."""
    geo = geometry(spec)
    top = (geo.header.y + geo.header.h if geo.header else 0) + geo.pad
    return Box(geo.pad, top + geo.pad, spec.width - 2 * geo.pad, spec.height - top - 2 * geo.pad)


@lru_cache(maxsize=256)
def collapsed(spec: LayoutSpec, hidden: tuple[str, ...]) -> LayoutSpec:
    """The layout without the columns in `hidden` (the destination takes their width)."""
    if not hidden:
        return spec
    return replace(spec, columns=tuple(c for c in spec.columns if c.kind not in hidden))


@lru_cache(maxsize=256)
def widened(spec: LayoutSpec, line_width: int) -> LayoutSpec:
    """The layout with its line column `line_width` px wide (0: as the layout has it); the destination gives
    the width (a board whose line labels need a wider badge, up to the layout's line_max_width)."""
    if not line_width:
        return spec
    return replace(spec, columns=tuple(replace(c, width=line_width) if c.kind == "line" else c for c in spec.columns))


def board_layout(spec: LayoutSpec, hidden: tuple[str, ...], line_width: int) -> LayoutSpec:
    """The layout as one board uses it: its line column widened, its empty columns collapsed."""
    return collapsed(widened(spec, line_width), hidden)
