"""A GTFS file's bytes before they are split into columns: BOM, line ends, the header line, UTF-8 checks and
errors that name the line and column of a byte that is not UTF-8."""

from __future__ import annotations

import codecs
import csv

from .errors import FeedError, Location

__all__ = ["BOM", "column_names", "csv_text", "header_of", "is_utf8", "short", "utf8_error"]

BOM = b"\xef\xbb\xbf"
_SLICE = 1 << 24


def short(text: str, limit: int = 40) -> str:
    """A value as an error message quotes it: at most `limit` characters."""
    return text if len(text) <= limit else text[:limit] + "…"


def header_of(raw: bytes | bytearray, label: str) -> list[str]:
    """The header line's column names; FeedError when it is not UTF-8 text."""
    cut = raw.find(b"\n")
    first = bytes(raw[: cut if cut >= 0 else len(raw)]).rstrip(b"\r")
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FeedError(f"the header line is not UTF-8: byte 0x{first[exc.start]:02x} at position {exc.start + 1}",
                        Location(label, 1)) from None
    try:
        return [name.strip() for name in next(csv.reader([text]), [])]
    except csv.Error as exc:
        raise FeedError(f"the header line is not valid CSV ({exc})", Location(label, 1)) from None


def csv_text(raw: bytes | bytearray, label: str) -> bytes | bytearray:
    """The file's bytes ready for the CSV reader: without a UTF-8 BOM, with LF or CRLF line ends.

    FeedError for text that is not UTF-8 at all (UTF-16 and the like)."""
    if raw.startswith(BOM):
        raw = raw[len(BOM) :]
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:64]:
        raise FeedError("is UTF-16 or another encoding with NUL bytes; GTFS files must be UTF-8", Location(label, 1))
    if b"\r" in raw and b"\n" not in raw:
        raw = raw.replace(b"\r", b"\n")  # classic Mac line ends
    return raw


def is_utf8(raw: bytes | bytearray) -> bool:
    """Whether all of `raw` is UTF-8, checked in slices (no copy of a large file as text)."""
    if raw.isascii():
        return True
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(raw)
    try:
        for start in range(0, len(raw), _SLICE):
            decoder.decode(view[start : start + _SLICE])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def utf8_error(raw: bytes | bytearray, label: str, names: list[str]) -> FeedError:
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
        return FeedError(
            f"not UTF-8: byte 0x{raw[exc.start]:02x} (GTFS files must be UTF-8)", Location(label, line, column)
        )
    return FeedError("not valid CSV (text that is not UTF-8)", Location(label))


def column_names(header: list[str]) -> list[str]:
    """The header's column names, an empty one named by its position (pyarrow needs every column named)."""
    return [name if name else f"_unnamed{i}" for i, name in enumerate(header)]
