"""Columnar reading of GTFS CSV files, with errors that name file, line and column."""

from __future__ import annotations

import codecs
import ctypes
import io
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING

import numpy as np

from .columns import (
    SLICE_BYTES,
    Keys,
    NotPlain,
    Text,
    arrow_text,
    codes_of,
    is_plain,
    plain_rows,
    system_pool,
    text_buffers,
    uniques_of,
)
from .csv_bytes import BOM, column_names, csv_text, header_of, is_utf8, short, utf8_error
from .errors import FeedError, FeedWarning, Location
from .numbers import ints_of, times_of
from .source import GtfsSource

if TYPE_CHECKING:
    import pyarrow as pa

# pyarrow's CSV reader reads the files that are not plain CSV (quotes, broken rows): imported only for them
# (0.1 s and 30 MB of a cold `stopcast departures` on a feed without quotes).

class Table:
    """One GTFS file as trimmed string columns; converters report bad values by line."""

    def __init__(self, label: str, columns: dict[str, Text], num_rows: int, first_row: int = 0) -> None:
        self.label = label
        self.columns = columns
        self.num_rows = num_rows
        self.first_row = first_row  # the file's row number of this table's row 0 (a batch of a larger file)

    def has(self, column: str) -> bool:
        """Whether the file has the column."""
        return column in self.columns

    def where(self, row: int, column: str) -> Location:
        """The location of a value (row 0 of the file is on line 2, after the header)."""
        return Location(self.label, self.first_row + row + 2, column)

    def strings(self, column: str, default: str = "") -> list[str]:
        """The column as Python strings (`default` for every row when the column is absent)."""
        if column not in self.columns:
            return [default] * self.num_rows
        return self.columns[column].to_list()

    def uniques(self, column: str) -> list[str]:
        """The column's distinct values in the order they first appear."""
        return uniques_of(self.columns[column])

    def ints(self, column: str, default: int, allowed: Iterable[int] | None = None) -> np.ndarray:
        """The column as int64, empty values taking `default`; other values are an error."""
        if column not in self.columns:
            return np.full(self.num_rows, default, dtype=np.int64)
        values, valid = ints_of(self.columns[column], default)
        if not valid.all():
            row = int(np.flatnonzero(~valid)[0])
            text = self.columns[column].value(row)
            try:
                int(text)
            except ValueError:
                raise FeedError(f"'{short(text)}' is not a whole number", self.where(row, column)) from None
            raise FeedError(f"{short(text)} is out of range (at most 18 digits)", self.where(row, column)) from None
        if allowed is not None:
            allowed_arr = np.fromiter(allowed, dtype=np.int64)
            if len(allowed_arr) <= 8:  # a few codes (pickup_type): comparisons, 5x faster than np.isin
                ok = np.zeros(len(values), dtype=bool)
                for code in allowed_arr:
                    ok |= values == code
            else:
                ok = np.isin(values, allowed_arr)
            bad = np.flatnonzero(~ok)
            if bad.size:
                row = int(bad[0])
                choices = ", ".join(str(a) for a in allowed_arr)
                raise FeedError(f"{values[row]} is not one of {choices}", self.where(row, column))
        return values

    def times(self, column: str) -> np.ndarray:
        """The column as seconds after the service day's start (int32); -1 where empty.

        Accepts H:MM:SS and HH:MM:SS with hours past 24; anything else is an error.
        """
        if column not in self.columns:
            return np.full(self.num_rows, -1, dtype=np.int32)
        arr = self.columns[column]
        seconds, valid = times_of(arr)
        if not valid.all():
            row = int(np.flatnonzero(~valid)[0])
            raise FeedError(f"unparsable time '{arr.value(row)}' (expected HH:MM:SS)", self.where(row, column))
        return seconds

    def codes(self, column: str, known: dict[str, int] | Keys) -> np.ndarray:
        """The column's ids mapped to indexes through `known` (int32); -1 for unknown or empty ids."""
        return codes_of(self.columns[column], known)


def read_table(
    source: GtfsSource,
    member: str,
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
    warnings: list[FeedWarning] | None = None,
) -> Table:
    """Read `member` of the feed keeping the named columns; a missing required one is an error."""
    return open_table(source, member, required, optional).table(warnings)


def open_table(source: GtfsSource, member: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> OpenTable:
    """`member` read and its header checked; FeedError for a missing file or column, or bytes that are not UTF-8."""
    label = source.label(member)
    if not source.has(member):
        raise FeedError("required file is missing", Location(label))
    raw = csv_text(source.read(member), label)
    header = header_of(raw, label)
    names = column_names(header)
    if not is_utf8(raw):  # before pyarrow, whose handler for broken rows cannot take such bytes
        raise utf8_error(raw, label, names)
    if not any(header):
        raise FeedError("file is empty (no header line)", Location(label, 1))
    for column in required:
        if column not in header:
            raise FeedError(f"required column '{column}' is missing", Location(label, 1, column))
    wanted = [c for c in (*required, *optional) if c in header]
    if len(set(names)) != len(names):
        raise FeedError("duplicate column names in the header", Location(label, 1))
    return OpenTable(raw, label, header, wanted)


class OpenTable:
    """A GTFS file's bytes and checked header, to be taken apart as a Table or as slices of one."""

    def __init__(self, raw: bytes | bytearray, label: str, header: list[str], wanted: list[str]) -> None:
        self.raw, self.label, self.header, self.wanted = raw, label, header, wanted

    def table(
        self, warnings: list[FeedWarning] | None = None, plain: bool = True, slice_bytes: int = SLICE_BYTES
    ) -> Table:
        """The whole file: split by numpy when it is plain CSV, else by pyarrow's CSV reader (rows with the
        wrong number of fields skipped with a warning)."""
        if plain:
            try:
                parts = list(self.slices(slice_bytes))
            except NotPlain:
                parts = []
            if len(parts) == 1:
                return parts[0]
            if parts:
                columns = {c: Text(np.concatenate([p.columns[c].start for p in parts]),
                                   np.concatenate([p.columns[c].end for p in parts]), parts[0].columns[c].data)
                           for c in self.wanted}
                return Table(self.label, columns, sum(p.num_rows for p in parts))
        table = _read_csv(self.raw, self.label, column_names(self.header), self.wanted, warnings)
        return Table(self.label, {c: arrow_text(table[c]) for c in self.wanted}, table.num_rows)

    def slices(self, slice_bytes: int = SLICE_BYTES) -> Iterator[Table]:
        """A plain CSV file (feeds/columns.py) as Tables of consecutive rows, about `slice_bytes` of the file
        each, whose columns are offsets into the file's bytes (no copy of the text, bounded temporaries).
        NotPlain, before the first or between two, for a file that is not plain: read it with `table`."""
        raw = self.raw
        if not is_plain(raw) or b"\n" not in raw:  # a header alone without LF: the CSV reader's own error
            raise NotPlain(self.label)
        size = len(raw)
        while size and raw[size - 1] in b"\r\n":  # empty lines at the end, which the CSV reader skips too
            size -= 1
        text = raw
        if size == len(raw):  # no LF after the last line: a copy, with one
            text = bytes(raw) + b"\n"
        size += 2 if text[size] == 13 else 1  # the last line's own CRLF or LF
        if size > len(text) or text[size - 1] != 10:  # a lone CR at the end
            raise NotPlain(self.label)
        data = np.frombuffer(text if len(text) >= 16 else bytes(text) + bytes(16), dtype=np.uint8)  # >= 9 to gather
        rows = 0
        wanted = {c: self.header.index(c) for c in self.wanted}
        for count, columns in plain_rows(text, data, text.find(b"\n") + 1, size, len(self.header), wanted, slice_bytes):
            yield Table(self.label, columns, count, rows)
            rows += count
        if rows == 0:
            empty = np.zeros(0, np.int64)
            yield Table(self.label, {c: Text(empty, empty, data) for c in self.wanted}, 0)


BATCH_BYTES = 8 << 20  # a batch of a streamed file: what pyarrow parses at once, and about what it holds


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, by its soname first: ctypes.util.find_library runs ldconfig in a subprocess (and
    imports tempfile and shutil), 20 ms of every cold start."""
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        pass
    from ctypes.util import find_library

    try:
        return ctypes.CDLL(find_library("c")).malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to hand back
        return None


_TRIM = _malloc_trim()


def release_free_memory() -> None:
    """Hand memory freed by the process back to the system (glibc keeps freed blocks of batch-sized arrays
    in its heap: streaming a national stop_times.txt would otherwise hold twice the memory it needs)."""
    if _TRIM is not None:
        _TRIM(0)


class NotStreamable(Exception):
    """A file the streaming reader does not take as it is (broken rows, bytes that are not UTF-8, ...):
    read it whole instead, which says exactly what is wrong and where."""


def read_batches(
    source: GtfsSource,
    member: str,
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
) -> Iterator[Table]:
    """`member` as consecutive Tables of about BATCH_BYTES of CSV each, never holding the whole file: how
    stop_times.txt of a national feed (GBs) is read. Raises NotStreamable, before or between batches, for
    anything out of the ordinary (the caller then reads the file with `read_table`)."""
    label = source.label(member)
    if not source.has(member):
        raise FeedError("required file is missing", Location(label))
    import pyarrow as pa
    import pyarrow.csv as pacsv

    stream = source.open(member)
    try:
        head = stream.read(1 << 16)
        if head.startswith(BOM):
            head = head[len(BOM) :]
        if b"\n" not in head or b"\x00" in head or head.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise NotStreamable(label)  # one line only, CR line ends or not UTF-8 at all: the whole-file path knows
        header = header_of(head, label)
        names = column_names(header)
        if not any(header) or len(set(names)) != len(names) or any(c not in header for c in required):
            raise NotStreamable(label)
        wanted = [c for c in (*required, *optional) if c in header]
        skipped: list[str] = []
        try:
            chained = _Chained(head, stream)
            reader = pacsv.open_csv(chained, **_csv_options(names, wanted, skipped, BATCH_BYTES))
            first_row = 0
            for batch in reader:
                if skipped or chained.broken:
                    raise NotStreamable(label)  # the whole-file path names the line of the first broken row
                columns = {c: arrow_text(batch.column(c)) for c in wanted}
                yield Table(label, columns, batch.num_rows, first_row)
                first_row += batch.num_rows
                del columns, batch
                release_free_memory()  # the batch's temporaries back, before the next batch allocates its own
            if skipped or chained.broken:
                raise NotStreamable(label)
            if first_row == 0:  # a header and no rows: one empty table still tells the columns
                yield Table(label, {c: text_buffers(pa.nulls(0, pa.string())) for c in wanted}, 0)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
            raise NotStreamable(label) from exc
    finally:
        stream.close()


class _Chained(io.RawIOBase):
    """Bytes already read, then the rest of the stream; it ends early at the first byte that is not UTF-8
    (pyarrow's handler of broken rows cannot take such bytes), and says so in `broken`."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self.head, self.rest = head, rest
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.broken = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        if self.broken:
            return 0
        if self.head:
            data, self.head = self.head[: len(buffer)], self.head[len(buffer) :]
        else:
            data = self.rest.read(len(buffer))
        try:
            if not data.isascii() or self.decoder.getstate()[0]:  # ASCII after a whole character needs no decoding
                self.decoder.decode(data, final=not data)
        except UnicodeDecodeError:
            self.broken = True
            return 0
        buffer[: len(data)] = data
        return len(data)


def _csv_options(names: list[str], wanted: list[str], skipped: list[str], block_size: int | None = None) -> dict:
    """How pyarrow reads a GTFS file: the wanted columns as strings (never null), rows with the wrong number of
    fields skipped and their text added to `skipped`."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        skipped.append(row.text)
        return "skip"

    read = pacsv.ReadOptions(column_names=names, skip_rows=1)
    if block_size is not None:
        read.block_size = block_size
    return {
        "read_options": read,
        "parse_options": pacsv.ParseOptions(invalid_row_handler=on_invalid_row, newlines_in_values=True),
        "convert_options": pacsv.ConvertOptions(include_columns=wanted, column_types={c: pa.string() for c in wanted},
                                                strings_can_be_null=False, quoted_strings_can_be_null=False),
        "memory_pool": system_pool(),
    }


def _read_csv(raw: bytes | bytearray, label: str, names: list[str], wanted: list[str],
              warnings: list[FeedWarning] | None) -> pa.Table:
    """The wanted columns as strings; rows with the wrong number of fields skipped with one warning."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    skipped: list[str] = []
    try:
        table = pacsv.read_csv(pa.BufferReader(pa.py_buffer(raw)), **_csv_options(names, wanted, skipped))
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc):
            raise utf8_error(raw, label, names) from None
        raise FeedError(f"not valid CSV ({exc})", Location(label)) from None
    if skipped and warnings is not None:
        at = raw.find(skipped[0].encode("utf-8"))
        line = raw.count(b"\n", 0, at) + 1 if at >= 0 else None
        warnings.append(
            FeedWarning(f"{len(skipped)} row(s) with the wrong number of fields skipped", Location(label, line))
        )
    return table


def warn_rows(warnings: list[FeedWarning], table: Table, bad: np.ndarray, column: str, what: str) -> None:
    """Record one warning for the rows flagged in `bad`, naming the first of them."""
    rows = np.flatnonzero(bad)
    if rows.size:
        first = int(rows[0])
        warnings.append(FeedWarning(f"{rows.size} row(s) skipped: {what}", table.where(first, column)))
