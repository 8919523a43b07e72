"""The service's state store for ops messages and alert suppressions: an interface, and its one
implementation, SQLite in the state folder (stdlib sqlite3: one small file, no server, transactions
and a schema version that stopcast migrates itself)."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any, Protocol

from displays.core.notices import Editorial, editorial_of

__all__ = ["KINDS", "SCHEMA_VERSION", "STORE_FILE", "SqliteStore", "StateStore", "StoreError"]

log = logging.getLogger("stopcast.store")
KINDS = ("message", "suppression")
STORE_FILE = "stopcast.sqlite3"
SCHEMA_VERSION = 1
_TABLES = {"message": "messages", "suppression": "suppressions"}
_MIGRATIONS: dict[int, tuple[str, ...]] = {  # version -> the statements that reach it from the one before
    1: (
        "CREATE TABLE messages (id TEXT PRIMARY KEY, doc TEXT NOT NULL, changed_at INTEGER NOT NULL)",
        "CREATE TABLE suppressions (id TEXT PRIMARY KEY, doc TEXT NOT NULL, changed_at INTEGER NOT NULL)",
    ),
}


class StoreError(Exception):
    """The state store cannot be used; the message names the file and why."""


class StateStore(Protocol):
    """Where messages and suppressions live (kind: "message" or "suppression"), as their JSON documents."""

    def load(self, kind: str) -> list[dict[str, Any]]:
        """Every stored document of a kind, oldest first."""

    def put(self, kind: str, item_id: str, doc: dict[str, Any], at: int) -> None:
        """Insert or replace one document."""

    def delete(self, kind: str, item_id: str) -> bool:
        """Remove one document; whether it was there."""

    def close(self) -> None:
        """Release the store."""


class SqliteStore:
    """SQLite: `path` (a file; ":memory:" for a service without a state folder)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self.refused = ""  # why changes are refused (a read-only store), "" when they are kept
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"state store {self.path}: {exc}") from None
        try:
            self.db.execute("PRAGMA journal_mode=WAL" if self.path != ":memory:" else "PRAGMA journal_mode=MEMORY")
            self.db.execute("PRAGMA busy_timeout=5000")
            self.db.execute("PRAGMA synchronous=FULL")  # a change answered to ops survives a power loss
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            self.db.close()
            raise StoreError(f"state store {self.path}: {exc}") from None

    @classmethod
    def read_only(cls, path: Path | str, why: str) -> SqliteStore:
        """The documents of a store that cannot be opened for writing (a read-only state folder), read without
        locking and held in memory; every change is refused with StoreError (so none is answered and lost)."""
        try:
            source = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
            try:
                rows = {
                    kind: source.execute(f"SELECT id, doc, changed_at FROM {_TABLES[kind]}").fetchall()
                    for kind in KINDS
                }
            finally:
                source.close()
        except sqlite3.Error as exc:
            raise StoreError(f"state store {path}: {why}; reading it failed too ({exc})") from None
        store = cls(":memory:")
        for kind, found in rows.items():
            store.db.executemany(f"INSERT INTO {_TABLES[kind]} (id, doc, changed_at) VALUES (?, ?, ?)", found)
        store.path, store.refused = str(path), why
        return store

    @classmethod
    def in_folder(cls, folder: Path | None) -> SqliteStore:
        """The store in a state folder (in memory without one)."""
        return cls(folder / STORE_FILE if folder is not None else ":memory:")

    def _migrate(self) -> None:
        version = int(self.db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreError(f"state store {self.path}: schema version {version} is newer than this stopcast "
                             f"knows ({SCHEMA_VERSION}); run the newer stopcast or restore a backup")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _MIGRATIONS[target]:
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {target}")
                self.db.execute("COMMIT")
            except sqlite3.Error:
                self.db.execute("ROLLBACK")
                raise
            log.info("state store %s: schema migrated to version %d", self.path, target)

    def load(self, kind: str) -> list[dict[str, Any]]:
        """Every stored document of a kind, oldest first (a row that is not JSON is skipped and logged)."""
        out = []
        try:
            rows = self.db.execute(f"SELECT id, doc FROM {_TABLES[kind]} ORDER BY changed_at, id").fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"state store {self.path}: {exc}") from None
        for item_id, text in rows:
            try:
                out.append(json.loads(text))
            except ValueError:
                log.error("state store %s: %s %s is not JSON; ignored", self.path, kind, item_id)
        return out

    def put(self, kind: str, item_id: str, doc: dict[str, Any], at: int) -> None:
        """Insert or replace one document."""
        self._writable()
        try:
            self.db.execute(f"INSERT INTO {_TABLES[kind]} (id, doc, changed_at) VALUES (?, ?, ?) "
                            "ON CONFLICT(id) DO UPDATE SET doc = excluded.doc, changed_at = excluded.changed_at",
                            (item_id, json.dumps(doc, ensure_ascii=False), at))
        except sqlite3.Error as exc:
            raise StoreError(f"state store {self.path}: {exc}") from None

    def delete(self, kind: str, item_id: str) -> bool:
        """Remove one document; whether it was there."""
        self._writable()
        try:
            return self.db.execute(f"DELETE FROM {_TABLES[kind]} WHERE id = ?", (item_id,)).rowcount > 0
        except sqlite3.Error as exc:
            raise StoreError(f"state store {self.path}: {exc}") from None

    def _writable(self) -> None:
        if self.refused:
            raise StoreError(f"state store {self.path}: {self.refused}; changes cannot be kept")

    def close(self) -> None:
        """Close the database."""
        self.db.close()


def load_editorial(store: StateStore, tz: str, now: int) -> Editorial:
    """Every message and suppression in the store."""
    return editorial_of([("message", d) for d in store.load("message")]
                        + [("suppression", d) for d in store.load("suppression")], tz, now)
