"""Finding stops by what ops type: a name ("Schillerplatz", "schiller", "Hauptbahnhof Steig A") or an id,
for the dashboard's stop search and for suggestions when a stop id is refused. Pure: a timetable in, rows out."""

from __future__ import annotations

import difflib
import unicodedata
from typing import Any

from feeds.timetable import Stop, Timetable

__all__ = ["search_stops", "stop_hint"]


def _fold(text: str) -> str:
    """Lower case without accents or punctuation, so 'Universität' matches 'universitat'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join("".join(c if c.isalnum() else " " for c in plain.lower()).split())


def _label(tt: Timetable, stop: Stop) -> str:
    kind = (
        "station" if stop.location_type == 1 else (f"platform {stop.platform_code}" if stop.platform_code else "stop")
    )
    return f"{stop.name} ({kind})"


def _row(tt: Timetable, stop: Stop) -> dict[str, Any]:
    station = tt.stops[stop.parent].stop_id if stop.parent >= 0 else ""
    return {"id": stop.stop_id, "name": stop.name, "platform": stop.platform_code, "station": station,
            "label": _label(tt, stop)}


def _word_matches(word: str, tokens: list[str]) -> bool:
    """A typed word matches the start of a word of the stop ('b' is platform B, not the b in 'Hauptbahnhof');
    from three letters on, anywhere in one ('platz' finds 'Schillerplatz')."""
    return any(t.startswith(word) or (len(word) >= 3 and word in t) for t in tokens)


def search_stops(tt: Timetable, query: str, limit: int = 20) -> list[dict[str, Any]]:
    """Stops whose name or id matches `query` (all its words, in any order, accents and case ignored), best
    first: exact id, name equal, name starting with it, then containing it; stations before their platforms."""
    words = _fold(query).split()
    if not words:
        return []
    exact = query.strip()
    scored = []
    for stop in tt.stops:
        name, ident = _fold(f"{stop.name} {stop.platform_code}"), _fold(stop.stop_id)
        tokens = [*name.split(), *ident.split()]
        if stop.stop_id == exact:
            rank = 0
        elif _fold(stop.name) == " ".join(words):
            rank = 1
        elif all(_word_matches(w, tokens) for w in words):
            rank = 2 if name.startswith(words[0]) or ident.startswith(words[0]) else 3
        else:
            continue
        scored.append((rank, 0 if stop.location_type == 1 else 1, stop.name, stop.stop_id, stop))
    scored.sort(key=lambda t: t[:4])
    return [_row(tt, s[-1]) for s in scored[:limit]]


def stop_hint(tt: Timetable, text: str) -> str:
    """' (did you mean ...?)' for a refused stop: stops named like it, else ids spelled like it ('' for none)."""
    found = search_stops(tt, text, 3)
    if not found:
        close = difflib.get_close_matches(text, list(tt.stop_index), n=3, cutoff=0.5)
        found = [_row(tt, tt.stops[tt.stop_index[c]]) for c in close]
    if not found:
        return ""
    return " (did you mean " + ", ".join(f"{r['id']}: {r['label']}" for r in found) + "?)"
