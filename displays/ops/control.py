"""The narrow control interface through which ops reach the service (displays/shell/service.py is the one
implementation): read the running config and messages, compose previews, and hand in changes. Nothing in
ops/ imports the service itself."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from displays.config.model import DisplayConfig, ServiceConfig
from displays.core.notices import Editorial, Scope
from displays.shell.audit import Audit
from displays.shell.clock import Clock
from displays.shell.shared_state import Sharing
from displays.shell.store import StateStore
from feeds.live import LiveState
from feeds.timetable import Timetable
from layouts.board import Board
from layouts.spec import LayoutSpec

__all__ = ["Control"]


class Control(Protocol):
    """What ops may read of the running service and what they may change."""

    store_write_error: str | None  # the last change the state store refused (ops set and clear it)
    last_reload_error: str | None  # why the last change of the shared config could not be run

    @property
    def clock(self) -> Clock: ...

    @property
    def config_path(self) -> Path | None: ...

    @property
    def audit(self) -> Audit: ...

    @property
    def store(self) -> StateStore: ...

    @property
    def sharing(self) -> Sharing | None: ...

    @property
    def config(self) -> ServiceConfig: ...

    @property
    def editorial(self) -> Editorial: ...

    @property
    def timetable(self) -> Timetable | None: ...

    def timezone(self) -> str: ...

    def scope(self, display: DisplayConfig) -> Scope: ...

    def live_state(self, now: int) -> LiveState | None: ...

    def compose(self, display: DisplayConfig, spec: LayoutSpec, now: int, live: LiveState | None, editorial: Editorial,
                previous: Board | None = None, shared: dict | None = None) -> Board: ...

    def check_stops(self, config: ServiceConfig, source: str = "") -> None: ...

    def change_config(self, config: ServiceConfig) -> None: ...

    def set_editorial(self, editorial: Editorial) -> None: ...
