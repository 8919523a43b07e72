"""Running with shared state (`[state] url`): the config text, ops messages and suppressions, and the audit
log in PostgreSQL, so that an admin change made on any instance reaches every instance (within SharedState's
poll, 3 s, or at once by NOTIFY) and survives restarts of all of them. The database is the source of truth
once seeded from the first instance's config file; the file is no longer edited.

Changes are written through: an admin change or an ops message is answered only once it is committed (a
config change by compare-and-set on the version it was made from), and applied here only then; while the
database cannot be reached they are refused with 503, never queued. Each instance keeps a copy of the last
shared state it saw in its state folder (`shared-state.json`) and runs that copy when it starts while the
database is down, saying so on /healthz (docs/deploy.md)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable
from pathlib import Path
from typing import Protocol

from displays.config.model import ConfigError, ServiceConfig
from displays.config.parse import parse_config, read_config_text
from displays.core.notices import Editorial, editorial_of, message_doc, suppression_doc
from displays.shell.audit import KEPT, Audit, AuditEntry
from displays.shell.clock import Clock
from displays.shell.durable import write_durably
from displays.shell.shared_state import ItemChange, SharedState, SharedStateError, Sharing, Version

log = logging.getLogger("stopcast.state")


class Service(Protocol):
    """What running with shared state needs of the service node (displays/shell/service.py)."""

    last_reload_error: str | None

    @property
    def audit(self) -> Audit: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def config_path(self) -> Path | None: ...

    @property
    def config(self) -> ServiceConfig: ...

    @property
    def editorial(self) -> Editorial: ...

    def timezone(self) -> str: ...

    def change_config(self, config: ServiceConfig) -> None: ...

    def check_stops(self, config: ServiceConfig, source: str = "") -> None: ...

    def set_editorial(self, editorial: Editorial) -> None: ...

__all__ = ["apply_version", "catch_up", "restore_snapshot", "save_snapshot", "share", "write_item"]

def apply_version(service: Service, sharing: Sharing, version: Version, force: bool = False) -> None:
    """Run on a version of the shared config text (a broken one is refused, the running config stays).
    `force`: also a version not above the one held (the database read after connecting is the truth)."""
    if version.number <= sharing.version and not force:
        return
    sharing.version = version.number
    if version.text == sharing.text:
        return
    try:
        config = parse_config(version.text, str(service.config_path))
        service.check_stops(config)
    except ConfigError as exc:
        service.last_reload_error = f"shared config version {version.number}: {exc}"
        log.error("%s; keeping the running config", service.last_reload_error)
        return
    sharing.text = version.text
    service.last_reload_error = None
    service.change_config(config)
    log.info("applied shared config version %d", version.number)


async def catch_up(service: Service, sharing: Sharing) -> None:
    """Read the current shared config and run it (after a compare-and-set found another version)."""
    found = await sharing.write(lambda state: state.version())
    if found is not None:
        apply_version(service, sharing, found)
        save_snapshot(service, sharing)


async def write_item(service: Service, sharing: Sharing, item: ItemChange, entry: AuditEntry) -> None:
    """Store or delete a message or suppression with its audit entry; returns once committed."""
    version = await sharing.write(lambda state: state.change_item(item, entry))
    if version == sharing.items_version + 1:  # nothing else changed meanwhile (else the follower reloads)
        sharing.items_version = version


async def reload_shared(service: Service, sharing: Sharing) -> tuple[int, str | None]:
    """SIGHUP or POST /api/reload with shared state: the config file becomes the shared config of every
    instance, run here once committed. (200, None), (422, why the file is refused) or (503, why the shared
    state cannot take it)."""
    path = str(service.config_path)
    try:
        text = read_config_text(path)
        service.check_stops(parse_config(text, path))
    except ConfigError as exc:
        service.last_reload_error = str(exc)
        log.error("config reload failed, keeping the running config: %s", exc)
        return 422, str(exc)
    try:
        version = await sharing.write(lambda state: state.commit(text, None))
    except SharedStateError as exc:
        service.last_reload_error = f"{exc}; the shared config was not changed"
        log.error("config reload not applied: %s", service.last_reload_error)
        return 503, service.last_reload_error
    service.last_reload_error = None
    if version is not None:
        apply_version(service, sharing, version)
        save_snapshot(service, sharing)
    return 200, None


def restore_snapshot(service: Service, sharing: Sharing) -> bool:
    """Run the last shared state this instance saw (before the database is read); whether there was one."""
    if sharing.snapshot is None:
        return False
    try:
        doc = json.loads(sharing.snapshot.read_text(encoding="utf-8"))
        version, text, items = int(doc["version"]), str(doc["text"]), list(doc["items"])
        config = parse_config(text, f"{sharing.snapshot} (the last shared config)")
    except FileNotFoundError:
        return False
    except (OSError, ValueError, KeyError, TypeError, ConfigError) as exc:
        log.error(
            "%s cannot be used (%s); running the config file until the shared state is read", sharing.snapshot, exc
        )
        return False
    sharing.version, sharing.text, sharing.source = version, text, "snapshot"
    sharing.items_version = int(doc.get("items_version", 0))
    sharing.snapshot_at = int(doc.get("saved_at", 0))
    service.change_config(config)
    service.set_editorial(editorial_of([(str(k), d) for k, d in items], service.timezone(), int(service.clock.now())))
    log.info(
        "running the last shared config seen (version %d, %s) until the shared state is read", version, sharing.snapshot
    )
    return True


def save_snapshot(service: Service, sharing: Sharing) -> None:
    """Keep what this instance runs from the shared state (config text, messages, suppressions) in the state
    folder, durably, for a start while the database is down."""
    if sharing.snapshot is None:
        return
    tz = service.timezone()
    items = [["message", message_doc(m, tz)] for m in service.editorial.messages]
    items += [["suppression", suppression_doc(s, tz)] for s in service.editorial.suppressions]
    now = int(service.clock.now())
    doc = {"version": sharing.version, "text": sharing.text, "items_version": sharing.items_version, "items": items,
           "saved_at": now}
    try:
        sharing.snapshot.parent.mkdir(parents=True, exist_ok=True)
        write_durably(sharing.snapshot, json.dumps(doc, ensure_ascii=False), 0o600)
        sharing.snapshot_at = now
    except OSError as exc:
        log.error("the shared state's copy %s cannot be written: %s", sharing.snapshot, exc.strerror or exc)


async def share(service: Service, sharing: Sharing, state: SharedState | None = None) -> None:
    """Keep this instance in step with the shared state until cancelled (reconnecting with backoff)."""
    if service.config_path is None:
        raise SharedStateError("shared state needs a config file")
    url = service.config.state.url
    restore_snapshot(service, sharing)
    failures = 0
    while True:
        state = state or SharedState(url)
        try:
            await state.open()
            found = await state.version() or await state.seed(service.config_path.read_text(encoding="utf-8"),
                                                              int(service.clock.now()))
            apply_version(service, sharing, found, force=True)
            await _load_items(service, sharing, state)
            service.audit.entries = deque(reversed(await state.audit(KEPT)), maxlen=KEPT)
            sharing.source, sharing.error, failures = "database", "", 0
            sharing.lost.clear()
            sharing.state = state
            sharing.ready.set()
            save_snapshot(service, sharing)
            await _connected(_send_audit(state, sharing), _follow(service, sharing, state), _until_lost(sharing))
        except (SharedStateError, OSError) as exc:
            sharing.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - psycopg's errors (connection lost ...): retry, keep serving
            sharing.error = f"shared state: {type(exc).__name__}: {str(exc).strip()}"
        finally:
            sharing.state = None  # writes are refused (503) from now until the state is read again
            await state.close()
            state = None
        sharing.ready.set()  # a database that cannot be reached never holds the boards back
        failures += 1
        delay = 0.0 if failures == 1 else min(30.0, 0.25 * 2 ** min(failures, 7))  # a cut connection: again at once
        log.error("%s; retrying in %.1f s", sharing.problem(), delay)
        await asyncio.sleep(delay)


async def _connected(*jobs: Awaitable[None]) -> None:
    """Run the jobs of one connection until the first ends or fails; the others are cancelled with it (a
    sender left running on a closed connection would take entries off the queue and lose them)."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
        raise SharedStateError("shared state: the connection ended")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _until_lost(sharing: Sharing) -> None:
    await sharing.lost.wait()
    raise SharedStateError(sharing.error or "shared state: the connection was lost")


async def _send_audit(state: SharedState, sharing: Sharing) -> None:
    """Send the pending audit entries in order; one leaves the queue only once it is written."""
    while True:
        while sharing.audit_pending:
            await state.record(sharing.audit_pending[0])
            sharing.audit_pending.popleft()
        sharing.audit_wake.clear()
        await sharing.audit_wake.wait()


async def _follow(service: Service, sharing: Sharing, state: SharedState) -> None:
    async for version, items in state.changes(sharing.version, sharing.items_version):
        apply_version(service, sharing, version)
        if items > sharing.items_version:
            await _load_items(service, sharing, state)
        service.audit.entries = deque(reversed(await state.audit(KEPT)), maxlen=KEPT)
        save_snapshot(service, sharing)


async def _load_items(service: Service, sharing: Sharing, state: SharedState) -> None:
    """Take the shared messages and suppressions (every board is composed again)."""
    version, docs = await state.items()
    sharing.items_version = version
    service.set_editorial(editorial_of(docs, service.timezone(), int(service.clock.now())))
