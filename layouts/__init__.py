"""Boards and their renderers: the board model, layout specs, Pillow and HTML rendering.

The names below are the package's public face, each imported on first use (feeds/lazy.py)."""

from __future__ import annotations

from feeds.lazy import lazy_exports

_WHERE = {
    "Board": "model",
    "BoardInput": "model",
    "DisplaySettings": "model",
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
__getattr__ = lazy_exports(__name__, _WHERE)
