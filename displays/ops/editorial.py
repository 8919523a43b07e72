"""Ops messages and suppressions as the admin API changes them: validated against the running config and
timetable, kept in the state store, applied live, audited; and previews of the displays a change reaches."""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
from dataclasses import replace
from typing import Any

from displays.config.model import layout_of
from displays.core.boards import board_language
from displays.core.frames import Rendered, RenderJob, render_batch
from displays.core.notices import (
    Editorial,
    Message,
    Period,
    Suppression,
    message_doc,
    parse_message,
    parse_suppression,
    reaches,
    suppression_doc,
    unknown_targets,
)
from displays.ops.admin import AdminError, Change, require_shared_state
from displays.ops.control import Control
from displays.shell.audit import AuditEntry, changes
from displays.shell.shared_state import ItemChange, SharedStateError
from displays.shell.sharing import save_snapshot, write_item
from displays.shell.store import StoreError
from layouts.validation import ConfigError

log = logging.getLogger("stopcast.editorial")
PREVIEW_MAX = 12  # displays rendered by one preview (the answer lists every display reached)
Item = Message | Suppression


def _id_of(item: Item) -> str:
    return item.message_id if isinstance(item, Message) else item.suppression_id


def _kind(item: Item) -> str:
    return "message" if isinstance(item, Message) else "suppression"


def item_doc(service: Control, item: Item) -> dict[str, Any]:
    """The API's JSON of a message or suppression, with its state now."""
    now, tz = int(service.clock.now()), service.timezone()
    return message_doc(item, tz, now) if isinstance(item, Message) else suppression_doc(item, tz, now)


def items(service: Control, kind: str) -> tuple[Item, ...]:
    """Every message (kind "message") or suppression held."""
    return service.editorial.messages if kind == "message" else service.editorial.suppressions


def find(service: Control, kind: str, item_id: str) -> Item:
    """One message or suppression by id; AdminError 404 when there is none."""
    found = next((i for i in items(service, kind) if _id_of(i) == item_id), None)
    if found is None:
        raise AdminError(404, f"no {kind} '{item_id[:64]}'")
    return found


def parse_item(service: Control, kind: str, body: Any, item_id: str | None) -> Item:
    """Validate a message or suppression from its JSON against the running config and timetable
    (AdminError 422 naming the field); a new one gets its id here."""
    if isinstance(body, dict) and item_id is not None and body.get("id", item_id) != item_id:
        raise AdminError(400, f"the body's id '{str(body['id'])[:64]}' does not match the URL's '{item_id}'")
    new_id = item_id or f"{kind[0]}-{secrets.token_hex(4)}"
    now, tz = int(service.clock.now()), service.timezone()
    try:
        item: Item = (parse_message if kind == "message" else parse_suppression)(body, new_id, tz, now)
    except ConfigError as exc:
        raise AdminError(422, str(exc)) from None
    problem = unknown_targets(item.targets, (d.id for d in service.config.displays), service.timetable)
    if problem is not None:
        raise AdminError(422, str(problem))
    if isinstance(item, Message):
        _require_languages(service, item)
    return item


LANGUAGE_NAMES = {"de": "German", "en": "English"}


def _require_languages(service: Control, message: Message) -> None:
    """A message needs its text in every language the displays it reaches show (AdminError 422 naming
    text.<lang> and those displays); a language no reached display uses is never required."""
    given = {lang for lang, _ in message.text}
    needed: dict[str, list[str]] = {}
    for display in service.config.displays:
        if reaches(message.targets, service.scope(display)):
            language = board_language(service.timetable, display.language, layout_of(service.config, display))
            needed.setdefault(language, []).append(display.id)
    for language, displays in sorted(needed.items()):
        if language not in given:
            shown = ", ".join(displays[:5]) + (f" and {len(displays) - 5} more" if len(displays) > 5 else "")
            raise AdminError(422, f"field 'text.{language}': the {LANGUAGE_NAMES.get(language, language)} text is "
                             f"required: the message reaches {shown}, which show{'s' if len(displays) == 1 else ''} "
                             f"{LANGUAGE_NAMES.get(language, language)}")


def _with(editorial: Editorial, item: Item, remove: bool = False) -> Editorial:
    """The editorial with `item` added, replacing the one of the same id (or removed)."""
    if isinstance(item, Message):
        messages = tuple(m for m in editorial.messages if m.message_id != item.message_id)
        return replace(editorial, messages=messages if remove else messages + (item,))
    rules = tuple(s for s in editorial.suppressions if s.suppression_id != item.suppression_id)
    return replace(editorial, suppressions=rules if remove else rules + (item,))


async def _store(service: Control, kind: str, item_id: str, doc: dict[str, Any] | None, entry: AuditEntry) -> None:
    """Keep the change (doc None: the deletion) before anything is answered or applied: written through to the
    shared state, or into the state folder's store; AdminError 503 when it cannot be kept (nothing changed)."""
    if service.sharing is not None:
        require_shared_state(service)
        try:
            await write_item(service, service.sharing, ItemChange(kind, item_id, doc, entry.at), entry)
        except SharedStateError as exc:
            raise AdminError(503, f"{exc}; nothing was changed, try again when the shared state is back") from None
        return
    try:
        if doc is None:
            service.store.delete(kind, item_id)
        else:
            service.store.put(kind, item_id, doc, entry.at)
    except StoreError as exc:
        service.store_write_error = f"{exc} (at {entry.at}; ops messages and suppressions cannot be changed)"
        raise AdminError(503, f"{exc}; nothing was changed") from None
    service.store_write_error = None


async def save(service: Control, item: Item, change: Change) -> None:
    """Store a message or suppression, apply it to every board, audit it."""
    require_shared_state(service)
    now = int(service.clock.now())
    doc = (
        message_doc(item, service.timezone())
        if isinstance(item, Message)
        else suppression_doc(item, service.timezone())
    )
    before = next((i for i in items(service, _kind(item)) if _id_of(i) == _id_of(item)), None)
    if change.detail:
        detail = change.detail
    elif before is not None:
        tz = service.timezone()
        stored = message_doc if isinstance(item, Message) else suppression_doc
        detail = changes(stored(before, tz), doc)  # type: ignore[arg-type]
    else:
        detail = _summary(item)
    entry = AuditEntry(now, change.who, change.action, _id_of(item), detail)
    await _store(service, _kind(item), _id_of(item), doc, entry)
    service.set_editorial(_with(service.editorial, item))
    service.audit.record(entry, stored=service.sharing is not None)
    _saved(service)


async def remove(service: Control, kind: str, item_id: str, who: str) -> None:
    """Delete a message or suppression (its boards change at once), audited."""
    require_shared_state(service)
    item = find(service, kind, item_id)
    entry = AuditEntry(int(service.clock.now()), who, f"{kind}.remove", item_id, _summary(item))
    await _store(service, kind, item_id, None, entry)
    service.set_editorial(_with(service.editorial, item, remove=True))
    service.audit.record(entry, stored=service.sharing is not None)
    _saved(service)


def _saved(service: Control) -> None:
    if service.sharing is not None:
        save_snapshot(service, service.sharing)


async def end_now(service: Control, kind: str, item_id: str, who: str) -> Item:
    """End a message or suppression now (it stays listed, as ended)."""
    item = find(service, kind, item_id)
    now = int(service.clock.now())
    period = Period(min(item.period.starts, now - 1), now, item.period.daily)
    ended = replace(item, period=period)
    await save(service, ended, Change(who, f"{kind}.end", detail=f"ended now; was {_summary(item)}"))
    return ended


def _summary(item: Item) -> str:
    if isinstance(item, Message):
        return f"{item.kind}: {item.text[0][1][:80]}"
    return f"suppression: {item.reason[:80]}"


async def preview(service: Control, item: Item) -> dict[str, Any]:
    """The frames of the displays `item` would reach, rendered as PNG with it in force now (whatever its
    period), without publishing anything: which displays it reaches, and up to PREVIEW_MAX images."""
    now = int(service.clock.now())
    forced = replace(item, period=Period(now - 1, None, None))
    editorial = _with(service.editorial.current(now), forced)
    reached = [d for d in service.config.displays if reaches(forced.targets, service.scope(d))]
    jobs: list[RenderJob] = []
    shown: list[dict] = []
    live = service.live_state(now)
    for display in reached[:PREVIEW_MAX]:
        spec = layout_of(service.config, display)
        try:
            board = service.compose(display, spec, now, live, editorial)
        except Exception as exc:  # noqa: BLE001 - a display that cannot be composed is reported, not fatal
            shown.append({"id": display.id, "layout": spec.name, "error": f"{type(exc).__name__}: {exc}"})
            continue
        jobs.append((board, spec, "png", False))
        shown.append({"id": display.id, "layout": spec.name})
    rendered = iter(await asyncio.to_thread(render_batch, jobs))
    for entry in shown:
        if "error" in entry:
            continue
        result = next(rendered)
        if isinstance(result, Rendered):
            entry["png"] = "data:image/png;base64," + base64.b64encode(result.full_body).decode()
        else:
            entry["error"] = result
    return {"preview": True, "published": False, "item": item_doc(service, item),
            "reached": [d.id for d in reached], "displays": shown}
