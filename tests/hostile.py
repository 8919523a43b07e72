"""Hypothesis strategies for hostile input: GTFS-Realtime messages built with the official bindings
whose every field may take the extremes of its wire type, and raw bytes for the CSV reader.

Shared by the suite's short runs and `bench/fuzz.py`'s long ones.
"""

from __future__ import annotations

import math

from google.transit import gtfs_realtime_pb2 as rt
from hypothesis import strategies as st

NOW = 1_715_752_800  # 2024-05-15 08:00 Europe/Berlin, a weekday of feedkit's default feed

INT64 = (-(2**63), 2**63 - 1)
UINT64 = (0, 2**64 - 1)
INT32 = (-(2**31), 2**31 - 1)
UINT32 = (0, 2**32 - 1)


def near_now(spread: int = 4 * 3600) -> st.SearchStrategy[int]:
    return st.integers(NOW - spread, NOW + spread)


def ranged(low: int, high: int, *typical: st.SearchStrategy[int]) -> st.SearchStrategy[int]:
    """Extremes and edges of a wire type, anything in it, and the typical values given."""
    edges = st.sampled_from(sorted({low, high, 0, 1, -1 if low < 0 else 2, low + 1, high - 1}))
    return st.one_of(edges, st.integers(low, high), *typical)


int64_time = ranged(*INT64, near_now())
uint64_time = ranged(*UINT64, near_now())
int32_delay = ranged(*INT32, st.integers(-3600, 7200))
uint32_seq = ranged(*UINT32, st.integers(0, 6))
floats = st.one_of(st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308]), st.floats(width=32))
trip_ids = st.one_of(st.sampled_from(["T1", "T2", "X9", ""]), st.text(max_size=8))
stop_ids = st.one_of(st.sampled_from(["HBF", "HBF:A", "HBF:B", "UNI", "GON", "nope", ""]), st.text(max_size=8))
route_ids = st.one_of(st.sampled_from(["50", "68", "99", ""]), st.text(max_size=4))
dates = st.one_of(
    st.sampled_from(
        ["20240515", "20240514", "20240516", "00010101", "99991231", "19700101", "2024-05-15", "20241340", ""]
    ),
    st.text(max_size=10),
)
gtfs_times = st.one_of(
    st.sampled_from(["08:00:00", "07:59:59", "25:00:00", "99:99:99", "-1:00:00", "8:00", "", "08:00:00:00"]),
    st.text(max_size=10),
)
texts = st.text(max_size=40)


def enum(values: type) -> st.SearchStrategy[int]:
    return st.sampled_from(list(values.values()))


@st.composite
def trip_descriptors(draw: st.DrawFn, target: rt.TripDescriptor) -> None:
    if draw(st.booleans()):
        target.trip_id = draw(trip_ids)
    if draw(st.booleans()):
        target.route_id = draw(route_ids)
    if draw(st.booleans()):
        target.direction_id = draw(uint32_seq)
    if draw(st.booleans()):
        target.start_date = draw(dates)
    if draw(st.booleans()):
        target.start_time = draw(gtfs_times)
    if draw(st.booleans()):
        target.schedule_relationship = draw(enum(rt.TripDescriptor.ScheduleRelationship))


@st.composite
def stop_time_events(draw: st.DrawFn, target: rt.TripUpdate.StopTimeEvent) -> None:
    if draw(st.booleans()):
        target.time = draw(int64_time)
    if draw(st.booleans()):
        target.delay = draw(int32_delay)
    if draw(st.booleans()):
        target.uncertainty = draw(int32_delay)


@st.composite
def trip_updates(draw: st.DrawFn, target: rt.TripUpdate) -> None:
    draw(trip_descriptors(target.trip))
    if draw(st.booleans()):
        target.timestamp = draw(uint64_time)
    if draw(st.booleans()):
        target.delay = draw(int32_delay)
    if draw(st.booleans()):
        target.trip_properties.trip_id = draw(trip_ids)
        target.trip_properties.start_date = draw(dates)
        target.trip_properties.start_time = draw(gtfs_times)
        target.trip_properties.trip_headsign = draw(texts)
    for _ in range(draw(st.integers(0, 8))):
        stu = target.stop_time_update.add()
        if draw(st.booleans()):
            stu.stop_sequence = draw(uint32_seq)
        if draw(st.booleans()):
            stu.stop_id = draw(stop_ids)
        if draw(st.booleans()):
            draw(stop_time_events(stu.arrival))
        if draw(st.booleans()):
            draw(stop_time_events(stu.departure))
        if draw(st.booleans()):
            stu.schedule_relationship = draw(enum(rt.TripUpdate.StopTimeUpdate.ScheduleRelationship))
        if draw(st.booleans()):
            props = stu.stop_time_properties
            props.assigned_stop_id = draw(stop_ids)
            props.stop_headsign = draw(texts)
            props.pickup_type = draw(enum(rt.TripUpdate.StopTimeUpdate.StopTimeProperties.DropOffPickupType))
        if draw(st.booleans()):
            stu.departure_occupancy_status = draw(enum(rt.VehiclePosition.OccupancyStatus))


@st.composite
def vehicles(draw: st.DrawFn, target: rt.VehiclePosition) -> None:
    draw(trip_descriptors(target.trip))
    if draw(st.booleans()):
        target.timestamp = draw(uint64_time)
    if draw(st.booleans()):
        target.occupancy_status = draw(enum(rt.VehiclePosition.OccupancyStatus))
    if draw(st.booleans()):
        target.position.latitude = draw(floats)
        target.position.longitude = draw(floats)
        target.position.bearing = draw(floats)
    if draw(st.booleans()):
        target.current_stop_sequence = draw(uint32_seq)
        target.stop_id = draw(stop_ids)


def translated(draw: st.DrawFn, target: rt.TranslatedString) -> None:
    for _ in range(draw(st.integers(0, 3))):
        item = target.translation.add()
        item.text = draw(texts)
        if draw(st.booleans()):
            item.language = draw(st.one_of(st.sampled_from(["de", "en", "en-US", "DE", "x", ""]), st.text(max_size=6)))


@st.composite
def alerts(draw: st.DrawFn, target: rt.Alert) -> None:
    for _ in range(draw(st.integers(0, 3))):
        period = target.active_period.add()
        if draw(st.booleans()):
            period.start = draw(uint64_time)
        if draw(st.booleans()):
            period.end = draw(uint64_time)
    for _ in range(draw(st.integers(0, 4))):
        entity = target.informed_entity.add()
        if draw(st.booleans()):
            entity.agency_id = draw(st.sampled_from(["MVG", "", "other"]))
        if draw(st.booleans()):
            entity.route_id = draw(route_ids)
        if draw(st.booleans()):
            entity.route_type = draw(ranged(*INT32))
        if draw(st.booleans()):
            entity.direction_id = draw(uint32_seq)
        if draw(st.booleans()):
            entity.stop_id = draw(stop_ids)
        if draw(st.booleans()):
            draw(trip_descriptors(entity.trip))
    if draw(st.booleans()):
        target.cause = draw(enum(rt.Alert.Cause))
    if draw(st.booleans()):
        target.effect = draw(enum(rt.Alert.Effect))
    if draw(st.booleans()):
        target.severity_level = draw(enum(rt.Alert.SeverityLevel))
    translated(draw, target.header_text)
    translated(draw, target.description_text)
    translated(draw, target.url)


@st.composite
def feed_messages(draw: st.DrawFn) -> bytes:
    """A serialized FeedMessage whose fields take hostile values anywhere."""
    msg = rt.FeedMessage()
    msg.header.gtfs_realtime_version = draw(st.sampled_from(["2.0", "1.0", "x"]))
    if draw(st.booleans()):
        msg.header.timestamp = draw(uint64_time)
    for n in range(draw(st.integers(0, 6))):
        entity = msg.entity.add()
        entity.id = draw(st.one_of(st.just(f"e{n}"), st.text(max_size=4)))
        if draw(st.integers(0, 9)) == 0:
            entity.is_deleted = True
        kind = draw(st.sampled_from(["trip_update", "vehicle", "alert", "all"]))
        if kind in ("trip_update", "all"):
            draw(trip_updates(entity.trip_update))
        if kind in ("vehicle", "all"):
            draw(vehicles(entity.vehicle))
        if kind in ("alert", "all"):
            draw(alerts(entity.alert))
    return msg.SerializePartialToString()  # producers may omit required fields too
