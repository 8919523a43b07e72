"""Fitting text to widths measured with the real font: abbreviate whole words, then end it with an ellipsis
after the last whole word that fits; wrap. Nothing is ever cut inside a word ("Str.nfest")."""

from __future__ import annotations

import re
from functools import lru_cache

from PIL import ImageFont

from .texts import ABBREVIATIONS

ELLIPSIS = "…"
# Where a text may end before an ellipsis: after a word, before a space, after "/" or "-" between names.
_BOUNDARY = re.compile(r"(?<=[/\-–])|(?=\s)")
# Each shortening applies to a whole word or a word's ending ("Kapellenstraße" -> "Kapellenstr."), never
# inside a word ("Straßenfest" stays).
_SHORTENINGS = tuple((re.compile(re.escape(long) + r"(?!\w)"), short) for long, short in ABBREVIATIONS)


@lru_cache(maxsize=65536)
def width_of(text: str, font: ImageFont.FreeTypeFont) -> int:
    """Advance width of `text` in pixels (boards repeat their strings, so widths are remembered)."""
    return int(font.getlength(text)) if text else 0


@lru_cache(maxsize=16384)
def abbreviations(text: str) -> tuple[str, ...]:
    """`text` with more and more of its words shortened (ABBREVIATIONS, in order), each form once."""
    forms: list[str] = []
    short = text
    for pattern, abbreviated in _SHORTENINGS:
        shorter = pattern.sub(abbreviated, short)
        if shorter != short:
            forms.append(shorter)
            short = shorter
    return tuple(forms)


@lru_cache(maxsize=16384)
def fit(text: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    """`text` if it fits `width`; else its abbreviated form; else the words that fit and '…'; a first word
    that does not fit alone is cut at a glyph only as the last resort (`fits_whole` tells the callers)."""
    if width_of(text, font) <= width:
        return text
    short = text
    for short in abbreviations(text):
        if width_of(short, font) <= width:
            return short
    ends = [m.start() for m in _BOUNDARY.finditer(short) if m.start() > 0]
    for end in reversed(ends):
        kept = short[:end].rstrip(" ,-–/")
        candidate = kept + (" " if kept.endswith(".") else "") + ELLIPSIS  # "Hindemithstr. …", not "str.…"
        if candidate != ELLIPSIS and width_of(candidate, font) <= width:
            return candidate
    words = short.rstrip()
    while words:
        words = words[:-1].rstrip(" ,-/.")
        candidate = words + ELLIPSIS
        if width_of(candidate, font) <= width:
            return candidate
    return ELLIPSIS if width_of(ELLIPSIS, font) <= width else ""


def fits_whole(text: str, font: ImageFont.FreeTypeFont, width: int) -> bool:
    """Whether `text` fits `width` whole or abbreviated by whole words (without an ellipsis)."""
    return not fit(text, font, width).endswith(ELLIPSIS) and bool(fit(text, font, width) or not text)


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Lines of at most `width` px, broken at spaces (a word longer than a line is abbreviated, else cut
    with '…'; callers that must not cut check `fits_whole` for each word first)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if width_of(candidate, font) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        if width_of(word, font) <= width:
            current = word
            continue
        parts = _word_parts(word, font, width)  # a web address or a hyphenated name: broken after "/", "-" or "."
        lines += parts[:-1]
        current = parts[-1]
    if current:
        lines.append(current)
    return lines


_JOINTS = re.compile(r"(?<=[/\-–.])(?=.)")


def _word_parts(word: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """A word too wide for a line in lines: broken after its "/", "-" or "." where it has them, else (the last
    resort) abbreviated or cut with '…'."""
    pieces = _JOINTS.split(word)
    out: list[str] = []
    current = ""
    for piece in pieces:
        if width_of(current + piece, font) <= width:
            current += piece
            continue
        if current:
            out.append(current)
        current = piece if width_of(piece, font) <= width else fit(piece, font, width)
    return [*out, current] if current else out or [fit(word, font, width)]


_TOKEN = re.compile(r"[^\s/\-–]+")


@lru_cache(maxsize=65536)
def whole_words(source: str, shown: str) -> bool:
    """Whether `shown` (a fitted form of `source`) has only whole words of it, or their abbreviations
    (texts.ABBREVIATIONS), before any '…': nothing cut inside a word ("Str.nfest", "Gonsenhe…")."""
    words = set(_TOKEN.findall(source))
    for form in abbreviations(source):
        words.update(_TOKEN.findall(form))
    body = shown.removesuffix(ELLIPSIS)
    return all(t in words or t.rstrip(",;:-–") in words for t in _TOKEN.findall(body))
