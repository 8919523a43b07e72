"""The node's read-only view of its engine: what displays/core/engine.py holds and decides, under the names
the HTTP side, the ops tools and the tests read from the service (displays/shell/service.py)."""

from __future__ import annotations

from displays.config.model import DisplayConfig, ServiceConfig
from displays.core.engine import DisplayRuntime, Engine
from displays.core.instances import Membership
from displays.core.notices import Editorial, Scope
from feeds.live import Findings, LiveState
from feeds.timetable import Timetable
from firmware_bridge.protocol import Bridge
from layouts.board import Board
from layouts.spec import LayoutSpec


class EngineView:
    """The engine's state and its pure answers, forwarded (the service's base class)."""

    engine: Engine

    @property
    def config(self) -> ServiceConfig:
        return self.engine.config

    @property
    def displays(self) -> dict[str, DisplayRuntime]:
        return self.engine.displays

    @property
    def bridge(self) -> Bridge:
        return self.engine.bridge

    @property
    def membership(self) -> Membership:
        return self.engine.membership

    @property
    def timetable(self) -> Timetable | None:
        return self.engine.timetable

    @property
    def editorial(self) -> Editorial:
        return self.engine.editorial

    @property
    def instance(self) -> str:
        return self.engine.instance

    @property
    def shard(self) -> tuple[int, int]:
        return self.engine.shard

    @property
    def started_at(self) -> int:
        return self.engine.started_at

    @property
    def displays_were_set(self) -> bool:
        return self.engine.displays_were_set

    def timezone(self) -> str:
        """The agency's timezone (the loaded timetable's; UTC before one loads)."""
        return self.timetable.timezone if self.timetable is not None else "UTC"

    def scope(self, display: DisplayConfig) -> Scope:
        """What a display covers for ops messages (displays/core/engine.py)."""
        return self.engine.scope(display)

    def owns(self, display_id: str) -> bool:
        """Whether this instance renders and publishes that display (displays/core/engine.py)."""
        return self.engine.owns(display_id)

    def subscriptions(self) -> list[str]:
        """What the service subscribes to (displays/core/engine.py)."""
        return self.engine.subscriptions()

    def check_stops(self, config: ServiceConfig, source: str = "") -> None:
        """ConfigError when a display names a stop the loaded timetable does not have."""
        self.engine.check_stops(config, source)

    def findings(self, source: str) -> Findings:
        """What the merge put right in one source's data now shown (displays/core/engine.py)."""
        return self.engine.findings(source)

    def compose(self, display: DisplayConfig, spec: LayoutSpec, now: int, live: LiveState | None, editorial: Editorial,
                previous: Board | None = None, shared: dict | None = None) -> Board:
        """One display's board at `now` (displays/core/composing.py)."""
        return self.engine.compose(display, spec, now, live, editorial, previous, shared)

    def next_wake(self, now: int) -> float:
        """When the boards next change by themselves (displays/core/engine.py)."""
        return self.engine.next_wake(now)

    def status_details(self) -> dict:
        """What the service's retained status says about itself."""
        return self.engine.status_details()
