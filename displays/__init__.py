"""The service: the display registry and config, the pipeline from feeds to pillars, HTTP, and the `stopcast` CLI.

The names below are the package's public face; each is imported on first use, so that
`import displays` stays cheap (the CLI starts fast)."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Service": "service",
    "DisplayRuntime": "service",
    "ServiceConfig": "config",
    "DisplayConfig": "config",
    "load_config": "config",
    "parse_config": "config",
    "ConfigError": "config",
    "FeedSource": "ports",
    "PillarLink": "ports",
    "Renderer": "ports",
    "MemoryLink": "ports",
    "InlineRenderer": "rendering",
    "PoolRenderer": "rendering",
    "compose_board": "boards",
    "render": "frames",
    "make_app": "http",
    "serve_http": "http",
    "main": "cli",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    """The public name `name`, from the module that defines it."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
