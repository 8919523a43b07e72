"""Real TripUpdates (Caltrain, BART): every expected time equals a naive reading of the reference."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from feedkit import shared_feed
from google.transit import gtfs_realtime_pb2 as rt

from feeds.live import build_live
from feeds.loader import load_timetable
from feeds.merge import stop_departures
from feeds.realtime import RealtimeRules, parse_feed
from feeds.source import GtfsSource
from feeds.times import service_day_origin
from feeds.timetable import Timetable

pytestmark = pytest.mark.realdata


def naive_expected(tt: Timetable, update: rt.TripUpdate, service_date: str) -> dict[int, int]:
    """stop_sequence -> expected departure, walking the trip's stops and carrying the last delay."""
    trip = tt.trip_index[update.trip.trip_id]
    day = dt.date(int(service_date[:4]), int(service_date[4:6]), int(service_date[6:]))
    origin = service_day_origin(day, tt.timezone)
    rows = range(int(tt.trip_first[trip]), int(tt.trip_first[trip + 1]))
    # An update means the row whose stop_sequence and stop_id both match, else the row of its stop_id
    # (BART sends contradicting pairs; the stop riders see is the one to trust).
    stop_of = {int(tt.st_seq[r]): tt.stops[int(tt.st_stop[r])].stop_id for r in rows}
    for_row: dict[int, rt.TripUpdate.StopTimeUpdate] = {}
    for u in update.stop_time_update:
        if stop_of.get(u.stop_sequence) == u.stop_id:
            for_row[u.stop_sequence] = u
        else:
            seq = next(q for q, s in stop_of.items() if s == u.stop_id)
            for_row[seq] = u
    out: dict[int, int] = {}
    delay = None
    for row in rows:
        seq = int(tt.st_seq[row])
        dep, arr = origin + int(tt.st_dep[row]), origin + int(tt.st_arr[row])
        u = for_row.get(seq)
        if u is not None:
            if u.departure.time:
                delay = u.departure.time - dep
            elif u.arrival.time:
                delay = u.arrival.time - arr
        if delay is not None:
            out[seq] = dep + delay
    return out


def check_feed(gtfs: Path, updates: Path, extra: list[Path]) -> tuple[int, int]:
    tt = load_timetable(GtfsSource(gtfs))
    snap = parse_feed(updates.read_bytes(), updates.name, 0)
    now = snap.header_timestamp
    snaps = [parse_feed(updates.read_bytes(), updates.name, now)] + [
        parse_feed(p.read_bytes(), p.name, now) for p in extra
    ]
    live = build_live(tt, snaps, now, RealtimeRules())
    known = {
        e.trip_update.trip.trip_id: e.trip_update
        for e in snap.message.entity
        if e.trip_update.trip.trip_id in tt.trip_index
        and e.trip_update.trip.schedule_relationship == rt.TripDescriptor.SCHEDULED
    }
    added_times = {
        (e.trip_update.trip.trip_id, u.stop_id): (u.departure.time or u.arrival.time)
        for e in snap.message.entity if e.trip_update.trip.schedule_relationship == rt.TripDescriptor.ADDED
        for u in e.trip_update.stop_time_update
    }
    unknown = {e.trip_update.trip.trip_id for e in snap.message.entity} - set(known) - {k[0] for k in added_times}
    checked = added_seen = 0
    for stop in tt.stops:
        if stop.location_type != 0:
            continue
        result = stop_departures(tt, live, stop.stop_id, now, 4 * 3600, 500)
        for d in result.departures:
            assert d.trip_id not in unknown
            if d.status == "added":
                assert d.expected == added_times[(d.trip_id, d.stop_id)]
                added_seen += 1
            elif d.trip_id in known and d.realtime:
                assert d.expected == naive_expected(tt, known[d.trip_id], d.service_date)[d.stop_sequence], d
                assert d.delay == d.expected - d.scheduled
                checked += 1
            else:
                assert d.expected is None
    return checked, added_seen


def test_caltrain_expected_times_to_the_second() -> None:
    folder = shared_feed("caltrain")
    checked, added = check_feed(
        folder / "ct.zip",
        folder / "ct-trip-updates.pb",
        [folder / "ct-vehicle-positions.pb", folder / "ct-service-alerts.pb"],
    )
    assert checked > 100 and added == 0


def test_bart_expected_times_added_trips_and_unknown_trips() -> None:
    folder = shared_feed("bart")
    checked, added = check_feed(folder / "bart-rt.zip", folder / "bart-trip-updates.pb", [folder / "bart-alerts.pb"])
    assert checked > 100 and added > 10


def test_bart_agency_wide_alert_reaches_every_board() -> None:
    folder = shared_feed("bart")
    tt = load_timetable(GtfsSource(folder / "bart-rt.zip"))
    alerts = parse_feed((folder / "bart-alerts.pb").read_bytes(), "bart-alerts.pb", 0)
    live = build_live(tt, [alerts], alerts.header_timestamp, RealtimeRules())
    for stop_id in ("MONT", "12TH", "SFIA"):
        result = stop_departures(tt, live, stop_id, alerts.header_timestamp, 3600, 10, language="de")
        assert [(a.alert_id, a.effect, a.language) for a in result.alerts] == [
            ("BSA_187874", "SIGNIFICANT_DELAYS", "en-us")
        ]
        assert result.alerts[0].header.startswith("There is a major delay at Montgomery St.")
