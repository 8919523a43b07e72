"""The image renderer: a board and a layout to a Pillow image in the layout's colour mode."""

from __future__ import annotations

import io
import threading
from functools import lru_cache

import numpy as np
from cachetools import LRUCache, cached
from PIL import Image, ImageDraw, ImageFont

from .board import MESSAGE, Board, BoardRow
from .contrast import shown_color
from .fit import fit, width_of
from .fonts import font
from .geometry import Box, Geometry, collapsed, geometry, takeover_area, takeover_fit
from .spec import LayoutSpec
from .texts import text

# Pillow hands the memory of freed images back to the system by default, so every new canvas is fresh pages
# (page faults, zeroing); keeping a few freed blocks for the next frame makes a canvas a plain memcpy.
Image.core.set_blocks_max(8)

BWR_PALETTE = [255, 255, 255, 0, 0, 0, 255, 0, 0]  # index 0 white, 1 black, 2 red
GRAY_LEVELS = np.array([0, 85, 170, 255], dtype=np.uint8)


class _Canvas:
    """Drawing in the layout's colour mode; colours are given as #RRGGBB."""

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
        if radius and self.spec.antialias:
            self.draw.rounded_rectangle(shape, radius=radius, fill=self.ink(color))
        else:
            self.draw.rectangle(shape, fill=self.ink(color))

    def text(self, xy: tuple[int, int], value: str, fnt: ImageFont.FreeTypeFont, color: str, anchor: str = "lm",
             on: tuple[str, Box] | tuple[str, Box, int] | None = None) -> None:
        """Text at an anchor point. `on` is the colour under it and the box that colour fills: anti-aliased text
        wholly inside that box is copied from a stamp blended over that colour beforehand (the same pixels as
        blending it here, a sixth of the time); text reaching out of the box, or into the corners of one with
        rounded corners of the radius given third, is blended over what is there."""
        if not value:
            return
        mask, (dx, dy) = _text_mask(fnt, value, anchor, self.draw.fontmode)
        if mask is None:
            return
        x, y = xy[0] + dx, xy[1] + dy
        if on is not None and self.draw.fontmode == "L" and self.image.mode in ("L", "RGB") and _inside(x, y, mask.size, *on[1:]):
            stamp, solid = _stamp(fnt, value, anchor, self.image.mode, self.ink(color), self.ink(on[0]))
            self.image.paste(stamp, (x, y), solid)
        else:
            self.image.paste(self.ink(color), (x, y), mask)

    def finish(self, panel: bool = True) -> Image.Image:
        image = self.image  # without `panel`, the caller reduces the colours (to the same values)
        if panel and self.spec.color_mode == "gray4":
            levels = np.asarray(image)
            index = np.clip((levels.astype(np.int16) + 42) // 85, 0, 3)
            image = Image.fromarray(GRAY_LEVELS[index], "L")
        elif panel and self.spec.color_mode == "rgb565":
            pixels = np.asarray(image)
            r, g, b = pixels[..., 0] >> 3, pixels[..., 1] >> 2, pixels[..., 2] >> 3
            image = Image.fromarray(np.stack([(r << 3) | (r >> 2), (g << 2) | (g >> 4), (b << 3) | (b >> 2)], -1), "RGB")
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


def _mask_bytes(made: tuple[Image.Image | None, tuple[int, int]]) -> int:
    mask, _ = made
    return 256 if mask is None else 256 + mask.width * mask.height  # Pillow keeps "1" and "L" in a byte a pixel


# A budget in bytes, not a count: the same number of masks is a few MB on an LED and tens of MB in an LCD's
# large type, and a render worker must level off whatever the layouts (docs/deploy.md, "Memory").
MASK_BUDGET = 32 << 20
_masks: LRUCache = LRUCache(maxsize=MASK_BUDGET, getsizeof=_mask_bytes)


@cached(_masks, lock=threading.Lock())
def _text_mask(fnt: ImageFont.FreeTypeFont, value: str, anchor: str, fontmode: str) -> tuple[Image.Image | None, tuple[int, int]]:
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
    spec = collapsed(spec, board.hidden_columns)
    geo = geometry(spec)
    pal = spec.palette
    canvas = _Canvas(spec, pal.background, scratch)
    if geo.header:
        _header(canvas, geo, board, geo.header)
    if board.takeover_text:
        _takeover(canvas, geo, board)
        return canvas.finish(panel)
    if geo.titles:
        small = font(spec.font_family, spec.small_size)
        for col, x, w in geo.columns:
            label = text(board.language, col.kind)
            ax = x + w if col.align == "right" else x
            canvas.text((ax, geo.titles.y + geo.titles.h // 2), fit(label, small, w), small, pal.muted,
                        "rm" if col.align == "right" else "lm", on=(pal.background, geo.titles))
    if board.rows:
        for row, box in zip(board.rows, geo.rows):
            _row(canvas, geo, row, box, board.language)
        for box in geo.rows[1 : len(board.rows)]:
            canvas.draw.line((geo.pad, box.y, spec.width - geo.pad, box.y), fill=canvas.ink(pal.separator), width=1)
    else:
        _empty(canvas, geo, board)
    if geo.alerts and board.alert_pages:
        _alerts(canvas, geo, board, geo.alerts)
    if geo.footer:
        _footer(canvas, geo, board, geo.footer)
    return canvas.finish(panel)


def _footer(canvas: _Canvas, geo: Geometry, board: Board, box: Box) -> None:
    spec, pal = canvas.spec, canvas.spec.palette
    small = font(spec.font_family, spec.small_size)
    middle = box.y + box.h // 2
    if board.footer_text:
        canvas.rect(box, pal.accent)
        canvas.text((geo.pad, middle), fit(board.footer_text, small, box.w - 2 * geo.pad), small, pal.accent_text,
                    on=(pal.accent, box))
    elif board.legend:
        x = geo.pad
        for live, label in ((True, text(board.language, "live")), (False, text(board.language, "timetable"))):
            r = _marker(canvas, x + spec.small_size // 3, middle, spec.small_size // 3, live)
            x += 2 * r + geo.pad
            canvas.text((x, middle), label, small, pal.text, on=(pal.background, Box(x, box.y, box.x + box.w - x, box.h)))
            x += width_of(label, small) + 3 * geo.pad


def _marker(canvas: _Canvas, cx: int, cy: int, r: int, live: bool) -> int:
    """The live (filled) or timetable (hollow) marker; returns its radius. On an LED matrix (bitmap font) it
    is an upright bar, filled or hollow: a dot of a few LEDs reads as "+" before a line number."""
    r = max(1, r)
    shape = (cx - r, cy - r, cx + r, cy + r)
    ink = canvas.ink(canvas.spec.palette.text)
    if canvas.spec.font_family == "terminus":
        bar = (cx - max(1, r - 1), cy - r - 1, cx + max(1, r - 1), cy + r + 1)
        if live:
            canvas.draw.rectangle(bar, fill=ink)
        else:
            canvas.draw.rectangle(bar, outline=ink, width=1)
        return r
    if live:
        canvas.draw.ellipse(shape, fill=ink)
    else:
        canvas.draw.ellipse(shape, outline=ink, width=max(1, r // 3))
    return r


def _header(canvas: _Canvas, geo: Geometry, board: Board, box: Box) -> None:
    spec, pal = canvas.spec, canvas.spec.palette
    canvas.rect(box, pal.header_background)
    big = font(spec.font_family, spec.header_size, bold=True)
    small = font(spec.font_family, spec.small_size)
    middle = box.y + box.h // 2
    clock_w = width_of(board.clock_text, big)
    on = (pal.header_background, box)
    canvas.text((box.w - geo.pad, middle), board.clock_text, big, pal.header_text, "rm", on)
    right = clock_w + 2 * geo.pad
    if board.as_of_text:
        as_of_w = width_of(board.as_of_text, small)
        canvas.text((box.w - right - geo.pad, middle), board.as_of_text, small, pal.header_text, "rm", on)
        right += as_of_w + geo.pad
    name = fit(board.stop_name, big, box.w - right - 2 * geo.pad)
    canvas.text((geo.pad, middle), name, big, pal.header_text, on=on)


def _takeover(canvas: _Canvas, geo: Geometry, board: Board) -> None:
    """An ops takeover: below the header, the message in the largest bold type that fits, centred; a bar
    in the highlight colour above it where the panel has one."""
    spec, pal = canvas.spec, canvas.spec.palette
    if pal.highlight != pal.background:
        canvas.rect(Box(0, geo.header.y + geo.header.h if geo.header else 0, spec.width, geo.pad), pal.highlight)
    area = takeover_area(spec)
    size, lines = takeover_fit(spec, board.takeover_text)
    fnt, line_h = font(spec.font_family, size, bold=True), int(size * 1.2)
    y = area.y + (area.h - len(lines) * line_h) // 2 + line_h // 2
    for line in lines:
        canvas.text((spec.width // 2, y), line, fnt, pal.text, "mm", (pal.background, area))
        y += line_h


def _message(canvas: _Canvas, geo: Geometry, row: BoardRow, box: Box) -> None:
    """An ops message row: an "i" badge in the line column, the text across the rest of the row."""
    spec, pal = canvas.spec, canvas.spec.palette
    middle = box.y + box.h // 2
    line = geo.column("line")
    if line is not None and row.line:
        _badge(canvas, row, Box(line[1], box.y + geo.pad // 2, min(line[2], box.h), box.h - geo.pad),
               font(spec.font_family, spec.row_size, bold=True))
    dest = geo.column("destination")
    x = dest[1] if dest else geo.pad
    canvas.text((x, middle), row.destination, font(spec.font_family, spec.row_size), pal.text,
                on=(pal.background, Box(x, box.y, spec.width - x, box.h)))


def _row(canvas: _Canvas, geo: Geometry, row: BoardRow, box: Box, language: str) -> None:
    spec, pal = canvas.spec, canvas.spec.palette
    if row.status == MESSAGE:
        _message(canvas, geo, row, box)
        return
    regular = font(spec.font_family, spec.row_size)
    bold = font(spec.font_family, spec.row_size, bold=True)
    small = font(spec.font_family, spec.small_size)
    middle = box.y + box.h // 2
    inactive = row.status in ("cancelled", "skipped")
    marks = pal.highlight != pal.background
    if marks and (inactive or row.status == "delayed" or row.platform_changed):
        canvas.rect(Box(0, box.y + geo.pad // 2, max(2, geo.pad - 1), box.h - geo.pad), pal.highlight)
    for col, x, w in geo.columns:
        right = x + w
        on = (pal.background, Box(x, box.y, w, box.h))  # the cell: anything drawn before is in other cells
        if col.kind == "marker" and spec.live_marker:
            _marker(canvas, x + w // 2, middle, min(w // 2 - 1, spec.row_size // 4), row.live)
        elif col.kind == "line":
            _badge(canvas, row, Box(x, box.y + geo.pad // 2, w, box.h - geo.pad), bold)
        elif col.kind == "destination":
            first, _, second = row.destination.partition("\n")
            y = middle
            if second:  # a destination on two lines: the rest smaller below
                small_regular = font(spec.font_family, spec.small_size)
                y = middle - spec.row_size * 2 // 5
                canvas.text((x, middle + spec.row_size * 3 // 5), second, small_regular, pal.text, on=on)
            canvas.text((x, y), first, regular, pal.text, on=on)
            if inactive:
                _strike(canvas, x, x + width_of(first, regular), y, pal.highlight if marks else pal.text)
            if row.note:
                note_font = font(spec.font_family, spec.small_size, bold=True)
                canvas.text((right - geo.pad, middle), row.note, note_font, pal.accent, "rm", on)
        elif col.kind == "platform" and row.platform:
            label = fit(row.platform, bold, w)
            if row.platform_changed:
                pw = width_of(label, bold) + 2 * geo.pad
                mark = Box(x, box.y + geo.pad // 2, min(w, pw), box.h - geo.pad)
                canvas.rect(mark, pal.accent, radius=geo.pad)
                canvas.text((x + geo.pad, middle), label, bold, pal.accent_text, on=(pal.accent, mark, geo.pad))
            else:
                canvas.text((x, middle), label, bold, pal.text, on=on)
        elif col.kind == "time":
            if inactive:  # the time it would have left, struck through ("fällt aus" is in the destination cell)
                shown = fit(row.time_text, bold, w)
                canvas.text((right, middle), shown, bold, pal.text, "rm", on)
                _strike(canvas, right - width_of(shown, bold), right, middle, pal.highlight if marks else pal.text)
            else:
                delayed = row.status == "delayed"
                shown = fit(row.time_text, bold, w)
                canvas.text((right, middle), shown, bold, pal.accent if delayed else pal.text, "rm", on)
                if delayed and marks:
                    y = middle + spec.row_size // 2 + 1
                    canvas.draw.line((right - width_of(shown, bold), y, right, y), fill=canvas.ink(pal.highlight),
                                     width=max(2, spec.row_size // 12))
        elif col.kind == "delay" and not inactive:
            shown = fit(row.struck_text or row.delay_text, small, w)
            anchor_x = right if col.align == "right" else x
            anchor = "rm" if col.align == "right" else "lm"
            canvas.text((anchor_x, middle), shown, small, pal.text if row.struck_text else pal.accent, anchor, on)
            if row.struck_text:
                sw = width_of(shown, small)
                start = anchor_x - sw if anchor == "rm" else anchor_x
                _strike(canvas, start, start + sw, middle, pal.text)


def _badge(canvas: _Canvas, row: BoardRow, box: Box, fnt: ImageFont.FreeTypeFont) -> None:
    spec = canvas.spec
    label = fit(row.line, fnt, box.w - 4)
    if spec.font_family == "terminus":  # LED matrix: lit text, no box
        canvas.text((box.x, box.y + box.h // 2), label, fnt, spec.palette.text)
        return
    if spec.color_mode in ("rgb", "rgb565"):
        fill, ink = row.line_color, row.line_text_color
    else:
        fill, ink = spec.palette.text, spec.palette.background
    radius = max(2, box.h // 6)
    canvas.rect(box, fill, radius=radius)
    canvas.text((box.x + box.w // 2, box.y + box.h // 2), label, fnt, ink, "mm", (fill, box, radius if spec.antialias else 0))


def _strike(canvas: _Canvas, x0: int, x1: int, y: int, color: str) -> None:
    width = max(1, canvas.spec.row_size // 14)
    canvas.draw.line((x0, y, x1, y), fill=canvas.ink(color), width=width)


def _empty(canvas: _Canvas, geo: Geometry, board: Board) -> None:
    spec, pal = canvas.spec, canvas.spec.palette
    top = geo.rows[0].y
    bottom = geo.rows[-1].y + geo.rows[-1].h
    bold = font(spec.font_family, spec.row_size, bold=True)
    small = font(spec.font_family, spec.small_size)
    middle = (top + bottom) // 2
    width = spec.width - 2 * geo.pad
    on = (pal.background, Box(0, top, spec.width, bottom - top))
    if board.empty_detail:
        canvas.text((spec.width // 2, middle - geo.small_line // 2), fit(board.empty_text, bold, width), bold, pal.text, "mm", on)
        canvas.text((spec.width // 2, middle + spec.row_size // 2 + geo.pad), fit(board.empty_detail, small, width), small, pal.text,
                    "mm", on)
    else:
        canvas.text((spec.width // 2, middle), fit(board.empty_text, bold, width), bold, pal.text, "mm", on)


def _alerts(canvas: _Canvas, geo: Geometry, board: Board, box: Box) -> None:
    spec, pal = canvas.spec, canvas.spec.palette
    canvas.rect(box, pal.alert_background)
    bar = 0
    if pal.highlight not in (pal.background, pal.alert_background):
        bar = max(2, geo.pad // 2)
        canvas.rect(Box(0, box.y, bar, box.h), pal.highlight)
    on = (pal.alert_background, Box(bar, box.y, box.w - bar, box.h))
    small = font(spec.font_family, spec.small_size)
    bold = font(spec.font_family, spec.small_size, bold=True)
    icon = spec.small_size
    x = geo.pad
    canvas.text((x + icon // 2, box.y + box.h // 2), "!", bold, pal.alert_text, "mm", on)
    if spec.font_family != "terminus":
        r = icon // 2
        cx, cy = x + r, box.y + box.h // 2
        canvas.draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=canvas.ink(pal.alert_text), width=max(1, r // 5))
    lines = board.alert_pages[board.alert_page].split("\n")
    counter = f"{board.alert_page + 1}/{len(board.alert_pages)}" if len(board.alert_pages) > 1 else ""
    top = box.y + (box.h - len(lines) * geo.small_line) // 2
    for i, line in enumerate(lines):
        canvas.text((x + icon + geo.pad, top + i * geo.small_line + geo.small_line // 2), line, small, pal.alert_text, on=on)
    if counter:
        canvas.text((box.w - geo.pad, box.y + geo.small_line // 2 + 1), counter, small, pal.alert_text, "rm", on)


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
