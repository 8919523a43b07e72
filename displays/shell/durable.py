"""Files that survive a power loss once written: the data is fsynced before the rename that makes it the
file, and the folder after it (a rename lives in the folder's entry, not in the file), so a change answered
to ops is on disk, and a crash leaves either the old file or the new one, never an empty one."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["write_durably"]


def write_durably(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` durably (OSError when it cannot: nothing was replaced then)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
