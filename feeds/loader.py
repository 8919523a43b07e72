"""Build a Timetable from the files of a GTFS feed."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .calendar import ServiceCalendar
from .errors import FeedError, FeedWarning, Location
from .source import GtfsSource
from .stop_times import read_frequencies, read_stop_times, stop_index_of
from .strings import StringIndex, Strings
from .tables import Table, read_table, release_free_memory, warn_rows
from .times import parse_service_date, zone
from .timetable import Route, Stop, Timetable

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")




Progress = Callable[[str, int, int], None]  # (stage, its number, how many stages)
STAGES = ("agency.txt", "stops.txt", "routes.txt", "calendar", "trips.txt", "stop_times.txt", "frequencies.txt",
          "the index of departures by stop")


def load_timetable(source: GtfsSource, progress: Progress | None = None) -> Timetable:
    """Read and index a GTFS feed; FeedError names file, line and column of what is wrong. `progress` is told
    each stage as it begins (stage, its number from 1, len(STAGES)) and ("", len(STAGES), len(STAGES)) at the end.

    Skippable inconsistencies (unknown ids, broken rows) are dropped and listed as warnings.
    """
    tell = progress or (lambda stage, done, total: None)
    warnings: list[FeedWarning] = []
    tell(STAGES[0], 1, len(STAGES))
    timezone, lang, agency_ids = _agency(source)
    tell(STAGES[1], 2, len(STAGES))
    stops, stop_index, children = _stops(source, warnings)
    tell(STAGES[2], 3, len(STAGES))
    routes, route_index = _routes(source, warnings)
    tell(STAGES[3], 4, len(STAGES))
    calendar, service_index = _calendar(source, warnings)
    tell(STAGES[4], 5, len(STAGES))
    trips = _trips(source, route_index, service_index, calendar.sentinel, warnings)
    st, freq, ix = _departure_columns(source, trips["index"], stop_index, len(stops), warnings, tell)
    tell("", len(STAGES), len(STAGES))
    trip_ids = Strings.of(trips["ids"])
    return Timetable(
        timezone=timezone,
        agency_lang=lang,
        agency_ids=agency_ids,
        stops=stops,
        stop_index=stop_index,
        children=children,
        routes=routes,
        route_index=route_index,
        trip_ids=trip_ids,
        trip_index=StringIndex(trip_ids, trips["index"]),
        trip_route=trips["route"],
        trip_service=trips["service"],
        trip_direction=trips["direction"],
        trip_headsign=Strings.of(trips["headsign"]),
        trip_short_name=Strings.of(trips["short_name"]),
        trip_first=st["first"],
        headsigns=Strings.of(st["headsigns"]),
        **{f"st_{k}": st[k] for k in ("trip", "stop", "seq", "arr", "dep", "pickup", "headsign")},
        **{f"freq_{k}": freq[k] for k in ("trip", "start", "end", "headway", "exact")},
        **{f"ix_{k}": ix[k] for k in ("offsets", "dep", "row", "start")},
        calendar=calendar,
        max_time=ix["max_time"],
        warnings=tuple(warnings),
    )


def _departure_columns(source: GtfsSource, trip_index: dict[str, int], stop_index: dict[str, int], n_stops: int,
                       warnings: list[FeedWarning], tell: Progress) -> tuple[dict, dict, dict]:
    """The last three stages: the stop times, the frequencies and the index of departures by stop (the big
    columns; free memory is handed back after the first and the last)."""
    tell(STAGES[5], 6, len(STAGES))
    st = read_stop_times(source, trip_index, stop_index, warnings)
    release_free_memory()
    tell(STAGES[6], 7, len(STAGES))
    freq = read_frequencies(source, trip_index, warnings)
    tell(STAGES[7], 8, len(STAGES))
    ix = stop_index_of(n_stops, st, freq)
    release_free_memory()
    return st, freq, ix


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
    lang = table.strings("agency_lang")[0].lower()
    if source.has("feed_info.txt"):  # the feed's own language comes first
        info = read_table(source, "feed_info.txt", (), ("feed_lang",))
        if info.num_rows and info.strings("feed_lang")[0].strip():
            lang = info.strings("feed_lang")[0].strip().lower()
    return zones[0], lang, tuple(table.strings("agency_id"))


def _stops(
    source: GtfsSource, warnings: list[FeedWarning]
) -> tuple[tuple[Stop, ...], dict[str, int], dict[int, tuple[int, ...]]]:
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
    warn_rows(warnings, table, bad_route, "route_id", "unknown route_id")
    service = table.codes("service_id", service_index)
    no_service = service < 0
    warn_rows(
        warnings, table, no_service & ~bad_route, "service_id", "service_id in neither calendar file (trip never runs)"
    )
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
    warn_rows(warnings, table, duplicate, "trip_id", "duplicate trip_id (first one kept)")
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
