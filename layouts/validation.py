"""The one validator of stopcast's configuration, and its one error type: the service config
(displays/config/model.py) and the layout files (layouts/spec.py) are read through it. Values are read
from a parsed table; defaults come from the dataclass being built, so each default lives in one
place; every error names the file, the display (if any) and the field.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

__all__ = ["ConfigError", "Fields", "defaults_of"]


class ConfigError(Exception):
    """A config or layout that cannot be used: names the file, the display (if any) and the field."""

    def __init__(self, source: str, message: str, display: str | None = None, field_name: str | None = None) -> None:
        self.source, self.display, self.field, self.message = source, display, field_name, message
        where = source
        if display is not None:
            where += f": display '{display}'"
        if field_name is not None:
            where += f": field '{field_name}'"
        super().__init__(f"{where}: {message}")


_MISSING = object()


def defaults_of(cls: type) -> dict[str, Any]:
    """The defaults a dataclass declares for its fields (fields without one are left out)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init:  # computed, never read from a file
            continue
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


class Fields:
    """Typed reads of one table, defaults from `defaults` (a dataclass's), errors naming the field."""

    def __init__(self, source: str, raw: dict[str, Any], defaults: dict[str, Any] | None = None,
                 display: str | None = None, prefix: str = "") -> None:
        self.source, self.raw, self.defaults, self.display, self.prefix = source, raw, defaults or {}, display, prefix

    def fail(self, key: str, message: str) -> ConfigError:
        """The error for field `key`."""
        return ConfigError(self.source, message, self.display, self.prefix + key)

    def only(self, allowed: set[str]) -> None:
        """ConfigError for the first field that is not in `allowed` (typos do not pass silently)."""
        for key in self.raw:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(sorted(allowed))}"
                raise self.fail(key, f"unknown field ({hint})")

    def _get(self, key: str, default: Any) -> Any:
        if key in self.raw:
            return self.raw[key]
        if default is not _MISSING:
            return default
        if key in self.defaults:
            return self.defaults[key]
        raise self.fail(key, "is required")

    def string(self, key: str, default: Any = _MISSING, required: bool = False) -> str:
        """A string; `required` also refuses an empty one."""
        value = self._get(key, _MISSING if required else default)
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.fail(
                key, f"must be a non-empty string, got {value!r}" if required else f"must be a string, got {value!r}"
            )
        return value

    def strings(self, key: str, required: bool = False) -> tuple[str, ...]:
        """A list of non-empty strings (a single string counts as a list of one)."""
        value = self._get(key, _MISSING if required else ())
        if isinstance(value, str):
            value = [value]
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, f"must be a list of non-empty strings, got {value!r}")
        return tuple(value)

    def integer(self, key: str, low: int, high: int, default: Any = _MISSING) -> int:
        """A whole number in [low, high]."""
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be a whole number, got {value!r}")
        if not low <= value <= high:
            raise self.fail(key, f"must be between {low} and {high}, got {value}")
        return value

    def integer_list(self, key: str, allowed: tuple[int, ...]) -> tuple[int, ...]:
        """A list of whole numbers, each one of `allowed`."""
        value = self._get(key, ())
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list) or not all(v in allowed and not isinstance(v, bool) for v in value):
            raise self.fail(key, f"must be a list of {', '.join(map(str, allowed))}, got {value!r}")
        return tuple(value)

    def number(self, key: str, low: float, high: float, default: Any = _MISSING) -> float:
        """A number (whole or not) in [low, high]."""
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise self.fail(key, f"must be a number between {low:g} and {high:g}, got {value!r}")
        return float(value)

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        """true or false."""
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {value!r}")
        return value

    def choice(self, key: str, allowed: tuple[Any, ...], default: Any = _MISSING) -> Any:
        """One of `allowed`."""
        value = self._get(key, default)
        if isinstance(value, bool) or value not in allowed:
            shown = ", ".join(repr(a) if a == "" else str(a) for a in allowed)
            raise self.fail(key, f"must be one of {shown}, got {value!r}")
        return value
