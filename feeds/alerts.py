"""Service alerts: which apply to a board now, in which language."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from google.transit import gtfs_realtime_pb2 as rt

_CAUSE = rt.Alert.Cause
_EFFECT = rt.Alert.Effect
_SEVERITY = rt.Alert.SeverityLevel


@dataclass(frozen=True, slots=True)
class Selector:
    """One informed_entity: every field that is set must match (None = not set)."""

    agency_id: str | None = None
    route_id: str | None = None
    route_type: int | None = None
    direction_id: int | None = None
    trip_id: str | None = None
    stop_id: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """A service alert with all its translations; times are Unix seconds."""

    alert_id: str
    periods: tuple[tuple[int, int], ...]  # (start, end); 0 = open; empty = always active
    selectors: tuple[Selector, ...]
    cause: str
    effect: str
    severity: str
    header: tuple[tuple[str, str], ...]  # (language, text); "" = untagged
    description: tuple[tuple[str, str], ...]
    url: tuple[tuple[str, str], ...]
    source: str

    def active(self, now: int) -> bool:
        """Whether one of the active periods covers `now` (no period: always)."""
        if not self.periods:
            return True
        return any((start == 0 or start <= now) and (end == 0 or now < end) for start, end in self.periods)


@dataclass(frozen=True, slots=True)
class BoardScope:
    """What a board shows, for matching alerts: its stops (with parents) and the trips on it."""

    agencies: frozenset[str]
    stop_ids: frozenset[str]
    routes: frozenset[str]
    route_types: frozenset[int]
    route_directions: frozenset[tuple[str, int]]
    trips: frozenset[str]


@dataclass(frozen=True, slots=True)
class ShownAlert:
    """An alert as a display shows it: texts in the display's language."""

    alert_id: str
    header: str
    description: str
    url: str
    language: str
    cause: str
    effect: str
    severity: str
    periods: tuple[tuple[int, int], ...]
    translations: tuple[tuple[str, str, str], ...] = ()  # (language, header, description) of every translation:
    # what a voice of another language says (layouts/speech.py)


def alert_from_entity(entity: rt.FeedEntity, source: str) -> Alert:
    """Our Alert from a protobuf FeedEntity that carries one."""
    msg = entity.alert
    selectors = tuple(
        Selector(
            agency_id=e.agency_id if e.HasField("agency_id") else None,
            route_id=e.route_id
            if e.HasField("route_id")
            else (e.trip.route_id if e.trip.HasField("route_id") else None),
            route_type=e.route_type if e.HasField("route_type") else None,
            direction_id=e.direction_id
            if e.HasField("direction_id")
            else (e.trip.direction_id if e.trip.HasField("direction_id") else None),
            trip_id=e.trip.trip_id if e.HasField("trip") and e.trip.HasField("trip_id") else None,
            stop_id=e.stop_id if e.HasField("stop_id") else None,
        )
        for e in msg.informed_entity
    )
    return Alert(
        alert_id=entity.id,
        periods=tuple((int(p.start), int(p.end)) for p in msg.active_period),
        selectors=selectors,
        cause=_CAUSE.Name(msg.cause) if msg.HasField("cause") else "UNKNOWN_CAUSE",
        effect=_EFFECT.Name(msg.effect) if msg.HasField("effect") else "UNKNOWN_EFFECT",
        severity=_SEVERITY.Name(msg.severity_level) if msg.HasField("severity_level") else "UNKNOWN_SEVERITY",
        header=_texts(msg.header_text),
        description=_texts(msg.description_text),
        url=_texts(msg.url),
        source=source,
    )


def _texts(translated: rt.TranslatedString) -> tuple[tuple[str, str], ...]:
    return tuple((t.language.lower(), t.text) for t in translated.translation)


def choose_text(texts: tuple[tuple[str, str], ...], language: str, fallback: str = "en") -> tuple[str, str]:
    """(language, text) best for `language`: exact tag, same primary language, untagged, `fallback`, first."""
    if not texts:
        return ("", "")
    wanted = language.lower()
    primary = wanted.split("-")[0]
    for test in (
        lambda lang: lang == wanted,
        lambda lang: lang.split("-")[0] == primary,
        lambda lang: lang == "",
        lambda lang: lang.split("-")[0] == fallback,
    ):
        for lang, text in texts:
            if test(lang):
                return lang, text
    return texts[0]


def translations(alert: Alert) -> tuple[tuple[str, str, str], ...]:
    """(language, header, description) for each language the alert's header is written in."""
    out = []
    for lang, header in alert.header:
        _, description = choose_text(alert.description, lang) if lang else ("", "")
        if not lang and alert.description:
            description = next((text for tag, text in alert.description if not tag), alert.description[0][1])
        out.append((lang, header, description))
    return tuple(out)


def selector_matches(sel: Selector, scope: BoardScope) -> bool:
    """Whether one informed entity applies to a board (all its set fields must match)."""
    if sel == Selector():
        return False
    if sel.agency_id is not None and sel.agency_id not in scope.agencies:
        return False
    if sel.stop_id is not None and sel.stop_id not in scope.stop_ids:
        return False
    if sel.trip_id is not None and sel.trip_id not in scope.trips:
        return False
    if sel.route_id is not None:
        if sel.direction_id is not None:
            if (sel.route_id, sel.direction_id) not in scope.route_directions:
                return False
        elif sel.route_id not in scope.routes:
            return False
    if sel.route_type is not None and sel.route_type not in scope.route_types:
        return False
    return True


def alerts_for_board(alerts: Iterable[Alert], scope: BoardScope, now: int, language: str) -> tuple[ShownAlert, ...]:
    """Active alerts that concern the board, most severe first, in the display's language."""
    order = {"SEVERE": 0, "WARNING": 1, "UNKNOWN_SEVERITY": 2, "INFO": 3}
    shown = []
    for alert in alerts:
        if not alert.active(now) or not any(selector_matches(s, scope) for s in alert.selectors):
            continue
        lang, header = choose_text(alert.header, language)
        _, description = choose_text(alert.description, lang or language)
        _, url = choose_text(alert.url, lang or language)
        shown.append(
            ShownAlert(
                alert.alert_id,
                header,
                description,
                url,
                lang,
                alert.cause,
                alert.effect,
                alert.severity,
                alert.periods,
                translations(alert),
            )
        )
    shown.sort(key=lambda a: (order.get(a.severity, 2), a.alert_id))
    return tuple(shown)
