"""The HTML renderer: the same board as a self-contained page that scales to its screen."""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import Any

import jinja2

from .board import Board
from .fonts import font_path
from .geometry import collapsed, geometry, takeover_fit
from .spec import LayoutSpec
from .texts import text


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
    spec = collapsed(spec, board.hidden_columns)
    geo = geometry(spec)
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
        "rows_height": rows_height,
        "marker": max(6, spec.small_size // 2),
        "takeover_size": takeover_fit(spec, board.takeover_text)[0] if board.takeover_text else spec.header_size,
        "message_column": next((i + 1 for i, c in enumerate(spec.columns) if c.kind == "destination"), 1),
        "color": spec.color_mode in ("rgb", "rgb565"),
        "titles": {c.kind: text(board.language, c.kind) for c in spec.columns},
        "alert_label": text(board.language, "alert"),
        "legend_live": text(board.language, "live"),
        "legend_timetable": text(board.language, "timetable"),
    }


def render_html(board: Board, spec: LayoutSpec, fonts: dict[str, str], events_url: str | None = None,
                speech_url: str | None = None) -> str:
    """The whole page; `events_url` (server-sent events) makes it update itself; `speech_url` (the display's
    speech.wav) adds the "Vorlesen / Read aloud" buttons."""
    template = _environment().get_template("board.html.j2")
    return template.render(**_context(board, spec), fonts=fonts, events_url=events_url, speech_url=speech_url)


def render_fragment(board: Board, spec: LayoutSpec) -> str:
    """The board's markup without the page around it (what a live update replaces)."""
    return _environment().get_template("board_fragment.html.j2").render(**_context(board, spec))
