"""Access to the files of a GTFS feed stored as a zip archive or a folder."""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from pathlib import Path
from typing import IO

from .errors import FeedError, Location

MAX_MEMBER_BYTES = 16 * 2**30  # one file of a feed, uncompressed (national feeds have several GB)
MAX_RATIO = 100  # uncompressed : compressed; CSV stays far below, a zip bomb far above
RATIO_FROM = 1 << 20  # the ratio is judged for members larger than this
_CHUNK = 1 << 20  # bytes a zip member is inflated by at a time


class GtfsSource:
    """The member files of one GTFS feed (zip or folder), read as bytes."""

    def __init__(self, path: str | Path, max_member_bytes: int = MAX_MEMBER_BYTES) -> None:
        self.path = Path(path)
        self.max_member_bytes = max_member_bytes
        if not self.path.exists():
            raise FeedError("no such file or folder", Location(str(path)))
        self._zip: zipfile.ZipFile | None = None
        self._members: dict[str, str] = {}
        if self.path.is_dir():
            self._members = {p.name: p.name for p in self.path.iterdir() if p.suffix == ".txt"}
        else:
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise FeedError(f"not a GTFS zip archive ({exc})", Location(str(path))) from exc
            # Some publishers nest the files one folder deep; take the shallowest copy of each.
            for name in sorted(self._zip.namelist(), key=lambda n: n.count("/")):
                base = name.rsplit("/", 1)[-1]
                if base.endswith(".txt") and base not in self._members:
                    self._members[base] = name

    def label(self, member: str) -> str:
        """The name under which errors in `member` are reported."""
        return f"{self.path.name}/{member}" if self._zip else str(self.path / member)

    def has(self, member: str) -> bool:
        """Whether the feed contains the file `member` (e.g. 'stops.txt')."""
        return member in self._members

    def size(self, member: str) -> int:
        """The bytes of the file `member` uncompressed (as its zip header declares)."""
        name = self._members[member]
        return (self.path / name).stat().st_size if self._zip is None else self._zip.getinfo(name).file_size

    def read(self, member: str) -> bytes:
        """The raw bytes of the file `member`; FeedError before inflating a member that is larger than
        the cap or compressed implausibly well (a zip bomb), or that inflates beyond what it declares."""
        with self.open(member) as stream:
            try:
                return stream.read()
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
                raise FeedError(f"cannot be read ({exc})", Location(self.label(member))) from None

    def open(self, member: str) -> IO[bytes]:
        """The file `member` as a binary stream, under the same caps as `read` (a stream that inflates
        beyond what its zip header declares fails with FeedError while it is read)."""
        name = self._members[member]
        where = Location(self.label(member))
        try:
            if self._zip is None:
                size = (self.path / name).stat().st_size
                if size > self.max_member_bytes:
                    raise FeedError(f"is {size} bytes, over the cap of {self.max_member_bytes}", where)
                return (self.path / name).open("rb")
            info = self._zip.getinfo(name)
            self._check_member(info, where)
            return io.BufferedReader(_Capped(self._zip.open(info), info.file_size, where), _CHUNK)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as exc:
            raise FeedError(f"cannot be read ({exc})", where) from None

    def _check_member(self, info: zipfile.ZipInfo, where: Location) -> None:
        if info.file_size > self.max_member_bytes:
            raise FeedError(f"inflates to {info.file_size} bytes, over the cap of {self.max_member_bytes}; "
                            "refused before inflating", where)
        if info.file_size > RATIO_FROM and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            raise FeedError(f"compressed {ratio}:1 ({info.compress_size} bytes inflate to {info.file_size}); "
                            f"no CSV compresses beyond {MAX_RATIO}:1, so this is refused as a zip bomb", where)



    def fingerprint(self) -> str:
        """A digest that changes whenever the feed's content changes."""
        digest = hashlib.blake2b(digest_size=16)
        if self._zip is None:
            for name in sorted(self._members):
                stat = (self.path / name).stat()
                digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
        else:
            with self.path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
        return digest.hexdigest()

    def close(self) -> None:
        """Release the open archive, if any."""
        if self._zip is not None:
            self._zip.close()


class _Capped(io.RawIOBase):
    """A zip member's stream that refuses to inflate beyond the size its header declares."""

    def __init__(self, inner: IO[bytes], declared: int, where: Location) -> None:
        self.inner, self.declared, self.where, self.seen = inner, declared, where, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        try:
            data = self.inner.read(len(buffer))
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise FeedError(f"cannot be read ({exc})", self.where) from None
        self.seen += len(data)
        if self.seen > self.declared:
            raise FeedError(f"inflates beyond the {self.declared} bytes its header declares; refused", self.where)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()
