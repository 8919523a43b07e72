"""The state several instances share when `[state] url = "postgresql://..."`: the config text (admin
changes made on any instance), ops messages and suppressions, and the audit log. psycopg 3 (async, LISTEN/NOTIFY); the schema is
created and migrated here. Every change is a new version of the whole config text, announced with
NOTIFY; instances also poll every few seconds, so a lost notification delays a change by at most that.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg.rows import tuple_row

from .audit import AuditEntry

__all__ = ["CHANNEL", "POLL", "ItemChange", "SharedState", "SharedStateError", "SharedStore", "Sharing", "Version"]

log = logging.getLogger("stopcast.state")
CHANNEL = "stopcast_config"
POLL = 3.0  # seconds between version checks besides LISTEN
SCHEMA = 2
MIGRATIONS = {
    1: [
        "CREATE TABLE IF NOT EXISTS stopcast_config (id int PRIMARY KEY CHECK (id = 1), version bigint NOT NULL, "
        "text text NOT NULL, changed_at bigint NOT NULL)",
        "CREATE TABLE IF NOT EXISTS stopcast_audit (id bigserial PRIMARY KEY, at bigint NOT NULL, who text NOT NULL, "
        "action text NOT NULL, target text NOT NULL, detail text NOT NULL)",
    ],
    2: [  # ops messages and suppressions (displays/store.py's documents), with one version for all of them
        "CREATE TABLE IF NOT EXISTS stopcast_items (kind text NOT NULL, id text NOT NULL, doc text NOT NULL, "
        "changed_at bigint NOT NULL, PRIMARY KEY (kind, id))",
        "CREATE TABLE IF NOT EXISTS stopcast_items_version (id int PRIMARY KEY CHECK (id = 1), version bigint NOT NULL)",
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
    """One instance's connection to the shared state."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.AsyncConnection | None = None

    async def open(self) -> None:
        """Connect and bring the schema to the current version."""
        try:
            self._conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=10)
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
        if self._conn is None:
            raise SharedStateError("shared state not opened")
        return self._conn

    async def version(self) -> Version | None:
        """The current config text (None before the first instance seeded it)."""
        cur = await self._c().execute("SELECT version, text FROM stopcast_config WHERE id = 1")
        row = await cur.fetchone()
        return Version(row[0], row[1]) if row else None

    async def seed(self, text: str, now: int) -> Version:
        """Store the config file's text as version 1 unless another instance did first; the current version."""
        await self._c().execute("INSERT INTO stopcast_config (id, version, text, changed_at) VALUES (1, 1, %s, %s) "
                                "ON CONFLICT (id) DO NOTHING", (text, now))
        found = await self.version()
        assert found is not None
        return found

    async def commit(self, text: str, entry: AuditEntry | None) -> Version:
        """A new version of the config text (and its audit entry), announced to every instance."""
        conn = self._c()
        async with conn.transaction():
            cur = await conn.execute("UPDATE stopcast_config SET version = version + 1, text = %s, changed_at = %s "
                                     "WHERE id = 1 RETURNING version", (text, entry.at if entry else 0))
            row = await cur.fetchone()
            if row is None:
                raise SharedStateError("the shared config was never seeded")
            if entry is not None:
                await self.record(entry)
            await conn.execute(f"NOTIFY {CHANNEL}, '{int(row[0])}'")
        return Version(row[0], text)

    async def record(self, entry: AuditEntry) -> None:
        """Append an audit entry (and tell the other instances, whose audit views follow)."""
        await self._c().execute("INSERT INTO stopcast_audit (at, who, action, target, detail) VALUES (%s, %s, %s, %s, %s)",
                                (entry.at, entry.who, entry.action, entry.target, entry.detail))
        await self._c().execute(f"NOTIFY {CHANNEL}, 'audit'")

    async def items_version(self) -> int:
        """How often messages and suppressions have changed (grows with every put and delete)."""
        row = await (await self._c().execute("SELECT version FROM stopcast_items_version WHERE id = 1")).fetchone()
        return int(row[0]) if row else 0

    async def items(self) -> tuple[int, list[tuple[str, dict]]]:
        """The items version and every (kind, document), oldest first, read in one transaction."""
        conn = self._c()
        async with conn.transaction():
            version = await self.items_version()
            cur = await conn.execute("SELECT kind, doc FROM stopcast_items ORDER BY changed_at, id")
            rows = await cur.fetchall()
        return version, [(kind, json.loads(doc)) for kind, doc in rows]

    async def change_item(self, item: ItemChange) -> None:
        """Store (doc given) or delete one message or suppression, and announce it."""
        conn = self._c()
        async with conn.transaction():
            if item.doc is None:
                await conn.execute("DELETE FROM stopcast_items WHERE kind = %s AND id = %s", (item.kind, item.item_id))
            else:
                await conn.execute(
                    "INSERT INTO stopcast_items (kind, id, doc, changed_at) VALUES (%s, %s, %s, %s) ON CONFLICT (kind, id) "
                    "DO UPDATE SET doc = excluded.doc, changed_at = excluded.changed_at",
                    (item.kind, item.item_id, json.dumps(item.doc, ensure_ascii=False), item.at))
            await conn.execute("UPDATE stopcast_items_version SET version = version + 1 WHERE id = 1")
            await conn.execute(f"NOTIFY {CHANNEL}, 'items'")

    async def audit(self, count: int = 100) -> list[AuditEntry]:
        """The newest audit entries first."""
        cur = self._c().cursor(row_factory=tuple_row)
        await cur.execute("SELECT at, who, action, target, detail FROM stopcast_audit ORDER BY id DESC LIMIT %s", (count,))
        return [AuditEntry(*row) for row in await cur.fetchall()]

    async def changes(self, seen: int, seen_items: int):  # type: ignore[no-untyped-def]
        """Yield (config version, items version) whenever either grew or another instance announced a change
        (a new version, an item or an audit entry): at once by NOTIFY, else by the poll every POLL seconds."""
        listener = await psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=10)
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
    """What one instance sends to the shared state, in order (a queue consumed by `share`)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[str | None, AuditEntry | ItemChange | None]] = asyncio.Queue()
        self.ready = asyncio.Event()  # the shared config has been read (or the database cannot be reached)
        self.version = 0
        self.items_version = 0
        self.text = ""
        self.error = ""

    def change(self, text: str | None, entry: AuditEntry | None) -> None:
        """A new config text (None: the same) and its audit entry, to store and announce."""
        if text is not None:
            self.text = text
        self.queue.put_nowait((text, entry))


class SharedStore:
    """The state store (displays/store.py's interface) when the state is shared: writes go to PostgreSQL
    through the sharing queue, in order with the audit entries; what every instance holds is read back
    by `share` (displays/sharing.py) when it connects and whenever the items change."""

    def __init__(self, sharing: Sharing, clock_now: Callable[[], float]) -> None:
        self.sharing, self.now = sharing, clock_now

    def load(self, kind: str) -> list[dict]:
        """Nothing before the shared state is read (then `share` swaps the items in)."""
        return []

    def put(self, kind: str, item_id: str, doc: dict, at: int) -> None:
        """Queue the document for the shared state."""
        self.sharing.queue.put_nowait((None, ItemChange(kind, item_id, doc, at)))

    def delete(self, kind: str, item_id: str) -> bool:
        """Queue the deletion for the shared state."""
        self.sharing.queue.put_nowait((None, ItemChange(kind, item_id, None, int(self.now()))))
        return True

    def close(self) -> None:
        """Nothing to release (the connection belongs to `share`)."""
