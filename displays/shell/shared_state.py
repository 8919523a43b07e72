"""The state several instances share when `[state] url = "postgresql://..."`: the config text (admin
changes made on any instance), ops messages and suppressions, and the audit log. psycopg 3 (async, LISTEN/NOTIFY);
the schema is created and migrated here. Every change is a new version of the whole config text, written by
compare-and-set on the version it was made from and announced with NOTIFY; instances also poll every few seconds,
so a lost notification delays a change by at most that.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psycopg
from psycopg.rows import tuple_row

from displays.shell.audit import AuditEntry
from displays.shell.store import StoreError

__all__ = [
    "CHANNEL",
    "POLL",
    "SNAPSHOT_FILE",
    "ItemChange",
    "SharedState",
    "SharedStateError",
    "SharedStore",
    "Sharing",
    "Version",
]

log = logging.getLogger("stopcast.state")
CHANNEL = "stopcast_config"
POLL = 3.0  # seconds between version checks besides LISTEN
CONNECT_TIMEOUT = 5  # seconds
SNAPSHOT_FILE = "shared-state.json"  # in the state folder: the last shared state this instance saw
T = TypeVar("T")
SCHEMA = 2
MIGRATIONS = {
    1: [
        "CREATE TABLE IF NOT EXISTS stopcast_config (id int PRIMARY KEY CHECK (id = 1), version bigint NOT NULL, "
        "text text NOT NULL, changed_at bigint NOT NULL)",
        "CREATE TABLE IF NOT EXISTS stopcast_audit (id bigserial PRIMARY KEY, at bigint NOT NULL, who text NOT NULL, "
        "action text NOT NULL, target text NOT NULL, detail text NOT NULL)",
    ],
    2: [  # ops messages and suppressions (displays/shell/store.py's documents), with one version for all of them
        "CREATE TABLE IF NOT EXISTS stopcast_items (kind text NOT NULL, id text NOT NULL, doc text NOT NULL, "
        "changed_at bigint NOT NULL, PRIMARY KEY (kind, id))",
        "CREATE TABLE IF NOT EXISTS stopcast_items_version (id int PRIMARY KEY CHECK (id = 1), "
        "version bigint NOT NULL)",
        "INSERT INTO stopcast_items_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
    ],
}


class SharedStateError(Exception):
    """The shared state cannot be used; the message says which database and why (never the password)."""


@dataclass(frozen=True)
class Version:
    """One version of the shared config text."""

    number: int
    text: str


def _where(url: str) -> str:
    return url.rsplit("@", 1)[-1]


class SharedState:
    """One instance's connection to the shared state. Every statement runs under one lock: the admin API's
    writes and the follower's reads share the connection, and a transaction must not take in another
    task's statement."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.AsyncConnection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Connect and bring the schema to the current version."""
        try:
            self._conn = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT
            )
            async with self._conn.transaction():
                await self._conn.execute("SELECT pg_advisory_xact_lock(7152130)")  # one instance at a time migrates
                await self._conn.execute("CREATE TABLE IF NOT EXISTS stopcast_schema (version int NOT NULL)")
                row = await (await self._conn.execute("SELECT max(version) FROM stopcast_schema")).fetchone()
                current = (row[0] if row else None) or 0
                for version in range(current + 1, SCHEMA + 1):
                    for statement in MIGRATIONS[version]:
                        await self._conn.execute(statement)  # type: ignore[arg-type]
                    await self._conn.execute("INSERT INTO stopcast_schema (version) VALUES (%s)", (version,))
        except psycopg.Error as exc:
            raise SharedStateError(f"shared state at {_where(self.url)}: {str(exc).strip()}") from None

    async def close(self) -> None:
        """Disconnect."""
        if self._conn is not None:
            await self._conn.close()

    def _c(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed:
            raise SharedStateError(f"shared state at {_where(self.url)}: not connected")
        return self._conn

    async def _version(self) -> Version | None:
        row = await (await self._c().execute("SELECT version, text FROM stopcast_config WHERE id = 1")).fetchone()
        return Version(row[0], row[1]) if row else None

    async def version(self) -> Version | None:
        """The current config text (None before the first instance seeded it)."""
        async with self._lock:
            return await self._version()

    async def seed(self, text: str, now: int) -> Version:
        """Store the config file's text as version 1 unless another instance did first; the current version."""
        async with self._lock:
            await self._c().execute("INSERT INTO stopcast_config (id, version, text, changed_at) VALUES (1, 1, %s, %s) "
                                    "ON CONFLICT (id) DO NOTHING", (text, now))
            found = await self._version()
        if found is None:
            raise SharedStateError("the shared config could not be seeded")
        return found

    async def commit(self, text: str, entry: AuditEntry | None, base: int | None = None) -> Version | None:
        """A new version of the config text (and its audit entry, in the same transaction), announced to every
        instance. With `base`, compare-and-set: only when the current version is still `base` (None when it is
        not: another instance changed the config first, nothing was written)."""
        async with self._lock:
            conn = self._c()
            async with conn.transaction():
                query = "UPDATE stopcast_config SET version = version + 1, text = %s, changed_at = %s WHERE id = 1"
                params: tuple = (text, entry.at if entry else 0)
                if base is not None:
                    query, params = query + " AND version = %s", params + (base,)
                row = await (await conn.execute(query + " RETURNING version", params)).fetchone()  # type: ignore[arg-type]
                if row is None:
                    if base is not None:
                        return None
                    raise SharedStateError("the shared config was never seeded")
                if entry is not None:
                    await self._record(entry)
                await conn.execute(f"NOTIFY {CHANNEL}, '{int(row[0])}'")
        return Version(row[0], text)

    async def _record(self, entry: AuditEntry) -> None:
        await self._c().execute(
            "INSERT INTO stopcast_audit (at, who, action, target, detail) VALUES (%s, %s, %s, %s, %s)",
            (entry.at, entry.who, entry.action, entry.target, entry.detail),
        )
        await self._c().execute(f"NOTIFY {CHANNEL}, 'audit'")

    async def record(self, entry: AuditEntry) -> None:
        """Append an audit entry (and tell the other instances, whose audit views follow)."""
        async with self._lock:
            await self._record(entry)

    async def _items_version(self) -> int:
        row = await (await self._c().execute("SELECT version FROM stopcast_items_version WHERE id = 1")).fetchone()
        return int(row[0]) if row else 0

    async def items_version(self) -> int:
        """How often messages and suppressions have changed (grows with every put and delete)."""
        async with self._lock:
            return await self._items_version()

    async def items(self) -> tuple[int, list[tuple[str, dict]]]:
        """The items version and every (kind, document), oldest first, read in one transaction."""
        async with self._lock:
            conn = self._c()
            async with conn.transaction():
                version = await self._items_version()
                rows = await (
                    await conn.execute("SELECT kind, doc FROM stopcast_items ORDER BY changed_at, id")
                ).fetchall()
        return version, [(kind, json.loads(doc)) for kind, doc in rows]

    async def change_item(self, item: ItemChange, entry: AuditEntry | None = None) -> int:
        """Store (doc given) or delete one message or suppression with its audit entry, in one transaction,
        and announce it; the new items version."""
        async with self._lock:
            conn = self._c()
            async with conn.transaction():
                if item.doc is None:
                    await conn.execute(
                        "DELETE FROM stopcast_items WHERE kind = %s AND id = %s", (item.kind, item.item_id)
                    )
                else:
                    await conn.execute(
                        "INSERT INTO stopcast_items (kind, id, doc, changed_at) VALUES (%s, %s, %s, %s) ON CONFLICT "
                        "(kind, id) DO UPDATE SET doc = excluded.doc, changed_at = excluded.changed_at",
                        (item.kind, item.item_id, json.dumps(item.doc, ensure_ascii=False), item.at))
                row = await (await conn.execute("UPDATE stopcast_items_version SET version = version + 1 WHERE id = 1 "
                                                "RETURNING version")).fetchone()
                if entry is not None:
                    await self._record(entry)
                await conn.execute(f"NOTIFY {CHANNEL}, 'items'")
        return int(row[0]) if row else 0

    async def audit(self, count: int = 100) -> list[AuditEntry]:
        """The newest audit entries first."""
        async with self._lock:
            cur = self._c().cursor(row_factory=tuple_row)
            await cur.execute(
                "SELECT at, who, action, target, detail FROM stopcast_audit ORDER BY id DESC LIMIT %s", (count,)
            )
            return [AuditEntry(*row) for row in await cur.fetchall()]

    async def changes(self, seen: int, seen_items: int):  # type: ignore[no-untyped-def]
        """Yield (config version, items version) whenever either grew or another instance announced a change
        (a new version, an item or an audit entry): at once by NOTIFY, else by the poll every POLL seconds.
        A connection lost (the listener's or the main one) ends it with an error within POLL seconds."""
        listener = await psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
        try:
            await listener.execute(f"LISTEN {CHANNEL}")
            notified = False
            while True:
                found = await self.version()
                items = await self.items_version()
                if found is not None and (found.number > seen or items > seen_items or notified):
                    seen, seen_items = max(seen, found.number), max(seen_items, items)
                    yield found, items
                notified = False
                try:
                    async for _ in listener.notifies(timeout=POLL, stop_after=1):
                        notified = True
                except asyncio.TimeoutError:
                    pass
                if listener.closed:
                    raise SharedStateError(f"shared state at {_where(self.url)}: the listening connection was closed")
        finally:
            await listener.close()


@dataclass(frozen=True)
class ItemChange:
    """A message or suppression stored (doc) or deleted (doc None)."""

    kind: str
    item_id: str
    doc: dict | None
    at: int


class Sharing:
    """One instance's side of the shared state: the connection while there is one (`state`), what this
    instance runs (`version`, `text`, where it came from), and audit entries still to send."""

    def __init__(self, snapshot: Path | None = None) -> None:
        self.ready = asyncio.Event()  # the shared config has been read (or the database cannot be reached)
        self.state: SharedState | None = None  # connected and read: writes go through it
        self.lost = asyncio.Event()  # a write found the connection broken: reconnect now
        self.version = 0
        self.items_version = 0
        self.text = ""
        self.error = ""
        self.source = "file"  # what the running config came from: "database", "snapshot" or "file"
        self.snapshot = snapshot
        self.snapshot_at: int | None = None
        self.audit_pending: deque[AuditEntry] = deque()  # entries not written with a change (sent in order)
        self.audit_wake = asyncio.Event()

    def record(self, entry: AuditEntry) -> None:
        """An audit entry to send (kept until it is written, across reconnections)."""
        self.audit_pending.append(entry)
        self.audit_wake.set()

    async def write(self, op: Callable[[SharedState], Awaitable[T]]) -> T:
        """Run a write on the shared state now; SharedStateError when it cannot be reached (nothing was written,
        or, if the connection broke at the commit, the next read shows whether it was)."""
        state = self.state
        if state is None:
            raise SharedStateError(self.error or "the shared state (PostgreSQL) has not been read yet")
        try:
            return await op(state)
        except (psycopg.Error, OSError, SharedStateError) as exc:
            self.error = f"shared state: {type(exc).__name__}: {str(exc).strip()}"
            self.state = None
            self.lost.set()
            raise SharedStateError(self.error) from None

    def problem(self) -> str:
        """What /healthz says while the shared state cannot be used ('' when it can)."""
        if not self.error:
            return ""
        refused = "admin changes and ops messages are refused (503) until it is back"
        if self.source == "database":
            running = f"running shared config version {self.version} as last read"
        elif self.source == "snapshot":
            running = (f"running the last shared config this instance saw (version {self.version}, kept in "
                       f"{self.snapshot})")
        else:
            running = "running the config file: this instance has never read the shared config, which may differ"
        return f"{self.error}; {running}; {refused}"


class SharedStore:
    """The state store (displays/shell/store.py's interface) when the state is shared: messages and suppressions
    are read by `share` (displays/shell/sharing.py) and written through it by displays/ops/editorial.py, never here."""

    def load(self, kind: str) -> list[dict]:
        """Nothing before the shared state (or this instance's copy of it) is read."""
        return []

    def put(self, kind: str, item_id: str, doc: dict, at: int) -> None:
        """Refused: shared items are written through the shared state."""
        raise StoreError("messages are written to the shared state, not to the local store")

    def delete(self, kind: str, item_id: str) -> bool:
        """Refused, as put."""
        raise StoreError("messages are written to the shared state, not to the local store")

    def close(self) -> None:
        """Nothing to release (the connection belongs to `share`)."""
