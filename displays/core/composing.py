"""Composing one display's board: its settings from the config, the realtime trust rules, and the board at
`now` from the timetable, the live state and the ops messages. Pure functions, called by the engine, the
forecasts, the admin preview and the CLI alike (nothing borrows the service to compose)."""

from __future__ import annotations

from displays.config.model import DisplayConfig, FeedsConfig
from displays.core.boards import compose_board
from displays.core.notices import Editorial, Scope
from feeds.live import LiveState
from feeds.realtime import RealtimeRules
from feeds.timetable import Timetable
from layouts.board import Board, DisplaySettings
from layouts.spec import LayoutSpec

__all__ = ["compose_display", "rules_of", "settings_of"]


def settings_of(display: DisplayConfig, spec: LayoutSpec, scrolls: bool) -> DisplaySettings:
    """What the board of `display` shows (`scrolls`: its pillar runs the ticker, so alerts stay pinned)."""
    return DisplaySettings(
        name=display.name, language=display.language, walk_minutes=display.walk_minutes,
        horizon_minutes=display.horizon_minutes, routes=display.routes, directions=display.directions,
        exclude_routes=display.exclude_routes, hide_ending_here=display.hide_ending_here, night=display.night,
        clock=display.clock, route_labels=display.route_labels,
        pinned_alerts=spec.alert_style == "ticker" and scrolls,
    )


def rules_of(feeds: FeedsConfig) -> RealtimeRules:
    """The realtime trust rules of the [feeds] table."""
    return RealtimeRules(stale_after=feeds.stale_after, trip_stale_after=feeds.trip_stale_after,
                         max_deviation=feeds.max_deviation_minutes * 60, frozen_after=feeds.frozen_after,
                         max_early=feeds.max_early, max_speed_kmh=feeds.max_speed_kmh)


def compose_display(timetable: Timetable | None, display: DisplayConfig, spec: LayoutSpec, now: int,
                    live: LiveState | None, editorial: Editorial, scope: Scope, *, scrolls: bool = False,
                    realtime_configured: bool = False, previous: Board | None = None,
                    shared: dict | None = None, reuse: frozenset[str] | None = None) -> Board:
    """One display's board at `now` from `timetable`, `live` and the ops messages in `editorial` that reach
    `scope` (the display's stops, stations, platforms and routes); `reuse`: see compose_board."""
    return compose_board(timetable, live, display.stops, spec, settings_of(display, spec, scrolls), now, previous,
                         realtime_configured=realtime_configured, editorial=editorial, scope=scope, shared=shared,
                         reuse=reuse)
