"""The one sentence builder for spoken departures: the phrases of each spoken language, the pronunciation
lexicon (abbreviations spelled out, line names said letter by letter) and a departure as a sentence.

Used by the board (each row's `spoken`, for screen readers) and by layouts/speech.py (what a pillar says).
Pure: no I/O. A language is added by adding its table to PHRASES, LEXICON, BEFORE_NAME and LANGUAGE_NAMES.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

SPOKEN_LANGUAGES = ("de", "en", "es")

PHRASES: dict[str, dict[str, str]] = {
    "de": {"stop": "Haltestelle {name}.", "next": "Die nächsten Abfahrten:", "line": "Linie {line} nach {to}", "line_short": "{line} nach {to}",
           "now": "sofort", "in": "in {n} Minuten", "in1": "in einer Minute", "at": "um {h} Uhr {m}", "at0": "um {h} Uhr",
           "planned_at": "planmäßig um {h} Uhr {m}", "planned_at0": "planmäßig um {h} Uhr",
           "platform": "von Steig {p}", "platform_short": "Steig {p}", "moved": "heute von Steig {p}", "moved_short": "heute Steig {p}",
           "late": "{n} Minuten später", "late1": "eine Minute später", "cancelled": "fällt aus",
           "skipped": "hält hier nicht", "added": "Zusatzfahrt", "timetable": "laut Fahrplan", "note": "Hinweis: {text}",
           "note_in": "Hinweis auf {language}: {text}", "none": "Keine Abfahrten.",
           "timetable_only": "Alle Zeiten laut Fahrplan.", "more": "{n} weitere Hinweise: nochmal drücken.",
           "more1": "Noch ein Hinweis: nochmal drücken.", "details": "Mehr: nochmal drücken.",
           "minutes": "Minuten"},
    "en": {"stop": "Stop {name}.", "next": "Next departures:", "line": "Line {line} to {to}", "line_short": "{line} to {to}",
           "now": "now", "in": "in {n} minutes", "in1": "in one minute", "at": "at {h} {m:02d}", "at0": "at {h} o'clock",
           "planned_at": "scheduled at {h} {m:02d}", "planned_at0": "scheduled at {h} o'clock",
           "platform": "from platform {p}", "platform_short": "platform {p}", "moved": "today from platform {p}", "moved_short": "today platform {p}",
           "late": "{n} minutes late", "late1": "one minute late", "cancelled": "cancelled",
           "skipped": "does not stop here", "added": "extra service", "timetable": "according to the timetable",
           "note": "Notice: {text}", "note_in": "Notice in {language}: {text}", "none": "No departures.",
           "timetable_only": "All times are from the timetable.", "more": "{n} more notices: press again.",
           "more1": "One more notice: press again.", "details": "More: press again.", "minutes": "minutes"},
    "es": {"stop": "Parada {name}.", "next": "Próximas salidas:", "line": "Línea {line} a {to}", "line_short": "{line} a {to}",
           "now": "ahora", "in": "en {n} minutos", "in1": "en un minuto", "at": "a las {h} y {m}",
           "at0": "a las {h} en punto", "planned_at": "prevista a las {h} y {m}", "planned_at0": "prevista a las {h} en punto",
           "platform": "andén {p}", "platform_short": "andén {p}", "moved": "hoy desde el andén {p}", "moved_short": "hoy andén {p}",
           "late": "con {n} minutos de retraso", "late1": "con un minuto de retraso", "cancelled": "cancelado",
           "skipped": "no para aquí", "added": "servicio adicional", "timetable": "según el horario",
           "note": "Aviso: {text}", "note_in": "Aviso en {language}: {text}", "none": "No hay salidas.",
           "timetable_only": "Todos los horarios son programados.", "more": "{n} avisos más: pulse otra vez.",
           "more1": "Un aviso más: pulse otra vez.", "details": "Más información: pulse otra vez.", "minutes": "minutos"},
}

# What an alert's GTFS-Realtime effect means, said in the voice's language before an alert it has no translation
# for ("Störung: große Verspätungen. Hinweis auf Englisch: ...").
EFFECTS: dict[str, dict[str, str]] = {
    "de": {"summary": "Störung: {effect}.", "NO_SERVICE": "kein Betrieb", "REDUCED_SERVICE": "eingeschränkter Betrieb",
           "SIGNIFICANT_DELAYS": "große Verspätungen", "DETOUR": "Umleitung", "ADDITIONAL_SERVICE": "zusätzliche Fahrten",
           "MODIFIED_SERVICE": "geänderter Fahrplan", "STOP_MOVED": "Haltestelle verlegt",
           "ACCESSIBILITY_ISSUE": "Barrierefreiheit eingeschränkt"},
    "en": {"summary": "Disruption: {effect}.", "NO_SERVICE": "no service", "REDUCED_SERVICE": "reduced service",
           "SIGNIFICANT_DELAYS": "major delays", "DETOUR": "detour", "ADDITIONAL_SERVICE": "extra service",
           "MODIFIED_SERVICE": "changed service", "STOP_MOVED": "stop moved", "ACCESSIBILITY_ISSUE": "accessibility issue"},
    "es": {"summary": "Incidencia: {effect}.", "NO_SERVICE": "sin servicio", "REDUCED_SERVICE": "servicio reducido",
           "SIGNIFICANT_DELAYS": "retrasos importantes", "DETOUR": "desvío", "ADDITIONAL_SERVICE": "servicio adicional",
           "MODIFIED_SERVICE": "servicio modificado", "STOP_MOVED": "parada trasladada",
           "ACCESSIBILITY_ISSUE": "problema de accesibilidad"},
}

LANGUAGE_NAMES: dict[str, dict[str, str]] = {  # a message's language, said in the voice's language
    "de": {"de": "Deutsch", "en": "Englisch", "es": "Spanisch", "fr": "Französisch", "it": "Italienisch",
           "nl": "Niederländisch", "pl": "Polnisch", "tr": "Türkisch", "zh": "Chinesisch"},
    "en": {"de": "German", "en": "English", "es": "Spanish", "fr": "French", "it": "Italian", "nl": "Dutch",
           "pl": "Polish", "tr": "Turkish", "zh": "Chinese"},
    "es": {"de": "alemán", "en": "inglés", "es": "español", "fr": "francés", "it": "italiano", "nl": "neerlandés",
           "pl": "polaco", "tr": "turco", "zh": "chino"},
}

_STREETS = {"St.": "Street", "St": "Street", "Ave": "Avenue", "Ave.": "Avenue", "Av": "Avenue", "Blvd": "Boulevard",
            "Blvd.": "Boulevard", "Rd": "Road", "Rd.": "Road", "Sq": "Square", "Sq.": "Square", "Ctr": "Center",
            "Stn": "Station", "Hwy": "Highway", "Pkwy": "Parkway", "Dr": "Drive", "Dr.": "Drive"}
_GERMAN_NAMES = {"Hbf": "Hauptbahnhof", "Hbf.": "Hauptbahnhof", "Bf": "Bahnhof", "Bf.": "Bahnhof", "Bhf": "Bahnhof",
                 "Bhf.": "Bahnhof", "Str.": "Straße", "Pl.": "Platz", "ZOB": "Zentraler Omnibusbahnhof"}
LEXICON: dict[str, dict[str, str]] = {  # whole words (case as written) -> how a voice of that language says them
    # Names keep their own language: a German voice says "Montgomery Street", an English one "Mainz Hauptbahnhof".
    "de": {**_STREETS, **_GERMAN_NAMES, "Kr.": "Kreis", "Hst.": "Haltestelle", "u.": "und", "z.Zt.": "zurzeit",
           "ca.": "circa", "min": "Minuten"},
    "en": {**_STREETS, **_GERMAN_NAMES, "Hbf": "main station", "Hbf.": "main station", "Str.": "Strasse",
           "min": "minutes", "approx.": "approximately"},
    "es": {**_STREETS, **_GERMAN_NAMES, "Hbf": "estación central", "Hbf.": "estación central", "Str.": "Strasse",
           "Av.": "Avenida", "Avda.": "Avenida", "C/": "Calle", "Pza.": "Plaza", "Pl.": "Plaza", "Sta.": "Santa",
           "Sto.": "Santo", "Ctra.": "Carretera", "Bº": "Barrio", "min": "minutos", "aprox.": "aproximadamente"},
}
BEFORE_NAME: dict[str, dict[str, str]] = {  # said so when a capitalised name follows ("St. Johann", "St. Louis")
    "de": {"St.": "Sankt"}, "en": {"St.": "Saint"}, "es": {"St.": "San", "S.": "San"},
}
_NOT_A_NAME = {"Station", "Stn", "Stn.", "Bahnhof", "Hbf"}  # "Montgomery St. Station" is still a street

_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th|\.)?|\d+(?:ª|º|er|e)?")  # "24th", "5.", "3rd": a numbered street before "St."
_LINE_PARTS = re.compile(r"[A-Za-z]+|\d+|[^A-Za-z\d]+")


def phrases(language: str) -> dict[str, str]:
    """The phrase table of a spoken language (English for one without a table)."""
    return PHRASES.get(language, PHRASES["en"])


def lexicon_of(language: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The built-in lexicon of a voice's language with ops' own words (config [speech] lexicon) over it."""
    return {**LEXICON.get(language, LEXICON["en"]), **(extra or {})}


def say_words(text: str, lexicon: Mapping[str, str], language: str = "") -> str:
    """`text` with every word the lexicon knows replaced, also as the last part of a hyphenated name; a word
    ending in 'str.' becomes '...straße'; "St." before a name is said as a saint ("Sankt", "Saint")."""
    words = text.split()
    out = []
    before = BEFORE_NAME.get(language, {})
    for i, word in enumerate(words):
        bare = word.rstrip(",;:")
        tail = word[len(bare):]
        after = words[i + 1] if i + 1 < len(words) else ""
        street = i > 0 and _ORDINAL.fullmatch(words[i - 1]) is not None  # "24th St. Mission": a street, no saint
        if bare in before and not tail and after[:1].isupper() and after.rstrip(",;:.") not in _NOT_A_NAME and not street:
            out.append(before[bare])
        elif bare in lexicon:
            out.append(lexicon[bare] + tail)
        elif "-" in bare and bare.rsplit("-", 1)[1] in lexicon:  # Kaiser-Wilhelm-Str.
            head, last = bare.rsplit("-", 1)
            out.append(f"{head}-{lexicon[last]}{tail}")
        elif "Str." in lexicon and bare.endswith("str.") and len(bare) > 4:
            out.append(bare[:-4] + lexicon["Str."].lower() + tail)
        else:
            out.append(word)
    return " ".join(out)


def say_line(line: str, lexicon: Mapping[str, str]) -> str:
    """A line name as it is said: from the lexicon, else letters apart from numbers ("S8" -> "S 8", "RE4" ->
    "R E 4"; words of more than three letters stay words)."""
    if line in lexicon:
        return lexicon[line]
    parts = []
    for part in _LINE_PARTS.findall(line):
        if part.isalpha() and len(part) <= 3 and part.isupper():
            parts.extend(part)
        elif part.strip():
            parts.append(part.strip())
    return " ".join(parts) or line


def say_clock(language: str, key: str, clock: str) -> str:
    """"14:05" as said after `key` ("at", "planned_at"): "um 14 Uhr 5", "at 14 05", "a las 14 y 5"."""
    table = phrases(language)
    hours, minutes = int(clock[:2]), int(clock[3:5])
    return table[f"{key}0"].format(h=hours) if minutes == 0 else table[key].format(h=hours, m=minutes)


@dataclass(frozen=True, slots=True)
class SpokenDeparture:
    """What a departure sentence says: the facts of one board row."""

    line: str
    destination: str  # the whole destination (never the board's fitted one)
    status: str  # on_time, delayed, cancelled, skipped, added, ...
    minutes: int | None = None  # the countdown shown (0: now), None when a clock time is shown
    clock: str = ""  # HH:MM (the scheduled time of a cancelled or skipped call)
    platform: str = ""
    platform_changed: bool = False
    delay_minutes: int | None = None
    live: bool = True


def departure_sentence(language: str, dep: SpokenDeparture, lexicon: Mapping[str, str], *, say_timetable: bool = True,
                       short: bool = False) -> str:
    """One departure as a sentence in `language`: line, destination, time, platform, delay or cancellation.
    `short` (the first press of the button) says only what a rider at the stop acts on: line and destination
    without "Linie ... nach", the countdown (the delay is in it), the platform, and a cancellation without its
    planned time."""
    table = phrases(language)
    to = say_words(dep.destination, lexicon, language)
    if dep.line:
        parts = [table["line_short" if short else "line"].format(line=say_line(dep.line, lexicon), to=to)]
    else:  # an added trip of no known route: "Zusatzfahrt nach San Bruno", "Extra service to San Bruno"
        added = table["added"]
        parts = [table["line_short"].format(line=added[:1].upper() + added[1:], to=to)]
    inactive = dep.status in ("cancelled", "skipped")
    if inactive:
        parts.append(say_clock(language, "planned_at", dep.clock) if dep.clock and not short else "")
    elif dep.minutes == 0:
        parts.append(table["now"])
    elif dep.minutes is not None:
        parts.append(table["in1"] if dep.minutes == 1 else table["in"].format(n=dep.minutes))
    elif dep.clock:
        parts.append(say_clock(language, "at", dep.clock))
    if dep.platform and not (short and inactive):
        key = ("moved" if dep.platform_changed else "platform") + ("_short" if short else "")
        parts.append(table[key].format(p=say_line(dep.platform, lexicon)))
    if inactive:
        parts.append(table[dep.status])
    elif dep.delay_minutes and not short:
        parts.append(table["late1"] if dep.delay_minutes == 1 else table["late"].format(n=dep.delay_minutes))
    if dep.status == "added" and dep.line and not short:
        parts.append(table["added"])
    if not dep.live and not inactive and say_timetable and not short:
        parts.append(table["timetable"])
    return ", ".join(p for p in parts if p) + "."


SECONDS_PER_CHARACTER = {"de": 1 / 14.5, "en": 1 / 16, "es": 1 / 16}  # espeak-ng at voice.WORDS_PER_MINUTE,
# measured on board texts and rounded to the slow side (German compounds are said slowest)


def seconds_to_say(text: str, language: str) -> float:
    """About how long a voice takes to say `text` (never much less than it does: the budget of a first press
    is kept by this estimate, and tests measure the audio)."""
    return len(text) * SECONDS_PER_CHARACTER.get(language, 1 / 12.5)
