"""Running with shared state (`[state] url`): the config text, ops messages and suppressions, and the audit
log in PostgreSQL, so that an admin change made on any instance reaches every instance (within SharedState's poll, 3 s, or at once
by NOTIFY) and survives restarts of all of them. The database is the source of truth once seeded from
the first instance's config file; the file is no longer edited."""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from .audit import KEPT
from .config import ConfigError, parse_config
from .service import Service
from .shared_state import ItemChange, SharedState, SharedStateError, Sharing, Version

log = logging.getLogger("stopcast.state")

__all__ = ["apply_version", "share"]


def apply_version(service: Service, sharing: Sharing, version: Version) -> None:
    """Run on a version of the shared config text (a broken one is refused, the running config stays)."""
    if version.number <= sharing.version:
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


async def share(service: Service, sharing: Sharing, state: SharedState | None = None) -> None:
    """Keep this instance in step with the shared state until cancelled (reconnecting with backoff)."""
    assert service.config_path is not None
    url = service.config.state.url
    failures = 0
    while True:
        state = state or SharedState(url)
        try:
            await state.open()
            now = int(service.clock.now())
            found = await state.version() or await state.seed(service.config_path.read_text(encoding="utf-8"), now)
            apply_version(service, sharing, found)
            await _load_items(service, sharing, state)
            service.audit.entries = deque(reversed(await state.audit(KEPT)), maxlen=KEPT)
            sharing.ready.set()
            sharing.error, failures = "", 0
            await asyncio.gather(_send(state, sharing), _follow(service, sharing, state))
        except (SharedStateError, OSError) as exc:
            sharing.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - psycopg's errors (connection lost ...): retry, keep serving
            sharing.error = f"shared state: {type(exc).__name__}: {exc}"
        finally:
            await state.close()
            state = None
        sharing.ready.set()  # a database that cannot be reached never holds the boards back
        failures += 1
        delay = min(30.0, 0.5 * 2 ** min(failures, 6))
        log.error("%s; retrying in %.0f s (the running config stays)", sharing.error, delay)
        await asyncio.sleep(delay)


async def _send(state: SharedState, sharing: Sharing) -> None:
    while True:
        text, entry = await sharing.queue.get()
        if isinstance(entry, ItemChange):
            await state.change_item(entry)
            continue
        if text is None:
            if entry is not None:
                await state.record(entry)
            continue
        version = await state.commit(text, entry)
        sharing.version = max(sharing.version, version.number)


async def _follow(service: Service, sharing: Sharing, state: SharedState) -> None:
    async for version, items in state.changes(sharing.version, sharing.items_version):
        apply_version(service, sharing, version)
        if items > sharing.items_version:
            await _load_items(service, sharing, state)
        service.audit.entries = deque(reversed(await state.audit(KEPT)), maxlen=KEPT)


async def _load_items(service: Service, sharing: Sharing, state: SharedState) -> None:
    """Take the shared messages and suppressions (every board is composed again)."""
    from .editorial import editorial_of

    version, docs = await state.items()
    sharing.items_version = version
    service.set_editorial(editorial_of(docs, service.timezone(), int(service.clock.now())))

