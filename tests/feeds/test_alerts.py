"""Service alerts: active periods, informed entities matched to a board, language choice."""

from __future__ import annotations

import pytest
from google.transit import gtfs_realtime_pb2 as rt
from rtkit import alert

from feeds.alerts import BoardScope, alert_from_entity, alerts_for_board, choose_text

NOW = 1_715_752_800
SCOPE = BoardScope(
    agencies=frozenset({"MVG"}),
    stop_ids=frozenset({"HBF", "HBF:A", "HBF:B"}),
    routes=frozenset({"50", "68"}),
    route_types=frozenset({0, 3}),
    route_directions=frozenset({("50", 0), ("68", 1)}),
    trips=frozenset({"T1", "T2"}),
)


def shown(*entities: dict[str, object], periods: list[tuple[int, int]] = (), language: str = "de") -> list[str]:  # type: ignore[assignment]
    entity = alert("A1", list(entities), {"de": "Umleitung", "en": "Detour"}, periods=periods)
    return [a.header for a in alerts_for_board([alert_from_entity(entity, "alerts.pb")], SCOPE, NOW, language)]


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ({"agency_id": "MVG"}, True),
        ({"agency_id": "ORN"}, False),
        ({"route_id": "50"}, True),
        ({"route_id": "99"}, False),
        ({"route_type": 0}, True),
        ({"route_type": 2}, False),
        ({"stop_id": "HBF:A"}, True),
        ({"stop_id": "HBF"}, True),  # the parent station of the board's platforms
        ({"stop_id": "UNI"}, False),
        ({"trip_id": "T2"}, True),
        ({"trip_id": "T9"}, False),
        ({"route_id": "50", "direction_id": 0}, True),
        ({"route_id": "50", "direction_id": 1}, False),
        ({"route_id": "50", "stop_id": "UNI"}, False),  # every field of one selector must match
        ({"route_id": "68", "stop_id": "HBF:B"}, True),
    ],
)
def test_informed_entity_matching(selector: dict[str, object], matches: bool) -> None:
    assert shown(selector) == (["Umleitung"] if matches else [])


def test_any_selector_may_match() -> None:
    assert shown({"route_id": "99"}, {"stop_id": "HBF:B"}) == ["Umleitung"]


def test_active_periods() -> None:
    assert shown({"route_id": "50"}, periods=[(NOW - 60, NOW + 60)]) == ["Umleitung"]
    assert shown({"route_id": "50"}, periods=[(NOW + 60, NOW + 120)]) == []
    assert shown({"route_id": "50"}, periods=[(NOW - 120, NOW)]) == []  # end is exclusive
    assert shown({"route_id": "50"}, periods=[(0, NOW + 1)]) == ["Umleitung"]  # open start
    assert shown({"route_id": "50"}, periods=[(NOW - 9, 0), (NOW + 100, NOW + 200)]) == ["Umleitung"]


@pytest.mark.parametrize(
    ("texts", "language", "expected"),
    [
        ((("de", "Umleitung"), ("en", "Detour")), "de", ("de", "Umleitung")),
        ((("de-de", "Umleitung"), ("en", "Detour")), "de", ("de-de", "Umleitung")),
        ((("de", "Umleitung"), ("en", "Detour")), "de-at", ("de", "Umleitung")),
        ((("fr", "Déviation"), ("", "Umleitung")), "de", ("", "Umleitung")),  # untagged before others
        ((("fr", "Déviation"), ("en-us", "Detour")), "de", ("en-us", "Detour")),  # then English
        ((("fr", "Déviation"), ("it", "Deviazione")), "de", ("fr", "Déviation")),  # then the first
        ((), "de", ("", "")),
    ],
)
def test_language_choice_with_fallback(
    texts: tuple[tuple[str, str], ...], language: str, expected: tuple[str, str]
) -> None:
    assert choose_text(texts, language) == expected


def test_description_follows_the_header_language_and_cause_effect_severity_are_kept() -> None:
    entity = alert(
        "A2", [{"route_id": "50"}], {"de": "Umleitung", "en": "Detour"},
        description={"en": "Stops moved", "de": "Haltestellen verlegt"}, severity=rt.Alert.WARNING,
    )
    entity.alert.cause = rt.Alert.CONSTRUCTION
    (only,) = alerts_for_board([alert_from_entity(entity, "a.pb")], SCOPE, NOW, "en")
    assert (only.header, only.description, only.language) == ("Detour", "Stops moved", "en")
    assert (only.cause, only.effect, only.severity) == ("CONSTRUCTION", "DETOUR", "WARNING")


def test_most_severe_first() -> None:
    info = alert_from_entity(alert("B", [{"route_id": "50"}], {"": "info"}, severity=rt.Alert.INFO), "a")
    severe = alert_from_entity(alert("A", [{"route_id": "50"}], {"": "severe"}, severity=rt.Alert.SEVERE), "a")
    assert [a.header for a in alerts_for_board([info, severe], SCOPE, NOW, "de")] == ["severe", "info"]
