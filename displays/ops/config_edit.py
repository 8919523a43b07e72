"""Writing the service config back (what the admin API changes): edits of the file as ops wrote
it, with tomlkit (a style-preserving TOML library) rather than a re-serialised config, so that
comments, order, `env:` values and `*_env` fields survive and no secret is ever written."""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Array

from displays.config.model import DisplayConfig
from displays.config.parse import parse_config
from displays.shell.durable import write_durably

__all__ = ["Edit", "display_doc", "edit_config", "edited_text", "remove_display", "set_display", "set_layout"]

Edit = Callable[[tomlkit.TOMLDocument], None]  # a change to the parsed config file


def display_doc(display: DisplayConfig) -> dict[str, Any]:
    """A display as a plain dict: only the fields that differ from the defaults (JSON and TOML)."""
    doc = {"id": display.id, "stops": list(display.stops), "layout": display.layout}
    defaults = asdict(DisplayConfig(display.id, display.stops, display.layout))
    for key, value in asdict(display).items():
        if key not in doc and value != defaults[key]:
            if key == "night":  # as written: { from = "01:00", to = "04:30" }
                value = {name: f"{m // 60:02d}:{m % 60:02d}" for name, m in zip(("from", "to"), value, strict=True)}
            elif isinstance(value, dict):  # a nested table (speech): its fields that differ from their defaults
                value = {k: list(v) if isinstance(v, tuple) else v for k, v in value.items() if v != defaults[key][k]}
            doc[key] = list(value) if isinstance(value, tuple) else value
    return doc


def edited_text(text: str, edit: Edit, source: str) -> str:
    """The config text with `edit` applied as ops wrote it (comments, order, formatting, `env:` values and
    `*_env` fields stay exactly as they were; no secret is resolved into it); ConfigError when the result
    would not load."""
    doc = tomlkit.parse(text)
    edit(doc)
    out = tomlkit.dumps(doc)
    parse_config(out, source)
    return out


def edit_config(path: str | Path, edit: Edit) -> None:
    """Change the config file as ops wrote it (see edited_text), written atomically and durably (fsynced, file
    and folder, before the change is answered)."""
    path = Path(path)
    text = edited_text(path.read_text(encoding="utf-8"), edit, str(path))  # never write a file that would not load
    write_durably(path, text, stat.S_IMODE(path.stat().st_mode))


def set_display(display: DisplayConfig) -> Edit:
    """An edit that adds the display, or changes its table in place (keeping its comments)."""

    def edit(doc: tomlkit.TOMLDocument) -> None:
        values = display_doc(display)
        tables = doc.get("displays")
        if tables is None:
            tables = doc["displays"] = tomlkit.aot()
        for table in tables:
            if table.get("id") == display.id:
                for key in [k for k in table if k not in values]:
                    del table[key]
                for key, value in values.items():
                    if table.get(key) != value:
                        table[key] = value
                return
        new = tomlkit.inline_table() if isinstance(tables, Array) else tomlkit.table()
        new.update(values)
        tables.append(new)

    return edit


def remove_display(display_id: str) -> Edit:
    """An edit that removes the display's table."""

    def edit(doc: tomlkit.TOMLDocument) -> None:
        tables = doc.get("displays", [])
        for i, table in enumerate(tables):
            if table.get("id") == display_id:
                del tables[i]
                return

    return edit


def set_layout(name: str, file: str | None) -> Edit:
    """An edit that names a custom layout's file in [layouts] (None removes it)."""

    def edit(doc: tomlkit.TOMLDocument) -> None:
        layouts = doc.get("layouts")
        if layouts is None:
            if file is None:
                return
            layouts = doc["layouts"] = tomlkit.table()
        if file is None:
            layouts.pop(name, None)
        else:
            layouts[name] = file

    return edit
