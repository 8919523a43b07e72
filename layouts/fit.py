"""Fitting text to widths measured with the real font: abbreviate, then cut with an ellipsis; wrap."""

from __future__ import annotations

from functools import lru_cache

from PIL import ImageFont

from .texts import ABBREVIATIONS

ELLIPSIS = "…"


@lru_cache(maxsize=65536)
def width_of(text: str, font: ImageFont.FreeTypeFont) -> int:
    """Advance width of `text` in pixels (boards repeat their strings, so widths are remembered)."""
    return int(font.getlength(text)) if text else 0


@lru_cache(maxsize=16384)
def fit(text: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    """`text` if it fits `width`, else its abbreviated form, else cut at a glyph with '…'."""
    if width_of(text, font) <= width:
        return text
    short = text
    for long, abbreviated in ABBREVIATIONS:
        short = short.replace(long, abbreviated)
        if width_of(short, font) <= width:
            return short
    words = short.rstrip()
    while words:
        words = words[:-1].rstrip(" ,-/.")
        candidate = words + ELLIPSIS
        if width_of(candidate, font) <= width:
            return candidate
    return ELLIPSIS if width_of(ELLIPSIS, font) <= width else ""


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Lines of at most `width` px, broken at spaces (a word longer than a line is cut with '…')."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if width_of(candidate, font) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word if width_of(word, font) <= width else fit(word, font, width)
    if current:
        lines.append(current)
    return lines
