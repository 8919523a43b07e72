"""From feeds to a board: the one pure composition used by the CLI, the service and the tests."""

from __future__ import annotations

from dataclasses import replace

from displays.core.notices import Editorial, Scope, kept_alerts, next_editorial_change, notices_for
from feeds.alerts import Alert
from feeds.departures import next_scheduled
from feeds.errors import FeedError
from feeds.live import LiveState
from feeds.merge import StopDepartures, stop_departures
from feeds.times import local_date
from feeds.timetable import Timetable
from layouts.board import Board, BoardInput, DisplaySettings, Notice, build_board
from layouts.spec import LayoutSpec
from layouts.texts import LANGUAGES, default_clock

MAX_ROWS_FETCHED = 40  # departures read per board before filters (routes, walk time) pick the shown ones


def _expired_since(tt: Timetable, now: int) -> str:
    """The feed's last service day (YYYY-MM-DD) when `now` is past it, else ""."""
    last = tt.calendar.last_day()
    return last.isoformat() if last is not None and local_date(now, tt.timezone) > last else ""


def board_language(tt: Timetable | None, configured: str, spec: LayoutSpec) -> str:
    """The language a display's board is in: the display's own, else the feed's (one of the board languages),
    else the layout's."""
    feed_language = tt.agency_lang.split("-")[0] if tt is not None else ""
    return configured or (feed_language if feed_language in LANGUAGES else "") or spec.language


def _editorial_of(
    tt: Timetable | None, live: LiveState | None, editorial: Editorial | None, scope: Scope | None, now: int, tz: str,
    language: str,
) -> tuple[tuple[Notice, ...], int, tuple[Alert, ...] | None]:
    """The ops messages of `editorial` that reach `scope`, when they next change (0: never), and the live alerts
    its suppressions leave (None: no suppression applies, the board shows every alert)."""
    notices: tuple[Notice, ...] = ()
    change, alerts = 0, None
    if editorial is not None and scope is not None and (editorial.messages or editorial.suppressions):
        notices = notices_for(editorial, scope, now, tz, language)
        change = next_editorial_change(editorial, scope, now, tz)
        if tt is not None and live is not None and live.alerts and editorial.suppressions:
            named = {sel.route_id for alert in live.alerts for sel in alert.selectors if sel.route_id in tt.route_index}
            short_names = {r: tt.routes[tt.route_index[r]].short_name for r in named}  # only the alerts' routes
            alerts = kept_alerts(live.alerts, editorial, scope, now, tz, short_names)
    return notices, change, alerts


def _departures_of(
    tt: Timetable, live: LiveState | None, ids: tuple[str, ...], now: int, horizon: int, language: str,
    alerts: tuple[Alert, ...] | None, shared: dict | None,
) -> tuple[StopDepartures, int | None]:
    """The departures at `ids` and, when there are none, the next scheduled one; through `shared` when the
    board's alerts are everyone's."""
    key = (ids, now, horizon, language) if alerts is None else None  # suppressions make a board's alerts its own
    found = shared.get(key) if shared is not None and key is not None else None
    if found is None:
        result = stop_departures(tt, live, ids, now, horizon, MAX_ROWS_FETCHED, language, alerts)
        found = result, (next_scheduled(tt, ids, now + horizon) if not result.departures else None)
        if key is not None and shared is not None:
            shared[key] = found
    return found


def compose_board(
    tt: Timetable | None,
    live: LiveState | None,
    stop_ids: str | tuple[str, ...],
    spec: LayoutSpec,
    settings: DisplaySettings,
    now: int,
    previous: Board | None = None,
    realtime_configured: bool = False,
    editorial: Editorial | None = None,
    scope: Scope | None = None,
    shared: dict | None = None,
    reuse: frozenset[str] | None = None,
) -> Board:
    """The board of one display at `now` (a 'no current data' board when there is no timetable), with the
    ops messages and alert suppressions of `editorial` that reach its `scope`. `shared` (a dict kept for one
    `tt`, `live` and `now`) lets displays of the same stops use one departures query; `reuse`: `previous` was
    composed from the same realtime but for these trip ids (other rows are shifted to `now`, layouts/board.py).

    FeedError when the timetable lacks one of the stops (e.g. a new feed version dropped it)."""
    ids = (stop_ids,) if isinstance(stop_ids, str) else stop_ids
    settings = replace(settings, language=board_language(tt, settings.language, spec))
    language = settings.language
    if not settings.clock:  # 12-hour where the feed's riders read it so (an English feed in the US)
        feed_language = tt.agency_lang.split("-")[0] if tt is not None else ""
        settings = replace(settings, clock=default_clock(feed_language, tt.timezone) if tt is not None else "24h")
    tz = tt.timezone if tt is not None else "UTC"
    notices, change, alerts = _editorial_of(tt, live, editorial, scope, now, tz, language)
    if tt is None:
        return build_board(
            spec, settings, BoardInput(None, "UTC", notices=notices, notices_change=change), now, previous
        )
    missing = [s for s in ids if s not in tt.stop_index]
    if missing:
        raise FeedError(f"stop id {', '.join(repr(s) for s in missing)} is not in the loaded timetable")
    horizon = settings.horizon_minutes * 60
    result, nxt = _departures_of(tt, live, ids, now, horizon, language, alerts, shared)
    data = BoardInput(
        departures=result,
        timezone=tt.timezone,
        next_departure=nxt,
        data_as_of=live.data_as_of if live is not None else None,
        realtime_configured=realtime_configured,
        timetable_until=_expired_since(tt, now),
        notices=notices,
        notices_change=change,
    )
    return build_board(spec, settings, data, now, previous, reuse)
