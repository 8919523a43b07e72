"""The audit log of admin changes: what changed, when, and with which token. Kept as JSON lines in
the state folder (one file, appended), and the recent entries in memory for /api/audit and the
dashboard."""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Audit", "AuditEntry"]

log = logging.getLogger("stopcast.audit")
KEPT = 500  # entries kept in memory


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One admin change."""

    at: int  # Unix seconds
    who: str  # the label of the token used ("admin": the admin token)
    action: str  # e.g. "display.add", "display.change", "display.remove", "layout.add", "config.reload"
    target: str  # the display id or layout name ("" for the whole config)
    detail: str = ""


class Audit:
    """Appends entries to `file` (when given) and keeps the recent ones."""

    def __init__(self, file: Path | None) -> None:
        self.file = file
        self.sink: Callable[[AuditEntry], None] | None = None  # where entries also go (the shared state)
        self.entries: deque[AuditEntry] = deque(maxlen=KEPT)
        if file is not None and file.exists():
            try:
                for line in file.read_text(encoding="utf-8").splitlines()[-KEPT:]:
                    self.entries.append(AuditEntry(**json.loads(line)))
            except (OSError, ValueError, TypeError) as exc:
                log.warning("audit log %s could not be read (%s); starting a new one", file, exc)

    def record(self, entry: AuditEntry, stored: bool = False) -> None:
        """Log the change, keep it, and append it to the file (and to the sink, unless the caller `stored` it
        there already, with the change it records)."""
        self.entries.append(entry)
        log.info("admin change by %s: %s %s %s", entry.who, entry.action, entry.target, entry.detail)
        if self.sink is not None and not stored:
            self.sink(entry)
        if self.file is None:
            return
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            with self.file.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(asdict(entry), ensure_ascii=False) + "\n")
        except OSError as exc:
            log.error("audit log %s could not be written: %s", self.file, exc)

    def recent(self, count: int = 100) -> list[AuditEntry]:
        """The newest entries first."""
        return list(self.entries)[::-1][:count]
