"""Access to the files of a GTFS feed stored as a zip archive or a folder."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

from .errors import FeedError, Location


class GtfsSource:
    """The member files of one GTFS feed (zip or folder), read as bytes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
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

    def read(self, member: str) -> bytes:
        """The raw bytes of the file `member`."""
        name = self._members[member]
        try:
            if self._zip is not None:
                return self._zip.read(name)
            return (self.path / name).read_bytes()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise FeedError(f"cannot be read ({exc})", Location(self.label(member))) from exc

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
