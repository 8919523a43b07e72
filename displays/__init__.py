"""The service: the display registry and config, the pipeline from feeds to pillars, HTTP, and the `stopcast` CLI.

In rooms, each importing only those below it (an import-linter layers contract): `cli` (the commands) >
`web` (HTTP, pulls, TRMNL, dashboard, status) > `ops` (admin, editorial, config editing) > `shell` (the
node owning every socket, file, subprocess and clock) > `config` (the one config model) > `core` (pure).

The names below are the package's public face, each imported on first use (feeds/lazy.py)."""

from __future__ import annotations

from feeds.lazy import lazy_exports

_WHERE = {
    "Service": "shell.service",
    "DisplayRuntime": "shell.service",
    "ServiceConfig": "config.model",
    "DisplayConfig": "config.model",
    "load_config": "config.parse",
    "parse_config": "config.parse",
    "ConfigError": "config.model",
    "FeedSource": "core.ports",
    "PillarLink": "core.ports",
    "Renderer": "core.ports",
    "MemoryLink": "core.ports",
    "InlineRenderer": "shell.rendering",
    "PoolRenderer": "shell.rendering",
    "compose_board": "core.boards",
    "render": "core.frames",
    "make_app": "web.http",
    "serve_http": "web.http",
    "main": "cli.cli",
}
__all__ = sorted(_WHERE)
__getattr__ = lazy_exports(__name__, _WHERE)
