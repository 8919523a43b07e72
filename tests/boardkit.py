"""Fixed boards for renderer tests: a German main-station board with every case a rider meets."""

from __future__ import annotations

from feeds.alerts import ShownAlert
from feeds.departures import Departure
from feeds.merge import StopDepartures
from feeds.times import parse_instant
from feeds.timetable import Stop

NOW = parse_instant("2026-11-25T14:05:00+01:00")
TZ = "Europe/Berlin"
STOP = Stop("HBF", "Mainz Hauptbahnhof", 1, -1, "", 50.0, 8.26)


def dep(
    trip: str,
    line: str,
    color: str,
    text_color: str,
    headsign: str,
    minutes: float,
    *,
    platform: str = "A",
    scheduled_platform: str | None = None,
    delay: int | None = 0,
    status: str = "on_time",
    live: bool = True,
) -> Departure:
    """A departure `minutes` from NOW (expected time), with the given realtime state."""
    expected = int(NOW + minutes * 60)
    scheduled = expected - (delay or 0)
    return Departure(
        trip_id=trip, service_date="20261125", route_id=line, route_short_name=line, route_long_name="",
        route_type=0, route_color=color, route_text_color=text_color, headsign=headsign, direction_id=0,
        stop_id=f"HBF:{platform}", stop_sequence=4, platform=platform,
        scheduled_platform=scheduled_platform or platform, scheduled=scheduled,
        expected=expected if live and status not in ("cancelled", "skipped") else None,
        delay=delay if live else None, realtime=live, status=status if live else "scheduled",
    )


ALERT = ShownAlert(
    "bau-54",
    "Umleitung der Linie 54 wegen Bauarbeiten am Höfchen",
    "Die Haltestelle Höfchen/Listmann entfällt, Ersatzhaltestelle in der Ludwigsstraße. "
    "Fahrgäste nach Kastel nutzen bitte auch die Linie 91.",
    "",
    "de",
    "CONSTRUCTION",
    "DETOUR",
    "WARNING",
    (),
)

FULL = (
    dep("t1", "50", "00598C", "FFFFFF", "Finthen Poststraße", 0.5),
    dep(
        "t2",
        "51",
        "7A1E99",
        "FFFFFF",
        "Lerchenberg Hindemithstraße / ZDF-Sendezentrum über Universität",
        3.2,
        platform="B",
        delay=240,
        status="delayed",
    ),
    dep("t3", "54", "B3000F", "FFFFFF", "Kastel Brückenkopf", 7.5, platform="D", scheduled_platform="C"),
    dep(
        "t4", "68", "FFD500", "000000", "Gonsenheim Kapellenstraße", 12.0, platform="E", status="cancelled", delay=None
    ),
    dep("t5", "91", "1A1A1A", "FFFFFF", "Hechtsheim Bürgerhaus", 16.4, platform="C", live=False),
    dep("t6", "50", "00598C", "FFFFFF", "Hechtsheim Bürgerhaus", 24.0, platform="B"),
    dep("t7", "64", "2E7D32", "FFFFFF", "Weisenau Friedrich-Ebert-Straße", 31.0, platform="F", live=False),
    dep("t8", "55", "E65100", "FFFFFF", "Münsterplatz", 38.0, platform="C"),
    dep(
        "t9",
        "51",
        "7A1E99",
        "FFFFFF",
        "Weisenau Friedrich-Ebert-Straße",
        41.0,
        platform="A",
        delay=120,
        status="delayed",
    ),
    dep("t10", "65", "0277BD", "FFFFFF", "Universität", 44.0, platform="D"),
    dep("t11", "50", "00598C", "FFFFFF", "Finthen Poststraße", 47.0),
    dep("t12", "68", "FFD500", "000000", "Mombach Turmstraße", 52.0, platform="E", live=False),
)


def stop_departures(
    deps: tuple[Departure, ...] = FULL, alerts: tuple[ShownAlert, ...] = (ALERT,), live: bool = True
) -> StopDepartures:
    """A StopDepartures as the merge would give it."""
    return StopDepartures(STOP, NOW, deps, alerts, live, ("tu.pb",) if live else (), () if live else ("tu.pb",))
