"""The audit log of admin changes: what changed, when, and with which token. Kept as JSON lines in
the state folder (one file, appended), and the recent entries in memory for /api/audit and the
dashboard."""

from __future__ import annotations

import json
import logging
import re
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Audit", "AuditEntry", "changes", "described"]

log = logging.getLogger("stopcast.audit")
KEPT = 500  # entries kept in memory


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One admin change."""

    at: int  # Unix seconds
    who: str  # the operator whose token was used ([[http.operators]] name; "admin": the unnamed admin_token)
    action: str  # e.g. "display.add", "display.change", "display.remove", "layout.add", "config.reload"
    target: str  # the display id or layout name ("" for the whole config)
    detail: str = ""


SECRET_FIELDS = ("pull_key",)  # changes to these are recorded, their values never


_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(:\d{2})?([+-]\d{2}:\d{2}|Z)$")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _shown(key: str, value: object) -> str:
    if isinstance(value, str) and (iso := _ISO.match(value)):  # an ISO time (in its local offset): as people write it
        year, month, day, hour, minute = (iso.group(i) for i in range(1, 6))
        return f"{int(day)} {MONTHS[int(month) - 1]} {year} {hour}:{minute}"
    if value is None or value == "" or value == [] or value == {}:
        return "(none)"
    if key in SECRET_FIELDS:
        return "(set)"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_shown(k, v)}" for k, v in value.items())
    return str(value)


def changes(old: dict, new: dict) -> str:
    """What differs between two JSON documents of one thing, as 'field: old -> new; ...' (secrets masked)."""
    keys = [k for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k) and k not in ("id", "state")]
    if not keys:
        return "no field changed"
    return "; ".join(f"{k}: {_shown(k, old.get(k))} -> {_shown(k, new.get(k))}" for k in keys)


def described(doc: dict) -> str:
    """A whole document (an added or removed thing) as 'field: value; ...' (secrets masked)."""
    return "; ".join(f"{k}: {_shown(k, v)}" for k, v in doc.items() if k not in ("id", "state"))


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
