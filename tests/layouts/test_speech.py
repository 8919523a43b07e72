"""The spoken text of a board, in German, English and Spanish: the first press (short: stop, next departures,
a one-line disruption summary) and the second (full: departures with their times, platforms, delays and
cancellations, ops messages, every alert whole); each alert in the voice's language; an empty board, a
takeover; the pronunciation lexicon. How long the audio lasts is measured in tests/displays/test_speech_audio.py."""

from __future__ import annotations

import pytest
from boardkit import ALERT, FULL, NOW, STOP, TZ, dep, stop_departures

from feeds.alerts import ShownAlert
from layouts.board import ROW, TAKEOVER, TICKER, BoardInput, DisplaySettings, Notice, build_board
from layouts.phrases import seconds_to_say
from layouts.spec import load_layout
from layouts.speech import LEXICON, SHORT_SECONDS, say_line, say_words, spoken_text

SPEC = load_layout("lcd-landscape-1920x1080")


def board(deps=None, alerts=None, notices=(), live=True, language=""):  # type: ignore[no-untyped-def]
    data = (
        stop_departures(*(a for a in (deps, alerts) if a is not None), live=live)
        if deps is not None or alerts is not None
        else stop_departures(live=live)
    )
    return build_board(
        SPEC, DisplaySettings(language=language), BoardInput(data, TZ, data_as_of=NOW - 20, notices=notices), NOW
    )


def test_a_german_board_read_aloud() -> None:
    said = spoken_text(board(), "de", detail="full")
    assert said.startswith("Haltestelle Mainz Hauptbahnhof. Die nächsten Abfahrten: ")
    assert "Linie 50 nach Finthen Poststraße, sofort, von Steig A." in said
    assert (
        "Linie 51 nach Lerchenberg Hindemithstraße / ZDF-Sendezentrum über Universität, in 3 Minuten, von Steig B, "
        "4 Minuten später." in said
    )  # the whole destination, not the board's fitted one
    assert "Linie 54 nach Kastel Brückenkopf, in 7 Minuten, heute von Steig D." in said  # a platform change
    assert "Linie 68 nach Gonsenheim Kapellenstraße, planmäßig um 14 Uhr 17, von Steig E, fällt aus." in said
    assert "Linie 91 nach Hechtsheim Bürgerhaus, in 16 Minuten, von Steig C, laut Fahrplan." in said
    assert "Linie 50 nach Hechtsheim Bürgerhaus, um 14 Uhr 29, von Steig B." in said  # a clock time
    assert said.count("Linie ") - said.count("Linie 54 wegen") - said.count("die Linie 91") == 6  # the next six
    assert said.endswith(
        "Hinweis: Umleitung der Linie 54 wegen Bauarbeiten am Höfchen. Die Haltestelle Höfchen/Listmann "
        "entfällt, Ersatzhaltestelle in der Ludwigsstraße. Fahrgäste nach Kastel nutzen bitte auch die Linie 91."
    )


def test_the_same_board_in_english() -> None:
    said = spoken_text(board(), "en", detail="full")
    assert said.startswith(
        "Stop Mainz Hauptbahnhof. Next departures: Line 50 to Finthen Poststraße, now, from platform A."
    )
    assert (
        "Line 51 to Lerchenberg Hindemithstraße / ZDF-Sendezentrum über Universität, in 3 minutes, from platform B, "
        "4 minutes late." in said
    )
    assert "Line 54 to Kastel Brückenkopf, in 7 minutes, today from platform D." in said
    assert "Line 68 to Gonsenheim Kapellenstraße, scheduled at 14 17, from platform E, cancelled." in said
    assert "Line 50 to Hechtsheim Bürgerhaus, at 14 29, from platform B." in said
    # the feed has this alert in German only: said as written, announced as German
    assert "Notice in German: Umleitung der Linie 54" in said


def test_ops_messages_and_a_takeover_are_spoken() -> None:
    notices = (Notice("m1", ROW, "Aufzug zu Steig A außer Betrieb", 5), Notice("m2", TICKER, "Weinmarkt ab 18 Uhr", 4))
    said = spoken_text(board(notices=notices), "de", detail="full")
    assert said.startswith(
        "Haltestelle Mainz Hauptbahnhof. Hinweis: Aufzug zu Steig A außer Betrieb. Die nächsten Abfahrten:"
    )
    assert "Hinweis: Weinmarkt ab 18 Uhr. Hinweis: Umleitung der Linie 54" in said
    closed = board(
        notices=(Notice("m3", TAKEOVER, "Haltestelle gesperrt. Bitte Ersatzhaltestelle Kaiserstraße nutzen.", 9),)
    )
    assert spoken_text(closed, "en") == ("Stop Mainz Hauptbahnhof. Notice in German: Haltestelle gesperrt. "
                                         "Bitte Ersatzhaltestelle Kaiserstraße nutzen.")


def test_an_empty_board_says_why_in_either_language() -> None:
    data = BoardInput(stop_departures((), (), live=False), TZ, next_departure=NOW + 15 * 3600, realtime_configured=True)
    empty = build_board(SPEC, DisplaySettings(), data, NOW)
    assert spoken_text(empty, "de") == "Haltestelle Mainz Hauptbahnhof. Betriebsschluss. Nächste Abfahrt 5 Uhr 5."
    assert spoken_text(empty, "en") == "Stop Mainz Hauptbahnhof. End of service. Next departure 5 05."


def test_a_timetable_only_board_says_so_once() -> None:
    deps = (
        dep("t1", "50", "00598C", "FFFFFF", "Finthen", 4, live=False),
        dep("t2", "51", "7A1E99", "FFFFFF", "Weisenau", 9, live=False),
    )
    said = spoken_text(board(deps, (), live=False), "de", detail="full")
    assert said == (
        "Haltestelle Mainz Hauptbahnhof. Die nächsten Abfahrten: Alle Zeiten laut Fahrplan. "
        "Linie 50 nach Finthen, in 4 Minuten, von Steig A. Linie 51 nach Weisenau, in 9 Minuten, von Steig A."
    )


def test_the_lexicon_spells_out_abbreviations_and_line_names() -> None:
    assert say_words("Mainz Hbf, Hindemithstr. / Kaiser-Wilhelm-Str. 3", {"Hbf": "Hauptbahnhof", "Str.": "Straße"}) == \
        "Mainz Hauptbahnhof, Hindemithstraße / Kaiser-Wilhelm-Straße 3"
    assert [say_line(x, {}) for x in ("S8", "RE4", "50", "N1", "Bus")] == ["S 8", "R E 4", "50", "N 1", "Bus"]
    assert say_line("N1", {"N1": "Nachtlinie 1"}) == "Nachtlinie 1"
    deps = (dep("t1", "S8", "00598C", "FFFFFF", "Wiesbaden Hbf", 2),)
    assert "Linie S 8 nach Wiesbaden Hauptbahnhof, in 2 Minuten" in spoken_text(board(deps, ()), "de", detail="full")
    assert "S 8 to Wiesbaden main station, in 2 minutes" in spoken_text(board(deps, ()), "en")
    assert "S 8 a Wiesbaden estación central, en 2 minutos" in spoken_text(board(deps, ()), "es")
    assert "nach Wiesbaden Hbf-Süd" in spoken_text(
        board((dep("t2", "S8", "00598C", "FFFFFF", "Wiesbaden Hbf-Süd", 2),), ()), "de"
    )
    assert STOP.name == "Mainz Hauptbahnhof"


def test_the_first_press_says_the_stop_the_next_departures_and_one_line_of_disruption() -> None:
    said = spoken_text(board(), "de")  # short is the default: the first press
    assert said.startswith("Haltestelle Mainz Hauptbahnhof. 50 nach Finthen Poststraße, sofort, Steig A. "
                           "51 nach Lerchenberg Hindemithstraße, in 3 Minuten, Steig B.")  # without the via part
    assert "ZDF" not in said and "4 Minuten später" not in said  # the countdown has the delay in it
    assert said.endswith("Hinweis: Umleitung der Linie 54 wegen Bauarbeiten am Höfchen. Mehr: nochmal drücken.")
    assert "Ersatzhaltestelle" not in said  # the description waits for the second press
    few = (dep("t1", "50", "00598C", "FFFFFF", "Finthen", 1), dep("t2", "51", "7A1E99", "FFFFFF", "Weisenau", 3),
           dep("t3", "54", "B3000F", "FFFFFF", "Kastel", 5, platform="D", scheduled_platform="C"),
           dep("t4", "68", "FFD500", "000000", "Mombach", 8, status="cancelled", delay=None),
           dep("t5", "91", "1A1A1A", "FFFFFF", "Hechtsheim", 12))
    said = spoken_text(board(few, (ALERT, ALERT)), "de")
    assert said == ("Haltestelle Mainz Hauptbahnhof. 50 nach Finthen, in einer Minute, Steig A. 51 nach Weisenau, "
                    "in 3 Minuten, Steig A. 54 nach Kastel, in 5 Minuten, heute Steig D. 68 nach Mombach, fällt aus. "
                    "Hinweis: Umleitung der Linie 54 wegen Bauarbeiten am Höfchen. Noch ein Hinweis: nochmal drücken.")
    assert "Hechtsheim" not in said  # four departures, no more
    assert "Hechtsheim" in spoken_text(board(few, (ALERT, ALERT)), "de", detail="full")


def test_a_first_press_keeps_within_its_budget_by_saying_fewer_departures_and_cutting_the_summary() -> None:
    long_alert = ShownAlert(
        "a",
        " ".join(["Wegen einer Störung im Stellwerk verkehren die Linien unregelmäßig,"] * 6),
        "",
        "",
        "de",
        "",
        "",
        "",
        (),
    )
    said = spoken_text(board(FULL, (long_alert,)), "de")
    assert seconds_to_say(said, "de") <= SHORT_SECONDS
    assert said.count(" nach ") >= 2 and said.endswith("Mehr: nochmal drücken.")
    long_takeover = board(
        notices=(
            Notice(
                "m9",
                TAKEOVER,
                "Haltestelle gesperrt. " + "Bitte nutzen Sie die Ersatzhaltestelle "
                "in der Kaiserstraße gegenüber dem Hauptbahnhof. " * 6,
                9,
            ),
        )
    )
    said = spoken_text(long_takeover, "de")
    assert seconds_to_say(said, "de") <= SHORT_SECONDS and said.endswith("Mehr: nochmal drücken.")
    assert said.startswith(
        "Haltestelle Mainz Hauptbahnhof. Hinweis: Haltestelle gesperrt. Bitte nutzen Sie"
    )  # whole sentences
    assert spoken_text(long_takeover, "de", detail="full").count("Kaiserstraße") == 6  # the second press: all of it
    tighter = spoken_text(board(FULL, (long_alert,)), "de", budget=12)
    assert seconds_to_say(tighter, "de") <= 12 and tighter.count(" nach ") >= 1


ENGLISH_TOO = ShownAlert(
    "bau-54", ALERT.header, ALERT.description, "", "de", "", "", "", (),
    (("de", ALERT.header, ALERT.description),
     ("en", "Line 54 diverted for works at Höfchen", "Höfchen/Listmann is not served; use the stop on Ludwigsstraße.")))


# spec: P-58
def test_each_alert_is_said_in_the_voices_language_when_the_feed_has_it_else_announced_as_written() -> None:
    german_board = board(FULL, (ENGLISH_TOO,))
    assert "Notice: Line 54 diverted for works at Höfchen. More: press again." in spoken_text(german_board, "en")
    assert "Umleitung" not in spoken_text(german_board, "en", detail="full")
    assert "Hinweis: Umleitung der Linie 54" in spoken_text(german_board, "de")
    assert "Aviso en alemán: Umleitung der Linie 54" in spoken_text(german_board, "es")  # no Spanish translation
    english_only = ShownAlert("x", "Elevator out of service at Montgomery St.", "", "", "en", "", "", "", (),
                              (("en", "Elevator out of service at Montgomery St.", ""),))
    english_board = board(FULL, (english_only,), language="en")
    assert "Hinweis auf Englisch: Elevator out of service at Montgomery Street." in spoken_text(english_board, "de")
    assert "Notice: Elevator out of service at Montgomery Street." in spoken_text(english_board, "en")
    # ops messages are in the board's language: announced as such by a voice of another
    notices = (Notice("m1", ROW, "Aufzug zu Steig A außer Betrieb", 5),)
    assert "Notice in German: Aufzug zu Steig A außer Betrieb." in spoken_text(board(notices=notices), "en")


def test_a_spanish_voice_says_times_platforms_and_cancellations_in_spanish() -> None:
    said = spoken_text(board(), "es", detail="full")
    assert said.startswith(
        "Parada Mainz Hauptbahnhof. Próximas salidas: Línea 50 a Finthen Poststraße, ahora, andén A."
    )
    assert "Línea 51 a Lerchenberg Hindemithstraße / ZDF-Sendezentrum über Universität, en 3 minutos, andén B, " \
           "con 4 minutos de retraso." in said
    assert "Línea 54 a Kastel Brückenkopf, en 7 minutos, hoy desde el andén D." in said
    assert "Línea 68 a Gonsenheim Kapellenstraße, prevista a las 14 y 17, andén E, cancelado." in said
    assert "Línea 50 a Hechtsheim Bürgerhaus, a las 14 y 29, andén B." in said
    assert "Aviso en alemán: Umleitung der Linie 54" in said
    data = BoardInput(stop_departures((), (), live=False), TZ, next_departure=NOW + 15 * 3600, realtime_configured=True)
    assert spoken_text(build_board(SPEC, DisplaySettings(), data, NOW), "es").startswith("Parada Mainz Hauptbahnhof. ")


@pytest.mark.parametrize(("language", "name", "expected"), [
    ("de", "Montgomery St.", "Montgomery Street"),  # never "Montgomery Sankt"
    ("en", "Montgomery St.", "Montgomery Street"),
    ("es", "Montgomery St.", "Montgomery Street"),
    ("de", "St. Johann Kirche", "Sankt Johann Kirche"),
    ("en", "St. Louis Ave", "Saint Louis Avenue"),
    ("en", "Montgomery St. Station", "Montgomery Street Station"),
    ("en", "24th St. Mission", "24th Street Mission"),  # BART: a numbered street, never "24th Saint Mission"
    ("de", "24th St. Mission", "24th Street Mission"),
    ("es", "16th St. Mission", "16th Street Mission"),
    ("de", "Mainz Hbf", "Mainz Hauptbahnhof"),
    ("en", "Mainz Hbf", "Mainz main station"),
    ("es", "Mainz Hbf", "Mainz estación central"),
    ("de", "Kaiserstr.", "Kaiserstraße"),
    ("de", "Gutenberg-Pl.", "Gutenberg-Platz"),
    ("de", "Schillerpl. / Kaiser-Wilhelm-Str.", "Schillerpl. / Kaiser-Wilhelm-Straße"),
    ("es", "Av. de América", "Avenida de América"),
    ("es", "Pza. Mayor", "Plaza Mayor"),
    ("en", "Pennsylvania Ave, Blvd.", "Pennsylvania Avenue, Boulevard"),
])
def test_the_lexicon_of_each_language_says_abbreviations_whole(language: str, name: str, expected: str) -> None:
    assert say_words(name, LEXICON[language], language) == expected
    row = board((dep("t1", "50", "00598C", "FFFFFF", name, 2),), ())
    assert expected in spoken_text(row, language, detail="full")


def test_the_first_press_summary_carries_the_key_fact_of_the_bart_alert_in_every_language() -> None:
    """BART's real alert starts with a long account ("There is a major delay at Montgomery St. on the San Francisco
    Line in the SFO, ... due to a major medical emergency.") and ends with what a rider acts on: "Montgomery
    station is currently closed." The first press says that (cut before it, it said nothing a rider can use), and
    a voice of another language says the effect in its own first."""
    from test_drawn import _feed_board

    bart = _feed_board("bart", load_layout("lcd-landscape-1920x1080"), labels=())
    for lang, effect in (
        ("en", ""),
        ("de", "Störung: große Verspätungen. "),
        ("es", "Incidencia: retrasos importantes. "),
    ):
        said = spoken_text(bart, lang)
        assert seconds_to_say(said, lang) <= SHORT_SECONDS
        assert f"{effect}{('Notice', 'Hinweis auf Englisch', 'Aviso en inglés')[('en', 'de', 'es').index(lang)]}: " \
               "Montgomery station is currently closed." in said, said
        assert "Sankt" not in said and "Montgomery Street" in said  # the lexicon: "St." is a street here
    full = spoken_text(bart, "en", detail="full")
    assert full.index("There is a major delay") < full.index("currently closed")  # the second press: as written


def test_the_first_press_summary_carries_the_key_fact_of_the_demo_alert_and_of_an_ops_message() -> None:
    """The demo's alert (line 54 diverted, the stop Höfchen/Listmann not served) and an ops message whose key fact
    comes after a preamble: the closed stop is said on the first press."""
    demo = ShownAlert(
        "demo-bauarbeiten-54",
        "Linie 54: Umleitung wegen Bauarbeiten am Höfchen",
        "Die Haltestelle Höfchen/Listmann entfällt. Bitte nutzen Sie die Ersatzhaltestelle in der Ludwigsstraße.",
        "",
        "de",
        "CONSTRUCTION",
        "DETOUR",
        "WARNING",
        (),
        (
            (
                "de",
                "Linie 54: Umleitung wegen Bauarbeiten am Höfchen",
                "Die Haltestelle Höfchen/Listmann entfällt. "
                "Bitte nutzen Sie die Ersatzhaltestelle in der Ludwigsstraße.",
            ),
            (
                "en",
                "Line 54: detour because of construction work at Höfchen",
                "The Höfchen/Listmann stop is closed. Please use the replacement stop in Ludwigsstraße.",
            ),
        ),
    )
    few = FULL[:2]
    said = spoken_text(board(few, (demo,)), "de")
    assert (
        "Hinweis: Linie 54: Umleitung wegen Bauarbeiten am Höfchen. Die Haltestelle Höfchen/Listmann entfällt." in said
    ), said
    said = spoken_text(board(few, (demo,)), "en")
    assert (
        "Notice: Line 54: detour because of construction work at Höfchen. The Höfchen/Listmann stop is closed." in said
    )
    said = spoken_text(board(few, (demo,)), "es")  # no Spanish translation: the effect in Spanish, then the German
    assert "Incidencia: desvío. Aviso en alemán: Linie 54: Umleitung" in said
    ops = Notice("m1", TICKER, "Am Wochenende ist Weinmarkt in der Innenstadt, viele Besucher werden erwartet. "
                               "Die Haltestelle Höfchen ist bis Montag gesperrt.", 5)
    said = spoken_text(board(FULL, (), notices=(ops,)), "de")
    assert seconds_to_say(said, "de") <= SHORT_SECONDS
    assert "Hinweis: Die Haltestelle Höfchen ist bis Montag gesperrt." in said, said


def test_an_added_trip_of_no_known_route_is_said_as_an_extra_service() -> None:
    """BART's added San Bruno trip has no route: its badge says "extra", the voice "Extra service to San Bruno"
    ("Zusatzfahrt nach", "Servicio adicional a"), never "Line extra to"."""
    from dataclasses import replace

    added = replace(
        dep("x", "", "5A5A5A", "FFFFFF", "San Bruno", 1, status="added", platform=""), route_short_name="San"
    )
    shown = board((added,), ())
    for lang, said in (
        ("en", "Extra service to San Bruno, in one minute."),
        ("de", "Zusatzfahrt nach San Bruno, in einer Minute."),
        ("es", "Servicio adicional a San Bruno, en un minuto."),
    ):
        for detail in ("short", "full"):
            assert said in spoken_text(shown, lang, detail=detail), (lang, detail)
    assert shown.rows[0].spoken.startswith("Zusatzfahrt nach San Bruno")
