"""Many strings kept as two arrays (their UTF-8 bytes and offsets) instead of as many Python objects.

A national feed has hundreds of thousands of trips; as Python strings and a dict their ids, headsigns and
names cost ~100 bytes each and most of a warm start's time to unpickle, although a departures query reads
a few dozen of them. As arrays they load in one read and each string is made when it is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import overload

import numpy as np


class Strings(Sequence[str]):
    """An immutable sequence of strings stored as UTF-8 bytes and offsets."""

    __slots__ = ("_data", "_offsets")

    def __init__(self, data: np.ndarray, offsets: np.ndarray) -> None:
        self._data = data
        self._offsets = offsets

    @staticmethod
    def of(values: Iterable[str]) -> Strings:
        """The strings of `values`, in order."""
        encoded = [v.encode("utf-8") for v in values]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        return Strings(np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        i = int(index) + n if index < 0 else int(index)
        if not 0 <= i < n:
            raise IndexError("string index out of range")
        return self._data[self._offsets[i] : self._offsets[i + 1]].tobytes().decode("utf-8")

    def __iter__(self) -> Iterator[str]:
        data = self._data.tobytes()
        offsets = self._offsets.tolist()
        for a, b in zip(offsets, offsets[1:]):
            yield data[a:b].decode("utf-8")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Strings | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Strings({len(self)} strings)"

    def __reduce__(self) -> tuple:
        return Strings, (np.ascontiguousarray(self._data), np.ascontiguousarray(self._offsets))


class StringIndex(Mapping[str, int]):
    """The position of each string of a Strings (the first, for a string that repeats); the dict is built on
    first use and never pickled."""

    __slots__ = ("_strings", "_index")

    def __init__(self, strings: Strings, index: dict[str, int] | None = None) -> None:
        self._strings = strings
        self._index = index

    def _built(self) -> dict[str, int]:
        if self._index is None:
            index: dict[str, int] = {}
            for i, value in enumerate(self._strings):
                index.setdefault(value, i)
            self._index = index
        return self._index

    def __getitem__(self, key: str) -> int:
        return self._built()[key]

    def get(self, key: str, default: int | None = None) -> int | None:  # type: ignore[override]
        """The position of `key`, else `default` (the dict's own get: realtime looks up every update's trip)."""
        return self._built().get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._built())

    def __len__(self) -> int:
        return len(self._built())

    def __contains__(self, key: object) -> bool:
        return key in self._built()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self._built()) == dict(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._strings)

    def __reduce__(self) -> tuple:
        return StringIndex, (self._strings,)
