"""Builds GTFS-Realtime messages for tests with the official bindings."""

from __future__ import annotations

from google.transit import gtfs_realtime_pb2 as rt

TD = rt.TripDescriptor
STU = rt.TripUpdate.StopTimeUpdate


def stu(
    seq: int | None = None,
    stop_id: str | None = None,
    dep_time: int | None = None,
    dep_delay: int | None = None,
    arr_time: int | None = None,
    arr_delay: int | None = None,
    rel: int = STU.SCHEDULED,
    assigned_stop: str | None = None,
) -> STU:
    """One StopTimeUpdate with only the fields given."""
    msg = STU()
    if seq is not None:
        msg.stop_sequence = seq
    if stop_id is not None:
        msg.stop_id = stop_id
    if dep_time is not None:
        msg.departure.time = dep_time
    if dep_delay is not None:
        msg.departure.delay = dep_delay
    if arr_time is not None:
        msg.arrival.time = arr_time
    if arr_delay is not None:
        msg.arrival.delay = arr_delay
    if rel != STU.SCHEDULED:
        msg.schedule_relationship = rel
    if assigned_stop is not None:
        msg.stop_time_properties.assigned_stop_id = assigned_stop
    return msg


def trip_update(
    trip_id: str,
    *updates: STU,
    start_date: str | None = None,
    start_time: str | None = None,
    rel: int = TD.SCHEDULED,
    route_id: str | None = None,
    delay: int | None = None,
    timestamp: int | None = None,
    new_trip_id: str | None = None,
    new_start_date: str | None = None,
    new_start_time: str | None = None,
    headsign: str | None = None,
) -> rt.FeedEntity:
    """A FeedEntity carrying one TripUpdate."""
    entity = rt.FeedEntity(id=f"tu-{trip_id}")
    tu = entity.trip_update
    tu.trip.trip_id = trip_id
    if start_date:
        tu.trip.start_date = start_date
    if start_time:
        tu.trip.start_time = start_time
    if rel != TD.SCHEDULED:
        tu.trip.schedule_relationship = rel
    if route_id:
        tu.trip.route_id = route_id
    if delay is not None:
        tu.delay = delay
    if timestamp is not None:
        tu.timestamp = timestamp
    if new_trip_id:
        tu.trip_properties.trip_id = new_trip_id
    if new_start_date:
        tu.trip_properties.start_date = new_start_date
    if new_start_time:
        tu.trip_properties.start_time = new_start_time
    if headsign:
        tu.trip_properties.trip_headsign = headsign
    tu.stop_time_update.extend(updates)
    return entity


def vehicle(trip_id: str, occupancy: int, timestamp: int) -> rt.FeedEntity:
    """A FeedEntity carrying one VehiclePosition with an occupancy status."""
    entity = rt.FeedEntity(id=f"vp-{trip_id}")
    entity.vehicle.trip.trip_id = trip_id
    entity.vehicle.occupancy_status = occupancy
    entity.vehicle.timestamp = timestamp
    return entity


def alert(
    alert_id: str,
    entities: list[dict[str, object]],
    header: dict[str, str],
    description: dict[str, str] | None = None,
    periods: list[tuple[int, int]] = (),  # type: ignore[assignment]
    effect: int = rt.Alert.DETOUR,
    severity: int | None = None,
) -> rt.FeedEntity:
    """A FeedEntity carrying one Alert; texts map language ('' for untagged) to text."""
    entity = rt.FeedEntity(id=alert_id)
    msg = entity.alert
    for start, end in periods:
        period = msg.active_period.add()
        if start:
            period.start = start
        if end:
            period.end = end
    for fields in entities:
        sel = msg.informed_entity.add()
        for name, value in fields.items():
            if name == "trip_id":
                sel.trip.trip_id = str(value)
            else:
                setattr(sel, name, value)
    for lang, text in header.items():
        tr = msg.header_text.translation.add(text=text)
        if lang:
            tr.language = lang
    for lang, text in (description or {}).items():
        tr = msg.description_text.translation.add(text=text)
        if lang:
            tr.language = lang
    msg.effect = effect
    if severity is not None:
        msg.severity_level = severity
    return entity


def feed(*entities: rt.FeedEntity, timestamp: int) -> bytes:
    """A serialized FULL_DATASET FeedMessage."""
    msg = rt.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.timestamp = timestamp
    msg.entity.extend(entities)
    return msg.SerializeToString()


def big_trip_updates(tt: "Timetable", day: "dt.date", target_bytes: int, timestamp: int) -> bytes:  # noqa: F821
    """A real-size TripUpdates feed: every trip active on `day` (then the next days), every stop
    with arrival and departure time and delay, until the payload reaches `target_bytes`."""
    import datetime as dt

    from feeds.times import service_day_origin

    msg = rt.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.timestamp = timestamp
    size = 0
    offset = 0
    while size < target_bytes:
        current = day + dt.timedelta(days=offset)
        origin = service_day_origin(current, tt.timezone)
        active = tt.calendar.active(current)
        for trip, trip_id in enumerate(tt.trip_ids):
            if not active[tt.trip_service[trip]]:
                continue
            entity = msg.entity.add()
            entity.id = f"{trip_id}@{current:%Y%m%d}"
            update = entity.trip_update
            update.trip.trip_id = trip_id
            update.trip.start_date = f"{current:%Y%m%d}"
            update.timestamp = timestamp
            delay = (trip * 37) % 420 - 60  # -1 .. +6 minutes, varying per trip
            for row in range(int(tt.trip_first[trip]), int(tt.trip_first[trip + 1])):
                stu = update.stop_time_update.add()
                stu.stop_sequence = int(tt.st_seq[row])
                stu.stop_id = tt.stops[int(tt.st_stop[row])].stop_id
                stu.arrival.time = origin + int(tt.st_arr[row]) + delay
                stu.arrival.delay = delay
                stu.departure.time = origin + int(tt.st_dep[row]) + delay
                stu.departure.delay = delay
            size += entity.ByteSize() + 5
            if size >= target_bytes:
                break
        offset += 1
    return msg.SerializeToString()
