"""Board to frame: render, rasterise, hash and encode, as a picklable job for the render pool.

A rendered frame travels as its packed pixels, deflated, and its encoded full body, which are far
smaller than the raster; the main process keeps them so and finds deltas on the packed bytes.
"""

from __future__ import annotations

import io
import threading
from collections import Counter
from dataclasses import dataclass, fields, replace
from operator import attrgetter

import numpy as np
from cachetools import LRUCache
from PIL import Image

from firmware_bridge import codec, png, rasters
from firmware_bridge.messages import Publish, text_hash
from firmware_bridge.protocol import Frame
from firmware_bridge.ticker import Ticker, rgb565, ticker_payload
from firmware_bridge.topics import display_topic
from layouts.board import Board
from layouts.contrast import shown_color
from layouts.drawn import assembled, painted_and_drawn
from layouts.export import drawn_json
from layouts.geometry import board_layout, geometry
from layouts.image import encode_png, render_ticker, ticker_area
from layouts.parts import Part, board_parts, inputs, part_box
from layouts.redraw import Watched, redrawn, render_watched
from layouts.spec import LayoutSpec


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered frame as it crosses process boundaries."""

    packed: bytes  # the colour mode's raw encoding (what the content hash covers), deflated, or the RGB PNG
    width: int
    height: int
    color_mode: str
    encoding: str
    compress: bool
    content_hash: int
    full_body: bytes  # the full frame's body in its encoding, zlib-compressed when asked
    drawn: bytes = b""  # board.json's `drawn` (layouts/drawn.py) as its JSON text, made here in the worker: the
    # service splices it into the board JSON (layouts.export.board_json) and never unpickles ~45 dicts a frame

    def __reduce__(self) -> tuple:
        """Pickled as its class and field values: frames come back from the render workers by the thousand, and
        a frozen slotted dataclass otherwise pickles through fields() and a setattr per field."""
        return Rendered, _rendered_values(self)


_rendered_values = attrgetter(*(f.name for f in fields(Rendered)))


def render(board: Board, spec: LayoutSpec, encoding: str, compress: bool, key: str = "") -> Rendered:
    """Render a board for a layout into its frame bytes (runs in the pool's workers). `key` names the screen the
    frame is for (its display's id; "" for one-off renders): in the colour modes of PARTIAL_MODES the worker keeps
    its last frame under it and draws only the parts of the next board that changed (`_partial`); the frame is the
    same either way."""
    mode = spec.color_mode
    if not key or mode not in PARTIAL_MODES or (encoding == "png" and mode == "rgb"):  # an LCD's RGB PNG: _partial
        # raw_of and raster_of reduce it to the panel's colours; the image is encoded before the next is drawn
        image, shown = painted_and_drawn(board, spec, scratch=True)  # `drawn` listed while painting
        return _encoded(image, codec.raw_of(image, mode), mode, encoding, compress, shown)
    used = board_layout(spec, board.hidden_columns, board.line_width)
    parts = board_parts(geometry(used), board)
    with _lasts_lock:
        last = _lasts.get(key)
    partial = _partial(last, board, used, encoding, compress, parts) if last is not None else None
    if partial is None:
        image, kept, items = render_watched(board, used)
        made = _encoded(image, codec.raw_of(image, mode), mode, encoding, compress,
                        _copied(assembled(board, used, items, parts)))
        REDRAWS["full"] += 1
    else:
        made, items, kept = partial
    with _lasts_lock:
        _lasts[key] = _Last(board, used, encoding, compress, parts, kept, made.packed, items)
    return made


def _encoded(image: Image.Image | None, raw: bytes, mode: str, encoding: str, compress: bool,
             shown: tuple, size: tuple[int, int] = (0, 0)) -> Rendered:
    """The frame of a board's raw bytes. Without its image (a partial redraw: `size` gives the width and height),
    an encoding other than the raw one or an RGB PNG is packed from the raster of the raw bytes."""
    width, height = image.size if image is not None else size
    if encoding == codec.RAW_FOR_MODE[mode]:
        body = raw
    elif encoding == "png" and mode == "rgb":  # raw is the RGB bytes: no second copy out of Pillow
        body = png.encode_rgb(raw, width, height)
    elif image is not None:
        body = codec.pack(codec.raster_of(image, mode), encoding, mode)
    else:
        body = codec.pack(codec.unpack(raw, codec.RAW_FOR_MODE[mode], width, height, mode), encoding, mode)
    packed = body if encoding == "png" and mode == "rgb" else png.deflate(raw)  # an RGB PNG holds the raw rows already
    if compress and encoding != "png":
        body = codec.deflate_fast(body)  # the window a pillar's inflater needs (codec.ZLIB_WINDOW_BITS)
    return Rendered(packed, width, height, mode, encoding, compress, png.crc32(raw), body, drawn_json(shown))


def _copied(items: tuple[dict, ...]) -> tuple[dict, ...]:
    return tuple(dict(item) for item in items)


@dataclass(frozen=True, slots=True)
class _Last:
    """A screen's last frame as its render worker keeps it for the next (`render`'s key)."""

    board: Board
    used: LayoutSpec  # the board's own layout (board_layout)
    encoding: str
    compress: bool
    parts: tuple[Part, ...]
    kept: Watched  # every part was drawn inside its box (any of them can be drawn again alone), and the rows
    # whose time cell can be drawn alone
    packed: bytes  # the frame's raw bytes deflated, or its RGB PNG (Rendered.packed)
    items: dict  # what each part draws (layouts.drawn.drawn_parts)


def _last_bytes(last: _Last) -> int:
    return len(last.packed) + 400 * len(last.parts) + 1000


# Colour modes whose frames are drawn only where they changed. None by default: measured (bench/bench_partial.py)
# on the real feeds' boards, a partial redraw costs more than drawing the board whole in every mode, because the
# frame's zlib body (the same bytes either way) is most of an e-paper frame's cost, drawing whole boards from
# cached text stamps is fast, and the last frame has to be brought back from its deflated bytes. Correct in all of
# them (tests/displays/test_partial_redraws.py turns them all on).
PARTIAL_MODES: frozenset[str] = frozenset()
# The last frame of each screen a worker renders, as its deflated raw bytes (an e-paper frame is 3-10 KB so, a
# portrait LCD's 0.1-0.3 MB): a budget in bytes (docs/deploy.md, "Memory"), least recently rendered out first.
LAST_BUDGET = 64 << 20
_lasts: LRUCache = LRUCache(maxsize=LAST_BUDGET, getsizeof=_last_bytes)
_lasts_lock = threading.Lock()
REDRAWS: Counter = Counter()  # "full" and "partial" renders, the "parts" partial ones drew again and how many of
# those were "time cells" alone (for tests and benches)


def _partial(last: _Last, board: Board, used: LayoutSpec, encoding: str, compress: bool,
             parts: tuple[Part, ...]) -> tuple[Rendered, dict, Watched] | None:
    """The frame of a board drawn only where it differs from the screen's last (over its pixels), what its parts
    draw and how; None where that cannot be proved the same as a full render (another layout, other parts, a part
    not kept to its box then or now).

    Not for an RGB PNG (the 1080p LCDs): their last frame would have to be inflated whole (6 MB, some 5 ms) for the
    rows around the changed ones, more than drawing it whole costs (7 ms, whose PNG bands are kept already)."""
    if not last.kept.kept or (last.used, last.encoding, last.compress, last.parts) != (used, encoding, compress,
                                                                                      parts):
        return None
    changed = [part for part in parts if inputs(board, part) != inputs(last.board, part)]
    drawing = [_time_only(last, board, part) for part in changed]
    mode, size = used.color_mode, (used.width, used.height)
    width, height = size
    planes = 2 if mode == "bwr" else 1
    previous = png.inflate(last.packed)
    geo = geometry(used)
    boxes = [box for box in (part_box(geo, part) for part in drawing) if box is not None]
    # one strip of rows from the first changed box to the end of the last: a few large operations cost less than
    # one per box (the rows between come back from the last frame's raw bytes as they were)
    spans = [(min(b.y for b in boxes), max(b.y + b.h for b in boxes))] if boxes else []
    under = [(y0, rasters.image_of_raw(_rows(previous, planes, height, y0, y1), mode, width, y1 - y0))
             for y0, y1 in spans]
    done = redrawn(board, used, drawing, under, last.kept)
    if done is None:
        return None
    image, kept, redrawn_items = done
    raw = _spliced(previous, [(y0, y1, codec.raw_of(image.crop((0, y0, width, y1)), mode)) for y0, y1 in spans],
                   planes, height)
    items = dict(last.items)
    for part, got in redrawn_items.items():
        if isinstance(part, tuple) and part[0] == "time":  # the row's texts with its new time ("time" is only there)
            row = ("row", part[1])
            items[row] = tuple(item for item in items[row] if item["role"] != "time") + got
        else:
            items[part] = got
    REDRAWS["partial"] += 1
    REDRAWS["parts"] += len(drawing)
    REDRAWS["time cells"] += sum(1 for part in drawing if isinstance(part, tuple) and part[0] == "time")
    made = _encoded(None, raw, mode, encoding, compress, _copied(assembled(board, used, items, parts)), size)
    return made, items, kept


_UNDRAWN = ("minutes", "spoken")  # fields of a row no part draws (the speech and the forecasts read them)


def _time_only(last: _Last, board: Board, part: Part) -> Part:
    """A changed part, or only its time cell for a row whose time text is all that changed on screen (where that
    cell can be drawn alone)."""
    if not isinstance(part, tuple) or part[0] != "row" or part[1] not in last.kept.times:
        return part
    old, new = last.board.rows[part[1]], board.rows[part[1]]
    same = replace(old, time_text=new.time_text, **{name: getattr(new, name) for name in _UNDRAWN})
    return ("time", part[1]) if same == new else part


def _rows(raw: bytes, planes: int, height: int, y0: int, y1: int) -> bytes:
    """Rows y0..y1 of a frame's raw bytes (bwr: of both planes, black first), as the raw bytes of that strip."""
    row = len(raw) // (planes * height)
    return b"".join(raw[(p * height + y0) * row : (p * height + y1) * row] for p in range(planes))


def _spliced(raw: bytes, spans: list[tuple[int, int, bytes]], planes: int, height: int) -> bytes:
    """A frame's raw bytes with the rows y0..y1 of each span replaced by the span's raw bytes (bwr: both planes)."""
    row = len(raw) // (planes * height)
    pieces: list[bytes | memoryview] = []
    view = memoryview(raw)
    for plane in range(planes):
        at = plane * height * row
        for y0, y1, data in spans:
            rows = (y1 - y0) * row
            pieces += [view[at : plane * height * row + y0 * row], data[plane * rows : (plane + 1) * rows]]
            at = plane * height * row + y1 * row
        pieces.append(view[at : (plane + 1) * height * row])
    return b"".join(pieces)


RenderJob = tuple[Board, LayoutSpec, str, bool] | tuple[Board, LayoutSpec, str, bool, str]  # board, layout,
# encoding, compress and optionally the key of the screen it is for (render's `key`)


def render_batch(jobs: list[RenderJob]) -> list[Rendered | str]:
    """Several boards at once (one pool task, fewer round trips); a board that fails gives its error's text."""
    out: list[Rendered | str] = []
    for job in jobs:
        try:
            out.append(render(*job))
        except Exception as exc:  # noqa: BLE001 - one board's failure must not lose the batch
            out.append(f"{type(exc).__name__}: {exc}")
    return out


def frame_of(rendered: Rendered, board_json: bytes) -> Frame:
    """The protocol's Frame from a rendered one."""
    return Frame(rendered.packed, rendered.width, rendered.height, rendered.color_mode, rendered.encoding,
                 rendered.compress, rendered.content_hash, board_json, rendered.full_body)


def ticker_publishes(
    prefix: str, display_id: str, board: Board, spec: LayoutSpec, previous: int | None
) -> tuple[list[Publish], int]:
    """The retained `ticker` message of a layout whose alerts scroll (docs/mqtt.md, "Ticker"), when its text
    changed since `previous` (the text hash last published), and the new hash; an empty retained message
    clears the ticker when the alerts are gone."""
    if spec.alert_style != "ticker":
        return [], 0
    text = board.ticker_text
    hashed = text_hash(text) if text else 0
    if hashed == previous:
        return [], hashed
    topic = display_topic(prefix, display_id, "ticker")
    strip, area = render_ticker(board, spec), ticker_area(spec)
    if strip is None or area is None:
        return [Publish(topic, b"", True)], hashed
    pal = spec.palette
    ticker = Ticker(
        (area.x, area.y, area.w, area.h),
        spec.ticker_speed,
        rgb565(shown_color(spec.color_mode, pal.alert_text)),
        rgb565(shown_color(spec.color_mode, pal.alert_background)),
        hashed,
        np.asarray(strip, dtype=bool),
    )
    return [Publish(topic, ticker_payload(ticker), True)], hashed


def one_bit(image: Image.Image, color_mode: str) -> Image.Image:
    """The frame as 1-bit (what TRMNL's classic firmware takes): red becomes black, grey is thresholded."""
    if color_mode == "mono":
        return image
    if color_mode == "bwr":
        return image.point(lambda v: 255 if v == 0 else 0, "L").convert("1", dither=Image.Dither.NONE)
    return image.convert("L").point(lambda v: 255 if v >= 128 else 0).convert("1", dither=Image.Dither.NONE)


def pull_bytes(frame: Frame, fmt: str) -> bytes:
    """A frame as a pulling client takes it: PNG (exactly the pillar's pixels) or a 1-bit BMP (TRMNL)."""
    if fmt == "png" and frame.color_mode in ("rgb", "rgb565"):
        return codec.pack(frame.raster, "png", frame.color_mode)
    image = codec.image_of(frame.raster, frame.color_mode)
    if fmt == "png":
        return encode_png(image)
    if fmt == "bmp":
        out = io.BytesIO()
        one_bit(image, frame.color_mode).save(out, format="BMP")
        return out.getvalue()
    raise ValueError(f"unknown pull format {fmt!r}")
