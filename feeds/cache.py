"""A disk cache of built timetables, keyed by the feed's content, so a warm start skips parsing."""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from .source import MAX_MEMBER_BYTES, GtfsSource
from .timetable import Timetable

FORMAT_VERSION = 5  # 4: a folder, the arrays as .npy files mapped on load, the rest pickled; 5: trip strings as arrays
KEEP_ENTRIES = 8  # feeds seen most recently; older entries are deleted
OBJECTS = "objects.pickle"  # every field that is not an array (stops, routes, ids, the calendar)


def default_cache_dir() -> Path:
    """$STOPCAST_CACHE_DIR, else the user's cache folder ($XDG_CACHE_HOME or ~/.cache)/stopcast."""
    explicit = os.environ.get("STOPCAST_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stopcast"


def open_timetable(
    path: str | Path, cache_dir: Path | None = None, max_member_bytes: int = MAX_MEMBER_BYTES
) -> Timetable:
    """The timetable of the feed at `path`, from the cache when the feed is unchanged.

    A cached timetable's arrays are mapped from their files, not read: a query pages in what it touches,
    and the processes of a service share one copy in the page cache. `cache_dir=None` disables the
    cache. A cache that cannot be read or written is ignored.
    """
    source = GtfsSource(path, max_member_bytes)
    try:
        if cache_dir is None:
            return _build(source, path)
        entry = cache_dir / f"timetable-v{FORMAT_VERSION}-{source.fingerprint()}"
        cached = _load(entry)
        if cached is not None:
            return cached
        shutil.rmtree(entry, ignore_errors=True)  # a broken entry is replaced, not served around forever
        timetable = _build(source, path)
        _store(entry, timetable)
        return timetable
    finally:
        source.close()


def _build(source: GtfsSource, path: str | Path) -> Timetable:
    from .loader import load_timetable  # pyarrow and the CSV reader: only when the cache cannot answer
    from .progress import TerminalProgress

    return load_timetable(source, TerminalProgress(f"building the timetable index of {Path(path).name}"))


def _load(entry: Path) -> Timetable | None:
    try:
        with (entry / OBJECTS).open("rb") as fh:
            objects = pickle.load(fh)
        if not isinstance(objects, dict):
            return None
        # Plain read-only views of the mapped files: np.memmap's own slicing costs Python code on every board.
        arrays: dict[str, Any] = {name: np.asarray(np.load(entry / f"{name}.npy", mmap_mode="r", allow_pickle=False))
                  for name in objects.pop("_arrays")}
        return Timetable(**objects, **arrays)
    except (OSError, ValueError, TypeError, KeyError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None


def _store(entry: Path, timetable: Timetable) -> None:
    """Write the entry into a temporary folder and rename it into place (readers never see half of one)."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=entry.parent, suffix=".tmp"))
    except OSError:
        return
    try:
        objects: dict = {"_arrays": []}
        for f in fields(timetable):
            value = getattr(timetable, f.name)
            if isinstance(value, np.ndarray):
                np.save(work / f"{f.name}.npy", value, allow_pickle=False)
                objects["_arrays"].append(f.name)
            else:
                objects[f.name] = value
        with (work / OBJECTS).open("wb") as fh:
            pickle.dump(objects, fh, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            os.rename(work, entry)
        except OSError:  # another process stored the same feed meanwhile
            shutil.rmtree(work, ignore_errors=True)
        entries = sorted((p for p in entry.parent.glob("timetable-v*") if not p.name.endswith(".tmp")),
                         key=lambda p: p.stat().st_mtime)
        for old in entries[:-KEEP_ENTRIES]:
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
    except OSError:  # a full disk, say: the half-written folder goes, the timetable is served from memory
        shutil.rmtree(work, ignore_errors=True)
