"""The small parsers of a display's fields and of the [speech] table (displays/config/parse.py uses them):
night hours, spoken departures, route labels, the speech lexicon."""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any

from displays.config.model import SpeechConfig
from layouts.spec import LANGUAGES
from layouts.validation import ConfigError, Fields, defaults_of

__all__ = ["night", "route_labels", "speech", "speech_lexicon"]


def route_labels(raw: Any, source: str, display: str) -> tuple[tuple[str, str], ...]:
    """route_labels = { "Blue-Wkd/Sat" = "Blue" }: what a route's badge says (by route_id or short name)."""
    if not isinstance(raw, dict):
        raise ConfigError(
            source, 'must be a table, e.g. route_labels = { "Blue-Wkd/Sat" = "Blue" }', display, "route_labels"
        )
    for route, label in raw.items():
        if not isinstance(label, str) or not 0 < len(label.strip()) <= 16:
            raise ConfigError(source, f"must be a label of 1 to 16 characters, got {label!r}", display,
                              f"route_labels.{route}")
    return tuple(sorted((str(k), v.strip()) for k, v in raw.items()))


_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def night(raw: Any, source: str, display: str) -> tuple[int, int] | None:
    """night = { from = "01:00", to = "04:30" }: the display's night screen (local time), as minutes."""
    if raw is None:
        return None
    example = 'must be a table like night = { from = "01:00", to = "04:30" }'
    if not isinstance(raw, dict):
        raise ConfigError(source, example, display, "night")
    v = Fields(source, raw, {}, display=display, prefix="night.")
    v.only({"from", "to"})
    times = []
    for key in ("from", "to"):
        value = raw.get(key)
        if not isinstance(value, str) or not _CLOCK.match(value):
            raise v.fail(key, f'must be a local time "HH:MM" (00:00 to 23:59), got {str(value)[:20]!r}')
        times.append(int(value[:2]) * 60 + int(value[3:]))
    if times[0] == times[1]:
        raise v.fail("to", f"must differ from night.from ({raw['from']}): a night of no length or of a whole day")
    return times[0], times[1]


_NIGHT = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")


def speech(raw: Any, source: str, display: str) -> SpeechConfig:
    if not isinstance(raw, dict):
        raise ConfigError(source, 'must be a table, e.g. speech = { languages = ["de", "en"] }', display, "speech")
    v = Fields(source, raw, defaults_of(SpeechConfig), display=display, prefix="speech.")
    v.only({f.name for f in fields(SpeechConfig)})
    languages = v.strings("languages")
    for language in languages:
        if language not in LANGUAGES:
            raise v.fail("languages", f"must be some of {', '.join(LANGUAGES)}, got {language!r}")
    night = v.string("night")
    if night and not _NIGHT.match(night):
        raise v.fail("night", f'must be "HH:MM-HH:MM" (e.g. "22:00-06:00"), got {night[:20]!r}')
    return SpeechConfig(
        tuple(dict.fromkeys(languages)), v.number("volume", 0, 1), v.number("night_volume", 0, 1), night
    )


def speech_lexicon(raw: Any, source: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """[speech] lexicon = { de = { "Hbf" = "Hauptbahnhof" }, en = {...} }: words and how they are said."""
    if not isinstance(raw, dict) or set(raw) - {"lexicon"}:
        raise ConfigError(source, "must be a table with only 'lexicon'", field_name="speech")
    lexicon = raw.get("lexicon", {})
    if not isinstance(lexicon, dict):
        raise ConfigError(source, "must be a table of languages", field_name="speech.lexicon")
    out = []
    for language, words in lexicon.items():
        if language not in LANGUAGES:
            raise ConfigError(source, f"must be one of {', '.join(LANGUAGES)}", field_name=f"speech.lexicon.{language}")
        if not isinstance(words, dict) or not all(
            isinstance(k, str) and isinstance(w, str) and k.strip() and len(w) <= 200 for k, w in words.items()
        ):
            raise ConfigError(source, 'must be a table of "word" = "how it is said" (at most 200 characters)',
                              field_name=f"speech.lexicon.{language}")
        out.append((language, tuple(sorted(words.items()))))
    return tuple(out)
