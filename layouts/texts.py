"""What a board says, in German and English."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")

TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "now": "sofort",
        "minutes": "{n} min",
        "cancelled": "fällt aus",
        "skipped": "Halt entfällt",
        "added": "Zusatzfahrt",
        "platform_changed": "Steigwechsel",
        "platform_instead": "Steig {now} statt {was}",
        "approx": "ca.",
        "as_of": "Stand {time}",
        "timetable_only": "Nur Fahrplandaten – keine Echtzeit",
        "live": "Echtzeit",
        "timetable": "Fahrplan",
        "no_data": "Keine aktuellen Daten",
        "no_data_detail": "Abfahrtszeiten derzeit nicht verfügbar",
        "end_of_service": "Betriebsschluss",
        "next_departure": "nächste Abfahrt {time}",
        "no_departures": "Keine Abfahrten",
        "timetable_expired": "Fahrplandaten abgelaufen",
        "valid_until": "Fahrplan gültig bis {date}",
        "as_of_date": "Stand {date} {time}",
        "nothing_in_horizon": "Keine Abfahrten in den nächsten {n} min",
        "line": "Linie",
        "destination": "Ziel",
        "platform": "Steig",
        "time": "Abfahrt",
        "delay": "",
        "marker": "",
        "alert": "Hinweis",
        "night": "Nachtruhe",
        "night_resumes": "Anzeige wieder ab {time}",
    },
    "en": {
        "now": "now",
        "minutes": "{n} min",
        "cancelled": "cancelled",
        "skipped": "stop skipped",
        "added": "extra service",
        "platform_changed": "platform change",
        "platform_instead": "now platform {now}",
        "approx": "approx.",
        "as_of": "as of {time}",
        "timetable_only": "Timetable only – no live data",
        "live": "live",
        "timetable": "timetable",
        "no_data": "No current data",
        "no_data_detail": "Departure times are not available right now",
        "end_of_service": "End of service",
        "next_departure": "next departure {time}",
        "no_departures": "No departures",
        "timetable_expired": "Timetable expired",
        "valid_until": "timetable valid until {date}",
        "as_of_date": "as of {date} {time}",
        "nothing_in_horizon": "No departures in the next {n} min",
        "line": "Line",
        "destination": "Destination",
        "platform": "Platform",
        "time": "Departs",
        "delay": "",
        "marker": "",
        "alert": "Notice",
        "night": "Night break",
        "night_resumes": "back at {time}",
    },
}

# Shortenings tried, in order, before a destination is cut with an ellipsis.
ABBREVIATIONS: tuple[tuple[str, str], ...] = (
    ("Hauptbahnhof", "Hbf"),
    ("Bahnhof", "Bf"),
    ("straße", "str."),
    ("Straße", "Str."),
    ("strasse", "str."),
    ("Strasse", "Str."),
    ("platz", "pl."),
    ("Platz", "Pl."),
    (" Street", " St"),
    (" Avenue", " Av"),
    (" Station", " Stn"),
)


def text(language: str, key: str, **values: object) -> str:
    """The board text `key` in `language` (German when unknown), with values filled in."""
    table = TEXTS.get(language, TEXTS["de"])
    return table[key].format(**values)


def clean(value: str, limit: int = 300) -> str:
    """A feed's text as one line that every renderer can draw: control characters (newlines, NUL,
    escapes) become spaces, runs of white space one space, the ends are trimmed, and at most `limit`
    characters are kept (no screen shows more; a megabyte of text must not stall the renderer)."""
    value = value[: limit * 2]
    if len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    if value.isprintable():
        return value.strip() if "  " not in value else _SPACES.sub(" ", value).strip()
    chars = (" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in value)
    return _SPACES.sub(" ", "".join(chars)).strip()
