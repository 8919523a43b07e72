"""Boards and their renderers: the board model, layout specs, Pillow and HTML rendering.

The names below are the package's public face; each is imported on first use, so that
`import layouts` stays cheap (the CLI starts fast)."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Board": "board",
    "BoardInput": "board",
    "DisplaySettings": "board",
    "build_board": "board",
    "LayoutSpec": "spec",
    "load_layout": "spec",
    "parse_layout": "spec",
    "builtin_names": "spec",
    "ConfigError": "validation",
    "Fields": "validation",
    "render_image": "image",
    "encode_png": "image",
    "render_html": "html",
    "board_doc": "export",
    "board_json": "export",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    """The public name `name`, from the module that defines it."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
