"""Legibility by the standard: for every text role of a layout its cap height on the declared panel and the
largest distance it can be read from, and the luminance contrast of every text colour pair.

Rules (docs/layouts.md): a text is readable up to the distance at which its cap height is 1/155 of it
(cap height >= distance / 155, the display-screen rule of ISO 9241-303 as ASR A6 applies it); a rider with
visual acuity 0.3 (low vision) reads it from 0.3 of that distance (acuity is the angle a detail must
subtend). Luminance contrast K = (L1 - L2) / (L1 + L2) must be at least 0.7, and at least 0.8 between
black, white and greys (DIN 32975). Colours are taken as the panel shows them (a mono panel has only black
and white). Pure: fonts are the shipped ones, nothing is read from the system.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from .contrast import luminance_contrast, shown_color
from .fonts import font
from .spec import LayoutSpec

DISTANCE_PER_CAP = 155  # reading distance per unit of cap height
LOW_VISION = 0.3  # visual acuity of a rider with low vision
K_MIN = 0.7
K_MIN_ACHROMATIC = 0.8
DEPARTURE_ROLES = ("line", "destination", "platform", "time", "delay", "alert")  # what riders must read: their
# departure, and the alerts that change it


@dataclass(frozen=True, slots=True)
class RoleCheck:
    """One text role: its type and how far it can be read."""

    role: str
    size_px: int
    bold: bool
    cap_height_px: int
    cap_height_mm: float | None  # None: the layout declares no panel
    max_distance_m: float | None
    max_distance_low_vision_m: float | None
    departures: bool  # a role riders need to read their departure
    meets: bool | None  # readable at the layout's reading distance (None: not declared)


@dataclass(frozen=True, slots=True)
class PairCheck:
    """One text colour on its background, as the panel shows them."""

    pair: str
    foreground: str
    background: str
    contrast_k: float
    required: float
    meets: bool


@dataclass(frozen=True, slots=True)
class Legibility:
    """A layout's legibility: roles, colour pairs, and whether it passes at its reading distance."""

    layout: str
    panel_width_mm: float
    panel_height_mm: float
    reading_distance_m: float
    roles: tuple[RoleCheck, ...]
    pairs: tuple[PairCheck, ...]
    ok: bool
    problems: tuple[str, ...]


@lru_cache(maxsize=256)
def cap_height_px(family: str, size: int, bold: bool) -> int:
    """The height in pixels of a capital H as drawn (rows with ink; a bitmap font's blank rows do not count)."""
    fnt = font(family, size, bold)
    left, top, right, bottom = (int(v) for v in fnt.getbbox("H"))
    mask = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    ImageDraw.Draw(mask).text((-left, -top), "H", font=fnt, fill=255)
    rows = np.flatnonzero(np.asarray(mask).max(axis=1) >= 128)
    return int(rows[-1] - rows[0] + 1) if len(rows) else 0


def text_roles(spec: LayoutSpec) -> list[tuple[str, int, bool]]:
    """(role, type size, bold) of every text the layout draws."""
    kinds = {c.kind for c in spec.columns}
    roles: list[tuple[str, int, bool]] = []
    if spec.header:
        roles.append(("header", spec.header_size, True))
    if spec.column_titles:
        roles.append(("titles", spec.small_size, False))
    for kind, size, bold in (("line", spec.row_size, True), ("destination", spec.row_size, False),
                             ("platform", spec.row_size, True), ("time", spec.row_size, True),
                             ("delay", spec.small_size, False)):
        if kind in kinds:
            roles.append((kind, size, bold))
    if spec.alert_lines:
        roles.append(("alert", spec.small_size, False))
    if spec.footer:
        roles.append(("legend", spec.small_size, False))
    return roles


def color_pairs(spec: LayoutSpec) -> list[tuple[str, str, str]]:
    """(pair, text colour, background colour) of every text colour the layout draws on a background."""
    pal = spec.palette
    pairs = [("text on background", pal.text, pal.background), ("accent on background", pal.accent, pal.background),
             ("accent text on accent", pal.accent_text, pal.accent)]
    if spec.header:
        pairs.append(("header", pal.header_text, pal.header_background))
    if spec.column_titles:
        pairs.append(("titles", pal.muted, pal.background))
    if spec.alert_lines:
        pairs.append(("alert", pal.alert_text, pal.alert_background))
    return pairs


def _achromatic(color: str) -> bool:
    return color[1:3] == color[3:5] == color[5:7]


def check_legibility(spec: LayoutSpec) -> Legibility:
    """Every text role's cap height and reading distances, every colour pair's contrast, and the verdict:
    ok when every departure role is readable at the declared reading distance and every pair has enough
    contrast (a layout without a declared panel cannot pass: its distances are unknown, and it says so)."""
    declared = spec.panel_height_mm > 0 and spec.reading_distance_m > 0
    pitch = spec.panel_height_mm / spec.height if declared else 0.0  # mm per pixel, down the panel
    problems: list[str] = [] if declared else [
        "no panel declared (panel_width_mm, panel_height_mm, reading_distance_m): reading distances not checked"]
    roles = []
    for role, size, bold in text_roles(spec):
        cap = cap_height_px(spec.font_family, size, bold)
        cap_mm = cap * pitch if declared else None
        reach = cap_mm * DISTANCE_PER_CAP / 1000 if cap_mm is not None else None
        meets = reach >= spec.reading_distance_m - 1e-9 if reach is not None else None
        departures = role in DEPARTURE_ROLES
        if meets is False and departures and cap_mm:
            needed_mm = spec.reading_distance_m * 1000 / DISTANCE_PER_CAP
            problems.append(
                f"{role}: {cap_mm:.1f} mm cap height ({size} px type) is readable up to {reach:.2f} m, not "
                f"{spec.reading_distance_m:g} m; it needs {needed_mm:.1f} mm cap height "
                f"(about {round(size * needed_mm / cap_mm)} px type) or a reading distance of at most {reach:.2f} m"
            )
        roles.append(RoleCheck(role, size, bold, cap, _round(cap_mm), _round(reach),
                               _round(reach * LOW_VISION if reach is not None else None), departures, meets))
    pairs = []
    for name, fg, bg in color_pairs(spec):
        shown_fg, shown_bg = shown_color(spec.color_mode, fg), shown_color(spec.color_mode, bg)
        k = luminance_contrast(shown_fg, shown_bg)
        required = K_MIN_ACHROMATIC if _achromatic(shown_fg) and _achromatic(shown_bg) else K_MIN
        if k < required:
            problems.append(f"{name}: {shown_fg} on {shown_bg} has luminance contrast K = {k:.2f}, needs {required}")
        pairs.append(PairCheck(name, shown_fg, shown_bg, round(k, 3), required, k >= required))
    ok = declared and all(r.meets is not False for r in roles if r.departures) and all(p.meets for p in pairs)
    return Legibility(spec.name, spec.panel_width_mm, spec.panel_height_mm, spec.reading_distance_m, tuple(roles),
                      tuple(pairs), ok, tuple(problems))


def _round(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


def legibility_doc(result: Legibility) -> dict[str, Any]:
    """The check as JSON (`stopcast layouts --check --format json`)."""
    return {
        "layout": result.layout,
        "panel_width_mm": result.panel_width_mm or None,
        "panel_height_mm": result.panel_height_mm or None,
        "reading_distance_m": result.reading_distance_m or None,
        "roles": [{"role": r.role, "size_px": r.size_px, "bold": r.bold, "cap_height_px": r.cap_height_px,
                   "cap_height_mm": r.cap_height_mm, "max_distance_m": r.max_distance_m,
                   "max_distance_low_vision_m": r.max_distance_low_vision_m, "departures": r.departures,
                   "meets": r.meets} for r in result.roles],
        "pairs": [{"pair": p.pair, "foreground": p.foreground, "background": p.background, "contrast_k": p.contrast_k,
                   "required": p.required, "meets": p.meets} for p in result.pairs],
        "ok": result.ok,
        "problems": list(result.problems),
    }


def legibility_text(result: Legibility) -> str:
    """The check as a table for people."""
    panel = f"{result.panel_width_mm:g} x {result.panel_height_mm:g} mm panel"
    distance = (
        f"read from {result.reading_distance_m:g} m on a {panel}"
        if result.reading_distance_m
        else "no panel declared"
    )
    lines = [f"{result.layout}: {'ok' if result.ok else 'FAILS'} ({distance})",
             f"  {'role':<12} {'type':>6} {'cap':>8} {'readable to':>12} {'low vision':>11}"]
    for r in result.roles:
        cap = f"{r.cap_height_mm:.1f} mm" if r.cap_height_mm is not None else f"{r.cap_height_px} px"
        reach = f"{r.max_distance_m:.2f} m" if r.max_distance_m is not None else "-"
        low = f"{r.max_distance_low_vision_m:.2f} m" if r.max_distance_low_vision_m is not None else "-"
        mark = "" if r.meets is not False else ("  FAILS" if r.departures else "  (too small for the distance)")
        lines.append(f"  {r.role:<12} {r.size_px:>4}px {cap:>8} {reach:>12} {low:>11}{mark}")
    for p in result.pairs:
        lines.append(f"  contrast {p.pair}: K = {p.contrast_k:.2f} (needs {p.required}){'' if p.meets else '  FAILS'}")
    lines += [f"  problem: {problem}" for problem in result.problems]
    return "\n".join(lines)
