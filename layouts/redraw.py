"""A board drawn whole with a note of which parts kept to their boxes, or only its changed parts drawn again over
the screen's last frame.

A part that paints only inside its own box (layouts/parts.py, `part_box`) can be drawn again alone: clear its box
to the background and draw it, and the box's pixels are those of a full render. Whether it kept to its box is not
assumed but watched: every paint (a text's mask, a rectangle, a line, an ellipse) notes its extent, and the cell
of the row it is drawn in, while a part is drawn. A board of which any part strays (a text reaching out of its
row, a whole-screen message) is always drawn whole; a partial redraw in which a part strays is given up (the
caller draws the board whole). A row's time cell alone (a countdown) is drawn again where nothing else of the
row paints into that cell and the time stays in it."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

from .board import Board
from .drawn import drawn_parts
from .geometry import Box, Geometry, geometry
from .image import _Canvas
from .parts import Part, board_parts, draw_part, part_box
from .spec import LayoutSpec

Extent = tuple[int, int, int, int, str | None]  # x0, y0, x1, y1 (inclusive) and the cell painted in


class _Watched:
    """ImageDraw with a note of where its lines, rectangles and ellipses paint (a conservative extent)."""

    def __init__(self, draw: ImageDraw.ImageDraw, canvas: _Canvas) -> None:
        self._draw, self._canvas = draw, canvas

    def _note(self, xy: Sequence[Any], width: int) -> None:
        flat = [float(v) for point in xy for v in (point if isinstance(point, tuple | list) else (point,))]
        xs, ys = flat[0::2], flat[1::2]
        grow = width // 2 if width > 1 else 0  # a wide line reaches up to width // 2 either side of its axis
        assert self._canvas.bounds is not None
        self._canvas.bounds.append((math.floor(min(xs)) - grow, math.floor(min(ys)) - grow,
                                    math.ceil(max(xs)) + grow, math.ceil(max(ys)) + grow, self._canvas.cell))

    def line(self, xy: Sequence[Any], fill: Any = None, width: int = 1, **kwargs: Any) -> None:
        self._note(xy, width)
        self._draw.line(xy, fill=fill, width=width, **kwargs)

    def ellipse(self, xy: Sequence[Any], fill: Any = None, outline: Any = None, width: int = 1) -> None:
        self._note(xy, 0)
        self._draw.ellipse(xy, fill=fill, outline=outline, width=width)

    def rectangle(self, xy: Sequence[Any], fill: Any = None, outline: Any = None, width: int = 1) -> None:
        self._note(xy, 0)
        self._draw.rectangle(xy, fill=fill, outline=outline, width=width)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._draw, name)


def _inside(bounds: Iterable[Extent], box: Box | None) -> bool:
    """Whether every extent is in the box."""
    if box is None:
        return False
    return all(box.x <= x0 and box.y <= y0 and x1 < box.x + box.w and y1 < box.y + box.h
               for x0, y0, x1, y1, _ in bounds)


def _apart(bounds: Iterable[Extent], box: Box) -> bool:
    """Whether no extent reaches into the box."""
    return all(x1 < box.x or y1 < box.y or x0 >= box.x + box.w or y0 >= box.y + box.h for x0, y0, x1, y1, _ in bounds)


def _time_alone(geo: Geometry, i: int, bounds: list[Extent]) -> bool:
    """Whether row i's time cell can be drawn again alone: the time paints only in it, nothing else of the row
    paints into it."""
    box = part_box(geo, ("time", i))
    if box is None or box == geo.rows[i]:
        return False
    return _inside((b for b in bounds if b[4] == "time"), box) and _apart((b for b in bounds if b[4] != "time"), box)


@dataclass(frozen=True, slots=True)
class Watched:
    """How a board's parts were drawn: all in their boxes, and the rows whose time cell can be drawn alone."""

    kept: bool
    times: frozenset[int] = frozenset()


def _watched_canvas(spec: LayoutSpec) -> tuple[_Canvas, ImageDraw.ImageDraw]:
    """A scratch canvas whose drawing is watched, and its ImageDraw unwatched."""
    canvas = _Canvas(spec, spec.palette.background, scratch=True)
    plain = canvas.draw
    canvas.draw = _Watched(plain, canvas)  # type: ignore[assignment]
    return canvas, plain


def _draw_watched(canvas: _Canvas, geo: Geometry, board: Board, part: Part, times: set[int]) -> bool:
    """Draw one part, watched; whether it kept to its box (and, for a row, note in `times` whether its time cell
    can be drawn alone)."""
    canvas.bounds = []
    draw_part(canvas, geo, board, part)
    kept = _inside(canvas.bounds, part_box(geo, part))
    if kept and isinstance(part, tuple) and part[0] == "row" and _time_alone(geo, part[1], canvas.bounds):
        times.add(part[1])
    canvas.bounds = None
    return kept


Items = dict[Part, tuple[dict[str, Any], ...]]  # what each part draws (layouts/drawn.py, drawn_parts)


def render_watched(board: Board, spec: LayoutSpec) -> tuple[Image.Image, Watched, Items]:
    """The board drawn whole on `spec` (its own layout, `board_layout`) as `render_image(panel=False,
    scratch=True)` draws it, how its parts kept to their boxes, and what each part draws (listed as it is drawn)."""
    canvas, _ = _watched_canvas(spec)
    kept, times = [True], set[int]()

    def draw(canvas: _Canvas, geo: Geometry, board: Board, part: Part) -> None:
        kept[0] = _draw_watched(canvas, geo, board, part, times) and kept[0]

    items = drawn_parts(board, spec, board_parts(geometry(spec), board), canvas, draw)
    return canvas.finish(panel=False), Watched(kept[0] and not spec.rotate, frozenset(times)), items


def redrawn(board: Board, spec: LayoutSpec, parts: Sequence[Part], under: Sequence[tuple[int, Image.Image]],
            last: Watched) -> tuple[Image.Image, Watched, Items] | None:
    """Only `parts` of the board drawn again over the screen's last frame (drawn from a board whose parts all kept to
    their boxes: `last`), of which `under` gives the rows of the boxes' spans (each strip of full rows with the y it
    starts at): each part into its box cleared to the background first (a separator, drawn over its row, clears
    nothing). On a scratch canvas: only those spans' rows are the frame's. With what those parts draw (listed as
    they are drawn). None when a part strays from its box (then draw the board whole)."""
    if spec.rotate or not last.kept:
        return None
    geo = geometry(spec)
    canvas, plain = _watched_canvas(spec)
    for y, strip in under:
        canvas.image.paste(strip, (0, y))
    background = canvas.ink(spec.palette.background)
    boxes = {part_box(geo, part) for part in parts if not (isinstance(part, tuple) and part[0] == "sep")}
    if None in boxes:
        return None
    for box in boxes:
        assert box is not None
        plain.rectangle((box.x, box.y, box.x + box.w - 1, box.y + box.h - 1), fill=background)
    times = set(last.times) - {part[1] for part in parts if isinstance(part, tuple) and part[0] == "row"}
    strayed = [False]

    def draw(canvas: _Canvas, geo: Geometry, board: Board, part: Part) -> None:
        if strayed[0]:
            return  # given up: the board is drawn whole
        if not _draw_watched(canvas, geo, board, part, times):
            strayed[0] = True
        elif isinstance(part, tuple) and part[0] == "time":
            times.add(part[1])

    items = drawn_parts(board, spec, tuple(parts), canvas, draw)
    if strayed[0]:
        return None
    return canvas.finish(panel=False), Watched(True, frozenset(times)), items
