"""The fonts that ship with stopcast, loaded from the package (never from the system)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from PIL import ImageFont

FONT_DIR = Path(str(resources.files("layouts") / "fonts"))
FILES = {
    ("atkinson", False): "AtkinsonHyperlegible-Regular.ttf",
    ("atkinson", True): "AtkinsonHyperlegible-Bold.ttf",
    ("terminus", False): "Terminus-Regular.otb",
    ("terminus", True): "Terminus-Bold.otb",
}
# Terminus is a bitmap font: only these pixel sizes exist.
TERMINUS_SIZES = (12, 14, 16, 18, 20, 22, 24, 28, 32)


@lru_cache(maxsize=128)
def font(family: str, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """A font of the family at `size` px (a bitmap family snaps to its nearest smaller size)."""
    if family == "terminus":
        size = max([s for s in TERMINUS_SIZES if s <= size] or [TERMINUS_SIZES[0]])
    return ImageFont.truetype(str(FONT_DIR / FILES[(family, bold)]), size)


def font_path(family: str, bold: bool = False) -> Path:
    """The file of a shipped font (for the HTML renderer's @font-face)."""
    return FONT_DIR / FILES[(family, bold)]
