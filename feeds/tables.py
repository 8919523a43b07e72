"""Columnar reading of GTFS CSV files, with errors that name file, line and column."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .errors import FeedError, FeedWarning, Location
from .source import GtfsSource

_BOM = b"\xef\xbb\xbf"
_SLICE = 1 << 24
# The system allocator returns freed memory at once; pyarrow's default pool holds ~50 MB more at peak.
_POOL = pa.system_memory_pool()


class Table:
    """One GTFS file as trimmed string columns; converters report bad values by line."""

    def __init__(self, label: str, columns: dict[str, pa.Array], num_rows: int) -> None:
        self.label = label
        self.columns = columns
        self.num_rows = num_rows

    def has(self, column: str) -> bool:
        """Whether the file has the column."""
        return column in self.columns

    def where(self, row: int, column: str) -> Location:
        """The location of a value (row 0 is on line 2, after the header)."""
        return Location(self.label, row + 2, column)

    def strings(self, column: str, default: str = "") -> list[str]:
        """The column as Python strings (`default` for every row when the column is absent)."""
        if column not in self.columns:
            return [default] * self.num_rows
        return self.columns[column].to_pylist()

    def ints(self, column: str, default: int, allowed: Iterable[int] | None = None) -> np.ndarray:
        """The column as int64, empty values taking `default`; other values are an error."""
        if column not in self.columns:
            return np.full(self.num_rows, default, dtype=np.int64)
        arr = self.columns[column]
        filled = pc.if_else(pc.equal(arr, ""), str(default), arr)
        try:
            values = pc.cast(filled, pa.int64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            for row, text in enumerate(filled.to_pylist()):
                try:
                    number = int(text)
                except ValueError:
                    raise FeedError(f"'{_short(text)}' is not a whole number", self.where(row, column)) from None
                if not -(2**63) <= number < 2**63:
                    raise FeedError(f"{_short(text)} is out of range (a 64-bit whole number)", self.where(row, column)) from None
            raise FeedError("has a value that is not a whole number", Location(self.label, None, column)) from None
        if allowed is not None:
            allowed_arr = np.fromiter(allowed, dtype=np.int64)
            bad = np.flatnonzero(~np.isin(values, allowed_arr))
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
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        arr = arr.cast(pa.large_string()) if arr.type != pa.large_string() else arr
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
        data_buf = arr.buffers()[2]
        data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
        data = np.concatenate([data, np.zeros(16, np.uint8)])  # keeps the gathers below in bounds
        start, end = offsets[:-1], offsets[1:]
        length = end - start
        empty = length == 0
        ok = empty | ((length >= 7) & (length <= 9))
        safe_end = np.where(ok & ~empty, end, 9)

        def digit(pos: np.ndarray) -> np.ndarray:
            return data[pos].astype(np.int32) - 48

        s2, s1, m2, m1 = digit(safe_end - 1), digit(safe_end - 2), digit(safe_end - 4), digit(safe_end - 5)
        colons = (data[safe_end - 3] == 58) & (data[safe_end - 6] == 58)
        hours = np.zeros(len(arr), dtype=np.int32)
        hours_ok = np.ones(len(arr), dtype=bool)
        scale = 1
        for k in range(1, 4):
            present = length >= 6 + k
            d = digit(np.where(present, safe_end - 6 - k, 0))
            hours_ok &= ~present | ((d >= 0) & (d <= 9))
            hours += np.where(present, d, 0) * scale
            scale *= 10
        digits = np.stack([s2, s1, m2, m1])
        valid = empty | (
            ok & colons & hours_ok & np.all((digits >= 0) & (digits <= 9), axis=0) & (m1 <= 5) & (s1 <= 5)
        )
        if not valid.all():
            row = int(np.flatnonzero(~valid)[0])
            raise FeedError(
                f"unparsable time '{arr[row].as_py()}' (expected HH:MM:SS)", self.where(row, column)
            )
        seconds = hours * 3600 + (m1 * 10 + m2) * 60 + s1 * 10 + s2
        return np.where(empty, -1, seconds).astype(np.int32)

    def codes(self, column: str, known: dict[str, int]) -> np.ndarray:
        """The column's ids mapped to indexes through `known` (int32); -1 for unknown or empty ids."""
        encoded = pc.dictionary_encode(self.columns[column])
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        lookup = np.array([known.get(v, -1) for v in encoded.dictionary.to_pylist()] + [-1], np.int32)
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        return lookup[indices]


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _header(raw: bytes, label: str) -> list[str]:
    """The header line's column names; FeedError when it is not UTF-8 text."""
    first = raw.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FeedError(f"the header line is not UTF-8: byte 0x{first[exc.start]:02x} at position {exc.start + 1}",
                        Location(label, 1)) from None
    try:
        return [name.strip() for name in next(csv.reader([text]), [])]
    except csv.Error as exc:
        raise FeedError(f"the header line is not valid CSV ({exc})", Location(label, 1)) from None


def _text_of(raw: bytes, label: str) -> bytes:
    """The file's bytes ready for the CSV reader: without a UTF-8 BOM, with LF or CRLF line ends.

    FeedError for text that is not UTF-8 at all (UTF-16 and the like)."""
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:64]:
        raise FeedError("is UTF-16 or another encoding with NUL bytes; GTFS files must be UTF-8", Location(label, 1))
    if b"\r" in raw and b"\n" not in raw:
        raw = raw.replace(b"\r", b"\n")  # classic Mac line ends
    return raw


def _is_utf8(raw: bytes) -> bool:
    """Whether all of `raw` is UTF-8, checked in slices (no copy of a large file as text)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(raw)
    try:
        for start in range(0, len(raw), _SLICE):
            decoder.decode(view[start : start + _SLICE])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _bad_utf8(raw: bytes, label: str, names: list[str]) -> FeedError:
    """The error for the first byte sequence that is not UTF-8, with its line and column."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        line = raw.count(b"\n", 0, exc.start) + 1
        before = raw[line_start : exc.start].decode("utf-8", "replace")
        try:
            index = max(len(next(csv.reader([before]), [""])) - 1, 0)
        except csv.Error:  # a stray CR before the byte: count the commas instead
            index = before.count(",")
        column = names[index] if index < len(names) else None
        return FeedError(f"not UTF-8: byte 0x{raw[exc.start]:02x} (GTFS files must be UTF-8)", Location(label, line, column))
    return FeedError("not valid CSV (text that is not UTF-8)", Location(label))


def read_table(
    source: GtfsSource,
    member: str,
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
    warnings: list[FeedWarning] | None = None,
) -> Table:
    """Read `member` of the feed keeping the named columns; a missing required one is an error."""
    label = source.label(member)
    if not source.has(member):
        raise FeedError("required file is missing", Location(label))
    raw = _text_of(source.read(member), label)
    header = _header(raw, label)
    names = [name if name else f"_unnamed{i}" for i, name in enumerate(header)]
    if not _is_utf8(raw):  # before pyarrow, whose handler for broken rows cannot take such bytes
        raise _bad_utf8(raw, label, names)
    if not any(header):
        raise FeedError("file is empty (no header line)", Location(label, 1))
    for column in required:
        if column not in header:
            raise FeedError(f"required column '{column}' is missing", Location(label, 1, column))
    wanted = [c for c in (*required, *optional) if c in header]
    if len(set(names)) != len(names):
        raise FeedError("duplicate column names in the header", Location(label, 1))
    table = _read_csv(raw, label, names, wanted, warnings)
    columns = {c: pc.utf8_trim_whitespace(table[c].combine_chunks(_POOL), memory_pool=_POOL) for c in wanted}
    return Table(label, columns, table.num_rows)


def _read_csv(raw: bytes, label: str, names: list[str], wanted: list[str], warnings: list[FeedWarning] | None) -> pa.Table:
    """The wanted columns as strings; rows with the wrong number of fields skipped with one warning."""
    skipped: list[str] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        skipped.append(row.text)
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(raw),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid_row, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                include_columns=wanted, column_types={c: pa.string() for c in wanted},
                strings_can_be_null=False, quoted_strings_can_be_null=False,
            ),
            memory_pool=_POOL,
        )
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc):
            raise _bad_utf8(raw, label, names) from None
        raise FeedError(f"not valid CSV ({exc})", Location(label)) from None
    if skipped and warnings is not None:
        at = raw.find(skipped[0].encode("utf-8"))
        line = raw.count(b"\n", 0, at) + 1 if at >= 0 else None
        warnings.append(FeedWarning(f"{len(skipped)} row(s) with the wrong number of fields skipped", Location(label, line)))
    return table


def warn_rows(warnings: list[FeedWarning], table: Table, bad: np.ndarray, column: str, what: str) -> None:
    """Record one warning for the rows flagged in `bad`, naming the first of them."""
    rows = np.flatnonzero(bad)
    if rows.size:
        first = int(rows[0])
        warnings.append(FeedWarning(f"{rows.size} row(s) skipped: {what}", table.where(first, column)))
