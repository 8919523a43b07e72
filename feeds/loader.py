"""Build a Timetable from the files of a GTFS feed."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc

from .calendar import ServiceCalendar
from .errors import FeedError, FeedWarning, Location
from .source import GtfsSource
from .tables import Table, read_table
from .times import parse_service_date, zone
from .timetable import Route, Stop, Timetable

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


MAX_FREQUENCY_INSTANCES = 5000  # departures of one frequencies.txt row (2 min headway all day is 720)


def load_timetable(source: GtfsSource) -> Timetable:
    """Read and index a GTFS feed; FeedError names file, line and column of what is wrong.

    Skippable inconsistencies (unknown ids, broken rows) are dropped and listed as warnings.
    """
    warnings: list[FeedWarning] = []
    timezone, lang, agency_ids = _agency(source)
    stops, stop_index, children = _stops(source, warnings)
    routes, route_index = _routes(source, warnings)
    calendar, service_index = _calendar(source, warnings)
    trips = _trips(source, route_index, service_index, calendar.sentinel, warnings)
    st = _stop_times(source, trips["index"], stop_index, warnings)
    freq = _frequencies(source, trips["index"], warnings)
    ix = _stop_index(len(stops), st, freq)
    return Timetable(
        timezone=timezone,
        agency_lang=lang,
        agency_ids=agency_ids,
        stops=stops,
        stop_index=stop_index,
        children=children,
        routes=routes,
        route_index=route_index,
        trip_ids=trips["ids"],
        trip_index=trips["index"],
        trip_route=trips["route"],
        trip_service=trips["service"],
        trip_direction=trips["direction"],
        trip_headsign=trips["headsign"],
        trip_short_name=trips["short_name"],
        trip_first=st["first"],
        st_trip=st["trip"],
        st_stop=st["stop"],
        st_seq=st["seq"],
        st_arr=st["arr"],
        st_dep=st["dep"],
        st_pickup=st["pickup"],
        st_headsign=st["headsign"],
        headsigns=st["headsigns"],
        freq_trip=freq["trip"],
        freq_start=freq["start"],
        freq_end=freq["end"],
        freq_headway=freq["headway"],
        freq_exact=freq["exact"],
        ix_offsets=ix["offsets"],
        ix_dep=ix["dep"],
        ix_row=ix["row"],
        ix_start=ix["start"],
        calendar=calendar,
        max_time=ix["max_time"],
        warnings=tuple(warnings),
    )


def _warn_rows(warnings: list[FeedWarning], table: Table, bad: np.ndarray, column: str, what: str) -> None:
    """Record one warning for the rows flagged in `bad`, naming the first of them."""
    rows = np.flatnonzero(bad)
    if rows.size:
        first = int(rows[0])
        warnings.append(FeedWarning(f"{rows.size} row(s) skipped: {what}", table.where(first, column)))


def _agency(source: GtfsSource) -> tuple[str, str, tuple[str, ...]]:
    table = read_table(source, "agency.txt", ("agency_timezone",), ("agency_lang", "agency_id"))
    if table.num_rows == 0:
        raise FeedError("no agency is defined", Location(table.label, 2))
    zones = table.strings("agency_timezone")
    for row, name in enumerate(zones):
        try:
            zone(name)
        except KeyError:
            raise FeedError(f"unknown time zone '{name}'", table.where(row, "agency_timezone")) from None
        if name != zones[0]:
            raise FeedError(
                f"all agencies must share one time zone ('{zones[0]}' and '{name}')",
                table.where(row, "agency_timezone"),
            )
    return zones[0], table.strings("agency_lang")[0].lower(), tuple(table.strings("agency_id"))


def _stops(source: GtfsSource, warnings: list[FeedWarning]) -> tuple[tuple[Stop, ...], dict[str, int], dict[int, tuple[int, ...]]]:
    table = read_table(
        source,
        "stops.txt",
        ("stop_id",),
        ("stop_name", "location_type", "parent_station", "platform_code", "stop_lat", "stop_lon"),
        warnings,
    )
    ids = table.strings("stop_id")
    index: dict[str, int] = {}
    for row, stop_id in enumerate(ids):
        if not stop_id:
            raise FeedError("stop_id is empty", table.where(row, "stop_id"))
        if stop_id in index:
            raise FeedError(f"duplicate stop_id '{stop_id}'", table.where(row, "stop_id"))
        index[stop_id] = row
    kinds = table.ints("location_type", 0, allowed=range(5))
    names, parents, codes = table.strings("stop_name"), table.strings("parent_station"), table.strings("platform_code")
    lats, lons = table.strings("stop_lat"), table.strings("stop_lon")
    stops: list[Stop] = []
    kids: dict[int, list[int]] = {}
    for row, stop_id in enumerate(ids):
        parent = -1
        if parents[row]:
            parent = index.get(parents[row], -1)
            if parent < 0:
                warnings.append(
                    FeedWarning(f"unknown parent_station '{parents[row]}' ignored", table.where(row, "parent_station"))
                )
            elif kinds[parent] != (0 if kinds[row] == 4 else 1) or kinds[row] == 1:
                wanted = "a station" if kinds[row] != 4 else "a platform (location_type 0)"
                problem = "a station cannot have a parent_station" if kinds[row] == 1 else (
                    f"parent_station '{parents[row]}' is location_type {int(kinds[parent])}, not {wanted}")
                warnings.append(FeedWarning(f"{problem}; ignored (the two stops are not treated as one place)",
                                            table.where(row, "parent_station")))
                parent = -1
            elif kinds[row] == 0:
                kids.setdefault(parent, []).append(row)
        stops.append(
            Stop(stop_id, names[row], int(kinds[row]), parent, codes[row], _float(lats[row]), _float(lons[row]))
        )
    return tuple(stops), index, {k: tuple(v) for k, v in kids.items()}


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _color(text: str, default: str, table: Table, row: int, column: str, warnings: list[FeedWarning]) -> str:
    if not text:
        return default
    value = text.upper()
    if len(value) == 6 and all(c in "0123456789ABCDEF" for c in value):
        return value
    warnings.append(FeedWarning(f"'{text}' is not a colour RRGGBB; using {default}", table.where(row, column)))
    return default


def _routes(source: GtfsSource, warnings: list[FeedWarning]) -> tuple[tuple[Route, ...], dict[str, int]]:
    table = read_table(
        source,
        "routes.txt",
        ("route_id",),
        ("agency_id", "route_short_name", "route_long_name", "route_type", "route_color", "route_text_color"),
        warnings,
    )
    types = table.ints("route_type", 3)
    routes: list[Route] = []
    index: dict[str, int] = {}
    columns = zip(
        table.strings("route_id"),
        table.strings("agency_id"),
        table.strings("route_short_name"),
        table.strings("route_long_name"),
        table.strings("route_color"),
        table.strings("route_text_color"),
    )
    for row, (route_id, agency, short, long, color, text_color) in enumerate(columns):
        if route_id in index:
            raise FeedError(f"duplicate route_id '{route_id}'", table.where(row, "route_id"))
        index[route_id] = row
        routes.append(
            Route(
                route_id,
                agency,
                short,
                long,
                int(types[row]),
                _color(color, "FFFFFF", table, row, "route_color", warnings),
                _color(text_color, "000000", table, row, "route_text_color", warnings),
            )
        )
    return tuple(routes), index


def _calendar(source: GtfsSource, warnings: list[FeedWarning]) -> tuple[ServiceCalendar, dict[str, int]]:
    if not source.has("calendar.txt") and not source.has("calendar_dates.txt"):
        raise FeedError(
            "required file is missing (a feed needs calendar.txt, calendar_dates.txt or both)",
            Location(source.label("calendar.txt")),
        )
    ids: list[str] = []
    index: dict[str, int] = {}
    weekdays = np.zeros((0, 7), dtype=bool)
    start = end = np.zeros(0, dtype=np.int64)
    if source.has("calendar.txt"):
        table = read_table(source, "calendar.txt", ("service_id", *_WEEKDAYS, "start_date", "end_date"))
        ids = table.strings("service_id")
        for row, sid in enumerate(ids):
            if sid in index:
                raise FeedError(f"duplicate service_id '{sid}'", table.where(row, "service_id"))
            index[sid] = row
        weekdays = np.stack([table.ints(day, 0, allowed=(0, 1)) == 1 for day in _WEEKDAYS], axis=1)
        start = _dates(table, "start_date")
        end = _dates(table, "end_date")
        backwards = np.flatnonzero(end < start)
        if backwards.size:
            warnings.append(FeedWarning(f"{backwards.size} service(s) end before they start (end_date < start_date): "
                                        "they never run by calendar.txt", table.where(int(backwards[0]), "end_date")))
    added: dict[int, list[int]] = {}
    removed: dict[int, list[int]] = {}
    if source.has("calendar_dates.txt"):
        table = read_table(source, "calendar_dates.txt", ("service_id", "date", "exception_type"))
        kinds = table.ints("exception_type", -1, allowed=(1, 2))
        dates = _dates(table, "date")
        for row, sid in enumerate(table.strings("service_id")):
            if sid not in index:
                index[sid] = len(ids)
                ids.append(sid)
            target = added if kinds[row] == 1 else removed
            target.setdefault(int(dates[row]), []).append(index[sid])
    pad = len(ids) - len(weekdays)
    weekdays = np.concatenate([weekdays, np.zeros((pad, 7), dtype=bool)])
    start = np.concatenate([start, np.zeros(pad, dtype=np.int64)])
    end = np.concatenate([end, np.zeros(pad, dtype=np.int64)])
    return ServiceCalendar(ids, weekdays, start, end, added, removed), index


def _dates(table: Table, column: str) -> np.ndarray:
    out = np.zeros(table.num_rows, dtype=np.int64)
    for row, text in enumerate(table.strings(column)):
        try:
            out[row] = parse_service_date(text).toordinal()
        except ValueError as exc:
            raise FeedError(str(exc), table.where(row, column)) from None
    return out


def _trips(
    source: GtfsSource,
    route_index: dict[str, int],
    service_index: dict[str, int],
    never: int,
    warnings: list[FeedWarning],
) -> dict:
    table = read_table(
        source,
        "trips.txt",
        ("route_id", "service_id", "trip_id"),
        ("trip_headsign", "direction_id", "trip_short_name"),
        warnings,
    )
    route = table.codes("route_id", route_index)
    bad_route = route < 0
    _warn_rows(warnings, table, bad_route, "route_id", "unknown route_id")
    service = table.codes("service_id", service_index)
    no_service = service < 0
    _warn_rows(warnings, table, no_service & ~bad_route, "service_id", "service_id in neither calendar file (trip never runs)")
    service = np.where(no_service, never, service).astype(np.int32)
    direction = table.ints("direction_id", -1, allowed=(-1, 0, 1)).astype(np.int8)
    keep = np.flatnonzero(~bad_route)
    ids_all = table.strings("trip_id")
    ids: list[str] = []
    index: dict[str, int] = {}
    duplicate = np.zeros(table.num_rows, dtype=bool)
    for row in keep:
        trip_id = ids_all[row]
        if trip_id in index:
            duplicate[row] = True
            continue
        index[trip_id] = len(ids)
        ids.append(trip_id)
    _warn_rows(warnings, table, duplicate, "trip_id", "duplicate trip_id (first one kept)")
    keep = keep[~duplicate[keep]]
    headsign, short = table.strings("trip_headsign"), table.strings("trip_short_name")
    return {
        "ids": ids,
        "index": index,
        "route": route[keep],
        "service": service[keep],
        "direction": direction[keep],
        "headsign": [headsign[r] for r in keep],
        "short_name": [short[r] for r in keep],
    }


def _stop_times(
    source: GtfsSource, trip_index: dict[str, int], stop_index: dict[str, int], warnings: list[FeedWarning]
) -> dict:
    table = read_table(
        source,
        "stop_times.txt",
        ("trip_id", "stop_id", "stop_sequence"),
        ("arrival_time", "departure_time", "pickup_type", "stop_headsign"),
        warnings,
    )
    if not table.has("arrival_time") and not table.has("departure_time"):
        raise FeedError("required column 'departure_time' is missing", Location(table.label, 1, "departure_time"))
    if table.num_rows == 0:
        warnings.append(FeedWarning("has no rows: no trip stops anywhere, every board stays empty", Location(table.label, 2)))
    trip = table.codes("trip_id", trip_index)
    stop = table.codes("stop_id", stop_index)
    seq = table.ints("stop_sequence", -1)
    arr = table.times("arrival_time")
    dep = table.times("departure_time")
    pickup: np.ndarray = table.ints("pickup_type", 0, allowed=range(4)).astype(np.int8)
    _warn_rows(warnings, table, trip < 0, "trip_id", "unknown trip_id")
    _warn_rows(warnings, table, (stop < 0) & (trip >= 0), "stop_id", "unknown stop_id")
    _warn_rows(warnings, table, (seq < 0) & (trip >= 0) & (stop >= 0), "stop_sequence", "stop_sequence missing or negative")
    keep = (trip >= 0) & (stop >= 0) & (seq >= 0)
    headsigns: list[str] = []
    hs: np.ndarray | None = None
    if table.has("stop_headsign"):
        headsigns = [v for v in pc.unique(table.columns["stop_headsign"]).to_pylist() if v]
        hs = table.codes("stop_headsign", {v: i for i, v in enumerate(headsigns)})
    order = np.lexsort((seq, trip))
    order = order[keep[order]]
    trip, stop, seq, arr, dep, pickup = (a[order] for a in (trip, stop, seq, arr, dep, pickup))
    rows_in_file = order  # to name lines in warnings
    headsign = hs[order] if hs is not None else np.full(len(order), -1, np.int32)
    # Times: departure falls back to arrival and vice versa; gaps between timepoints are interpolated.
    dep = np.where(dep < 0, arr, dep)
    arr = np.where(arr < 0, dep, arr)
    n_trips = len(trip_index)
    first = np.searchsorted(trip, np.arange(n_trips + 1)).astype(np.int64)
    counts = np.diff(first)
    starts, ends = first[:-1][counts > 0], first[1:][counts > 0] - 1
    untimed_ends = (dep[starts] < 0) | (dep[ends] < 0)
    dup = np.zeros(len(trip), dtype=bool)
    dup[1:] = (trip[1:] == trip[:-1]) & (seq[1:] == seq[:-1])
    bad_trip = np.zeros(n_trips, dtype=bool)
    bad_trip[trip[starts[untimed_ends]]] = True
    bad_trip[trip[dup]] = True
    if dup.any():
        fake = np.zeros(table.num_rows, dtype=bool)
        fake[rows_in_file[dup]] = True
        _warn_rows(warnings, table, fake, "stop_sequence", "duplicate stop_sequence in a trip (trip dropped)")
    if untimed_ends.any():
        fake = np.zeros(table.num_rows, dtype=bool)
        fake[rows_in_file[np.where(dep[starts] < 0, starts, ends)[untimed_ends]]] = True
        _warn_rows(warnings, table, fake, "departure_time", "first or last stop of a trip without a time (trip dropped)")
    if bad_trip.any():
        keep_rows = ~bad_trip[trip]
        trip, stop, seq, arr, dep, pickup, headsign = (
            a[keep_rows] for a in (trip, stop, seq, arr, dep, pickup, headsign)
        )
        first = np.searchsorted(trip, np.arange(n_trips + 1)).astype(np.int64)
    missing = dep < 0
    if missing.any():
        known = np.flatnonzero(~missing)
        positions = np.flatnonzero(missing)
        dep[missing] = np.round(np.interp(positions, known, dep[known])).astype(np.int32)
        arr[missing] = dep[missing]
    return {
        "trip": trip.astype(np.int32),
        "stop": stop.astype(np.int32),
        "seq": seq.astype(np.int32),
        "arr": arr.astype(np.int32),
        "dep": dep.astype(np.int32),
        "pickup": pickup,
        "headsign": headsign.astype(np.int32),
        "headsigns": headsigns,
        "first": first,
    }


def _frequencies(source: GtfsSource, trip_index: dict[str, int], warnings: list[FeedWarning]) -> dict:
    empty = np.zeros(0, dtype=np.int32)
    if not source.has("frequencies.txt"):
        return {"trip": empty, "start": empty, "end": empty, "headway": empty, "exact": empty.astype(np.int8)}
    table = read_table(
        source, "frequencies.txt", ("trip_id", "start_time", "end_time", "headway_secs"), ("exact_times",), warnings
    )
    trip = table.codes("trip_id", trip_index)
    start, end = table.times("start_time"), table.times("end_time")
    headway = table.ints("headway_secs", 0)
    exact = table.ints("exact_times", 0, allowed=(0, 1)).astype(np.int8)
    for column, values in (("start_time", start), ("end_time", end)):
        empty_rows = np.flatnonzero(values < 0)
        if empty_rows.size:
            raise FeedError("required time is empty", table.where(int(empty_rows[0]), column))
    bad_headway = np.flatnonzero(headway <= 0)
    if bad_headway.size:
        raise FeedError("headway_secs must be positive", table.where(int(bad_headway[0]), "headway_secs"))
    _warn_rows(warnings, table, trip < 0, "trip_id", "unknown trip_id")
    instances = (end.astype(np.int64) - start) // headway
    absurd = (instances > MAX_FREQUENCY_INSTANCES) | (end < start)
    _warn_rows(warnings, table, absurd, "end_time",
               f"end_time before start_time, or more than {MAX_FREQUENCY_INSTANCES} departures in one window")
    keep = (trip >= 0) & ~absurd
    return {
        "trip": trip[keep].astype(np.int32),
        "start": start[keep],
        "end": end[keep],
        "headway": headway[keep].astype(np.int32),
        "exact": exact[keep],
    }


def _stop_index(n_stops: int, st: dict, freq: dict) -> dict:
    """Departures per stop sorted by time, with frequency trips expanded into their instances."""
    trip, first = st["trip"], st["first"]
    rows = np.arange(len(trip), dtype=np.int64)
    last = np.zeros(len(trip), dtype=bool)
    ends = first[1:][np.diff(first) > 0] - 1
    last[ends] = True
    boardable = ~last & (st["pickup"] != 1)
    is_freq_trip = np.zeros(len(first) - 1, dtype=bool)
    is_freq_trip[freq["trip"]] = True
    timed = boardable & ~is_freq_trip[trip]
    row_parts = [rows[timed]]
    dep_parts = [st["dep"][timed].astype(np.int64)]
    start_parts = [np.full(int(timed.sum()), -1, dtype=np.int64)]
    for f_trip, f_start, f_end, f_headway in zip(freq["trip"], freq["start"], freq["end"], freq["headway"]):
        a, b = first[f_trip], first[f_trip + 1]
        if a == b:
            continue
        instance_starts = np.arange(f_start, f_end, f_headway, dtype=np.int64)
        trip_rows = rows[a:b][boardable[a:b]]
        offsets = st["dep"][trip_rows].astype(np.int64) - int(st["dep"][a])
        row_parts.append(np.tile(trip_rows, len(instance_starts)))
        dep_parts.append((instance_starts[:, None] + offsets[None, :]).ravel())
        start_parts.append(np.repeat(instance_starts, len(trip_rows)))
    ix_row, ix_dep, ix_start = np.concatenate(row_parts), np.concatenate(dep_parts), np.concatenate(start_parts)
    stop = st["stop"][ix_row]
    order = np.lexsort((ix_dep, stop))
    offsets = np.searchsorted(stop[order], np.arange(n_stops + 1)).astype(np.int64)
    max_time = int(max(ix_dep.max(initial=0), st["dep"].max(initial=0)))
    return {
        "offsets": offsets,
        "dep": ix_dep[order].astype(np.int32),
        "row": ix_row[order].astype(np.int32),
        "start": ix_start[order].astype(np.int32),
        "max_time": max_time,
    }
