"""Compose only what changed (issue 28): over a sequence of realtime updates made from BART's and Caltrain's real
TripUpdates (delays changing for a few trips, a trip cancelled, a stop skipped, a trip gone, an added trip moved,
the data growing old), the engine that composes only the displays at the stops an update touches shows at every
step exactly the boards of an engine that composes every display; displays whose stops no changed trip calls at
are neither composed nor rendered again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from enginekit import engine_of
from feedkit import shared_feed
from google.transit import gtfs_realtime_pb2 as rt

from displays.core.composing import rules_of
from displays.core.engine import Engine
from displays.core.frames import render_batch
from feeds.cache import open_timetable
from feeds.live import build_live
from feeds.realtime import Snapshot, parse_feed
from feeds.timetable import Timetable
from layouts import rows
from layouts.board import Board

pytestmark = pytest.mark.realdata

LAYOUTS = ["epaper-800x480", "tft-320x240", "led-192x64"]
STU = rt.TripUpdate.StopTimeUpdate
Change = Callable[[rt.FeedMessage], set[str]]  # edits a dataset, returns the trip ids it changed


def _engine(tmp_path: Path, gtfs: Path, tt: Timetable, at: int) -> Engine:
    """An engine with a display at every stop and station (and one with two stops)."""
    stops = [s.stop_id for s in tt.stops if s.location_type in (0, 1)]
    displays = [{"id": f"d{i}", "stops": [s], "layout": LAYOUTS[i % len(LAYOUTS)]} for i, s in enumerate(stops)]
    displays.append({"id": "pair", "stops": stops[:2], "layout": LAYOUTS[0]})
    doc = {"feeds": {"gtfs": str(gtfs), "realtime": ["rt.pb"]}, "mqtt": {"url": "mqtt://127.0.0.1:1"},
           "http": {"listen": "127.0.0.1:0"}, "displays": displays}
    return engine_of(tmp_path, doc, tt, at)


def _turn(engine: Engine, now: int, snapshots: list[Snapshot | None]) -> list[str]:
    """Compose what the engine says changed, render it, let the engine accept it: the displays rendered."""
    composed = list(engine.composed(now, snapshots))
    rendered = render_batch([(board, r.spec, r.encoding, r.config.compress) for r, board in composed])
    for (runtime, board), frame in zip(composed, rendered, strict=True):
        engine.accept(runtime, board, frame, now)
    return [r.config.id for r, _ in composed]


def _trips(msg: rt.FeedMessage, kind: str) -> list[rt.FeedEntity]:
    """The entities of timetabled (kind "scheduled") or added trips."""
    added = (rt.TripDescriptor.ADDED, rt.TripDescriptor.NEW)
    return [e for e in msg.entity if e.HasField("trip_update")
            and (e.trip_update.trip.schedule_relationship in added) == (kind == "added")]


def _later(entity: rt.FeedEntity, seconds: int) -> None:
    for u in entity.trip_update.stop_time_update:
        for event in (u.arrival, u.departure):
            if event.HasField("time"):
                event.time += seconds
            if event.HasField("delay"):
                event.delay += seconds


def _delays(n: int) -> Change:
    def change(msg: rt.FeedMessage) -> set[str]:
        chosen = _trips(msg, "scheduled")[n::7][:2]
        for entity in chosen:
            _later(entity, 60 * (n + 1))
        return {e.trip_update.trip.trip_id for e in chosen}
    return change


def _cancel(msg: rt.FeedMessage) -> set[str]:
    entity = _trips(msg, "scheduled")[3]
    entity.trip_update.trip.schedule_relationship = rt.TripDescriptor.CANCELED
    return {entity.trip_update.trip.trip_id}


def _skip(msg: rt.FeedMessage) -> set[str]:
    entity = _trips(msg, "scheduled")[5]
    entity.trip_update.stop_time_update[-1].schedule_relationship = STU.SKIPPED
    return {entity.trip_update.trip.trip_id}


def _gone(msg: rt.FeedMessage) -> set[str]:
    entity = _trips(msg, "scheduled")[1]
    msg.entity.remove(entity)
    return {entity.trip_update.trip.trip_id}


def _added_moved(msg: rt.FeedMessage) -> set[str]:
    added = _trips(msg, "added") or _trips(msg, "scheduled")
    _later(added[0], 120)
    return {added[0].trip_update.trip.trip_id}


CHANGES: list[Change] = [_delays(0), _cancel, _delays(1), _skip, _gone, _delays(2), _added_moved, _delays(3)]


def _stops_of(tt: Timetable, trip_ids: set[str], msg: rt.FeedMessage) -> set[str]:
    """The stop ids those trips call at (timetable and update) with their stations."""
    ids = {u.stop_id for e in msg.entity for u in e.trip_update.stop_time_update
           if e.trip_update.trip.trip_id in trip_ids}
    for trip_id in trip_ids & set(tt.trip_index):
        trip = tt.trip_index[trip_id]
        ids.update(tt.stops[int(s)].stop_id for s in tt.st_stop[tt.trip_first[trip]:tt.trip_first[trip + 1]])
    parents = {tt.stops[tt.stops[tt.stop_index[s]].parent].stop_id for s in ids
               if s in tt.stop_index and tt.stops[tt.stop_index[s]].parent >= 0}
    return ids | parents


FEEDS = {"bart": ("bart-rt.zip", "bart-trip-updates.pb"), "caltrain": ("ct.zip", "ct-trip-updates.pb")}


def _truth(engine: Engine, compose: Callable, snapshot: Snapshot, before: dict, lives: dict) -> Callable[[str], Board]:
    """A display's board as composing it from scratch with the current data at the instant its board is of gives
    (with the board shown before it, whose countdowns it holds)."""
    def board(display_id: str) -> Board:
        runtime = engine.displays[display_id]
        at = runtime.board.generated_at  # type: ignore[union-attr]
        if at not in lives:
            lives[at] = build_live(engine.timetable, [snapshot], at, rules_of(engine.config.feeds))
        return compose(runtime.config, runtime.spec, at, lives[at], engine.editorial.current(at),
                              before.get(display_id))
    return board


@pytest.mark.parametrize("feed", sorted(FEEDS))
def test_only_displays_at_touched_stops_are_composed_and_boards_equal_a_full_recompose(
    tmp_path: Path, feed: str
) -> None:
    gtfs, updates = (shared_feed(feed, name) for name in FEEDS[feed])
    tt = open_timetable(gtfs, tmp_path / "cache")
    msg = rt.FeedMessage.FromString(updates.read_bytes())
    at = int(msg.header.timestamp)
    engine = _engine(tmp_path, gtfs, tt, at)
    composed: list[str] = []
    plain = engine.compose
    engine.compose = lambda display, *args, **kw: composed.append(display.id) or plain(display, *args, **kw)
    before: dict[str, Board] = {}  # display -> the board shown before its current one
    spared = 0
    for step in range(2 * len(CHANGES) + 2):
        now = at + 15 * step
        changed = CHANGES[step % len(CHANGES)](msg) if step else set()
        msg.header.timestamp = now if step != 2 * len(CHANGES) else now - 200  # at last the data is old: all change
        snapshot = parse_feed(msg.SerializeToString(), "rt.pb", now)
        for when in (now, now + 7):  # the update, then a tick with the same data
            composed.clear()
            due = {d for d, r in engine.displays.items() if r.board is None or r.board.next_change <= when}
            shown = {d: r.board for d, r in engine.displays.items()}
            rendered = _turn(engine, when, [snapshot])
            before.update({d: b for d, b in shown.items() if b is not engine.displays[d].board and b is not None})
            truth = _truth(engine, plain, snapshot, before, {})
            for display_id, runtime in engine.displays.items():
                assert runtime.board == truth(display_id), (feed, step, when, display_id)
            assert set(rendered) <= set(composed)
            if when == now and step and step < 2 * len(CHANGES):
                touched = _stops_of(tt, changed, msg)
                at_touched = {d for d, r in engine.displays.items() if touched & set(r.config.stops)}
                assert set(composed) <= at_touched | due, (feed, step)
                spared += len(engine.displays) - len(set(composed))
            if step >= 2 * len(CHANGES) and when == now:  # "Stand HH:MM" comes and goes on every board
                assert set(composed) == set(engine.displays)
    assert spared > len(engine.displays)  # updates mid-minute left most displays alone


@pytest.mark.parametrize("feed", sorted(FEEDS))
def test_minute_ticks_shift_the_rows_and_equal_a_full_compose_for_35_minutes(
    tmp_path: Path, feed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each minute the realtime comes again (now and then with a change); twice a minute the boards are composed:
    every board equals composing it from scratch, and the rows of a departure already shown are shifted to the
    minute (its destination is not fitted again)."""
    gtfs, updates = (shared_feed(feed, name) for name in FEEDS[feed])
    tt = open_timetable(gtfs, tmp_path / "cache")
    msg = rt.FeedMessage.FromString(updates.read_bytes())
    at = int(msg.header.timestamp)
    engine = _engine(tmp_path, gtfs, tt, at)
    plain = engine.compose
    fits: list[int] = []
    fit = rows._destination_and_note
    monkeypatch.setattr(rows, "_destination_and_note", lambda *args: fits.append(1) or fit(*args))
    before: dict[str, Board] = {}
    shifted = made = 0
    for minute in range(36):
        now = (at // 60 + minute) * 60
        changed = CHANGES[minute // 6 % len(CHANGES)](msg) if minute % 6 == 5 else set()
        msg.header.timestamp = now
        for entity in msg.entity:  # a live producer stamps every trip's update anew
            if entity.trip_update.timestamp:
                entity.trip_update.timestamp = now
        snapshot = parse_feed(msg.SerializeToString(), "rt.pb", now)
        for when in (now, now + 30):
            fits.clear()
            shown = {d: r.board for d, r in engine.displays.items()}
            _turn(engine, when, [snapshot])
            fitted = len(fits)
            if minute and when == now and not changed:
                rows_now = sum(len(r.board.rows) for d, r in engine.displays.items() if r.board is not shown[d])
                shifted, made = shifted + rows_now - fitted, made + fitted
            before.update({d: b for d, b in shown.items() if b is not engine.displays[d].board and b is not None})
            truth = _truth(engine, plain, snapshot, before, {})
            for display_id, runtime in engine.displays.items():
                assert runtime.board == truth(display_id), (feed, minute, when, display_id)
    assert shifted > 4 * made  # mostly shifted: only departures new to a board are fitted
