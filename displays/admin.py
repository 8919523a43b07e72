"""Changes to displays and layouts from the admin API: validated, persisted atomically, applied live."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from firmware_bridge.topics import is_name
from layouts.spec import builtin_names, parse_layout

from .audit import AuditEntry, changes, described
from .config import ConfigError, ServiceConfig, parse_display
from .config_file import Edit, display_doc, edit_config, edited_text, remove_display, set_display, set_layout
from .service import Service


class AdminError(Exception):
    """A change that was refused; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def require_shared_state(service: Service) -> None:
    """AdminError 503 while an instance with shared state has not read it yet: a change made before would be
    overwritten by the older shared version read next."""
    if service.sharing is not None and not service.sharing.ready.is_set():
        raise AdminError(503, "the shared state (PostgreSQL) has not been read yet; try again in a few seconds")


def _commit(service: Service, config: ServiceConfig, edit: Edit, change: Change) -> None:
    """Check the changed config, write the change into the file as ops wrote it, apply it, audit it."""
    require_shared_state(service)
    service.check_stops(config, "request body")
    if service.sharing is not None:  # the shared state holds the config: every instance takes the change
        service.sharing.change(edited_text(service.sharing.text, edit, str(service.config_path)), None)
    elif service.config_path is not None:
        edit_config(service.config_path, edit)
    service.change_config(config)
    service.audit.record(AuditEntry(int(service.clock.now()), change.who, change.action, change.target, change.detail))


@dataclass(frozen=True, slots=True)
class Change:
    """What an admin request changes, and with which token (its label)."""

    who: str
    action: str = ""
    target: str = ""
    detail: str = ""


def put_display(service: Service, body: Any, display_id: str | None = None, who: str = "admin") -> dict[str, Any]:
    """Add (POST, display_id None) or replace (PUT) a display from its JSON; the display as stored."""
    if not isinstance(body, dict):
        raise AdminError(400, "the body must be a JSON object with the display's fields")
    if display_id is not None:
        if body.setdefault("id", display_id) != display_id:
            raise AdminError(400, f"the body's id '{body['id']}' does not match the URL's '{display_id}'")
    config = service.config
    try:
        display = parse_display(body, "request body", config)
    except ConfigError as exc:
        raise AdminError(422, str(exc)) from None
    exists = config.display(display.id) is not None
    if display_id is None and exists:
        raise AdminError(409, f"display '{display.id}' exists (PUT /api/displays/{display.id} replaces it)")
    if display_id is not None and not exists:
        raise AdminError(404, f"no display '{display_id}'")
    displays = tuple(display if d.id == display.id else d for d in config.displays) if exists else config.displays + (display,)
    before = config.display(display.id)
    detail = changes(display_doc(before), display_doc(display)) if before is not None else described(display_doc(display))
    try:
        _commit(service, replace(config, displays=displays), set_display(display),
                Change(who, "display.change" if exists else "display.add", display.id, detail))
    except ConfigError as exc:
        raise AdminError(422, str(exc)) from None
    return {"id": display.id}


def delete_display(service: Service, display_id: str, who: str = "admin") -> None:
    """Remove a display (its retained frame and board are cleared)."""
    config = service.config
    found = config.display(display_id)
    if found is None:
        raise AdminError(404, f"no display '{display_id}'")
    _commit(service, replace(config, displays=tuple(d for d in config.displays if d.id != display_id)),
            remove_display(display_id), Change(who, "display.remove", display_id, described(display_doc(found))))


def put_layout(service: Service, name: str, toml_text: str, create: bool, who: str = "admin") -> None:
    """Add or replace a custom layout (a TOML file beside the config)."""
    if not is_name(name):
        raise AdminError(400, f"layout name must be 1 to 64 of A-Z a-z 0-9 _ . - and nothing else, got {name[:80]!r}")
    if name in builtin_names():
        raise AdminError(409, f"'{name}' is a built-in layout; choose another name")
    config = service.config
    custom = dict(config.layouts)
    if create and name in custom:
        raise AdminError(409, f"layout '{name}' exists (PUT /api/layouts/{name} replaces it)")
    if not create and name not in custom:
        raise AdminError(404, f"no custom layout '{name}'")
    try:
        spec = parse_layout(toml_text, f"layout {name}")
    except ConfigError as exc:
        raise AdminError(422, str(exc)) from None
    if spec.name != name:
        raise AdminError(422, f"the layout's name field is '{spec.name}', not '{name}'")
    folder = Path(service.config_path).parent if service.config_path else Path(".")
    relative = custom.get(name, f"layouts/{name}.toml")
    target = folder / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(toml_text, encoding="utf-8")
    tmp.replace(target)
    custom[name] = relative
    lines = toml_text.count("\n") + 1
    detail = (f"file {relative}: {spec.width}x{spec.height} {spec.color_mode}, {lines} lines" if create else
              f"file {relative} replaced: now {spec.width}x{spec.height} {spec.color_mode}, {lines} lines")
    _commit(service, replace(config, layouts=tuple(sorted(custom.items()))), set_layout(name, relative),
            Change(who, "layout.add" if create else "layout.change", name, detail))


def delete_layout(service: Service, name: str, who: str = "admin") -> None:
    """Remove a custom layout no display uses."""
    config = service.config
    custom = dict(config.layouts)
    if name not in custom:
        raise AdminError(404, f"no custom layout '{name}'")
    users = [d.id for d in config.displays if d.layout == name]
    if users:
        raise AdminError(409, f"layout '{name}' is used by {', '.join(users)}")
    del custom[name]
    _commit(service, replace(config, layouts=tuple(sorted(custom.items()))), set_layout(name, None),
            Change(who, "layout.remove", name, f"file {dict(config.layouts)[name]} no longer used"))
