"""A disk cache of built timetables, keyed by the feed's content, so a warm start skips parsing."""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

from .source import MAX_MEMBER_BYTES, GtfsSource
from .timetable import Timetable

FORMAT_VERSION = 3  # 3: agency_lang holds feed_info.feed_lang when the feed has one
KEEP_ENTRIES = 8  # feeds seen most recently; older entries are deleted


def default_cache_dir() -> Path:
    """$STOPCAST_CACHE_DIR, else the user's cache folder ($XDG_CACHE_HOME or ~/.cache)/stopcast."""
    explicit = os.environ.get("STOPCAST_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stopcast"


def open_timetable(path: str | Path, cache_dir: Path | None = None, max_member_bytes: int = MAX_MEMBER_BYTES) -> Timetable:
    """The timetable of the feed at `path`, from the cache when the feed is unchanged.

    `cache_dir=None` disables the cache. A cache that cannot be read or written is ignored.
    """
    from .loader import load_timetable  # pyarrow and the CSV reader: only when the cache cannot answer
    from .progress import TerminalProgress

    source = GtfsSource(path, max_member_bytes)
    progress = TerminalProgress(f"building the timetable index of {Path(path).name}")
    try:
        if cache_dir is None:
            return load_timetable(source, progress)
        entry = cache_dir / f"timetable-v{FORMAT_VERSION}-{source.fingerprint()}.pickle"
        try:
            with entry.open("rb") as fh:
                cached = pickle.load(fh)
            if isinstance(cached, Timetable):
                return cached
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            pass
        timetable = load_timetable(source, progress)
        _store(entry, timetable)
        return timetable
    finally:
        source.close()


def _store(entry: Path, timetable: Timetable) -> None:
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=entry.parent, delete=False, suffix=".tmp") as fh:
            pickle.dump(timetable, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(fh.name, entry)
        entries = sorted(entry.parent.glob("timetable-v*.pickle"), key=lambda p: p.stat().st_mtime)
        for old in entries[:-KEEP_ENTRIES]:
            old.unlink(missing_ok=True)
    except OSError:
        return
