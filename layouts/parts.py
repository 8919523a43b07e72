"""A board as parts drawn one after the other: the header (stop name, clock), the column titles, each row, the
separators between rows, the empty board or a takeover, the alert area and the footer. Every renderer draws a
board through `draw_board`, part by part in this order; a partial redraw (displays/core/frames.py) draws only the
parts whose inputs (`inputs`) changed, each into its own box (`part_box`), cleared to the background first.

A part is named by a string ("header", "titles", "alerts", "footer", "empty", "takeover") or a pair ("row", i),
("sep", i): the separator at the top of row i (i >= 1), drawn after all rows, inside row i's box, or ("time", i):
the time cell of row i alone (a countdown that moved on; never in `board_parts`: a partial redraw draws it in
place of the row where nothing else of the row changed)."""

from __future__ import annotations

from typing import Any

from .board import Board
from .draw import Canvas, _alerts, _empty, _footer, _header, _row, _takeover, _titles, time_cell
from .geometry import Box, Geometry, geometry

Part = str | tuple[str, int]
WHOLE = ("empty", "takeover")  # parts that are not confined to a box of their own: a board with one is drawn whole


def board_parts(geo: Geometry, board: Board) -> tuple[Part, ...]:
    """The parts a board draws on a layout's geometry, in drawing order."""
    parts: list[Part] = ["header"] if geo.header else []
    if board.takeover_text:
        return (*parts, "takeover")
    if geo.titles:
        parts.append("titles")
    if board.rows:
        count = min(len(board.rows), len(geo.rows))
        parts += [("row", i) for i in range(count)] + [("sep", i) for i in range(1, count)]
    else:
        parts.append("empty")
    if geo.alerts and board.alert_pages:
        parts.append("alerts")
    if geo.footer:
        parts.append("footer")
    return tuple(parts)


def part_box(geo: Geometry, part: Part) -> Box | None:
    """The box a part is drawn in (None for a whole-screen part)."""
    if isinstance(part, tuple):
        row = geo.rows[part[1]]
        column = geo.column("time") if part[0] == "time" else None
        return Box(column[1], row.y, column[2], row.h) if column is not None else row
    return {"header": geo.header, "titles": geo.titles, "alerts": geo.alerts, "footer": geo.footer}.get(part)


def inputs(board: Board, part: Part) -> Any:
    """Everything of the board a part's pixels and texts depend on (on a given layout): equal inputs, equal part."""
    if isinstance(part, tuple):
        return board.rows[part[1]], board.language
    if part == "header":
        return board.stop_name, board.clock_text, board.as_of_text
    if part == "titles":
        return board.language
    if part == "alerts":
        return board.alert_pages, board.alert_page
    if part == "footer":
        return board.footer_text, board.legend, board.language
    return board  # a whole-screen part: the whole board


def draw_part(canvas: Canvas, geo: Geometry, board: Board, part: Part) -> None:
    """One part of the board on the canvas."""
    if isinstance(part, tuple):
        kind, i = part
        if kind == "row":
            canvas.row = i
            _row(canvas, geo, board.rows[i], geo.rows[i], board.language)
            canvas.row = None
        elif kind == "time":
            canvas.row = i
            time_cell(canvas, geo, board.rows[i], geo.rows[i])
            canvas.row = None
        else:
            box, pal = geo.rows[i], canvas.spec.palette
            canvas.draw.line((geo.pad, box.y, canvas.spec.width - geo.pad, box.y), fill=canvas.ink(pal.separator),
                             width=1)
    elif part == "header":
        assert geo.header is not None
        _header(canvas, geo, board, geo.header)
    elif part == "takeover":
        _takeover(canvas, geo, board, board.takeover_page)
    elif part == "titles":
        _titles(canvas, geo, board)
    elif part == "empty":
        _empty(canvas, geo, board)
    elif part == "alerts":
        assert geo.alerts is not None
        _alerts(canvas, geo, board, geo.alerts, board.alert_page)
    elif part == "footer":
        assert geo.footer is not None
        _footer(canvas, geo, board, geo.footer)


def draw_board(canvas: Canvas, board: Board) -> None:
    """Everything of the board on the canvas (made for the board's layout: `board_layout`)."""
    geo = geometry(canvas.spec)
    for part in board_parts(geo, board):
        draw_part(canvas, geo, board, part)
