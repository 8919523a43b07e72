"""Layout specs: declarative TOML files describing one kind of screen, validated at load."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from .texts import LANGUAGES  # the board languages, kept with their texts
from .validation import ConfigError, Fields, defaults_of

COLOR_MODES = ("mono", "gray4", "bwr", "rgb565", "rgb")
COLUMN_KINDS = ("marker", "line", "destination", "platform", "time", "delay")
FONT_FAMILIES = ("atkinson", "terminus")
# Colours each mode can show; other modes take any RGB.
MODE_COLORS = {
    "mono": {"#000000", "#FFFFFF"},
    "bwr": {"#000000", "#FFFFFF", "#FF0000"},
    "gray4": {"#000000", "#555555", "#AAAAAA", "#FFFFFF"},
}


def _error(source: str, field: str | None, message: str) -> ConfigError:
    return ConfigError(source, message, None, field)


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the departure rows; width 0 takes what the others leave."""

    kind: str
    width: int = 0
    align: str = "left"


@dataclass(frozen=True, slots=True)
class Palette:
    """The colours of a layout, as #RRGGBB."""

    background: str = "#FFFFFF"
    text: str = "#000000"
    header_background: str = "#000000"
    header_text: str = "#FFFFFF"
    muted: str = "#000000"
    accent: str = "#000000"  # delays, cancellations, platform changes
    accent_text: str = "#FFFFFF"  # text on an accent background
    alert_background: str = "#000000"
    alert_text: str = "#FFFFFF"
    separator: str = "#000000"
    highlight: str = "#000000"  # marks, never text: bars beside disrupted rows, strike-throughs

    def text_pairs(self) -> dict[str, tuple[str, str]]:
        """Every (text colour, background colour) pair the renderers draw text in."""
        return {
            "text on background": (self.text, self.background),
            "header_text on header_background": (self.header_text, self.header_background),
            "muted on background": (self.muted, self.background),
            "accent on background": (self.accent, self.background),
            "accent_text on accent": (self.accent_text, self.accent),
            "alert_text on alert_background": (self.alert_text, self.alert_background),
        }


@dataclass(frozen=True, slots=True)
class LayoutSpec:
    """Everything a renderer needs to know about one kind of screen."""

    name: str
    width: int
    height: int
    color_mode: str
    description: str = ""
    orientation: str = "landscape"
    rotate: int = 0  # degrees the frame is turned for a display mounted on its side
    font_family: str = "atkinson"
    header_size: int = 40
    row_size: int = 36
    small_size: int = 22
    rows: int = 6
    columns: tuple[Column, ...] = ()  # parse_layout fills in DEFAULT_COLUMNS
    header: bool = True
    header_height: int = 72
    column_titles: bool = False
    footer: bool = True
    footer_height: int = 30
    alert_lines: int = 2
    page_seconds: int = 10
    language: str = "de"
    countdown_max: int = 20  # minutes shown as "N min" up to this, then HH:MM
    delay_style: str = "plus"  # "plus": +N; "strike": the scheduled time struck through
    approx_prefix: bool = False  # "ca." before timetable-only times
    live_marker: bool = True
    full_refresh_every: int = 10  # e-paper: partial updates before a full refresh
    alert_style: str = "pages"  # "ticker": MQTT pillars scroll the alerts themselves (docs/mqtt.md, "Ticker")
    ticker_speed: int = 24  # pixels per second a ticker moves
    alert_pages_max: int = 0  # alert pages a display cycles through, the last "+N more" (0: all)
    line_max_width: int = 0  # px a line column may widen to for a label that needs it (0: the column's width)
    destination_lines: int = 1  # 2: a destination that does not fit continues on a smaller second line
    panel_width_mm: float = 0.0  # the physical panel's active area, as the layout is drawn (0: not declared)
    panel_height_mm: float = 0.0
    reading_distance_m: float = 0.0  # how far riders stand to read it, by design (0: not declared)
    palette: Palette = Palette()
    source: str = "built-in"
    _hash: int | None = field(default=None, init=False, compare=False, repr=False)

    def __hash__(self) -> int:
        """The fields' hash, computed once: a spec keys the geometry, font and render caches on every board
        (hashing its 30 fields, columns and palette each time was a third of composing a board)."""
        if self._hash is None:
            object.__setattr__(self, "_hash", hash(tuple(getattr(self, f.name) for f in fields(self) if f.compare)))
        return self._hash  # type: ignore[return-value]

    def __getstate__(self) -> dict:
        """Pickled without the cached hash: another process hashes strings with its own seed."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}

    def __setstate__(self, state: dict) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_hash", None)

    @property
    def antialias(self) -> bool:
        """Whether text is drawn with grey edges (never on 1-bit and 3-colour screens)."""
        return self.color_mode in ("gray4", "rgb565", "rgb") and self.font_family != "terminus"


DEFAULT_COLUMNS = (
    Column("marker", 24),
    Column("line", 90),
    Column("destination"),
    Column("platform", 70),
    Column("time", 150, "right"),
)
BUILTIN = resources.files("layouts") / "builtin"


def builtin_names() -> list[str]:
    """Names of the layouts that ship with stopcast."""
    return sorted(p.name.removesuffix(".toml") for p in BUILTIN.iterdir() if p.name.endswith(".toml"))


def builtin_text(name: str) -> str:
    """The TOML text of a built-in layout; ConfigError when there is none of that name."""
    path = BUILTIN / f"{name}.toml"
    if not path.is_file():
        close = difflib.get_close_matches(name, builtin_names(), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise _error(name, None, f"no built-in layout of that name ({hint}built-in: {', '.join(builtin_names())})")
    return path.read_text(encoding="utf-8")


def load_layout(name_or_path: str | Path) -> LayoutSpec:
    """A built-in layout by name, or a layout file by path; validated."""
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text or Path(text).is_file():
        path = Path(text)
        try:
            return parse_layout(path.read_text(encoding="utf-8"), str(path))
        except OSError as exc:
            raise _error(str(path), None, f"cannot be read ({exc.strerror or exc})") from None
        except UnicodeDecodeError as exc:
            raise _error(
                str(path), None, f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at {exc.start})"
            ) from None
    return parse_layout(builtin_text(text), f"built-in layout {text}")


def parse_layout(text: str, source: str) -> LayoutSpec:
    """Validate the TOML text of a layout; ConfigError names the file and field."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _error(source, None, f"not valid TOML ({exc})") from None
    v = Fields(source, raw, defaults_of(LayoutSpec))
    v.only({f.name for f in fields(LayoutSpec) if f.init} - {"source"})
    spec = LayoutSpec(
        name=v.string("name", required=True),
        width=v.integer("width", 8, 8192),
        height=v.integer("height", 8, 8192),
        color_mode=v.choice("color_mode", COLOR_MODES),
        description=v.string("description"),
        orientation=v.choice("orientation", ("landscape", "portrait")),
        rotate=v.choice("rotate", (0, 90, 180, 270)),
        font_family=v.choice("font_family", FONT_FAMILIES),
        header_size=v.integer("header_size", 6, 400),
        row_size=v.integer("row_size", 6, 400),
        small_size=v.integer("small_size", 6, 400),
        rows=v.integer("rows", 1, 40),
        columns=_columns(source, raw.get("columns")),
        header=v.boolean("header"),
        header_height=v.integer("header_height", 0, 2000),
        column_titles=v.boolean("column_titles"),
        footer=v.boolean("footer"),
        footer_height=v.integer("footer_height", 0, 2000),
        alert_lines=v.integer("alert_lines", 0, 20),
        page_seconds=v.integer("page_seconds", 1, 3600),
        language=v.choice("language", LANGUAGES),
        countdown_max=v.integer("countdown_max", 0, 180),
        delay_style=v.choice("delay_style", ("plus", "strike")),
        approx_prefix=v.boolean("approx_prefix"),
        live_marker=v.boolean("live_marker"),
        full_refresh_every=v.integer("full_refresh_every", 1, 1000),
        alert_style=v.choice("alert_style", ("pages", "ticker")),
        ticker_speed=v.integer("ticker_speed", 4, 400),
        destination_lines=v.integer("destination_lines", 1, 2),
        alert_pages_max=v.integer("alert_pages_max", 0, 1000),
        line_max_width=v.integer("line_max_width", 0, 8192),
        panel_width_mm=v.number("panel_width_mm", 0, 100_000),
        panel_height_mm=v.number("panel_height_mm", 0, 100_000),
        reading_distance_m=v.number("reading_distance_m", 0, 1000),
        palette=Palette(),
        source=source,
    )
    spec = replace(spec, palette=_palette(source, raw.get("palette", {}), spec.color_mode))
    _check_whole(spec, source)
    return spec


def _check_whole(spec: LayoutSpec, source: str) -> None:
    """The rules that tie fields together: the physical size all or none, a portrait panel higher than wide
    (or turned), fixed columns narrower than the screen, header and footer leaving room for rows."""
    physical = ("panel_width_mm", "panel_height_mm", "reading_distance_m")
    given = [k for k in physical if getattr(spec, k)]
    if given and len(given) < len(physical):
        missing = next(k for k in physical if k not in given)
        raise _error(source, missing, f"declare all of {', '.join(physical)} (for `stopcast layouts --check`), or none")
    if spec.orientation == "portrait" and spec.width > spec.height and spec.rotate in (0, 180):
        raise _error(source, "orientation", "portrait but wider than high (set rotate = 90 for a turned panel)")
    fixed = sum(c.width for c in spec.columns)
    if fixed >= spec.width:
        raise _error(source, "columns", f"fixed widths add up to {fixed} px, wider than the screen ({spec.width} px)")
    used = (spec.header_height if spec.header else 0) + (spec.footer_height if spec.footer else 0)
    if used >= spec.height:
        raise _error(source, "header_height", "header and footer leave no room for departures")


def _columns(source: str, raw: Any) -> tuple[Column, ...]:
    if raw is None:
        return DEFAULT_COLUMNS
    if not isinstance(raw, list) or not raw:
        raise _error(source, "columns", "must be a non-empty list of tables")
    out = []
    for i, item in enumerate(raw):
        where = f"columns[{i}]"
        if not isinstance(item, dict):
            raise _error(source, where, "must be a table with kind, width and align")
        unknown = set(item) - {"kind", "width", "align"}
        if unknown:
            raise _error(source, f"{where}.{sorted(unknown)[0]}", "unknown field")
        kind = item.get("kind")
        if kind not in COLUMN_KINDS:
            raise _error(source, f"{where}.kind", f"must be one of {', '.join(COLUMN_KINDS)}, got {kind!r}")
        width = item.get("width", 0)
        if isinstance(width, bool) or not isinstance(width, int) or width < 0:
            raise _error(source, f"{where}.width", f"must be a whole number of pixels >= 0, got {width!r}")
        align = item.get("align", "right" if kind in ("time", "delay") else "left")
        if align not in ("left", "right", "center"):
            raise _error(source, f"{where}.align", f"must be left, right or center, got {align!r}")
        out.append(Column(kind, width, align))
    if [c.kind for c in out].count("destination") != 1:
        raise _error(source, "columns", "needs exactly one destination column")
    if [c.kind for c in out].count("time") != 1:
        raise _error(source, "columns", "needs exactly one time column")
    return tuple(out)


def _palette(source: str, raw: Any, mode: str) -> Palette:
    if not isinstance(raw, dict):
        raise _error(source, "palette", "must be a table of colours")
    values = {}
    names = {f.name for f in fields(Palette)}
    for key, value in raw.items():
        if key not in names:
            raise _error(source, f"palette.{key}", "unknown colour name")
        if not (
            isinstance(value, str)
            and len(value) == 7
            and value[0] == "#"
            and all(c in "0123456789abcdefABCDEF" for c in value[1:])
        ):
            raise _error(source, f"palette.{key}", f"must be a colour #RRGGBB, got {value!r}")
        value = value.upper()
        allowed = MODE_COLORS.get(mode)
        if allowed is not None and value not in allowed:
            raise _error(
                source, f"palette.{key}", f"{value} cannot be shown in color_mode {mode} ({', '.join(sorted(allowed))})"
            )
        values[key] = value
    return Palette(**values)
