"""stop_times.txt and frequencies.txt: the largest part of a feed, read into arrays sorted by trip,
and the per-stop departure index built from them (frequency trips expanded into instances)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .columns import Keys, NotPlain
from .errors import FeedError, FeedWarning, Location
from .source import GtfsSource
from .tables import NotStreamable, Table, open_table, read_batches, read_table, warn_rows

__all__ = ["MAX_FREQUENCY_INSTANCES", "read_frequencies", "read_stop_times", "stop_index_of"]

STREAM_FROM = 64 << 20  # bytes of stop_times.txt from which it is streamed in batches (a region's or a country's)
MAX_FREQUENCY_INSTANCES = 5000  # departures of one frequencies.txt row (2 min headway all day is 720)


_COLUMNS = (("trip_id", "stop_id", "stop_sequence"), ("arrival_time", "departure_time", "pickup_type", "stop_headsign"))


def read_stop_times(
    source: GtfsSource, trip_index: dict[str, int], stop_index: dict[str, int], warnings: list[FeedWarning]
) -> dict:
    """stop_times.txt as arrays sorted by trip and stop_sequence, times filled in; rows that cannot
    be used are skipped (and trips whose first or last time is missing, or with a repeated
    stop_sequence, dropped) with a warning each.

    The file is streamed in batches (only the arrays are kept, ~25 bytes a row, never the CSV's
    strings); one out of the ordinary is read whole, which reports exactly what is wrong."""
    parsed = None
    if source.has("stop_times.txt") and source.size("stop_times.txt") >= STREAM_FROM:  # smaller: whole is faster
        try:
            parsed = _columns(read_batches(source, "stop_times.txt", *_COLUMNS), trip_index, stop_index)
        except NotStreamable:
            pass  # read whole below: that path names exactly what is wrong
    if parsed is None:
        opened = open_table(source, "stop_times.txt", *_COLUMNS)
        try:
            parsed = _columns(opened.slices(), trip_index, stop_index)
        except NotPlain:  # quotes, broken rows, ...: pyarrow's CSV reader reads it (and names what is wrong)
            parsed = _columns(iter([opened.table(warnings, plain=False)]), trip_index, stop_index)
    table, cols, headsigns = parsed
    if not table.has("arrival_time") and not table.has("departure_time"):
        raise FeedError("required column 'departure_time' is missing", Location(table.label, 1, "departure_time"))
    if table.num_rows == 0:
        warnings.append(
            FeedWarning("has no rows: no trip stops anywhere, every board stays empty", Location(table.label, 2))
        )
    trip, stop, seq = cols["trip"], cols["stop"], cols["seq"]
    warn_rows(warnings, table, trip < 0, "trip_id", "unknown trip_id")
    warn_rows(warnings, table, (stop < 0) & (trip >= 0), "stop_id", "unknown stop_id")
    warn_rows(
        warnings, table, (seq < 0) & (trip >= 0) & (stop >= 0), "stop_sequence", "stop_sequence missing or negative"
    )
    # by trip, then stop_sequence: one stable sort of one int64 key (lexsort's two passes take twice as long)
    order = np.argsort((trip.astype(np.int64) << 32) | (seq.astype(np.int64) - np.iinfo(np.int32).min), kind="stable")
    order = order[((trip >= 0) & (stop >= 0) & (seq >= 0))[order]]
    _select(cols, order)
    # Times: departure falls back to arrival and vice versa; gaps between timepoints are interpolated.
    np.copyto(cols["dep"], cols["arr"], where=cols["dep"] < 0)
    np.copyto(cols["arr"], cols["dep"], where=cols["arr"] < 0)
    cols, first = _without_broken_trips(cols, order, table, len(trip_index), warnings)
    del order
    _interpolate(cols["dep"], cols["arr"])
    for name in list(cols):
        if name != "pickup":
            cols[name] = cols[name].astype(np.int32, copy=False)
    return {**cols, "headsigns": headsigns, "first": first}


def _columns(tables: Iterator[Table], trip_index: dict[str, int], stop_index: dict[str, int]
             ) -> tuple[Table, dict[str, np.ndarray], list[str]]:
    """The columns of stop_times.txt's tables (batches) as arrays, and a Table of no columns that stands for
    the whole file (its header's columns, its rows, its lines in warnings)."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("trip", "stop", "seq", "arr", "dep", "pickup", "headsign")}
    headsign_index: dict[str, int] = {}
    label, present, rows = "", set(), 0
    trip_keys, stop_keys = Keys(trip_index), Keys(stop_index)  # made once for every batch
    for table in tables:
        label, present, rows = table.label, set(table.columns), rows + table.num_rows
        parts["trip"].append(table.codes("trip_id", trip_keys))
        parts["stop"].append(table.codes("stop_id", stop_keys))
        parts["seq"].append(_int32(table, "stop_sequence", table.ints("stop_sequence", -1)))
        parts["arr"].append(table.times("arrival_time"))
        parts["dep"].append(table.times("departure_time"))
        parts["pickup"].append(table.ints("pickup_type", 0, allowed=range(4)).astype(np.int8))
        if table.has("stop_headsign"):
            for value in table.uniques("stop_headsign"):
                if value and value not in headsign_index:
                    headsign_index[value] = len(headsign_index)
            parts["headsign"].append(table.codes("stop_headsign", headsign_index))
        else:
            parts["headsign"].append(np.full(table.num_rows, -1, np.int32))
    cols = {}
    for name in list(parts):  # each column's batches freed as soon as it is whole (there is always one table)
        pieces = parts.pop(name)
        cols[name] = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        del pieces
    whole = Table(label, dict.fromkeys(present), rows)  # type: ignore[arg-type]
    return whole, cols, list(headsign_index)


def _select(cols: dict[str, np.ndarray], which: np.ndarray) -> None:
    """Each column indexed by `which` (an order or a mask), in place and one column at a time: a national
    feed's columns are GBs together."""
    for name in list(cols):
        cols[name] = cols[name][which]


def _int32(table: Table, column: str, values: np.ndarray) -> np.ndarray:
    """int64 values as int32; FeedError naming the first that does not fit."""
    big = np.flatnonzero(values > np.iinfo(np.int32).max)
    if big.size:
        raise FeedError(
            f"{values[big[0]]} is out of range (at most {np.iinfo(np.int32).max})", table.where(int(big[0]), column)
        )
    return values.astype(np.int32)


def _without_broken_trips(cols: dict[str, np.ndarray], rows_in_file: np.ndarray, table: Table, n_trips: int,
                          warnings: list[FeedWarning]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The rows without trips whose first or last stop has no time or that repeat a stop_sequence,
    and the offsets of each trip's rows."""
    trip, seq, dep = cols["trip"], cols["seq"], cols["dep"]
    first = np.searchsorted(trip, np.arange(n_trips + 1)).astype(np.int64)
    counts = np.diff(first)
    starts, ends = first[:-1][counts > 0], first[1:][counts > 0] - 1
    untimed_ends = (dep[starts] < 0) | (dep[ends] < 0)
    dup = np.zeros(len(trip), dtype=bool)
    dup[1:] = (trip[1:] == trip[:-1]) & (seq[1:] == seq[:-1])
    bad_trip = np.zeros(n_trips, dtype=bool)
    bad_trip[trip[starts[untimed_ends]]] = True
    bad_trip[trip[dup]] = True
    for flagged, column, what in (
        (rows_in_file[dup], "stop_sequence", "duplicate stop_sequence in a trip (trip dropped)"),
        (rows_in_file[np.where(dep[starts] < 0, starts, ends)[untimed_ends]], "departure_time",
         "first or last stop of a trip without a time (trip dropped)"),
    ):
        if flagged.size:
            fake = np.zeros(table.num_rows, dtype=bool)
            fake[flagged] = True
            warn_rows(warnings, table, fake, column, what)
    if not bad_trip.any():
        return cols, first
    _select(cols, ~bad_trip[trip])
    return cols, np.searchsorted(cols["trip"], np.arange(n_trips + 1)).astype(np.int64)


def _interpolate(dep: np.ndarray, arr: np.ndarray) -> None:
    """Times of stops between timepoints, linear in the row order (in place)."""
    missing = dep < 0
    if missing.any():
        known = np.flatnonzero(~missing)
        positions = np.flatnonzero(missing)
        dep[missing] = np.round(np.interp(positions, known, dep[known])).astype(np.int32)
        arr[missing] = dep[missing]


def read_frequencies(source: GtfsSource, trip_index: dict[str, int], warnings: list[FeedWarning]) -> dict:
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
    warn_rows(warnings, table, trip < 0, "trip_id", "unknown trip_id")
    instances = (end.astype(np.int64) - start) // headway
    absurd = (instances > MAX_FREQUENCY_INSTANCES) | (end < start)
    warn_rows(warnings, table, absurd, "end_time",
               f"end_time before start_time, or more than {MAX_FREQUENCY_INSTANCES} departures in one window")
    keep = (trip >= 0) & ~absurd
    return {
        "trip": trip[keep].astype(np.int32),
        "start": start[keep],
        "end": end[keep],
        "headway": headway[keep].astype(np.int32),
        "exact": exact[keep],
    }


def stop_index_of(n_stops: int, st: dict, freq: dict) -> dict:
    """Departures per stop sorted by time, with frequency trips expanded into their instances (int32
    throughout: a national feed's index is hundreds of millions of entries)."""
    trip, first, dep = st["trip"], st["first"], st["dep"]
    boardable = st["pickup"] != 1
    ends = first[1:][np.diff(first) > 0] - 1
    boardable[ends] = False  # a trip's last stop: nobody boards there
    is_freq_trip = np.zeros(len(first) - 1, dtype=bool)
    is_freq_trip[freq["trip"]] = True
    timed = np.flatnonzero(boardable & ~is_freq_trip[trip]).astype(np.int32)
    row_parts = [timed]
    dep_parts = [dep[timed].astype(np.int32)]
    start_parts = [np.full(len(timed), -1, dtype=np.int32)]
    for f_trip, f_start, f_end, f_headway in zip(freq["trip"], freq["start"], freq["end"], freq["headway"]):
        a, b = first[f_trip], first[f_trip + 1]
        if a == b:
            continue
        instance_starts = np.arange(f_start, f_end, f_headway, dtype=np.int32)
        trip_rows = (a + np.flatnonzero(boardable[a:b])).astype(np.int32)
        offsets = dep[trip_rows].astype(np.int32) - np.int32(dep[a])
        row_parts.append(np.tile(trip_rows, len(instance_starts)))
        dep_parts.append((instance_starts[:, None] + offsets[None, :]).ravel())
        start_parts.append(np.repeat(instance_starts, len(trip_rows)))
    ix_row, ix_dep, ix_start = (p[0] if len(p) == 1 else np.concatenate(p) for p in (row_parts, dep_parts, start_parts))
    del row_parts, dep_parts, start_parts
    stop = st["stop"][ix_row]
    # by stop, then time: one stable sort of one int64 key (twice as fast as lexsort's two passes)
    order = np.argsort(
        (stop.astype(np.int64) << 32) | (ix_dep.astype(np.int64) - np.iinfo(np.int32).min), kind="stable"
    )
    offsets = np.searchsorted(stop[order], np.arange(n_stops + 1)).astype(np.int64)
    del stop
    max_time = int(max(ix_dep.max(initial=0), dep.max(initial=0)))
    return {
        "offsets": offsets,
        "dep": ix_dep[order],
        "row": ix_row[order],
        "start": ix_start[order],
        "max_time": max_time,
    }
