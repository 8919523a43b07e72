"""How the HTTP side sees the service (displays/shell/service.py is the one implementation): `View`, read
only, for status, the dashboard, pulls and TRMNL; `Node`, the view plus what the HTTP server itself hands
in (its address, its listeners, a config reload) and the ops control interface the admin endpoints pass on.
Nothing in web/ imports the service itself."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from displays.config.model import ServiceConfig
from displays.core.engine import DisplayRuntime
from displays.core.instances import Membership
from displays.core.notices import Editorial
from displays.core.ports import FeedSource, PillarLink, Renderer
from displays.ops.control import Control
from displays.shell.audit import Audit
from displays.shell.clock import Clock
from displays.shell.metrics import Metrics
from displays.shell.shared_state import Sharing
from displays.shell.speaking import Speaker
from feeds.live import Findings
from feeds.timetable import Timetable
from firmware_bridge.protocol import Bridge, Publish

__all__ = ["Node", "View"]


class View(Protocol):
    """What the service shows: its displays, pillars, feeds, instances, state and health."""

    @property
    def clock(self) -> Clock: ...

    @property
    def config(self) -> ServiceConfig: ...

    @property
    def displays(self) -> dict[str, DisplayRuntime]: ...

    @property
    def bridge(self) -> Bridge: ...

    @property
    def membership(self) -> Membership: ...

    @property
    def timetable(self) -> Timetable | None: ...

    @property
    def editorial(self) -> Editorial: ...

    @property
    def sources(self) -> dict[str, FeedSource]: ...

    @property
    def sharing(self) -> Sharing | None: ...

    @property
    def speaker(self) -> Speaker: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def audit(self) -> Audit: ...

    @property
    def instance(self) -> str: ...

    @property
    def shard(self) -> tuple[int, int]: ...

    @property
    def started_at(self) -> int: ...

    @property
    def timetable_error(self) -> str | None: ...

    @property
    def timetable_loaded_at(self) -> int | None: ...

    @property
    def store_error(self) -> str | None: ...

    @property
    def broker_connected(self) -> bool: ...

    @property
    def broker_error(self) -> str: ...

    @property
    def http_url(self) -> str: ...

    @property
    def last_reload_error(self) -> str | None: ...

    @property
    def store_write_error(self) -> str | None: ...

    @property
    def link(self) -> PillarLink | None: ...

    @property
    def renderer(self) -> Renderer: ...

    def timezone(self) -> str: ...

    def findings(self, source: str) -> Findings: ...


class Node(Control, View, Protocol):
    """The view, the ops control interface, and what the HTTP server hands in."""

    http_url: str
    http_ready: asyncio.Event
    pending: list[Publish]
    board_listeners: list[Callable[[str], None]]
    last_reload_error: str | None
    store_write_error: str | None

    def announcement(self, online: bool = True) -> Publish: ...

    def reload_config(self) -> str | None: ...
