"""Changes to displays and layouts from the admin API: validated, persisted atomically and durably (with shared
state: committed by compare-and-set), applied live."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from displays.config.model import ConfigError, ServiceConfig
from displays.config.parse import parse_display
from displays.ops.config_edit import (
    Edit,
    display_doc,
    edit_config,
    edited_text,
    remove_display,
    set_display,
    set_layout,
)
from displays.ops.control import Control
from displays.shell.audit import AuditEntry, changes, described
from displays.shell.durable import write_durably
from displays.shell.shared_state import SharedState, SharedStateError
from displays.shell.sharing import apply_version, catch_up, save_snapshot
from firmware_bridge.topics import is_name
from layouts.spec import builtin_names, parse_layout


class AdminError(Exception):
    """A change that was refused; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def require_shared_state(service: Control) -> None:
    """AdminError 503 while an instance with shared state has not read it yet: a change made before would be
    overwritten by the older shared version read next."""
    if service.sharing is not None and not service.sharing.ready.is_set():
        raise AdminError(503, "the shared state (PostgreSQL) has not been read yet; try again in a few seconds")


@dataclass(frozen=True, slots=True)
class Change:
    """What an admin request changes, and with which token (its label)."""

    who: str
    action: str = ""
    target: str = ""
    detail: str = ""


Plan = Callable[[ServiceConfig], tuple[ServiceConfig, Edit, Change]]  # the change, made on a given config
ATTEMPTS = 8  # compare-and-set rounds before a change that keeps meeting others answers 409


async def _commit(service: Control, plan: Plan) -> None:
    """Make the planned change: checked, written into the config as ops wrote it, applied, audited. With shared
    state it is written by compare-and-set on the version this instance runs; when another instance changed the
    config first, the newer version is read and the change planned again on it (so changes to different
    displays both hold, and one that no longer fits, say a second add of the same id, answers 409). It is
    answered, and applied here, only once the database has it; 503 when it cannot be reached."""
    try:
        await _committed(service, plan)
    except ConfigError as exc:
        raise AdminError(422, str(exc)) from None


async def _committed(service: Control, plan: Plan) -> None:
    sharing = service.sharing
    if sharing is None:
        config, edit, change = plan(service.config)
        service.check_stops(config, "request body")
        if service.config_path is not None:
            try:
                edit_config(service.config_path, edit)
            except OSError as exc:
                raise AdminError(503, f"config file {service.config_path}: cannot be written ({exc.strerror or exc}); "
                                 "nothing was changed") from None
        service.change_config(config)
        service.audit.record(_entry(service, change))
        return
    require_shared_state(service)
    for _ in range(ATTEMPTS):
        config, edit, change = plan(service.config)
        service.check_stops(config, "request body")
        text, entry = edited_text(sharing.text, edit, str(service.config_path)), _entry(service, change)
        try:
            version = await sharing.write(partial(SharedState.commit, text=text, entry=entry, base=sharing.version))
            if version is not None:
                apply_version(service, sharing, version)
                save_snapshot(service, sharing)
                service.audit.record(entry, stored=True)
                return
            await catch_up(service, sharing)
        except SharedStateError as exc:
            raise AdminError(503, f"{exc}; nothing was changed, try again when the shared state is back") from None
    raise AdminError(409, "the shared config kept changing under this change (other instances); try again")


def _entry(service: Control, change: Change) -> AuditEntry:
    return AuditEntry(int(service.clock.now()), change.who, change.action, change.target, change.detail)


async def put_display(service: Control, body: Any, display_id: str | None = None, who: str = "admin") -> dict[str, Any]:
    """Add (POST, display_id None) or replace (PUT) a display from its JSON; the display as stored."""
    if not isinstance(body, dict):
        raise AdminError(400, "the body must be a JSON object with the display's fields")
    if display_id is not None:
        if body.setdefault("id", display_id) != display_id:
            raise AdminError(400, f"the body's id '{body['id']}' does not match the URL's '{display_id}'")

    stored: list[str] = []

    def plan(config: ServiceConfig) -> tuple[ServiceConfig, Edit, Change]:
        try:
            display = parse_display(body, "request body", config)
            stored[:] = [display.id]
        except ConfigError as exc:
            raise AdminError(422, str(exc)) from None
        exists = config.display(display.id) is not None
        if display_id is None and exists:
            raise AdminError(409, f"display '{display.id}' exists (PUT /api/displays/{display.id} replaces it)")
        if display_id is not None and not exists:
            raise AdminError(404, f"no display '{display_id}'")
        displays = (tuple(display if d.id == display.id else d for d in config.displays) if exists
                    else config.displays + (display,))
        before = config.display(display.id)
        detail = (
            changes(display_doc(before), display_doc(display))
            if before is not None
            else described(display_doc(display))
        )
        return (replace(config, displays=displays), set_display(display),
                Change(who, "display.change" if exists else "display.add", display.id, detail))

    await _commit(service, plan)
    return {"id": stored[0]}


async def delete_display(service: Control, display_id: str, who: str = "admin") -> None:
    """Remove a display (its retained frame and board are cleared)."""

    def plan(config: ServiceConfig) -> tuple[ServiceConfig, Edit, Change]:
        found = config.display(display_id)
        if found is None:
            raise AdminError(404, f"no display '{display_id}'")
        return (replace(config, displays=tuple(d for d in config.displays if d.id != display_id)),
                remove_display(display_id), Change(who, "display.remove", display_id, described(display_doc(found))))

    await _commit(service, plan)


async def put_layout(service: Control, name: str, toml_text: str, create: bool, who: str = "admin") -> None:
    """Add or replace a custom layout (a TOML file beside the config)."""
    if not is_name(name):
        raise AdminError(400, f"layout name must be 1 to 64 of A-Z a-z 0-9 _ . - and nothing else, got {name[:80]!r}")
    if name in builtin_names():
        raise AdminError(409, f"'{name}' is a built-in layout; choose another name")
    try:
        spec = parse_layout(toml_text, f"layout {name}")
    except ConfigError as exc:
        raise AdminError(422, str(exc)) from None
    if spec.name != name:
        raise AdminError(422, f"the layout's name field is '{spec.name}', not '{name}'")

    def plan(config: ServiceConfig) -> tuple[ServiceConfig, Edit, Change]:
        custom = dict(config.layouts)
        if create and name in custom:
            raise AdminError(409, f"layout '{name}' exists (PUT /api/layouts/{name} replaces it)")
        if not create and name not in custom:
            raise AdminError(404, f"no custom layout '{name}'")
        relative = custom.get(name, f"layouts/{name}.toml")
        folder = Path(service.config_path).parent if service.config_path else Path(".")
        target = folder / relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_durably(target, toml_text)
        except OSError as exc:
            raise AdminError(503, f"layout file {target}: cannot be written ({exc.strerror or exc})") from None
        custom[name] = relative
        lines = toml_text.count("\n") + 1
        detail = (f"file {relative}: {spec.width}x{spec.height} {spec.color_mode}, {lines} lines" if create else
                  f"file {relative} replaced: now {spec.width}x{spec.height} {spec.color_mode}, {lines} lines")
        return (replace(config, layouts=tuple(sorted(custom.items()))), set_layout(name, relative),
                Change(who, "layout.add" if create else "layout.change", name, detail))

    await _commit(service, plan)


async def delete_layout(service: Control, name: str, who: str = "admin") -> None:
    """Remove a custom layout no display uses."""

    def plan(config: ServiceConfig) -> tuple[ServiceConfig, Edit, Change]:
        custom = dict(config.layouts)
        if name not in custom:
            raise AdminError(404, f"no custom layout '{name}'")
        users = [d.id for d in config.displays if d.layout == name]
        if users:
            raise AdminError(409, f"layout '{name}' is used by {', '.join(users)}")
        file = custom.pop(name)
        return (replace(config, layouts=tuple(sorted(custom.items()))), set_layout(name, None),
                Change(who, "layout.remove", name, f"file {file} no longer used"))

    await _commit(service, plan)
