"""Every problem of a config in one run (for `stopcast check-config`): the file is checked section
by section and display by display; after each error the offending field is set aside and the
rest checked again, so ops fix them all at once. Errors carry suggestions where one exists
(the closest field name, layout name or stop id)."""

from __future__ import annotations

import difflib
import tomllib

from displays.config.model import ConfigError, ServiceConfig
from feeds.timetable import Timetable

__all__ = ["label_errors", "named_stops", "stop_errors"]


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
    from displays.config.model import layout_of
    from layouts.labels import labels_that_do_not_fit

    errors = []
    for display in config.displays:
        routes = [(r.route_id, r.short_name, r.long_name) for r in tt.routes
                  if not display.routes or r.route_id in display.routes or r.short_name in display.routes]
        spec = layout_of(config, display)
        for label in labels_that_do_not_fit(spec, routes, display.route_labels):
            errors.append(
                ConfigError(
                    config.source,
                    f"the line label {label!r} does not fit the badges of layout "
                    f"{spec.name} (at most {max(spec.line_max_width, 1)} px wide): set a shorter one, "
                    f'e.g. route_labels = {{ "{label}" = "{label[:4]}" }}',
                    display.id,
                    "route_labels",
                )
            )
    return errors
