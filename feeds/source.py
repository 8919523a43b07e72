"""Access to the files of a GTFS feed stored as a zip archive or a folder."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib
from pathlib import Path
from typing import IO

from .errors import FeedError, Location

MAX_MEMBER_BYTES = 16 * 2**30  # one file of a feed, uncompressed (national feeds have several GB)
MAX_RATIO = 100  # uncompressed : compressed; CSV stays far below, a zip bomb far above
RATIO_FROM = 1 << 20  # the ratio is judged for members larger than this
_CHUNK = 1 << 20  # bytes a zip member is inflated by at a time
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # a zip member's local header: ... file name length, extra field length


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

    def read(self, member: str) -> bytes | bytearray:
        """The raw bytes of the file `member`; FeedError before inflating a member that is larger than
        the cap or compressed implausibly well (a zip bomb), or that inflates beyond what it declares.

        A deflated zip member is inflated in one call by ISA-L (3x zlib's speed: a cold start inflates
        20 MB of stop_times), anything else read into one buffer of the size the file declares (reading a
        stream to its end would hold it about twice at its peak)."""
        if self._zip is not None:
            info = self._zip.getinfo(self._members[member])
            if info.compress_type == zipfile.ZIP_DEFLATED and not info.flag_bits & 0x1:  # not encrypted
                return self._inflated(info, Location(self.label(member)))
        with self.open(member) as stream:
            try:
                return _read_all(stream, self.size(member))
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

    def _inflated(self, info: zipfile.ZipInfo, where: Location) -> bytes:
        """A deflated member's bytes, inflated at once, under the caps of `open`, its CRC checked."""
        from isal import isal_zlib  # only to build an index (a warm start maps it from the cache)

        self._check_member(info, where)
        try:
            with self.path.open("rb") as fh:
                fh.seek(info.header_offset)
                local = fh.read(_LOCAL_HEADER.size)
                if len(local) < _LOCAL_HEADER.size or local[:4] != b"PK\x03\x04":
                    raise FeedError("cannot be read (bad local file header)", where)
                name_length, extra_length = _LOCAL_HEADER.unpack(local)[-2:]
                fh.seek(info.header_offset + _LOCAL_HEADER.size + name_length + extra_length)
                packed = fh.read(info.compress_size)
            inflater = isal_zlib.decompressobj(-15)
            data = inflater.decompress(packed, info.file_size + 1)  # one byte more tells a member that lies
            del packed
        except (OSError, isal_zlib.error) as exc:  # type: ignore[misc]  # (IsalError; the stub names no class)
            raise FeedError(f"cannot be read ({exc})", where) from None
        if len(data) > info.file_size:
            raise FeedError(f"inflates beyond the {info.file_size} bytes its header declares; refused", where)
        if len(data) < info.file_size or isal_zlib.crc32(data) != info.CRC:
            raise FeedError(f"cannot be read (truncated or corrupt: bad CRC-32 for {info.filename})", where)
        return data

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


def _read_all(stream: IO[bytes], expected: int) -> bytearray:
    """All of `stream`, read into a buffer of `expected` bytes (grown, should the stream hold more)."""
    buffer = bytearray(expected)
    view = memoryview(buffer)
    done = 0
    while done < expected:
        n = stream.readinto(view[done : done + _CHUNK])  # type: ignore[attr-defined]
        if not n:
            break
        done += n
    view.release()
    if done < expected:
        del buffer[done:]
    else:
        buffer += stream.read()  # a folder's file that grew since it was measured (a zip's cannot: _Capped)
    return buffer


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
