"""String columns of a GTFS file as offsets into its UTF-8 bytes, split from the file by numpy when the file
is plain CSV (as most GTFS files are), and mapped to ids without a Python string per value.

A plain file has no quotes, every line ends with LF or CRLF, no line is empty and every line has as many
fields as the header: then a field is the bytes between two separators, and splitting the file is a few
vectorised passes over its bytes (no CSV parser, no copy of the text: a column is two offset arrays into
the file's own bytes). A file that is not plain is read by pyarrow's CSV reader (feeds/tables.py), whose
columns are then taken apart the same way; both give the same values.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "Keys",
    "NotPlain",
    "Text",
    "arrow_text",
    "codes_of",
    "is_plain",
    "plain_rows",
    "system_pool",
    "text_buffers",
    "uniques_of",
]

_COMMA, _LF, _CR = 44, 10, 13
_WHITE, _NOT_ASCII = 1, 2
_EDGE = np.zeros(256, dtype=np.uint8)  # what a value's first or last byte may be, besides ordinary
_EDGE[[9, 10, 11, 12, 13, 32]] = _WHITE  # ASCII whitespace, as pyarrow's utf8_trim_whitespace trims it
_EDGE[128:] = _NOT_ASCII
_PLAIN_EDGE = _EDGE.copy()  # in a plain file LF and CR only end lines: next to an empty value, not in one
_PLAIN_EDGE[[_LF, _CR]] = 0
SLICE_BYTES = 4 << 20  # a plain file is split this many bytes at a time (bounded temporaries)
_PACKED = 7  # values of at most this many bytes are compared as one uint64 (7 bytes and the length)


class NotPlain(Exception):
    """The file is not plain CSV (or a value needs Unicode trimming): read it with the CSV reader."""


class Text:
    """A string column: value i is the UTF-8 bytes `data[start[i]:end[i]]`. `data` may be a whole file's bytes
    shared by all its columns; it holds at least 9 bytes, and a byte at every `start` (gathers stay in
    bounds)."""

    __slots__ = ("start", "end", "data")

    def __init__(self, start: np.ndarray, end: np.ndarray, data: np.ndarray) -> None:
        self.start, self.end, self.data = start, end, data

    def __len__(self) -> int:
        return len(self.start)

    def value(self, row: int) -> str:
        """One value as a string."""
        return self.data[int(self.start[row]) : int(self.end[row])].tobytes().decode("utf-8")

    def to_list(self) -> list[str]:
        """Every value as a string."""
        if not len(self.start):
            return []
        lo, hi = int(self.start.min()), int(self.end.max())
        chunk = self.data[lo:hi].tobytes()
        if chunk.isascii():  # one decode, then slices of a str (a third of the time of a decode per value)
            whole = chunk.decode("ascii")
            return [whole[a - lo : b - lo] for a, b in zip(self.start.tolist(), self.end.tolist())]
        view = memoryview(chunk)
        return [str(view[a - lo : b - lo], "utf-8") for a, b in zip(self.start.tolist(), self.end.tolist())]

    def trimmed(self) -> Text:
        """The column without ASCII whitespace around its values; NotPlain when a value starts or ends with a
        byte that is not ASCII (it may be Unicode whitespace, which the CSV reader's path trims)."""
        start, end, data = self.start, self.end, self.data
        if not (_PLAIN_EDGE[data[start]] | _PLAIN_EDGE[data[end - 1]]).any():  # one look, without masks
            return self  # (an empty value's neighbours are its separators: a comma, LF or CR, all 0 here)
        while True:
            present = end > start
            head = np.where(present, _EDGE[data[np.where(present, start, 0)]], 0)
            tail = np.where(present, _EDGE[data[np.where(present, end - 1, 0)]], 0)
            if ((head | tail) & _NOT_ASCII).any():
                raise NotPlain("a value starts or ends with a byte that is not ASCII")
            if not (head | tail).any():
                return self if start is self.start else Text(start, end, data)
            new_start = start + (head == _WHITE)
            end = end - ((tail == _WHITE) & (end - 1 >= new_start))
            start = new_start


def plain_rows(raw: bytes | bytearray, data: np.ndarray, body: int, size: int, ncols: int, wanted: dict[str, int],
               slice_bytes: int = SLICE_BYTES) -> Iterator[tuple[int, dict[str, Text]]]:
    """The rows of a plain CSV file (`raw`, `size` bytes ending with LF, and `data`, the same bytes as an
    array, maybe padded) from offset `body` (after the header), as (rows, {name: column}) for the `wanted`
    columns (name: position), about `slice_bytes` at a time. NotPlain, before the first slice or between
    slices, when a line breaks the rules (the caller then reads the file with the CSV reader, which says
    what is wrong)."""
    lo = body
    while lo < size:
        hi = size
        if lo + slice_bytes < size:
            cut = raw.rfind(b"\n", lo, lo + slice_bytes)
            hi = cut + 1 if cut >= 0 else raw.find(b"\n", lo + slice_bytes) + 1
        part = data[lo:hi]
        lf = part == _LF
        seps = np.flatnonzero(lf | (part == _COMMA))
        if len(seps) % ncols:
            raise NotPlain("a line with another number of fields than the header")
        grid = (seps + lo).reshape(-1, ncols)
        del seps, part
        # every ncols-th separator is a LF and there are no others: every line has ncols fields
        if np.count_nonzero(lf) != len(grid) or not (data[grid[:, -1]] == _LF).all():
            raise NotPlain("a line with another number of fields than the header")
        del lf
        ends = grid[:, -1]
        starts = np.empty_like(ends)
        starts[0] = lo
        starts[1:] = ends[:-1] + 1
        if ((ends == starts) | ((ends == starts + 1) & (data[starts] == _CR))).any():
            raise NotPlain("an empty line")  # the CSV reader skips them
        crlf = data[ends - 1] == _CR
        if np.count_nonzero(data[lo:hi] == _CR) != np.count_nonzero(crlf):
            raise NotPlain("a CR that does not end a line")  # the CSV reader ends a line there
        columns = {}
        for name, j in wanted.items():
            first = starts if j == 0 else grid[:, j - 1] + 1
            last = grid[:, j] - crlf if j == ncols - 1 else grid[:, j]
            columns[name] = Text(first, last, data).trimmed()
        yield len(grid), columns
        lo = hi


def is_plain(raw: bytes | bytearray) -> bool:
    """Whether the file's bytes may be split without a CSV parser as far as one look tells: no quotes, and
    no CR in the header line but its CRLF (plain_rows finds a lone CR in the rows, slice by slice)."""
    if b'"' in raw:
        return False
    first = raw.find(b"\n")
    cr = raw.find(b"\r", 0, first if first >= 0 else len(raw))
    return cr < 0 or cr == first - 1


def _packed(text: Text) -> np.ndarray:
    """Values of at most _PACKED bytes as uint64: their bytes (little-endian) and their length in the top
    byte (exact: equal numbers are equal values). Each value's eight bytes are read as one word of a view of
    the bytes at every offset (no copy): one gather, not one per byte."""
    data, start = text.data, text.start
    length = (text.end - start).astype(np.uint64)
    words = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    word = words[np.minimum(start, len(data) - 8)]
    for row in np.flatnonzero(start > len(data) - 8).tolist():  # the last few bytes: not a whole word
        at = int(start[row])
        word[row] = int.from_bytes(data[at : at + int(length[row])].tobytes(), "little")
    mask = (np.uint64(1) << (np.uint64(8) * length)) - np.uint64(1)
    return (word & mask) | (length << np.uint64(56))  # type: ignore[no-any-return]


def _hashed(text: Text) -> np.ndarray:
    """A 64-bit hash of each value (FNV-1a over its bytes, and its length)."""
    length = (text.end - text.start).astype(np.int64)
    h = np.full(len(text), 0xCBF29CE484222325, dtype=np.uint64)
    prime = np.uint64(0x100000001B3)
    for k in range(int(length.max(initial=0))):
        present = k < length
        byte = text.data[np.where(present, text.start + k, 0)].astype(np.uint64)
        h = np.where(present, (h ^ byte) * prime, h)
    return h ^ (length.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))


def _same(a: Text, rows: np.ndarray, b: Text, other: np.ndarray) -> np.ndarray:
    """Whether value rows[i] of `a` equals value other[i] of `b`, byte for byte."""
    length = a.end[rows] - a.start[rows]
    same = length == (b.end[other] - b.start[other])
    for k in range(int(length.max(initial=0))):
        check = same & (k < length)
        same &= ~check | (
            a.data[np.where(check, a.start[rows] + k, 0)] == b.data[np.where(check, b.start[other] + k, 0)]
        )
    return same


def _text_of(values: list[str]) -> Text:
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    data = np.frombuffer(b"".join(encoded) + bytes(16), dtype=np.uint8)
    return Text(offsets[:-1], offsets[1:], data)


class Keys:
    """A dict's keys made ready for `codes_of`: as a Text, their ids, and their packed (or hashed) numbers
    sorted, with their order. Made once for the slices of a file that look up the same dict."""

    __slots__ = ("known", "text", "ids", "sorted_numbers", "packed", "order")

    def __init__(self, known: dict[str, int]) -> None:
        self.known = known
        self.text = _text_of(list(known))
        self.ids = np.fromiter(known.values(), dtype=np.int32, count=len(known))
        self.packed = int((self.text.end - self.text.start).max(initial=0)) <= _PACKED
        numbers = _packed(self.text) if self.packed else _hashed(self.text)
        self.order = np.argsort(numbers, kind="stable")
        self.sorted_numbers = numbers[self.order]


def codes_of(text: Text, known: dict[str, int] | Keys) -> np.ndarray:
    """The id of each value in `known` (int32), -1 for values it does not hold."""
    out = np.full(len(text), -1, dtype=np.int32)
    keys = known if isinstance(known, Keys) else Keys(known)
    if not keys.known or not len(text):
        return out
    sorted_numbers, order, ids = keys.sorted_numbers, keys.order, keys.ids
    if not keys.packed and len(np.unique(sorted_numbers)) != len(sorted_numbers):  # two keys with one hash
        return np.array([keys.known.get(v, -1) for v in text.to_list()], dtype=np.int32)
    if keys.packed and int((text.end - text.start).max(initial=0)) > _PACKED:
        short = (text.end - text.start) <= _PACKED  # longer values cannot be keys
        rows = np.flatnonzero(short)
        out[rows] = codes_of(Text(text.start[rows], text.end[rows], text.data), keys)
        return out
    if keys.packed:  # exact numbers: a run of equal ones (a trip's stop_times) is looked up once
        numbers = _packed(text)
        heads = np.flatnonzero(np.concatenate([[True], numbers[1:] != numbers[:-1]]))
        if len(heads) * 2 < len(numbers):
            runs = np.diff(np.append(heads, len(numbers)))
            return np.repeat(_lookup(numbers[heads], sorted_numbers, order, ids), runs)  # type: ignore[no-any-return]
        return _lookup(numbers, sorted_numbers, order, ids)
    numbers = _hashed(text)
    pos = np.minimum(np.searchsorted(sorted_numbers, numbers), len(sorted_numbers) - 1)
    found = sorted_numbers[pos] == numbers
    candidate = order[pos]
    rows = np.flatnonzero(found)  # a hash names a key: check the bytes
    found[rows] = _same(text, rows, keys.text, candidate[rows])
    return np.where(found, ids[candidate], -1).astype(np.int32)


def _lookup(numbers: np.ndarray, sorted_numbers: np.ndarray, order: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The id of each packed value among the sorted packed keys, -1 where none is equal."""
    pos = np.minimum(np.searchsorted(sorted_numbers, numbers), len(sorted_numbers) - 1)
    return np.where(sorted_numbers[pos] == numbers, ids[order[pos]], -1).astype(np.int32)


def uniques_of(text: Text) -> list[str]:
    """The distinct values, in the order they first appear."""
    if not len(text):
        return []
    packed = int((text.end - text.start).max(initial=0)) <= _PACKED
    numbers = _packed(text) if packed else _hashed(text)
    _, first, inverse = np.unique(numbers, return_index=True, return_inverse=True)
    if not packed and not _same(text, np.arange(len(text)), text, first[inverse.ravel()]).all():
        return list(dict.fromkeys(text.to_list()))  # two values with one hash: count them exactly
    return [text.value(int(i)) for i in np.sort(first)]


def system_pool() -> object:
    """The system allocator, which returns freed memory at once; pyarrow's default pool holds ~50 MB more."""
    import pyarrow as pa

    return pa.system_memory_pool()


_SPACE = np.zeros(256, dtype=bool)
_SPACE[[9, 10, 11, 12, 13, 32]] = True  # ASCII whitespace; values with other (Unicode) spaces are rare: see _arrow_text
_ASCII = np.arange(256) < 128


def arrow_text(arr: pa.Array | pa.ChunkedArray) -> Text:
    """A column of pyarrow's CSV reader, without whitespace around its values, as a Text. pyarrow.compute
    trims only a column that needs it (no value starts or ends with a space or a non-ASCII byte in almost
    every feed)."""
    text = text_buffers(arr)
    present = text.end > text.start
    edges = np.concatenate([text.data[text.start[present]], text.data[text.end[present] - 1]])
    if not (_SPACE[edges].any() or (~_ASCII[edges]).any()):
        return text
    import pyarrow.compute as pc  # only for a file that needs it (0.04 s to import)

    return text_buffers(pc.utf8_trim_whitespace(arr, memory_pool=system_pool()))


def text_buffers(arr: pa.Array | pa.ChunkedArray) -> Text:
    """A string column's values as (start, end) offsets into its bytes, padded at the end so that
    gathers a few bytes past a value stay in bounds (no Python string is made)."""
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type not in (pa.string(), pa.large_string()):
        arr = arr.cast(pa.large_string())
    width = np.int32 if arr.type == pa.string() else np.int64  # read as they are: Array.cast imports pyarrow.compute
    offsets = np.frombuffer(arr.buffers()[1], dtype=width)[arr.offset : arr.offset + len(arr) + 1].astype(np.int64)
    data_buf = arr.buffers()[2]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return Text(offsets[:-1], offsets[1:], np.concatenate([data, np.zeros(24, np.uint8)]))
