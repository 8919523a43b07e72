"""The HTML renderer: the same board as a self-contained page that scales to its screen."""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import Any

import jinja2

from .board import Board, destination_room
from .draw import header_texts
from .fit import width_of
from .fonts import font, font_path
from .geometry import board_layout, geometry
from .labels import BADGE_INSET
from .paging import takeover_pages
from .spec import LayoutSpec
from .texts import LANGUAGES, text, title_forms


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("layouts", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def embedded_fonts() -> dict[str, str]:
    """The board fonts as data: URLs, for a page that must stand alone (a file)."""
    return {
        weight: "data:font/ttf;base64," + base64.b64encode(font_path("atkinson", weight == "bold").read_bytes()).decode()
        for weight in ("regular", "bold")
    }


def served_fonts(base: str = "/fonts/") -> dict[str, str]:
    """The layout's fonts as URLs that stopcast's HTTP server answers."""
    return {"regular": f"{base}{font_path('atkinson').name}", "bold": f"{base}{font_path('atkinson', True).name}"}


def _context(board: Board, spec: LayoutSpec) -> dict[str, Any]:
    spec = board_layout(spec, board.hidden_columns, board.line_width)
    geo = geometry(spec)
    size, pages = takeover_pages(spec, board.takeover_text) if board.takeover_text else (spec.header_size, ((),))
    alerts = board.alert_all or board.alert_pages
    small = font("atkinson", spec.small_size)
    name, name_font, as_of = header_texts(spec, board)
    grid = " ".join(f"{c.width}px" if c.width else "minmax(0, 1fr)" for c in spec.columns)
    rows_height = geo.rows[-1].y + geo.rows[-1].h - geo.rows[0].y
    return {
        "board": board,
        "spec": spec,
        "geo": geo,
        "palette": spec.palette,
        "columns": spec.columns,
        "grid": grid,
        "row_height": geo.rows[0].h,
        # the page's font is Atkinson even for a bitmap layout: its type never taller than the row or header
        # (a 12 px LED font fills its 11 px rows; Atkinson's 12 px reaches into the next)
        "row_font": min(spec.row_size, geo.rows[0].h * 4 // 5),
        "small_destinations": _small_destinations(board, spec),
        "badge_sizes": _badge_sizes(board, spec, min(spec.row_size, geo.rows[0].h * 4 // 5)),
        "header_font": min(spec.header_size, spec.header_height * 4 // 5),
        "rows_height": rows_height,
        "marker": max(6, spec.small_size // 2),
        "takeover_size": size,
        "stop_name": name,  # as the image fits it: whole words, never CSS's "…"
        "stop_small": name_font.size < font(spec.font_family, spec.header_size, bold=True).size,
        "as_of": as_of,
        "takeover_pages": pages,
        "alert_list": alerts,  # the live page cycles through every page, also where the display's are capped
        "alert_shown": (board.generated_at // spec.page_seconds) % len(alerts) if alerts else 0,
        "message_column": next((i + 1 for i, c in enumerate(spec.columns) if c.kind == "destination"), 1),
        "color": spec.color_mode in ("rgb", "rgb565"),
        "titles": {kind: next((f for f in title_forms(board.language, kind) if width_of(f, small) <= w), "")
                   for kind, w in ((c.kind, w) for c, _, w in geo.columns)},
        "alert_label": text(board.language, "alert"),
        "legend_live": text(board.language, "live"),
        "legend_timetable": text(board.language, "timetable"),
        "legend_disrupted": text(board.language, "disrupted"),
    }


def _badge_sizes(board: Board, spec: LayoutSpec, row_font: int) -> dict[int, int]:
    """The rows whose line label the page draws smaller than the rows' type: the px size at which the page's
    font holds it whole in the badge (as the image renderer shrinks it; a label is never cut)."""
    column = geometry(spec).column("line")
    if column is None:
        return {}
    room = column[2] - BADGE_INSET
    sizes = {}
    for i, row in enumerate(board.rows):
        size = row_font
        while size > 6 and width_of(row.line, font("atkinson", size, bold=True)) > room:
            size -= 1
        if size != row_font:
            sizes[i] = size
    return sizes


def _small_destinations(board: Board, spec: LayoutSpec) -> set[int]:
    """The rows whose destination the board fitted in the small type (as the image renderer draws them)."""
    column = geometry(spec).column("destination")
    if column is None:
        return set()
    regular = font(spec.font_family, spec.row_size)
    return {i for i, row in enumerate(board.rows)
            if width_of(row.destination.partition("\n")[0], regular) > destination_room(spec, column[2], row.note)}


def render_html(board: Board, spec: LayoutSpec, fonts: dict[str, str], events_url: str | None = None,
                speech_url: str | None = None) -> str:
    """The whole page; `events_url` (server-sent events) makes it update itself; `speech_url` (the display's
    speech.wav) adds the "Vorlesen / Read aloud" buttons."""
    template = _environment().get_template("board.html.j2")
    return template.render(**_context(board, spec), fonts=fonts, events_url=events_url, speech_url=speech_url,
                           voices=read_aloud(board.language))


def read_aloud(language: str) -> list[tuple[str, str]]:
    """The read-aloud buttons of a board in `language`: (language, label), the board's own first, then
    English for visitors; each label in its own language (an English board has no "Vorlesen")."""
    first = language if language in LANGUAGES else "en"
    return [(lang, text(lang, "read_aloud")) for lang in dict.fromkeys((first, "en"))]


def render_fragment(board: Board, spec: LayoutSpec) -> str:
    """The board's markup without the page around it (what a live update replaces)."""
    return _environment().get_template("board_fragment.html.j2").render(**_context(board, spec))
