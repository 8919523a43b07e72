"""What a board draws, machine-readable: every text as drawn on the display's own layout after fitting, with
its role, its box, its row and its page (board.json's `drawn`, docs/http.md). The list comes from the very
drawing code of the image renderer, run on a canvas that records instead of painting."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from PIL import Image

from .board import Board
from .draw import _alerts, _takeover
from .geometry import Geometry, board_layout, geometry
from .image import _Canvas, ticker_area
from .paging import takeover_pages
from .parts import Part, board_parts, draw_part
from .spec import LayoutSpec

ROLES = ("badge", "destination", "time", "delay", "platform", "status", "alert", "takeover", "ticker", "clock",
         "stop_name", "legend")


class _NoDraw:
    """Stands in for ImageDraw: lines, shapes and fills leave no record."""

    def __init__(self, fontmode: str) -> None:
        self.fontmode = fontmode

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


class _Recorder(_Canvas):
    """A canvas that lists texts where they would be drawn and paints nothing."""

    records_only = True

    def __init__(self, spec: LayoutSpec) -> None:  # noqa: D107 - no image: nothing is painted
        self.spec = spec
        self.drawn = []
        self.draw = _NoDraw("L" if spec.antialias else "1")  # type: ignore[assignment]


def drawn(board: Board, spec: LayoutSpec) -> list[dict[str, Any]]:
    """Every text the board draws on `spec`: {"role", "text", "box": [x, y, w, h], "row"?, "page"?}; each
    page of a paged text (alerts, a takeover) is listed with its page number, the one on screen included.
    A ticker (alert_style "ticker") is listed once with the box it scrolls through."""
    return [dict(item) for item in _drawn(board, spec)]


@lru_cache(maxsize=4096)
def _drawn(board: Board, spec: LayoutSpec) -> tuple[dict[str, Any], ...]:
    spec = board_layout(spec, board.hidden_columns, board.line_width)
    parts = board_parts(geometry(spec), board)
    return assembled(board, spec, drawn_parts(board, spec, parts), parts)


def painted_and_drawn(board: Board, spec: LayoutSpec, scratch: bool = False) -> tuple[Image.Image, tuple[dict, ...]]:
    """The board's image (as render_image(panel=False) draws it) and its `drawn`, listed while it is painted: one
    pass over the drawing code instead of two (only the pages of a paged text not on screen are recorded apart)."""
    used = board_layout(spec, board.hidden_columns, board.line_width)
    geo = geometry(used)
    parts = board_parts(geo, board)
    canvas = _Canvas(used, used.palette.background, scratch)
    items = drawn_parts(board, used, parts, canvas)
    return canvas.finish(panel=False), assembled(board, used, items, parts)


def drawn_parts(board: Board, spec: LayoutSpec, parts: tuple[Part, ...], canvas: _Canvas | None = None,
                draw: Callable[[_Canvas, Geometry, Board, Part], None] = draw_part
                ) -> dict[Part, tuple[dict[str, Any], ...]]:
    """What each of `parts` draws (on the board's own layout, `board_layout`): a paged part (the alerts, a takeover)
    with every page. A partial redraw keeps the lists of the parts that did not change. With `canvas`, the parts
    are painted on it by `draw` as they are listed (the other pages of a paged part are only listed)."""
    geo = geometry(spec)
    recorder = _Recorder(spec)
    canvas = canvas or recorder
    out = {}
    for part in parts:
        listed: list[dict[str, Any]] = []
        canvas.drawn = listed
        draw(canvas, geo, board, part)
        canvas.drawn = None
        recorder.drawn = listed  # the pages not on screen: listed, never painted
        if part == "takeover":
            for page in range(len(takeover_pages(spec, board.takeover_text)[1])):
                if page != board.takeover_page:
                    _takeover(recorder, geo, board, page)
        elif part == "alerts" and geo.alerts is not None:
            for page in range(len(board.alert_pages)):
                if page != board.alert_page:
                    _alerts(recorder, geo, board, geo.alerts, page)
        out[part] = tuple(listed)
    return out


def assembled(board: Board, spec: LayoutSpec, items: dict[Part, tuple[dict[str, Any], ...]],
              parts: tuple[Part, ...]) -> tuple[dict[str, Any], ...]:
    """The board's `drawn` from what its parts draw (`drawn_parts`), with the ticker: each text once, in the order
    of page, row, top and left."""
    out: list[dict[str, Any]] = []
    area = ticker_area(spec)
    ticker = []
    if board.ticker_text and area is not None and not board.takeover_text:
        ticker = [{"role": "ticker", "text": board.ticker_text, "box": [area.x, area.y, area.w, area.h]}]
    for item in [i for part in parts for i in items[part]] + ticker:  # the alert icon is drawn with every page
        if item not in out:
            out.append(item)
    return tuple(sorted(out, key=lambda i: (i.get("page", -1), i.get("row", -1), i["box"][1], i["box"][0])))
