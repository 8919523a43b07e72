"""Every problem of a config in one run (for `stopcast check-config`): the file is checked section
by section and display by display; after each error the offending field is set aside and the
rest checked again, so ops fix them all at once. Errors carry suggestions where one exists
(the closest field name, layout name or stop id)."""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from feeds.timetable import Timetable

from .config import (
    ConfigError,
    FeedsConfig,
    ServiceConfig,
    _feeds,
    _http,
    _layouts,
    _mqtt,
    _speech_lexicon,
    _state,
    parse_display,
)
from .config_service import parse_instances

__all__ = ["all_errors", "label_errors", "named_stops", "stop_errors"]

REQUIRED = ("id", "stops", "layout", "gtfs")
MAX_PER_TABLE = 20  # errors reported for one table before moving on
SECTIONS: dict[str, Callable[[Any, str], Any]] = {"mqtt": _mqtt, "http": _http, "state": _state, "layouts": _layouts,
                                                  "speech": _speech_lexicon, "service": parse_instances}


def _retrying(check: Callable[[dict], Any], table: dict, prefix: str, errors: list[ConfigError]) -> Any:
    """check(table); after an error naming one of its own fields, again without that field."""
    table = dict(table)
    for _ in range(MAX_PER_TABLE):
        try:
            return check(table)
        except ConfigError as exc:
            errors.append(exc)
            key = (exc.field or "").removeprefix(prefix).split(".")[0].split("[")[0]
            if key not in table or key in REQUIRED:
                return None  # without it the rest cannot be checked
            del table[key]
    return None


def all_errors(text: str, source: str) -> tuple[ServiceConfig | None, list[ConfigError]]:
    """The config as far as it is valid, and every error found in it."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [ConfigError(source, f"not valid TOML ({exc})")]
    errors: list[ConfigError] = []
    known = {"feeds", "mqtt", "http", "state", "displays", "layouts", "speech", "service"}
    for key in [k for k in raw if k not in known]:
        close = difflib.get_close_matches(key, sorted(known), n=1)
        errors.append(ConfigError(source, f"unknown table ({f'did you mean {close[0]!r}?' if close else 'known: ' + ', '.join(sorted(known))})",
                                  field_name=key))
    feeds = raw.get("feeds")
    parsed_feeds = _retrying(lambda t: _feeds(t, source), feeds, "feeds.", errors) if isinstance(feeds, dict) else None
    if not isinstance(feeds, dict):
        errors.append(ConfigError(source, "the [feeds] table is required", field_name="feeds"))
    values: dict[str, Any] = {}
    for name, parser in SECTIONS.items():
        table = raw.get(name, {})
        if not isinstance(table, dict):
            errors.append(ConfigError(source, "must be a table", field_name=name))
            continue
        found = _retrying(lambda t, p=parser: p(t, source), table, f"{name}.", errors)  # type: ignore[misc]
        if found is not None:
            values[name] = found
    config = ServiceConfig(feeds=parsed_feeds or FeedsConfig(gtfs=""), source=source, **values)
    displays = raw.get("displays", [])
    if not isinstance(displays, list):
        return config, errors + [ConfigError(source, "must be an array of tables [[displays]]", field_name="displays")]
    parsed, seen = [], set()
    for i, item in enumerate(displays):
        if not isinstance(item, dict):
            errors.append(ConfigError(source, "a display must be a table", f"#{i + 1}"))
            continue
        display = _retrying(lambda t, n=i: parse_display(t, source, config, label=f"#{n + 1}"), item, "", errors)  # type: ignore[misc]
        if display is None:
            continue
        if display.id in seen:
            errors.append(ConfigError(source, "duplicate display id", display.id, "id"))
        service_user = config.mqtt.username or "stopcast"  # what `stopcast mqtt-acl` gives the service's rights
        if display.user == service_user:
            errors.append(ConfigError(source, f"the pillar's MQTT user {display.user!r} is the service's own user "
                                      "([mqtt] username): the ACL would let this pillar publish every display's frames; "
                                      "give it a user of its own", display.id, "mqtt_user"))
        if display.signed and not config.mqtt.frame_secret:
            errors.append(ConfigError(source, "signed frames need [mqtt] frame_secret_env (the secret each display's "
                                      "frame key is derived from)", display.id, "signed"))
        seen.add(display.id)
        parsed.append(display)
    return (replace(config, displays=tuple(parsed)) if parsed_feeds else None), errors


def named_stops(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """(display id or #n, its stop ids) of every display table, valid or not."""
    try:
        displays = tomllib.loads(text).get("displays", [])
    except tomllib.TOMLDecodeError:
        return []
    out = []
    for i, item in enumerate(displays if isinstance(displays, list) else []):
        if isinstance(item, dict):
            stops = item.get("stops", ())
            stops = [stops] if isinstance(stops, str) else stops
            if isinstance(stops, list):
                out.append((str(item.get("id", f"#{i + 1}"))[:64], tuple(s for s in stops if isinstance(s, str))))
    return out


def stop_errors(source: str, displays: list[tuple[str, tuple[str, ...]]], tt: Timetable) -> list[ConfigError]:
    """Every display's stop ids that the timetable lacks, with the closest ids it has."""
    errors = []
    for display_id, stops in displays:
        for stop in stops:
            if stop in tt.stop_index:
                continue
            close = difflib.get_close_matches(stop, list(tt.stop_index), n=3, cutoff=0.5)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            errors.append(ConfigError(source, f"unknown stop id '{stop}' (not in the GTFS feed){hint}",
                                      display_id, "stops"))
    return errors


def label_errors(config: ServiceConfig, tt: Timetable) -> list[ConfigError]:
    """Every display whose layout cannot show one of the feed's line labels whole (a badge as wide as the
    layout allows, the smallest type): ops set a shorter one with route_labels."""
    from layouts.labels import labels_that_do_not_fit

    from .config import layout_of

    errors = []
    for display in config.displays:
        routes = [(r.route_id, r.short_name, r.long_name) for r in tt.routes
                  if not display.routes or r.route_id in display.routes or r.short_name in display.routes]
        spec = layout_of(config, display)
        for label in labels_that_do_not_fit(spec, routes, display.route_labels):
            errors.append(ConfigError(config.source, f"the line label {label!r} does not fit the badges of layout "
                                      f"{spec.name} (at most {max(spec.line_max_width, 1)} px wide): set a shorter one, "
                                      f'e.g. route_labels = {{ "{label}" = "{label[:4]}" }}', display.id, "route_labels"))
    return errors
