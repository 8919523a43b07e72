"""What a board says, in every board language: one table per language, the same keys in each.

A language is added by adding its table to TEXTS (and its words to TITLE_FORMS); `LANGUAGES` follows.
Layout files, display configs and the CLI take the languages listed here; the renderers, the live page
and the CLI read every rider-facing word from these tables (speech has its phrases in layouts/phrases.py)."""

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
        "added_short": "Zusatz",
        "added_mark": "Zusatz",
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
        "late": "+{n}",
        "more_alerts": "+{n} weitere Hinweise",
        "more_alert": "+1 weiterer Hinweis",
        "disrupted": "Abweichung",
        "read_aloud": "Vorlesen",
        "on_time": "pünktlich",
        "delayed": "verspätet",
        "early": "zu früh",
        "scheduled": "laut Fahrplan",
        "page": "Seite {n} von {of}",
    },
    "en": {
        "now": "now",
        "minutes": "{n} min",
        "cancelled": "cancelled",
        "skipped": "stop skipped",
        "added": "extra service",
        "added_short": "extra",
        "added_mark": "extra",
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
        "late": "{n} min late",
        "more_alerts": "+{n} more notices",
        "more_alert": "+1 more notice",
        "disrupted": "disrupted",
        "read_aloud": "Read aloud",
        "on_time": "on time",
        "delayed": "delayed",
        "early": "early",
        "scheduled": "scheduled",
        "page": "page {n} of {of}",
    },
    "es": {
        "now": "ahora",
        "minutes": "{n} min",
        "cancelled": "cancelado",
        "skipped": "no para",
        "added": "servicio adicional",
        "added_short": "adicional",
        "added_mark": "extra",
        "platform_changed": "cambio de andén",
        "platform_instead": "andén {now}, no {was}",
        "approx": "aprox.",
        "as_of": "a las {time}",
        "timetable_only": "Solo horario programado – sin tiempo real",
        "live": "tiempo real",
        "timetable": "horario",
        "no_data": "Sin datos actuales",
        "no_data_detail": "Los horarios de salida no están disponibles ahora",
        "end_of_service": "Fin del servicio",
        "next_departure": "próxima salida {time}",
        "no_departures": "No hay salidas",
        "timetable_expired": "Horario caducado",
        "valid_until": "horario válido hasta {date}",
        "as_of_date": "datos del {date} {time}",
        "nothing_in_horizon": "No hay salidas en los próximos {n} min",
        "line": "Línea",
        "destination": "Destino",
        "platform": "Andén",
        "time": "Salida",
        "delay": "",
        "marker": "",
        "alert": "Aviso",
        "late": "{n} min de retraso",
        "more_alerts": "+{n} avisos más",
        "more_alert": "+1 aviso más",
        "disrupted": "alterado",
        "read_aloud": "Escuchar",
        "on_time": "puntual",
        "delayed": "con retraso",
        "early": "adelantado",
        "scheduled": "programado",
        "page": "página {n} de {of}",
        "night": "Pausa nocturna",
        "night_resumes": "de vuelta a las {time}",
    },
}
LANGUAGES: tuple[str, ...] = tuple(TEXTS)

# Column titles, longest first: a title takes the longest form that fits its column (never "Plat…").
TITLE_FORMS: dict[str, dict[str, tuple[str, ...]]] = {
    "de": {"platform": ("Steig", "St."), "time": ("Abfahrt", "Ab"), "destination": ("Ziel",), "line": ("Linie", "Li.")},
    "en": {"platform": ("Platform", "Plat.", "Pl."), "time": ("Departs", "Dep."), "destination": ("Destination", "To"),
           "line": ("Line", "Ln")},
    "es": {"platform": ("Andén", "And."), "time": ("Salida", "Sal."), "destination": ("Destino",), "line": ("Línea", "L.")},
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
    ("International", "Int'l"),  # "San Francisco International Airport" -> "SF Int'l Airport", never "San…"
    ("San Francisco", "SF"),
    (" Int'l Airport", " Airport"),  # "SF Airport" where even "SF Int'l Airport" is too wide (the LED)
    (" Boulevard", " Blvd"),
    (" Center", " Ctr"),
    (" Junction", " Jct"),
)


def title_forms(language: str, kind: str) -> tuple[str, ...]:
    """A column's title in `language`, longest form first."""
    forms = TITLE_FORMS.get(language, TITLE_FORMS["de"]).get(kind)
    return forms if forms else (text(language, kind),)


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


def clock_time(hh_mm: str, clock: str = "24h", compact: bool = False) -> str:
    """A wall-clock "HH:MM" as the board's clock shows it: unchanged for "24h"; for "12h" "8:14 PM", or
    "8:14p" where a column has no room for more (`compact`)."""
    if clock != "12h" or not hh_mm[:2].isdigit():
        return hh_mm
    hour = int(hh_mm[:2])
    suffix = ("a" if hour < 12 else "p") if compact else (" AM" if hour < 12 else " PM")
    return f"{hour % 12 or 12}:{hh_mm[3:]}{suffix}"


def default_clock(language: str, timezone: str) -> str:
    """The clock a board shows when its display does not choose: 12-hour for an English (or Spanish) feed in
    the Americas, in Australia or New Zealand, where riders read times so; else 24-hour."""
    twelve = timezone.startswith(("America/", "US/", "Canada/", "Australia/", "Pacific/Auckland", "Pacific/Honolulu"))
    return "12h" if twelve and language in ("en", "es") and not timezone.startswith(_TWENTY_FOUR_AMERICAS) else "24h"


# Zones of the Americas whose countries write the 24-hour clock on timetables (Brazil, Argentina, Chile, ...).
_TWENTY_FOUR_AMERICAS = ("America/Sao_Paulo", "America/Argentina", "America/Buenos_Aires", "America/Santiago",
                         "America/Montevideo", "America/Asuncion", "America/La_Paz", "America/Lima", "America/Bogota",
                         "America/Caracas", "America/Havana", "America/Punta_Arenas")
