"""Timetable + realtime to board: what riders see when the live feed freezes."""

from __future__ import annotations

from pathlib import Path

from feedkit import write_feed
from rtkit import feed, stu, trip_update

from displays.core.boards import compose_board
from feeds.live import build_live
from feeds.loader import load_timetable
from feeds.realtime import RealtimeRules, parse_feed
from feeds.source import GtfsSource
from feeds.times import parse_instant
from layouts.board import DisplaySettings
from layouts.spec import load_layout

SPEC = load_layout("epaper-800x480")


def test_frozen_feed_never_leaves_sofort_standing(tmp_path: Path) -> None:
    tt = load_timetable(GtfsSource(write_feed(tmp_path / "f")))
    t0 = parse_instant("2024-05-15T08:09:00+02:00")  # T1 is due at UNI 08:11, predicted 08:12
    frozen = parse_feed(
        feed(trip_update("T1", stu(seq=2, dep_delay=60), start_date="20240515"), timestamp=t0), "tu.pb", t0
    )

    def uni(now: int):  # type: ignore[no-untyped-def]
        live = build_live(tt, [frozen], now, RealtimeRules())
        return compose_board(tt, live, "UNI", SPEC, DisplaySettings(), now, realtime_configured=True)

    fresh = uni(t0 + 150)  # 08:11:30, data 2.5 min old: live, 30 s to go
    assert [(r.time_text, r.live) for r in fresh.rows] == [("sofort", True)]
    stuck = uni(t0 + 181)  # data older than 3 min: the prediction is dropped, timetable says 08:11 has passed
    assert stuck.rows == ()
    assert stuck.timetable_only and stuck.as_of_text == "Stand 08:09"
    assert stuck.empty_text != "" and stuck.empty_reason != "no_data"


def test_without_timetable_the_board_says_no_current_data() -> None:
    board = compose_board(None, None, "UNI", SPEC, DisplaySettings(), parse_instant("2024-05-15T08:00:00+02:00"))
    assert (board.empty_reason, board.empty_text) == ("no_data", "Keine aktuellen Daten")


def test_a_timetable_past_its_last_day_says_so(tmp_path: Path) -> None:
    tt = load_timetable(GtfsSource(write_feed(tmp_path / "f")))  # calendar 2024-01-01 .. 2024-12-31
    later = parse_instant("2025-03-12T08:00:00+01:00")
    board = compose_board(tt, None, "UNI", SPEC, DisplaySettings(), later)
    assert (board.empty_reason, board.empty_text, board.empty_detail) == (
        "timetable_expired", "Fahrplandaten abgelaufen", "Fahrplan gültig bis 31.12.2024")
    english = compose_board(tt, None, "UNI", SPEC, DisplaySettings(language="en"), later)
    assert (english.empty_text, english.empty_detail) == ("Timetable expired", "timetable valid until 2024-12-31")
    running = compose_board(tt, None, "UNI", SPEC, DisplaySettings(), parse_instant("2024-12-31T08:00:00+01:00"))
    assert running.empty_reason != "timetable_expired"


def test_old_realtime_says_its_date(tmp_path: Path) -> None:
    tt = load_timetable(GtfsSource(write_feed(tmp_path / "f")))
    t0 = parse_instant("2024-05-14T17:05:00+02:00")
    old = parse_feed(
        feed(trip_update("T1", stu(seq=2, dep_delay=60), start_date="20240514"), timestamp=t0), "tu.pb", t0
    )
    now = parse_instant("2024-05-15T07:50:00+02:00")
    board = compose_board(tt, build_live(tt, [old], now, RealtimeRules()), "UNI", SPEC, DisplaySettings(), now,
                          realtime_configured=True)
    assert board.as_of_text == "Stand 14.05.2024 17:05"


def test_check_config_warns_about_an_expired_timetable(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from displays.cli.cli import main

    write_feed(tmp_path / "feed")  # its calendar ended on 2024-12-31
    config = tmp_path / "stopcast.toml"
    config.write_text('[feeds]\ngtfs = "feed"\n[[displays]]\nid = "uni"\nstops = ["UNI"]\nlayout = "tft-320x240"\n')
    assert main(["check-config", str(config), "--no-cache"]) == 0
    err = capsys.readouterr().err
    assert "timetable expired on 31 Dec 2024 (its last service day)" in err


def test_the_board_speaks_the_feeds_language_unless_the_display_says_otherwise(tmp_path: Path) -> None:
    from feedkit import shared_feed

    bart = load_timetable(GtfsSource(shared_feed("bart") / "bart-rt.zip"))  # feed_info.feed_lang = en
    at = parse_instant("2019-06-03T08:00:00-07:00")
    assert bart.agency_lang == "en"
    assert compose_board(bart, None, "EMBR", SPEC, DisplaySettings(), at).language == "en"
    assert compose_board(bart, None, "EMBR", SPEC, DisplaySettings(language="de"), at).language == "de"
    english = compose_board(bart, None, "EMBR", SPEC, DisplaySettings(), at)
    assert english.rows and all(r.line == r.line_name for r in english.rows)  # whole labels: the badge widens
    german = load_timetable(GtfsSource(write_feed(tmp_path / "f")))
    assert (
        compose_board(german, None, "UNI", SPEC, DisplaySettings(), parse_instant("2024-05-15T08:09:00+02:00")).language
        == "de"
    )


def test_an_added_trip_without_a_known_route_gets_a_neutral_badge(tmp_path: Path) -> None:
    from feeds.live import AddedCall
    from feeds.merge import NEUTRAL_BADGE, _added_departure

    tt = load_timetable(GtfsSource(write_feed(tmp_path / "f")))
    call = AddedCall(trip_id="X1", service_date="20240515", route=-1, route_id="", stop=tt.stop_index["UNI"],
                     stop_sequence=1, time=parse_instant("2024-05-15T08:15:00+02:00"), headsign="Ersatzverkehr Mombach",
                     direction_id=None, skipped=False)
    added = _added_departure(tt, call)
    assert (added.route_short_name, added.route_color, added.route_text_color) == ("Ersatzverkehr", *NEUTRAL_BADGE)


def test_displays_at_one_stop_share_a_query_and_keep_their_own_settings(tmp_path: Path) -> None:
    """A station's several pillars use one departures query per refresh; each still shows its own horizon,
    language, routes and layout, exactly as if composed alone."""
    tt = load_timetable(GtfsSource(write_feed(tmp_path / "f")))
    now = parse_instant("2024-05-15T08:00:00+02:00")
    variants = [
        (SPEC, DisplaySettings()),
        (SPEC, DisplaySettings(language="en")),
        (SPEC, DisplaySettings(horizon_minutes=5)),
        (load_layout("led-192x64"), DisplaySettings(walk_minutes=4)),
        (SPEC, DisplaySettings(routes=("NOPE",))),
    ]
    shared: dict = {}
    together = [compose_board(tt, None, "UNI", spec, settings, now, shared=shared) for spec, settings in variants]
    alone = [compose_board(tt, None, "UNI", spec, settings, now) for spec, settings in variants]
    assert together == alone
    assert len({(b.language, len(b.rows)) for b in together}) >= 3  # the settings made different boards
    assert len(shared) == 3  # one query per (horizon, language): de 90 min, en 90 min, de 5 min


def test_check_config_fails_a_label_no_badge_holds_and_route_labels_fix_it(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from feedkit import shared_feed

    from displays.cli.cli import main

    bart = shared_feed("bart", "bart-rt.zip")
    config = tmp_path / "stopcast.toml"
    base = f'[feeds]\ngtfs = "{bart}"\n[[displays]]\nid = "led"\nstops = ["MONT"]\nlayout = "led-192x64"\n'
    config.write_text(base)
    assert main(["check-config", str(config), "--no-cache"]) == 1
    err = capsys.readouterr().err
    assert "display 'led'" in err and "'Blue-Wkd/Sat' does not fit the badges of layout led-192x64" in err
    config.write_text(
        base + 'route_labels = { "Blue-Wkd/Sat" = "Blue", "Blue-Sun" = "BlueS" }\nclock = "12h"\nlanguage = "es"\n'
    )
    assert main(["check-config", str(config), "--no-cache"]) == 0, capsys.readouterr().err
    config.write_text(base + 'clock = "13h"\n')
    assert main(["check-config", str(config), "--no-cache"]) == 1
    assert "clock" in capsys.readouterr().err


def test_a_display_chooses_its_clock_and_labels(tmp_path: Path) -> None:
    from feedkit import shared_feed

    bart = load_timetable(GtfsSource(shared_feed("bart") / "bart-rt.zip"))
    at = parse_instant("2019-06-03T14:00:00-07:00")
    assert compose_board(bart, None, "MONT", SPEC, DisplaySettings(), at).clock_text == "2:00 PM"  # US English feed
    assert compose_board(bart, None, "MONT", SPEC, DisplaySettings(clock="24h"), at).clock_text == "14:00"
    labelled = compose_board(bart, None, "MONT", SPEC, DisplaySettings(route_labels=(("Yellow", "Y"),)), at)
    yellow = [r.line for r in labelled.rows if r.line_name == "Yellow"]
    assert yellow and set(yellow) == {"Y"}
    german = load_timetable(GtfsSource(write_feed(tmp_path / "f")))
    assert (
        compose_board(
            german, None, "UNI", SPEC, DisplaySettings(), parse_instant("2024-05-15T14:09:00+02:00")
        ).clock_text
        == "14:09"
    )
