"""The spoken text of a board, in German and English: departures with their times, platforms, delays and
cancellations, ops messages, alerts, an empty board, a takeover; the pronunciation lexicon."""

from __future__ import annotations

from boardkit import NOW, STOP, TZ, dep, stop_departures

from layouts.board import ROW, TAKEOVER, TICKER, BoardInput, DisplaySettings, Notice, build_board
from layouts.spec import load_layout
from layouts.speech import say_line, say_words, spoken_text

SPEC = load_layout("lcd-landscape-1920x1080")


def board(deps=None, alerts=None, notices=(), live=True, language=""):  # type: ignore[no-untyped-def]
    data = stop_departures(*(a for a in (deps, alerts) if a is not None), live=live) if deps is not None or alerts is not None \
        else stop_departures(live=live)
    return build_board(SPEC, DisplaySettings(language=language), BoardInput(data, TZ, data_as_of=NOW - 20, notices=notices), NOW)


def test_a_german_board_read_aloud() -> None:
    said = spoken_text(board(), "de")
    assert said.startswith("Haltestelle Mainz Hauptbahnhof. Die nächsten Abfahrten: ")
    assert "Linie 50 nach Finthen Poststraße, sofort, von Steig A." in said
    assert "Linie 51 nach Lerchenberg Hindemithstraße / ZDF-Sendezentrum über Universität, in 3 Minuten, von Steig B, " \
           "4 Minuten später." in said  # the whole destination, not the board's fitted one
    assert "Linie 54 nach Kastel Brückenkopf, in 7 Minuten, heute von Steig D." in said  # a platform change
    assert "Linie 68 nach Gonsenheim Kapellenstraße, planmäßig um 14 Uhr 17, von Steig E, fällt aus." in said
    assert "Linie 91 nach Hechtsheim Bürgerhaus, in 16 Minuten, von Steig C, laut Fahrplan." in said
    assert "Linie 50 nach Hechtsheim Bürgerhaus, um 14 Uhr 29, von Steig B." in said  # a clock time
    assert said.count("Linie ") - said.count("Linie 54 wegen") - said.count("die Linie 91") == 6  # the next six
    assert said.endswith("Hinweis: Umleitung der Linie 54 wegen Bauarbeiten am Höfchen – Die Haltestelle Höfchen/Listmann "
                         "entfällt, Ersatzhaltestelle in der Ludwigsstraße. Fahrgäste nach Kastel nutzen bitte auch die Linie 91.")


def test_the_same_board_in_english() -> None:
    said = spoken_text(board(), "en")
    assert said.startswith("Stop Mainz Hauptbahnhof. Next departures: Line 50 to Finthen Poststraße, now, from platform A.")
    assert "Line 51 to Lerchenberg Hindemithstraße / ZDF-Sendezentrum über Universität, in 3 minutes, from platform B, " \
           "4 minutes late." in said
    assert "Line 54 to Kastel Brückenkopf, in 7 minutes, today from platform D." in said
    assert "Line 68 to Gonsenheim Kapellenstraße, scheduled at 14 17, from platform E, cancelled." in said
    assert "Line 50 to Hechtsheim Bürgerhaus, at 14 29, from platform B." in said
    assert "Notice: Umleitung der Linie 54" in said  # the feed's alert as the feed wrote it


def test_ops_messages_and_a_takeover_are_spoken() -> None:
    notices = (Notice("m1", ROW, "Aufzug zu Steig A außer Betrieb", 5), Notice("m2", TICKER, "Weinmarkt ab 18 Uhr", 4))
    said = spoken_text(board(notices=notices), "de")
    assert said.startswith("Haltestelle Mainz Hauptbahnhof. Hinweis: Aufzug zu Steig A außer Betrieb. Die nächsten Abfahrten:")
    assert "Hinweis: Weinmarkt ab 18 Uhr Umleitung der Linie 54" in said
    closed = board(notices=(Notice("m3", TAKEOVER, "Haltestelle gesperrt. Bitte Ersatzhaltestelle Kaiserstraße nutzen.", 9),))
    assert spoken_text(closed, "en") == ("Stop Mainz Hauptbahnhof. Notice: Haltestelle gesperrt. "
                                         "Bitte Ersatzhaltestelle Kaiserstraße nutzen.")


def test_an_empty_board_says_why_in_either_language() -> None:
    data = BoardInput(stop_departures((), (), live=False), TZ, next_departure=NOW + 15 * 3600, realtime_configured=True)
    empty = build_board(SPEC, DisplaySettings(), data, NOW)
    assert spoken_text(empty, "de") == "Haltestelle Mainz Hauptbahnhof. Betriebsschluss. Nächste Abfahrt 5 Uhr 5."
    assert spoken_text(empty, "en") == "Stop Mainz Hauptbahnhof. End of service. Next departure 5 05."


def test_a_timetable_only_board_says_so_once() -> None:
    deps = (dep("t1", "50", "00598C", "FFFFFF", "Finthen", 4, live=False), dep("t2", "51", "7A1E99", "FFFFFF", "Weisenau", 9, live=False))
    said = spoken_text(board(deps, (), live=False), "de")
    assert said == ("Haltestelle Mainz Hauptbahnhof. Die nächsten Abfahrten: Alle Zeiten laut Fahrplan. "
                    "Linie 50 nach Finthen, in 4 Minuten, von Steig A. Linie 51 nach Weisenau, in 9 Minuten, von Steig A.")


def test_the_lexicon_spells_out_abbreviations_and_line_names() -> None:
    assert say_words("Mainz Hbf, Hindemithstr. / Kaiser-Wilhelm-Str. 3", {"Hbf": "Hauptbahnhof", "Str.": "Straße"}) == \
        "Mainz Hauptbahnhof, Hindemithstraße / Kaiser-Wilhelm-Straße 3"
    assert [say_line(x, {}) for x in ("S8", "RE4", "50", "N1", "Bus")] == ["S 8", "R E 4", "50", "N 1", "Bus"]
    assert say_line("N1", {"N1": "Nachtlinie 1"}) == "Nachtlinie 1"
    deps = (dep("t1", "S8", "00598C", "FFFFFF", "Wiesbaden Hbf", 2),)
    assert "Linie S 8 nach Wiesbaden Hauptbahnhof, in 2 Minuten" in spoken_text(board(deps, ()), "de")
    assert "Line S 8 to Wiesbaden main station" in spoken_text(board(deps, ()), "en")
    assert "nach Wiesbaden Hbf-Süd" in spoken_text(board((dep("t2", "S8", "00598C", "FFFFFF", "Wiesbaden Hbf-Süd", 2),), ()), "de")
    assert STOP.name == "Mainz Hauptbahnhof"
