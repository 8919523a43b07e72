"""What a pillar says when a rider presses its button: one text, a pure function of the board, the voice's
language and how much detail was asked for.

The first press ("short") says the stop, the next four departures and a one-line disruption summary in at most
SHORT_SECONDS of audio; a second press ("full") the departures and every alert and message whole. Times, lines
and platforms are said in the voice's language; each alert in the voice's language when the feed has that
translation, else as written, announced with its language ("Hinweis auf Englisch: ..."). Sentences and the
pronunciation lexicon are layouts/phrases.py (the board's screen-reader rows use the same builder).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from feeds.alerts import ShownAlert

from .board import MESSAGE, Board, BoardRow
from .phrases import (
    EFFECTS,
    LANGUAGE_NAMES,
    LEXICON,
    SPOKEN_LANGUAGES,
    SpokenDeparture,
    departure_sentence,
    lexicon_of,
    phrases,
    say_clock,
    say_line,
    say_words,
    seconds_to_say,
)
from .texts import TEXTS, text

__all__ = ["DETAILS", "LANGUAGES", "LEXICON", "SHORT_SECONDS", "say_line", "say_words", "spoken_text"]

LANGUAGES = SPOKEN_LANGUAGES
DETAILS = ("short", "full")
MAX_SPOKEN = 6  # departures read on a second press
SHORT_DEPARTURES = 4  # departures read on the first press
MIN_SUMMARY = 60  # characters of the disruption summary a first press keeps before it drops a departure
SHORT_SECONDS = 20.0  # the first press is said in at most this long (the countdowns must still hold when it ends)
MARGIN = 0.3  # seconds the estimate keeps clear of the budget (it is rounded to the slow side as well)
_CLOCK = re.compile(r"\b\d\d:\d\d\b")
_SPACES = re.compile(r"\s+")
_VIA = re.compile(r"\s+(?:/|über|via|vía|por)\s+|\s+[–—]\s+")
_FIRST_SENTENCE = re.compile(r"(?<=[.!?])\s")


def main_destination(headsign: str) -> str:
    """Where a trip goes without its via part: "Lerchenberg Hindemithstraße / ZDF-Sendezentrum über Universität"
    -> "Lerchenberg Hindemithstraße" (what a first press says; the second says it whole)."""
    return _VIA.split(headsign, maxsplit=1)[0].strip() or headsign


# What the badge of an added trip of no known route says, in any board language ("Zusatz", "extra", "adicional"):
# no line to say (the voice says "Zusatzfahrt nach ...", "Extra service to ...").
_ADDED_BADGES = frozenset(TEXTS[lang][key] for lang in TEXTS for key in ("added_short", "added_mark"))


def _sentence(row: BoardRow, lang: str, words: Mapping[str, str], say_timetable: bool, short: bool) -> str:
    to = row.headsign or row.destination
    line = "" if row.status == "added" and row.line in _ADDED_BADGES and row.line == row.line_name else row.line_name or row.line
    facts = SpokenDeparture(line, main_destination(to) if short else to, row.status, row.minutes,
                            row.clock_text, row.platform, row.platform_changed, row.delay_minutes, row.live)
    return departure_sentence(lang, facts, words, say_timetable=say_timetable, short=short)


def _note(lang: str, said_in: str, body: str, words: Mapping[str, str]) -> str:
    """A message as a note, announced with its language when that is not the voice's."""
    body = say_words(body, words, lang).rstrip(". ")
    if not body:
        return ""
    table = phrases(lang)
    same = not said_in or said_in.split("-")[0] == lang
    if same:
        return table["note"].format(text=body) + "."
    name = LANGUAGE_NAMES[lang].get(said_in.split("-")[0], said_in)
    return table["note_in"].format(language=name, text=body) + "."


def alert_in(alert: ShownAlert, lang: str, fallback: str) -> tuple[str, str, str]:
    """(language, header, description) of an alert for a voice of `lang`: the feed's translation into it, else
    the text the board shows (untagged texts count as `fallback`, the board's language)."""
    for tag, header, description in alert.translations:
        if tag.split("-")[0] == lang:
            return lang, header, description
    return alert.language or fallback, alert.header, alert.description


def _alert_body(header: str, description: str) -> str:
    """Header and description as one text; a description that repeats the header is said once."""
    header, description = header.strip(), description.strip()
    if not description or description.startswith(header.rstrip(".")):
        return description or header
    return f"{header.rstrip('.')}. {description}"


# A sentence that says what a rider must act on: a stop or line closed, not served, moved, diverted, replaced.
_KEY_FACT = re.compile(
    r"clos|not stop|no service|no trains|suspend|cancel|detour|divert|moved|replac|shuttle|bus bridge|instead|"
    r"gesperrt|sperrung|entfällt|entfallen|fällt aus|fallen aus|umleitung|umgeleitet|ersatz|verlegt|kein|nicht|statt|"
    r"cerrad|cierre|no para|sin servicio|suspendid|desvío|desviad|cancelad|traslad|sustitu|en lugar", re.IGNORECASE)


def key_facts_first(body: str) -> str:
    """An alert's sentences with those that say what a rider acts on (closed, not stopping, detour, replacement)
    first, each group in its order: a first press that has room for one sentence says "Montgomery station is
    currently closed.", not the start of a long account of why."""
    sentences = [x for x in _SENTENCE.split(body.strip()) if x]
    keys = [x for x in sentences if _KEY_FACT.search(x)]
    return " ".join([*keys, *(x for x in sentences if x not in keys)])


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-ZÄÖÜ0-9¿¡\"„(])")


def _disruptions(board: Board, lang: str, words: Mapping[str, str], short: bool) -> list[str]:
    """The ops messages and the feed's alerts: every one whole, or (short) a one-line summary of the first: its
    effect in the voice's language where the alert is in another one, then its key facts (`key_facts_first`),
    and how many more a second press tells."""
    items: list[tuple[str, str, str, str]] = [(board.language, n, "", "") for n in board.notice_texts]
    items += [(*alert_in(a, lang, board.language), a.effect) for a in board.alerts]
    if not items:
        return []
    if not short:
        return [_note(lang, said_in, _alert_body(h, d), words) for said_in, h, d, _ in items]
    said_in, header, description, effect = items[0]
    body = _alert_body(header, description)
    table = phrases(lang)
    out = [_note(lang, said_in, key_facts_first(body), words)]
    effects = EFFECTS.get(lang, EFFECTS["en"])
    if said_in.split("-")[0] != lang and effect in effects:  # what it means, before it is said in another language
        out[0] = f"{effects['summary'].format(effect=effects[effect])} {out[0]}"
    if len(items) > 1:
        out.append(table["more1"] if len(items) == 2 else table["more"].format(n=len(items) - 1))
    return out


def spoken_text(board: Board, language: str, lexicon: Mapping[str, str] | None = None, detail: str = "short",
                budget: float = SHORT_SECONDS) -> str:
    """The board as one spoken text in `language` (English for a language without phrases). `detail` "short":
    the stop, the next SHORT_DEPARTURES departures and a one-line disruption summary, within SHORT_SECONDS (fewer
    departures and a shorter summary when the names are long); "full": MAX_SPOKEN departures and every
    message and alert whole. An ops takeover instead of departures; why nothing departs. `budget`: seconds the
    first press may last (the shell asks again with less when the audio came out longer than SHORT_SECONDS)."""
    lang = language if language in SPOKEN_LANGUAGES else "en"
    short = detail != "full"
    table = phrases(lang)
    words = lexicon_of(lang, lexicon)
    head = [table["stop"].format(name=say_words(board.stop_name, words, lang))] if board.stop_name else []
    if board.takeover_text:  # the whole message; a first press says as much of it as fits, a second the rest
        note = _note(lang, board.language, board.takeover_text, words)
        return _within_budget(lang, head, [], [note], budget - MARGIN) if short else _finish([*head, note])
    departures = [r for r in board.rows if r.status != MESSAGE]
    head += [_note(lang, board.language, r.headsign or r.destination, words) for r in board.rows if r.status == MESSAGE]
    disruptions = _disruptions(board, lang, words, short)
    if not departures:
        return _finish([*head, *(_empty(board, lang) if board.empty_text else [table["none"]]), *disruptions])
    intro = [] if short else [table["next"]]
    if board.timetable_only:
        intro.append(table["timetable_only"])
    said = [_sentence(r, lang, words, not board.timetable_only, short)
            for r in departures[: SHORT_DEPARTURES if short else MAX_SPOKEN]]
    if not short:
        return _finish([*head, *intro, *said, *disruptions])
    return _within_budget(lang, [*head, *intro], said, disruptions, budget - MARGIN)


def _within_budget(lang: str, head: list[str], said: list[str], disruptions: list[str], budget: float) -> str:
    """The first press within the budget: departures first (fewer when their names are long), then the
    disruption summary in the room that is left (cut at a word, with "press again" for the rest)."""
    summary, rest = (disruptions[0], disruptions[1:]) if disruptions else ("", [])
    least = min(len(summary), max(MIN_SUMMARY, _key_part(summary)))
    more = rest or [phrases(lang)["details"]]  # said after a summary that is not whole
    while len(said) > 1 and seconds_to_say(_finish([*head, *said, *more]), lang) + least * _per_char(lang) > budget:
        said.pop()  # long names: fewer departures rather than a countdown that is wrong when it is said
    if seconds_to_say(_finish([*head, *said, summary, *rest]), lang) <= budget:
        return _finish([*head, *said, summary, *rest])
    room = int((budget - seconds_to_say(_finish([*head, *said, *more]), lang)) / _per_char(lang))
    sentences = _FIRST_SENTENCE.split(summary)
    first = sentences[0]
    for sentence in sentences[1:]:  # as many whole sentences as fit
        if len(f"{first} {sentence}") > room:
            break
        first = f"{first} {sentence}"
    if len(first) > room:
        first = first[: max(0, room - 1)].rsplit(" ", 1)[0].rstrip(",;:–- ") + " …"
    return _finish([*head, *said, first if len(first) > 2 else "", *more])


def _key_part(summary: str) -> int:
    """Characters of the summary up to the end of its first key fact ("Störung: große Verspätungen. Hinweis auf
    Englisch: Montgomery station is currently closed."), at most 2 MIN_SUMMARY: what a first press keeps before
    it says fewer departures."""
    length = 0
    for sentence in _FIRST_SENTENCE.split(summary):
        length += len(sentence) + 1
        if _KEY_FACT.search(sentence) or length > 2 * MIN_SUMMARY:
            break
    return min(length, 2 * MIN_SUMMARY)


def _per_char(lang: str) -> float:
    return seconds_to_say("x", lang)


def _empty(board: Board, lang: str) -> list[str]:
    """Why nothing departs, in the language asked for (the board's own texts when it is that language)."""
    if board.language == lang:
        said = [board.empty_text, board.empty_detail]
    else:
        minutes = re.search(r"\d+", board.empty_text) if board.empty_reason == "nothing_in_horizon" else None
        texts_in = lang if lang in TEXTS else "en"
        said = [text(texts_in, board.empty_reason, n=minutes.group() if minutes else "")]
        when = _CLOCK.search(board.empty_detail)
        if board.empty_reason == "no_data":
            said.append(text(texts_in, "no_data_detail"))
        elif when and board.empty_reason in ("end_of_service", "nothing_in_horizon", "night"):
            said.append(text(texts_in, "next_departure", time=when.group()))
    out = []
    for sentence in said:
        sentence = _CLOCK.sub(lambda m: _time_of_day(lang, m.group()), sentence)
        sentence = re.sub(r" min\b", " " + phrases(lang)["minutes"], sentence)
        if sentence:
            out.append(f"{sentence[0].upper()}{sentence[1:]}.")
    return out


def _time_of_day(lang: str, clock: str) -> str:
    """A clock time inside a sentence: "5 Uhr 5", "5 05", "a las 5 y 5"."""
    said = say_clock(lang, "at", clock)
    return said if lang == "es" else said.split(" ", 1)[1]


def _finish(sentences: list[str]) -> str:
    text = " ".join(s.strip() for s in sentences if s.strip())
    text = _SPACES.sub(" ", text)
    return text if text.endswith((".", "!", "?")) else f"{text}."
