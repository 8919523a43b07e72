"""The service: the display registry and config, the pipeline from feeds to pillars, HTTP, and the `stopcast` CLI.

The names below are the package's public face, each imported on first use (feeds/lazy.py)."""

from __future__ import annotations

from feeds.lazy import lazy_exports

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
__getattr__ = lazy_exports(__name__, _WHERE)
