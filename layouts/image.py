"""The image renderer: a board and a layout to a Pillow image in the layout's colour mode."""

from __future__ import annotations

import io
import threading
from functools import lru_cache

import numpy as np
from cachetools import LRUCache, cached
from PIL import Image, ImageDraw, ImageFont

from .board import Board
from .contrast import shown_color
from .fit import width_of
from .fonts import font
from .geometry import Box, board_layout, geometry
from .parts import draw_board
from .spec import LayoutSpec

# Pillow hands the memory of freed images back to the system by default, so every new canvas is fresh pages
# (page faults, zeroing); keeping a few freed blocks for the next frame makes a canvas a plain memcpy.
Image.core.set_blocks_max(8)

BWR_PALETTE = [255, 255, 255, 0, 0, 0, 255, 0, 0]  # index 0 white, 1 black, 2 red
GRAY_LEVELS = np.array([0, 85, 170, 255], dtype=np.uint8)


class _Canvas:
    """Drawing in the layout's colour mode; colours are given as #RRGGBB."""

    drawn: list[dict] | None = None  # a recording canvas lists each text here (layouts/drawn.py)
    records_only = False  # a recording canvas that paints nothing (layouts/drawn.py's recorder)
    row: int | None = None  # the row and page being drawn, for the record
    page: int | None = None
    cell: str | None = None  # the kind of column being drawn in a row
    bounds: list[tuple[int, int, int, int, str | None]] | None = None  # where paint went (x0, y0, x1, y1
    # inclusive) and in which cell, when a partial redraw watches it (layouts/redraw.py)

    def __init__(self, spec: LayoutSpec, background: str, scratch: bool = False) -> None:
        self.spec = spec
        mode = {"mono": "1", "bwr": "P", "gray4": "L", "rgb565": "RGB", "rgb": "RGB"}[spec.color_mode]
        blank = _blank(mode, (spec.width, spec.height), self.ink(background))
        if scratch:  # drawn again in place: no new memory (a portrait LCD's 8 MB came as fresh pages each time)
            self.image = _scratch(mode, blank.size)
            self.image.paste(blank)
        else:
            self.image = blank.copy()
        self.draw = ImageDraw.Draw(self.image)
        self.draw.fontmode = "L" if spec.antialias else "1"

    def ink(self, color: str) -> int | tuple[int, int, int]:
        return _ink(self.spec.color_mode, color)

    def rect(self, box: Box, color: str, radius: int = 0) -> None:
        shape = (box.x, box.y, box.x + box.w - 1, box.y + box.h - 1)
        if self.bounds is not None:
            self.bounds.append((*shape, self.cell))
        if radius and self.spec.antialias:
            self.draw.rounded_rectangle(shape, radius=radius, fill=self.ink(color))
        else:
            self.draw.rectangle(shape, fill=self.ink(color))

    def text(self, xy: tuple[int, int], value: str, fnt: ImageFont.FreeTypeFont, color: str, anchor: str = "lm",
             on: tuple[str, Box] | tuple[str, Box, int] | None = None, role: str = "", box: Box | None = None) -> None:
        """Text at an anchor point. `on` is the colour under it and the box that colour fills: anti-aliased text
        wholly inside that box is copied from a stamp blended over that colour beforehand (the same pixels as
        blending it here, a sixth of the time); text reaching out of the box, or into the corners of one with
        rounded corners of the radius given third, is blended over what is there."""
        if not value:
            return
        if anchor[0] == "r":  # a glyph reaching past its advance ("w") stays inside the right edge of its cell
            xy = (xy[0] - max(0, _ink_box(fnt, value, anchor, self.draw.fontmode)[2]), xy[1])
        if self.drawn is not None:  # a recording canvas: listed, and painted too unless it only records
            self.record(xy, value, fnt, anchor, role, box)
            if self.records_only:
                return
        mask, (dx, dy) = _text_mask(fnt, value, anchor, self.draw.fontmode)
        if mask is None:
            return
        x, y = xy[0] + dx, xy[1] + dy
        if self.bounds is not None:  # where it paints: its lit pixels (a bitmap font's mask has blank rows)
            left, top, right, bottom = _ink_box(fnt, value, anchor, self.draw.fontmode)
            if right > left:
                self.bounds.append((xy[0] + left, xy[1] + top, xy[0] + right - 1, xy[1] + bottom - 1, self.cell))
        if (
            on is not None
            and self.draw.fontmode == "L"
            and self.image.mode in ("L", "RGB")
            and _inside(x, y, mask.size, *on[1:])
        ):
            stamp, solid = _stamp(fnt, value, anchor, self.image.mode, self.ink(color), self.ink(on[0]))
            self.image.paste(stamp, (x, y), solid)
        else:
            self.image.paste(self.ink(color), (x, y), mask)

    def record(self, xy: tuple[int, int], value: str, fnt: ImageFont.FreeTypeFont, anchor: str, role: str,
               box: Box | None) -> None:
        """Note a text where it is drawn: its role, and its ink box (or the box it stands in, a badge's)."""
        if box is None:
            left, top, right, bottom = _ink_box(fnt, value, anchor, self.draw.fontmode)
            box = Box(xy[0] + left, xy[1] + top, right - left, bottom - top)
        item: dict = {"role": role, "text": value, "box": [box.x, box.y, box.w, box.h]}
        if self.row is not None:
            item["row"] = self.row
        if self.page is not None:
            item["page"] = self.page
        assert self.drawn is not None
        self.drawn.append(item)

    def finish(self, panel: bool = True) -> Image.Image:
        image = self.image  # without `panel`, the caller reduces the colours (to the same values)
        if panel and self.spec.color_mode == "gray4":
            levels = np.asarray(image)
            index = np.clip((levels.astype(np.int16) + 42) // 85, 0, 3)
            image = Image.fromarray(GRAY_LEVELS[index], "L")
        elif panel and self.spec.color_mode == "rgb565":
            pixels = np.asarray(image)
            r, g, b = pixels[..., 0] >> 3, pixels[..., 1] >> 2, pixels[..., 2] >> 3
            image = Image.fromarray(
                np.stack([(r << 3) | (r >> 2), (g << 2) | (g >> 4), (b << 3) | (b >> 2)], -1), "RGB"
            )
        if self.spec.rotate:
            image = image.rotate(-self.spec.rotate, expand=True)
        return image


@lru_cache(maxsize=64)
def _blank(mode: str, size: tuple[int, int], ink: int | tuple[int, int, int]) -> Image.Image:
    """An empty canvas in the background colour, to copy (a copy of reused memory is 5x faster than a fill)."""
    image = Image.new(mode, size, ink)
    if mode == "P":
        image.putpalette(BWR_PALETTE)
    return image


_scratches = threading.local()  # per thread (previews render on a worker thread while the service renders)


def _scratch(mode: str, size: tuple[int, int]) -> Image.Image:
    """This thread's one canvas of a mode and size that `render_image(scratch=True)` draws into, again and again."""
    kept: dict[tuple[str, tuple[int, int]], Image.Image] | None = getattr(_scratches, "images", None)
    if kept is None:
        kept = _scratches.images = {}
    image = kept.get((mode, size))
    if image is None:
        if len(kept) >= 16:  # many custom sizes: start again rather than keep them all
            kept.clear()
        image = kept[(mode, size)] = Image.new(mode, size)
        if mode == "P":
            image.putpalette(BWR_PALETTE)
    return image


@lru_cache(maxsize=1024)
def _ink(mode: str, color: str) -> int | tuple[int, int, int]:
    """The pixel value of a #RRGGBB colour in a colour mode (as the panel shows it)."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    if mode == "mono":
        return 1 if shown_color(mode, color) == "#FFFFFF" else 0
    if mode == "bwr":
        return {"#FFFFFF": 0, "#000000": 1, "#FF0000": 2}[shown_color(mode, color)]
    if mode == "gray4":
        return round((0.299 * r + 0.587 * g + 0.114 * b))
    return (r, g, b)


@lru_cache(maxsize=32768)  # four numbers a text: small beside the masks' budget
def _ink_box(fnt: ImageFont.FreeTypeFont, value: str, anchor: str, fontmode: str) -> tuple[int, int, int, int]:
    """Where a text's lit pixels reach, relative to its anchor point (a bitmap font's blank rows do not count)."""
    mask, (dx, dy) = _text_mask(fnt, value, anchor, fontmode)
    inked = mask.getbbox() if mask is not None else None
    if inked is None:
        return 0, 0, 0, 0
    return dx + inked[0], dy + inked[1], dx + inked[2], dy + inked[3]


def _mask_bytes(made: tuple[Image.Image | None, tuple[int, int]]) -> int:
    mask, _ = made
    return 256 if mask is None else 256 + mask.width * mask.height  # Pillow keeps "1" and "L" in a byte a pixel


# A budget in bytes, not a count: the same number of masks is a few MB on an LED and tens of MB in an LCD's
# large type, and a render worker must level off whatever the layouts (docs/deploy.md, "Memory").
MASK_BUDGET = 32 << 20
_masks: LRUCache = LRUCache(maxsize=MASK_BUDGET, getsizeof=_mask_bytes)


@cached(_masks, lock=threading.Lock())
def _text_mask(
    fnt: ImageFont.FreeTypeFont, value: str, anchor: str, fontmode: str
) -> tuple[Image.Image | None, tuple[int, int]]:
    """The rasterised text as a paste mask and its offset from the anchor point.

    Boards repeat the same strings (lines, destinations, 'min') across displays and minutes;
    rasterising each once keeps rendering a board in the low milliseconds. A network of thousands of
    stops has thousands of names per font: 8,192 masks thrashed at 10,000 displays (a fifth of a render
    worker's time went into rasterising them again); 32 MB hold tens of thousands of them.
    """
    left, top, right, bottom = (int(v) for v in fnt.getbbox(value, anchor=anchor))
    if right <= left or bottom <= top:
        return None, (0, 0)
    mask = Image.new("L", (right - left, bottom - top), 0)
    draw = ImageDraw.Draw(mask)
    draw.fontmode = fontmode
    draw.text((-left, -top), value, font=fnt, fill=255, anchor=anchor)
    if fontmode == "1":
        mask = mask.convert("1", dither=Image.Dither.NONE)
    return mask, (left, top)


def _inside(x: int, y: int, size: tuple[int, int], box: Box, radius: int = 0) -> bool:
    """Whether a w x h rectangle at x, y lies in the box (with rounded corners: its corners within the arcs,
    a pixel inside, which puts all of it inside the convex shape)."""
    x1, y1 = x + size[0] - 1, y + size[1] - 1
    if not (box.x <= x and box.y <= y and x1 < box.x + box.w and y1 < box.y + box.h):
        return False
    if radius <= 1:
        return True
    left, right, top, bottom = box.x + radius, box.x + box.w - 1 - radius, box.y + radius, box.y + box.h - 1 - radius
    for px, py in ((x, y), (x1, y), (x, y1), (x1, y1)):
        dx, dy = max(left - px, px - right, 0), max(top - py, py - bottom, 0)
        if dx * dx + dy * dy > (radius - 1) ** 2:
            return False
    return True


def _stamp_bytes(made: tuple[Image.Image, Image.Image]) -> int:
    stamp, _ = made
    return stamp.width * stamp.height * (1 if stamp.mode == "L" else 4) * 9 // 8  # Pillow keeps RGB in 4 bytes


# Stamps are 3-4x the size of their masks and a large LCD's rows are hundreds of kilobytes of them: a
# budget in bytes, not a count (a render worker of 10,000 displays keeps a minute's texts in it).
STAMP_BUDGET = 96 << 20
_stamps: LRUCache = LRUCache(maxsize=STAMP_BUDGET, getsizeof=_stamp_bytes)


@cached(_stamps, lock=threading.Lock())
def _stamp(fnt: ImageFont.FreeTypeFont, value: str, anchor: str, mode: str, ink: int | tuple[int, int, int],
           under: int | tuple[int, int, int]) -> tuple[Image.Image, Image.Image]:
    """An anti-aliased text blended over a uniform colour, and the 1-bit mask of the pixels it touches."""
    mask, _ = _text_mask(fnt, value, anchor, "L")
    assert mask is not None  # the caller has the mask
    stamp = Image.new(mode, mask.size, under)
    stamp.paste(ink, (0, 0), mask)
    return stamp, Image.fromarray(np.asarray(mask) > 0)


def render_image(board: Board, spec: LayoutSpec, panel: bool = True, scratch: bool = False) -> Image.Image:
    """The board drawn for the layout, in its colour mode (mono is true 1-bit, never thresholded grey).

    `panel=False` leaves gray4 and rgb565 boards in 8-bit grey and RGB, for an encoder that reduces them to
    the panel's levels itself (firmware_bridge.codec.raw_of): a frame then skips a round trip through numpy.
    `scratch=True` draws into a canvas kept for the next call: the image is valid only until then (for a
    caller that encodes it at once, as the render workers do)."""
    spec = board_layout(spec, board.hidden_columns, board.line_width)
    canvas = _Canvas(spec, spec.palette.background, scratch)
    draw_board(canvas, board)
    return canvas.finish(panel)


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes of an image (1-bit stays 1-bit, the palette stays a palette)."""
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=6)
    return out.getvalue()


def ticker_area(spec: LayoutSpec) -> Box | None:
    """Where a ticker scrolls: the alert area's text, right of the "!" icon (None without an alert area)."""
    geo = geometry(spec)
    if geo.alerts is None:
        return None
    x = geo.pad + spec.small_size + geo.pad
    return Box(x, geo.alerts.y, spec.width - x, geo.alerts.h)


def render_ticker(board: Board, spec: LayoutSpec) -> Image.Image | None:
    """The board's ticker text as one long 1-bit strip (1 = text) of the ticker area's height, for a pillar
    to scroll across the alert area; None when there is no ticker."""
    area = ticker_area(spec)
    if not board.ticker_text or area is None:
        return None
    small = font(spec.font_family, spec.small_size)
    width = max(1, width_of(board.ticker_text, small) + area.w // 3)  # a gap before the text comes round again
    strip = Image.new("1", (width, area.h), 0)
    mask, (dx, dy) = _text_mask(small, board.ticker_text, "lm", "1")
    if mask is not None:
        strip.paste(1, (dx, area.h // 2 + dy), mask)
    return strip
