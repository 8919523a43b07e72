"""WCAG contrast of colour pairs, and readable text on a feed's route colour."""

from __future__ import annotations

from functools import lru_cache


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


@lru_cache(maxsize=4096)
def luminance(color: str) -> float:
    """WCAG relative luminance of #RRGGBB."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours, 1 to 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@lru_cache(maxsize=4096)
def readable_on(background: str, preferred: str, minimum: float = 4.5) -> str:
    """`preferred` if it reaches `minimum` contrast on `background`, else black or white, whichever is better."""
    if contrast(background, preferred) >= minimum:
        return preferred
    return "#000000" if contrast(background, "#000000") >= contrast(background, "#FFFFFF") else "#FFFFFF"
