"""Colours as a panel shows them, contrast of colour pairs (WCAG ratio, luminance contrast K), and
readable text on a feed's route colour."""

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


def luminance_contrast(a: str, b: str) -> float:
    """Luminance contrast K = (L1 - L2) / (L1 + L2) of two colours (L1 the lighter), 0 to 1."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high - low) / (high + low) if high + low > 0 else 0.0


GRAY_STEPS = (0, 85, 170, 255)  # the four levels of a gray4 panel


@lru_cache(maxsize=4096)
def shown_color(color_mode: str, color: str) -> str:
    """#RRGGBB as a panel of the colour mode shows it: black or white on mono, black, white or red on
    bwr, one of four greys on gray4, the nearest RGB565 colour; the colour itself on rgb."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    if color_mode == "bwr" and r > 160 and g < 100 and b < 100:
        return "#FF0000"
    if color_mode in ("mono", "bwr"):
        return "#FFFFFF" if r + g + b >= 384 else "#000000"
    if color_mode == "gray4":
        level = GRAY_STEPS[min(3, (round(0.299 * r + 0.587 * g + 0.114 * b) + 42) // 85)]
        return f"#{level:02X}{level:02X}{level:02X}"
    if color_mode == "rgb565":
        r5, g6, b5 = r >> 3, g >> 2, b >> 3
        return f"#{(r5 << 3) | (r5 >> 2):02X}{(g6 << 2) | (g6 >> 4):02X}{(b5 << 3) | (b5 >> 2):02X}"
    return color.upper()
