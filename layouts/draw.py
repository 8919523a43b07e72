"""A board's parts as drawn on a canvas: header, column titles, rows (badge, destination, note, platform,
time, delay), the empty board, the alert area, the takeover and the footer (layouts/parts.py draws a board
part by part). The image renderer paints them; layouts/drawn.py runs the same code on a canvas that records
where each text goes."""

from __future__ import annotations

from typing import Protocol

from PIL import ImageDraw, ImageFont

from .board import MESSAGE, Board, BoardRow, destination_room
from .fit import ELLIPSIS, fit, whole_words, width_of, wrap
from .fonts import font
from .geometry import Box, Geometry, geometry, takeover_area
from .labels import badge_font
from .paging import takeover_box, takeover_pages
from .spec import LayoutSpec
from .texts import text, title_forms


class Canvas(Protocol):
    """What the parts are drawn on: the image renderer's canvas (layouts/image.py) or the recording one
    (layouts/drawn.py). A Protocol, so that this module needs neither (no import cycle with image)."""

    spec: LayoutSpec
    draw: ImageDraw.ImageDraw
    row: int | None
    page: int | None
    cell: str | None  # the kind of the column being drawn in a row (for a partial redraw's watch), or None

    def ink(self, color: str) -> int | tuple[int, int, int]: ...

    def rect(self, box: Box, color: str, radius: int = 0) -> None: ...

    def text(self, xy: tuple[int, int], value: str, fnt: ImageFont.FreeTypeFont, color: str, anchor: str = "lm",
             on: tuple[str, Box] | tuple[str, Box, int] | None = None, role: str = "",
             box: Box | None = None) -> None: ...


def _titles(canvas: Canvas, geo: Geometry, board: Board) -> None:
    """The column titles, each in the longest form that fits its column."""
    spec, pal = canvas.spec, canvas.spec.palette
    assert geo.titles is not None
    small = font(spec.font_family, spec.small_size)
    for col, x, w in geo.columns:
        forms = title_forms(board.language, col.kind)
        label = next((f for f in forms if width_of(f, small) <= w), "")  # never "Plat…": a shorter form or none
        ax = x + w if col.align == "right" else x
        canvas.text((ax, geo.titles.y + geo.titles.h // 2), label, small, pal.muted,
                    "rm" if col.align == "right" else "lm", on=(pal.background, geo.titles), role="legend")


def _footer(canvas: Canvas, geo: Geometry, board: Board, box: Box) -> None:
    spec, pal = canvas.spec, canvas.spec.palette
    small = font(spec.font_family, spec.small_size)
    middle = box.y + box.h // 2
    if board.footer_text:
        canvas.rect(box, pal.accent)
        canvas.text((geo.pad, middle), fit(board.footer_text, small, box.w - 2 * geo.pad), small, pal.accent_text,
                    on=(pal.accent, box), role="status")
    elif board.legend:
        x = geo.pad
        for live, label in ((True, text(board.language, "live")), (False, text(board.language, "timetable"))):
            r = _marker(canvas, x + spec.small_size // 3, middle, spec.small_size // 3, live)
            x += 2 * r + geo.pad
            canvas.text((x, middle), label, small, pal.text,
                        on=(pal.background, Box(x, box.y, box.x + box.w - x, box.h)), role="legend")
            x += width_of(label, small) + 3 * geo.pad
        label = text(board.language, "disrupted")
        bar = max(2, geo.pad - 1)
        if pal.highlight != pal.background and x + bar + geo.pad + width_of(label, small) <= box.w - geo.pad:
            canvas.rect(Box(x, box.y + 2, bar, box.h - 4), pal.highlight)  # the bar left of disrupted rows
            x += bar + geo.pad
            canvas.text((x, middle), label, small, pal.text,
                        on=(pal.background, Box(x, box.y, box.x + box.w - x, box.h)), role="legend")


def _marker(canvas: Canvas, cx: int, cy: int, r: int, live: bool) -> int:
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


def header_texts(spec: LayoutSpec, board: Board) -> tuple[str, ImageFont.FreeTypeFont, str]:
    """(the stop's name as the header shows it, its type, the "as of" text shown or ""): the name by whole words
    ("Montgomery…", never "Montgomer…"), in the small type where the header's cuts it inside a word, and without
    the "as of" time where only that leaves the name room (the stop's name is what a rider checks first)."""
    geo = geometry(spec)
    big = font(spec.font_family, spec.header_size, bold=True)
    small = font(spec.font_family, spec.small_size)
    room = spec.width - width_of(board.clock_text, big) - 4 * geo.pad
    as_of = board.as_of_text
    for shown_as_of in ([as_of, ""] if as_of else [""]):
        left = room - (width_of(shown_as_of, small) + geo.pad if shown_as_of else 0)
        for fnt in (big, font(spec.font_family, spec.small_size, bold=True)):
            name = fit(board.stop_name, fnt, left)
            if whole_words(board.stop_name, name) and name.removesuffix(ELLIPSIS).strip():
                return name, fnt, shown_as_of
    return fit(board.stop_name, big, room), big, ""


def _header(canvas: Canvas, geo: Geometry, board: Board, box: Box) -> None:
    spec, pal = canvas.spec, canvas.spec.palette
    canvas.rect(box, pal.header_background)
    big = font(spec.font_family, spec.header_size, bold=True)
    small = font(spec.font_family, spec.small_size)
    middle = box.y + box.h // 2
    clock_w = width_of(board.clock_text, big)
    on = (pal.header_background, box)
    canvas.text((box.w - geo.pad, middle), board.clock_text, big, pal.header_text, "rm", on, role="clock")
    right = clock_w + 2 * geo.pad
    name, name_font, as_of = header_texts(spec, board)
    if as_of:
        canvas.text((box.w - right - geo.pad, middle), as_of, small, pal.header_text, "rm", on, role="clock")
    canvas.text((geo.pad, middle), name, name_font, pal.header_text, on=on, role="stop_name")


def _takeover(canvas: Canvas, geo: Geometry, board: Board, page: int) -> None:
    """An ops takeover: below the header, the message in the largest bold type that fits, centred, page by
    page when it needs more than one (with "1/2" below); a bar in the highlight colour above it where the
    panel has one."""
    spec, pal = canvas.spec, canvas.spec.palette
    if pal.highlight != pal.background:
        canvas.rect(Box(0, geo.header.y + geo.header.h if geo.header else 0, spec.width, geo.pad), pal.highlight)
    size, pages = takeover_pages(spec, board.takeover_text)
    area = takeover_box(spec, paged=len(pages) > 1)
    lines = pages[page % len(pages)]
    fnt, line_h = font(spec.font_family, size, bold=True), int(size * 1.2)
    y = area.y + (area.h - len(lines) * line_h) // 2 + line_h // 2
    canvas.page = page if len(pages) > 1 else None
    for line in lines:
        canvas.text((spec.width // 2, y), line, fnt, pal.text, "mm", (pal.background, takeover_area(spec)),
                    role="takeover")
        y += line_h
    if len(pages) > 1:
        small = font(spec.font_family, spec.small_size)
        canvas.text((area.x + area.w, area.y + area.h + geo.small_line // 2), f"{page % len(pages) + 1}/{len(pages)}",
                    small, pal.text, "rm", (pal.background, takeover_area(spec)), role="takeover")
    canvas.page = None


def _message(canvas: Canvas, geo: Geometry, row: BoardRow, box: Box) -> None:
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
                on=(pal.background, Box(x, box.y, spec.width - x, box.h)), role="alert")


def _row(canvas: Canvas, geo: Geometry, row: BoardRow, box: Box, language: str) -> None:
    spec, pal = canvas.spec, canvas.spec.palette
    if row.status == MESSAGE:
        _message(canvas, geo, row, box)
        return
    bold = font(spec.font_family, spec.row_size, bold=True)
    middle = box.y + box.h // 2
    inactive = row.status in ("cancelled", "skipped")
    marks = pal.highlight != pal.background
    if marks and (inactive or row.status == "delayed" or row.platform_changed):
        canvas.rect(Box(0, box.y + geo.pad // 2, max(2, geo.pad - 1), box.h - geo.pad), pal.highlight)
    for col, x, w in geo.columns:
        cell = Box(x, box.y, w, box.h)  # anything drawn before is in other cells
        canvas.cell = col.kind
        if col.kind == "marker" and spec.live_marker:
            _marker(canvas, x + w // 2, middle, min(w // 2 - 1, spec.row_size // 4), row.live)
        elif col.kind == "line":
            _badge(canvas, row, Box(x, box.y + geo.pad // 2, w, box.h - geo.pad), bold)
        elif col.kind == "destination":
            _destination_cell(canvas, geo, row, cell)
        elif col.kind == "platform" and row.platform:
            _platform_cell(canvas, geo, row, cell, bold)
        elif col.kind == "time":
            _time_cell(canvas, row, cell, bold)
        elif col.kind == "delay" and not inactive:
            _delay_cell(canvas, row, cell, col.align)
    canvas.cell = None


def time_cell(canvas: Canvas, geo: Geometry, row: BoardRow, box: Box) -> None:
    """Only the time cell of a row in `box` (what `_row` draws there; a partial redraw of a countdown)."""
    column = geo.column("time")
    assert column is not None and row.status != MESSAGE
    canvas.cell = "time"
    _time_cell(canvas, row, Box(column[1], box.y, column[2], box.h),
               font(canvas.spec.font_family, canvas.spec.row_size, bold=True))
    canvas.cell = None


def _destination_cell(canvas: Canvas, geo: Geometry, row: BoardRow, cell: Box) -> None:
    """The destination (on two lines where the board split it, struck through when the trip does not run) and
    the row's note at the cell's right end."""
    spec, pal = canvas.spec, canvas.spec.palette
    x, right, middle, on = cell.x, cell.x + cell.w, cell.y + cell.h // 2, (pal.background, cell)
    inactive = row.status in ("cancelled", "skipped")
    regular = font(spec.font_family, spec.row_size)
    first, _, second = row.destination.partition("\n")
    if width_of(first, regular) > destination_room(spec, cell.w, row.note):  # fitted in the smaller type
        regular = font(spec.font_family, spec.small_size)
    y = middle
    if second:  # a destination on two lines: the rest smaller below
        small_regular = font(spec.font_family, spec.small_size)
        y = middle - spec.row_size * 2 // 5
        canvas.text((x, middle + spec.row_size * 3 // 5), second, small_regular, pal.text, on=on, role="destination")
    canvas.text((x, y), first, regular, pal.text, on=on, role="destination")
    if inactive:
        _strike(canvas, x, x + width_of(first, regular), y, pal.highlight if _marks(canvas) else pal.text)
    if row.note:
        note_font = font(spec.font_family, spec.small_size, bold=True)
        gap = width_of(" ", note_font)  # clear of the next column ("fällt aus" never touches "B")
        is_delay = row.note in (row.delay_text, f"+{row.delay_minutes}") and not inactive
        canvas.text((right - geo.pad - gap, middle), row.note, note_font, pal.accent, "rm", on,
                    role="delay" if is_delay else "status")


def _marks(canvas: Canvas) -> bool:
    """Whether the palette has a highlight colour apart from the background (for the marks of changed rows)."""
    return canvas.spec.palette.highlight != canvas.spec.palette.background


def _platform_cell(canvas: Canvas, geo: Geometry, row: BoardRow, cell: Box, bold: ImageFont.FreeTypeFont) -> None:
    """The platform; a changed one on an accent-coloured mark."""
    pal = canvas.spec.palette
    x, middle = cell.x, cell.y + cell.h // 2
    label = fit(row.platform, bold, cell.w)
    if row.platform_changed:
        pw = width_of(label, bold) + 2 * geo.pad
        mark = Box(x, cell.y + geo.pad // 2, min(cell.w, pw), cell.h - geo.pad)
        canvas.rect(mark, pal.accent, radius=geo.pad)
        canvas.text((x + geo.pad, middle), label, bold, pal.accent_text, on=(pal.accent, mark, geo.pad),
                    role="platform", box=mark)
    else:
        canvas.text((x, middle), label, bold, pal.text, on=(pal.background, cell), role="platform")


def _time_cell(canvas: Canvas, row: BoardRow, cell: Box, bold: ImageFont.FreeTypeFont) -> None:
    """The countdown or clock time, right-aligned: struck through for a trip that does not run (the time it
    would have left; "fällt aus" is in the destination cell), in the accent colour and underlined when late."""
    spec, pal = canvas.spec, canvas.spec.palette
    right, middle, on = cell.x + cell.w, cell.y + cell.h // 2, (pal.background, cell)
    marks = _marks(canvas)
    shown = fit(row.time_text, bold, cell.w)
    if row.status in ("cancelled", "skipped"):
        canvas.text((right, middle), shown, bold, pal.text, "rm", on, role="time")
        _strike(canvas, right - width_of(shown, bold), right, middle, pal.highlight if marks else pal.text)
        return
    delayed = row.status == "delayed"
    canvas.text((right, middle), shown, bold, pal.accent if delayed else pal.text, "rm", on, role="time")
    if delayed and marks:
        y = middle + spec.row_size // 2 + 1
        canvas.draw.line((right - width_of(shown, bold), y, right, y), fill=canvas.ink(pal.highlight),
                         width=max(2, spec.row_size // 12))


def _delay_cell(canvas: Canvas, row: BoardRow, cell: Box, align: str) -> None:
    """The delay column: the scheduled time struck through, or "+5" in the accent colour."""
    spec, pal = canvas.spec, canvas.spec.palette
    small = font(spec.font_family, spec.small_size)
    middle = cell.y + cell.h // 2
    shown = fit(row.struck_text or row.delay_text, small, cell.w)
    anchor_x = cell.x + cell.w if align == "right" else cell.x
    anchor = "rm" if align == "right" else "lm"
    canvas.text((anchor_x, middle), shown, small, pal.text if row.struck_text else pal.accent, anchor,
                (pal.background, cell), role="delay")
    if row.struck_text:
        sw = width_of(shown, small)
        start = anchor_x - sw if anchor == "rm" else anchor_x
        _strike(canvas, start, start + sw, middle, pal.text)


def _badge(canvas: Canvas, row: BoardRow, box: Box, fnt: ImageFont.FreeTypeFont) -> None:
    """The line's badge: its whole label, in smaller type where the rows' does not fit (the board widened the
    column first, up to the layout's line_max_width)."""
    spec = canvas.spec
    shrunk = badge_font(spec, row.line, box.w)
    label, fnt = (row.line, shrunk) if shrunk is not None else (fit(row.line, fnt, box.w - 4), fnt)
    if spec.font_family == "terminus":  # LED matrix: lit text, no box
        canvas.text((box.x, box.y + box.h // 2), label, fnt, spec.palette.text, role="badge")
        return
    if spec.color_mode in ("rgb", "rgb565"):
        fill, ink = row.line_color, row.line_text_color
    else:
        fill, ink = spec.palette.text, spec.palette.background
    radius = max(2, box.h // 6)
    canvas.rect(box, fill, radius=radius)
    canvas.text((box.x + box.w // 2, box.y + box.h // 2), label, fnt, ink, "mm",
                (fill, box, radius if spec.antialias else 0), role="badge", box=box)


def _strike(canvas: Canvas, x0: int, x1: int, y: int, color: str) -> None:
    width = max(1, canvas.spec.row_size // 14)
    canvas.draw.line((x0, y, x1, y), fill=canvas.ink(color), width=width)


def _empty(canvas: Canvas, geo: Geometry, board: Board) -> None:
    spec, pal = canvas.spec, canvas.spec.palette
    top = geo.rows[0].y
    bottom = geo.rows[-1].y + geo.rows[-1].h
    bold = font(spec.font_family, spec.row_size, bold=True)
    small = font(spec.font_family, spec.small_size)
    middle = (top + bottom) // 2
    width = spec.width - 2 * geo.pad
    on = (pal.background, Box(0, top, spec.width, bottom - top))
    if board.empty_detail:
        lines = wrap(board.empty_detail, small, width)  # "Fahrplan gültig bis 01.11.2026" over two lines, never cut
        if len(lines) * geo.small_line + spec.row_size + geo.pad > bottom - top:
            lines = [fit(board.empty_detail, small, width)]
        y = top + max(0, bottom - top - spec.row_size - geo.pad - len(lines) * geo.small_line) // 2
        canvas.text((spec.width // 2, y + spec.row_size // 2), fit(board.empty_text, bold, width), bold, pal.text,
                    "mm", on, role="status")
        y += spec.row_size + geo.pad
        for line in lines:
            canvas.text((spec.width // 2, y + geo.small_line // 2), line, small, pal.text, "mm", on, role="status")
            y += geo.small_line
    else:
        canvas.text((spec.width // 2, middle), fit(board.empty_text, bold, width), bold, pal.text, "mm", on,
                    role="status")


def _alerts(canvas: Canvas, geo: Geometry, board: Board, box: Box, page: int) -> None:
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
    canvas.text((x + icon // 2, box.y + box.h // 2), "!", bold, pal.alert_text, "mm", on, role="alert")
    if spec.font_family != "terminus":
        r = icon // 2
        cx, cy = x + r, box.y + box.h // 2
        canvas.draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=canvas.ink(pal.alert_text), width=max(1, r // 5))
    lines = board.alert_pages[page].split("\n")
    counter = f"{page + 1}/{len(board.alert_pages)}" if len(board.alert_pages) > 1 else ""
    top = box.y + (box.h - len(lines) * geo.small_line) // 2
    canvas.page = page if counter else None
    for i, line in enumerate(lines):
        canvas.text((x + icon + geo.pad, top + i * geo.small_line + geo.small_line // 2), line, small,
                    pal.alert_text, on=on, role="alert")
    if counter:
        canvas.text((box.w - geo.pad, box.y + geo.small_line // 2 + 1), counter, small, pal.alert_text, "rm", on,
                    role="alert")
    canvas.page = None
