"""Departures at a stop with realtime merged in, and the alerts that concern them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .alerts import Alert, BoardScope, ShownAlert, alerts_for_board
from .departures import (
    ADDED,
    CANCELLED,
    DELAYED,
    EARLY,
    ON_TIME,
    SKIPPED,
    Departure,
    departures_from_calls,
    make_departure,
    platform_of,
)
from .live import AddedCall, LiveState
from .realtime import RealtimeRules
from .timetable import Stop, Timetable


@dataclass(frozen=True, slots=True)
class StopDepartures:
    """What one stop's board needs from the feeds at one instant."""

    stop: Stop
    at: int
    departures: tuple[Departure, ...]
    alerts: tuple[ShownAlert, ...]
    live: bool  # realtime was fresh and merged
    fresh_sources: tuple[str, ...]
    stale_sources: tuple[str, ...]


def status_for(delay: int, rules: RealtimeRules) -> str:
    """on_time within the window, else delayed or early."""
    if abs(delay) <= rules.on_time_window:
        return ON_TIME
    return DELAYED if delay > 0 else EARLY


def stop_departures(
    tt: Timetable,
    live: LiveState | None,
    stop_id: str | Sequence[str],
    now: int,
    horizon_s: int,
    limit: int,
    language: str = "en",
    alerts: tuple[Alert, ...] | None = None,
) -> StopDepartures:
    """Departures at stops or stations in [now, now + horizon] by expected time, realtime merged.

    Without fresh realtime this is the timetable. The first stop names the board. `alerts` replaces the
    realtime's alerts (those ops did not suppress for this board). KeyError when the feed has no such stop.
    """
    ids = [stop_id] if isinstance(stop_id, str) else list(stop_id)
    stops = tt.platforms_of(ids)
    stop = tt.stops[tt.stop_index[ids[0]]]
    end = now + horizon_s
    if live is None or not live.is_live:
        deps = departures_from_calls(tt, tt.scheduled_calls(stops, now, end).head(limit))
        return _result(tt, live, stop, stops, now, deps, language, alerts)
    chosen = _chosen_calls(tt, live, stops, now, end)
    deps = []
    for _, row, (_, when, day, start, fields) in chosen[:limit]:
        occupancy = live.occupancy.get(tt.trip_ids[int(tt.st_trip[row])])
        if occupancy is not None and "occupancy" not in fields:
            fields = {**fields, "occupancy": occupancy}
        deps.append(make_departure(tt, row, when, day, start, **fields))
    added = [_added_departure(tt, call) for s in stops for call in live.added.get(s, ()) if now <= call.time <= end]
    if added:
        deps = sorted(deps + added, key=lambda d: d.time)[:limit]
    return _result(tt, live, stop, stops, now, deps, language, alerts)


def _chosen_calls(tt: Timetable, live: LiveState, stops: list[int], now: int, end: int) -> list[tuple[int, int, tuple]]:
    """(effective time, tie-break, builder args) of every scheduled call that shows in [now, end]
    with realtime applied, sorted: predictions move calls in or out of the window, deleted trips
    and calls without boarding disappear."""
    rules = live.rules
    calls = tt.scheduled_calls(stops, now - rules.lookback, end + rules.early_margin)
    trips = tt.st_trip[calls.rows]
    has_update = live.updated_trips()[trips]
    plain = ~has_update & (calls.times >= now) & (calls.times <= end)
    chosen: list[tuple[int, int, tuple]] = []
    for row, when, day, start in zip(*(a[plain].tolist() for a in (calls.rows, calls.times, calls.days, calls.starts))):
        chosen.append((when, row, (row, when, day, start, {})))
    for row, when, day, start, trip in zip(
        *(a[has_update].tolist() for a in (calls.rows, calls.times, calls.days, calls.starts, trips))
    ):
        key = (trip, day, start)
        if key in live.deleted:
            continue
        fields = _realtime_fields(tt, live, key, row, when)
        if fields is HIDDEN:
            continue
        if fields is None:
            if now <= when <= end:
                chosen.append((when, row, (row, when, day, start, {})))
            continue
        effective = fields["expected"] if fields.get("expected") is not None else when
        if now <= effective <= end:
            chosen.append((effective, row, (row, when, day, start, fields)))
    chosen.sort(key=lambda c: (c[0], c[1]))
    return chosen


HIDDEN: dict[str, object] = {}  # a call realtime takes off the board (no boarding there any more)


def _realtime_fields(
    tt: Timetable, live: LiveState, key: tuple[int, int, int], row: int, scheduled: int
) -> dict | None:
    """The realtime fields of one scheduled call; None when its trip has no prediction for it."""
    prediction = live.prediction(key)
    if prediction is None:
        return None
    i = row - int(tt.trip_first[key[0]])
    if i in prediction.no_pickup:
        return HIDDEN
    fields: dict[str, object] = {"realtime": True}
    headsign = prediction.headsign(i)
    if headsign:
        fields["headsign"] = headsign
    occupancy = prediction.occupancy.get(i)
    if occupancy:
        fields["occupancy"] = occupancy
    moved = int(prediction.assigned_stop[i])
    if moved >= 0:
        fields["stop_id"] = tt.stops[moved].stop_id
        fields["platform"] = platform_of(tt.stops[moved])
    if prediction.cancelled:
        fields["status"] = CANCELLED
        return fields
    expected = int(prediction.expected[i])
    if prediction.skipped[i]:
        fields["status"] = SKIPPED
        return fields
    if expected < 0:
        return None if moved < 0 else fields
    delay = expected - scheduled
    fields.update(expected=expected, delay=delay, status=status_for(delay, live.rules))
    return fields


NEUTRAL_BADGE = ("5A5A5A", "FFFFFF")  # the badge colours of an added trip without a known route


def _added_departure(tt: Timetable, call: AddedCall) -> Departure:
    route = tt.routes[call.route] if call.route >= 0 else None
    stop = tt.stops[call.stop]
    return Departure(
        trip_id=call.trip_id,
        service_date=call.service_date,
        route_id=route.route_id if route else call.route_id,
        route_short_name=route.short_name if route else (call.route_id or (call.headsign.split() or [""])[0]),
        route_long_name=route.long_name if route else "",
        route_type=route.route_type if route else 3,
        route_color=route.color if route else NEUTRAL_BADGE[0],  # a trip the timetable does not know: a grey badge
        route_text_color=route.text_color if route else NEUTRAL_BADGE[1],
        headsign=call.headsign,
        direction_id=call.direction_id,
        stop_id=stop.stop_id,
        stop_sequence=call.stop_sequence,
        platform=platform_of(stop),
        scheduled_platform=platform_of(stop),
        scheduled=call.time,
        expected=call.time,
        delay=None,
        realtime=True,
        status=SKIPPED if call.skipped else ADDED,
    )


def _result(
    tt: Timetable, live: LiveState | None, stop: Stop, stops: list[int], now: int, deps: list[Departure], language: str,
    candidates: tuple[Alert, ...] | None = None,
) -> StopDepartures:
    alerts: tuple[ShownAlert, ...] = ()
    candidates = live.alerts if candidates is None and live is not None else candidates
    if candidates:
        alerts = alerts_for_board(candidates, board_scope(tt, stop, stops, deps), now, language)
    return StopDepartures(
        stop=stop,
        at=now,
        departures=tuple(deps),
        alerts=alerts,
        live=live is not None and live.is_live,
        fresh_sources=live.fresh_sources if live else (),
        stale_sources=live.stale_sources if live else (),
    )


def board_scope(tt: Timetable, stop: Stop, stops: list[int], deps: list[Departure]) -> BoardScope:
    """What a board covers, for matching alerts: stops with their stations, lines, trips, agencies."""
    stop_ids = {stop.stop_id}
    for index in stops:
        stop_ids.add(tt.stops[index].stop_id)
        if tt.stops[index].parent >= 0:
            stop_ids.add(tt.stops[tt.stops[index].parent].stop_id)
    stop_ids.update(d.stop_id for d in deps)
    sole = tt.agency_ids[0] if len(tt.agency_ids) == 1 else ""
    agencies = {tt.routes[tt.route_index[d.route_id]].agency_id or sole for d in deps if d.route_id in tt.route_index}
    agencies.add(sole)
    return BoardScope(
        agencies=frozenset(a for a in agencies if a),
        stop_ids=frozenset(stop_ids),
        routes=frozenset(d.route_id for d in deps),
        route_types=frozenset(d.route_type for d in deps),
        route_directions=frozenset((d.route_id, d.direction_id) for d in deps if d.direction_id is not None),
        trips=frozenset(d.trip_id for d in deps),
    )
