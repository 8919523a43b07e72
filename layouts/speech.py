"""What a pillar says when a rider asks it to read the board aloud: one text, a pure function of the board
and a language, with a pronunciation lexicon (abbreviations spelled out, line names said letter by letter).

German or English whatever the board's language: times, lines and platforms are said in the language
asked for; texts that come from the feed or from ops (destinations, alerts, messages) as they are written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .board import MESSAGE, Board, BoardRow
from .texts import text

LANGUAGES = ("de", "en")
MAX_SPOKEN = 6  # departures read aloud at most: a rider waiting by the button hears the next ones, then the alerts

LEXICON: dict[str, dict[str, str]] = {  # whole words (case as written) -> how they are said
    "de": {"Hbf": "Hauptbahnhof", "Hbf.": "Hauptbahnhof", "Bf": "Bahnhof", "Bf.": "Bahnhof", "Bhf": "Bahnhof",
           "Bhf.": "Bahnhof", "Str.": "Straße", "Pl.": "Platz", "ZOB": "Zentraler Omnibusbahnhof", "Kr.": "Kreis",
           "Hst.": "Haltestelle", "St.": "Sankt", "u.": "und", "z.Zt.": "zurzeit", "ca.": "circa", "min": "Minuten"},
    "en": {"Hbf": "main station", "St.": "Street", "Ave": "Avenue", "Ave.": "Avenue", "Blvd": "Boulevard",
           "Blvd.": "Boulevard", "Rd": "Road", "Rd.": "Road", "Sq": "Square", "Sq.": "Square", "Ctr": "Center",
           "Stn": "Station", "min": "minutes", "approx.": "approximately"},
}

_PHRASES = {
    "de": {"stop": "Haltestelle {name}.", "next": "Die nächsten Abfahrten:", "line": "Linie {line} nach {to}",
           "now": "sofort", "in": "in {n} Minuten", "in1": "in einer Minute", "at": "um {h} Uhr {m}", "at0": "um {h} Uhr",
           "planned_at": "planmäßig um {h} Uhr {m}", "planned_at0": "planmäßig um {h} Uhr",
           "platform": "von Steig {p}", "moved": "heute von Steig {p}", "late": "{n} Minuten später",
           "late1": "eine Minute später", "cancelled": "fällt aus", "skipped": "hält hier nicht",
           "added": "Zusatzfahrt", "timetable": "laut Fahrplan", "note": "Hinweis: {text}", "none": "Keine Abfahrten.",
           "timetable_only": "Alle Zeiten laut Fahrplan."},
    "en": {"stop": "Stop {name}.", "next": "Next departures:", "line": "Line {line} to {to}",
           "now": "now", "in": "in {n} minutes", "in1": "in one minute", "at": "at {h} {m:02d}", "at0": "at {h} o'clock",
           "planned_at": "scheduled at {h} {m:02d}", "planned_at0": "scheduled at {h} o'clock",
           "platform": "from platform {p}", "moved": "today from platform {p}", "late": "{n} minutes late",
           "late1": "one minute late", "cancelled": "cancelled", "skipped": "does not stop here",
           "added": "extra service", "timetable": "according to the timetable", "note": "Notice: {text}",
           "none": "No departures.", "timetable_only": "All times are from the timetable."},
}
_LINE_PARTS = re.compile(r"[A-Za-z]+|\d+|[^A-Za-z\d]+")
_SPACES = re.compile(r"\s+")
_CLOCK = re.compile(r"\b\d\d:\d\d\b")


def say_words(text: str, lexicon: Mapping[str, str]) -> str:
    """`text` with every word the lexicon knows replaced, also as the last part of a hyphenated name; a word
    ending in 'str.' becomes '...straße'."""
    words = []
    for word in text.split():
        bare = word.rstrip(",;:")
        tail = word[len(bare):]
        if bare in lexicon:
            words.append(lexicon[bare] + tail)
        elif "-" in bare and bare.rsplit("-", 1)[1] in lexicon:  # Kaiser-Wilhelm-Str.
            head, last = bare.rsplit("-", 1)
            words.append(f"{head}-{lexicon[last]}{tail}")
        elif "Str." in lexicon and bare.endswith("str.") and len(bare) > 4:
            words.append(bare[:-4] + lexicon["Str."].lower() + tail)
        else:
            words.append(word)
    return " ".join(words)


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


def _clock(phrases: dict[str, str], key: str, clock: str) -> str:
    hours, minutes = int(clock[:2]), int(clock[3:5])
    return phrases[f"{key}0"].format(h=hours) if minutes == 0 else phrases[key].format(h=hours, m=minutes)


def _row(row: BoardRow, phrases: dict[str, str], lexicon: Mapping[str, str], say_timetable: bool = True) -> str:
    if row.status == MESSAGE:
        return phrases["note"].format(text=say_words(row.headsign or row.destination, lexicon).rstrip(".")) + "."
    parts = [phrases["line"].format(line=say_line(row.line_name or row.line, lexicon),
                                    to=say_words(row.headsign or row.destination, lexicon))]
    inactive = row.status in ("cancelled", "skipped")
    if inactive:
        parts.append(_clock(phrases, "planned_at", row.clock_text) if row.clock_text else "")
    elif row.minutes == 0:
        parts.append(phrases["now"])
    elif row.minutes is not None:
        parts.append(phrases["in1"] if row.minutes == 1 else phrases["in"].format(n=row.minutes))
    elif row.clock_text:
        parts.append(_clock(phrases, "at", row.clock_text))
    if row.platform:
        parts.append(phrases["moved" if row.platform_changed else "platform"].format(p=say_line(row.platform, lexicon)))
    if inactive:
        parts.append(phrases[row.status])
    elif row.delay_minutes:
        parts.append(phrases["late1"] if row.delay_minutes == 1 else phrases["late"].format(n=row.delay_minutes))
    if row.status == "added":
        parts.append(phrases["added"])
    if not row.live and not inactive and say_timetable:
        parts.append(phrases["timetable"])
    return ", ".join(p for p in parts if p) + "."


def spoken_text(board: Board, language: str, lexicon: Mapping[str, str] | None = None) -> str:
    """The board as one spoken text: the stop, ops messages, the next MAX_SPOKEN departures (line, destination,
    time, platform, delay or cancellation), then the alerts; an ops takeover instead of the departures; why
    nothing departs."""
    lang = language if language in LANGUAGES else "en"
    phrases = _PHRASES[lang]
    words = {**LEXICON[lang], **(lexicon or {})}
    out = [phrases["stop"].format(name=say_words(board.stop_name, words))] if board.stop_name else []
    if board.takeover_text:
        out.append(phrases["note"].format(text=say_words(board.takeover_text, words)))
        return _finish(out)
    departures = [r for r in board.rows if r.status != MESSAGE]
    notes = [r for r in board.rows if r.status == MESSAGE]
    out += [_row(r, phrases, words) for r in notes]
    if departures:
        out.append(phrases["next"])
        if board.timetable_only:
            out.append(phrases["timetable_only"])
        out += [_row(r, phrases, words, not board.timetable_only) for r in departures[:MAX_SPOKEN]]
    elif board.empty_text:
        out += _empty(board, lang)
    else:
        out.append(phrases["none"])
    alerts = " ".join(page.replace("\n", " ") for page in board.alert_pages)
    if alerts:
        out.append(phrases["note"].format(text=say_words(alerts, words)))
    return _finish(out)


def _empty(board: Board, lang: str) -> list[str]:
    """Why nothing departs, in the language asked for (the board's own texts when it is that language)."""
    if board.language == lang:
        said = [board.empty_text, board.empty_detail]
    else:
        minutes = re.search(r"\d+", board.empty_text) if board.empty_reason == "nothing_in_horizon" else None
        said = [text(lang, board.empty_reason, n=minutes.group() if minutes else "")]
        when = _CLOCK.search(board.empty_detail)
        if board.empty_reason == "no_data":
            said.append(text(lang, "no_data_detail"))
        elif when and board.empty_reason in ("end_of_service", "nothing_in_horizon"):
            said.append(text(lang, "next_departure", time=when.group()))
    out = []
    for sentence in said:
        sentence = _CLOCK.sub(lambda m: _clock(_PHRASES[lang], "at", m.group()).split(" ", 1)[1], sentence)
        sentence = sentence.replace(" min", " Minuten" if lang == "de" else " minutes")
        if sentence:
            out.append(f"{sentence[0].upper()}{sentence[1:]}.")
    return out


def _finish(sentences: list[str]) -> str:
    text = " ".join(s.strip() for s in sentences if s.strip())
    text = _SPACES.sub(" ", text)
    return text if text.endswith((".", "!", "?")) else f"{text}."
