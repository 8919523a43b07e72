"""What riders see, checked on `drawn` (board.json): every built-in layout x the real feeds x stress boards.
No text is cut inside a word or a line label, every word of a takeover is on one of its pages, no two drawn
boxes overlap and none leaves its cell or the screen."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from itertools import combinations

import pytest
from boardkit import ALERT, NOW, TZ, dep, stop_departures
from feedkit import shared_feed

from feeds.alerts import ShownAlert
from firmware_bridge import codec
from layouts.board import TAKEOVER, Board, BoardInput, DisplaySettings, Notice, build_board
from layouts.drawn import ROLES, drawn
from layouts.fit import ELLIPSIS, abbreviations, whole_words
from layouts.geometry import board_layout, geometry
from layouts.spec import LayoutSpec, builtin_names, load_layout

TAKEOVER_TEXT = ("Haltestelle Gonsenheim Kapellenstraße wegen Straßenfest bis Sonntag gesperrt. "
                 "Ersatzhaltestelle: Gonsenheim Rathaus.")
EFFECTS = (
    "OTHER_EFFECT",
    "DETOUR",
    "NO_SERVICE",
    "SIGNIFICANT_DELAYS",
    "REDUCED_SERVICE",
    "STOP_MOVED",
    "MODIFIED_SERVICE",
    "ACCESSIBILITY_ISSUE",
)
EIGHT = tuple(
    ShownAlert(f"a{i}", f"Linie {50 + i}", f"Linie {50 + i}: Umleitung über die Rheinallee wegen Bauarbeiten, Halt "
               f"Höfchen entfällt ({effect}).", "", "de", "CONSTRUCTION", effect, "WARNING", ())
    for i, effect in enumerate(EFFECTS)
) + (ShownAlert("url", "Mehr Informationen", "Alle Umleitungen: https://www.mainzer-mobilitaet.de/fahrplan/baustellen/"
                "umleitungen-2026", "", "de", "OTHER_CAUSE", "OTHER_EFFECT", "INFO", ()),)
LONG = (
    dep("s1", "SEV68", "FFD500", "000000", "Gonsenheim Kapellenstraße über Hauptbahnhof West und Universität", 2,
        platform="D", scheduled_platform="C"),
    dep("s2", "Blue-Wkd/Sat", "0099CC", "FFFFFF", "Warm Springs/South Fremont", 6, platform="B", delay=38 * 60,
        status="delayed"),
    dep("s3", "68", "FFD500", "000000", "Lerchenberg Hindemithstraße / ZDF-Sendezentrum", 9, platform="E",
        status="cancelled", delay=None),
    dep("s4", "Bus Bridge", "1A1A1A", "FFFFFF", "Wiesbaden-Biebrich Industriegebiet Petersweg", 14, platform="A"),
    dep("s5", "SHUTTLE", "7A1E99", "FFFFFF", "Millbrae/San Francisco International Airport", 19, platform="F",
        status="skipped", delay=None),
)


def _stress(kind: str, spec: LayoutSpec, settings: DisplaySettings) -> Board:
    if kind == "takeover":
        data = BoardInput(stop_departures(), TZ, notices=(Notice("m", TAKEOVER, TAKEOVER_TEXT, 9),))
    elif kind == "alerts8":
        data = BoardInput(stop_departures(alerts=EIGHT), TZ, data_as_of=NOW - 20, realtime_configured=True)
    elif kind == "night":
        data = BoardInput(stop_departures((), (), live=False), TZ, next_departure=NOW + 5 * 3600)
    elif kind == "expired":
        data = BoardInput(stop_departures((), ()), TZ, timetable_until="2026-11-01")
    else:
        data = BoardInput(stop_departures(LONG, (ALERT,)), TZ, data_as_of=NOW - 600, realtime_configured=True)
    return build_board(spec, settings, data, NOW)


STRESS = ("long", "alerts8", "takeover", "night", "expired")
LABELS = (("Blue-Wkd/Sat", "Blue"), ("Bus Bridge", "Bus"), ("SHUTTLE", "Shtl"))  # what ops set where a label cannot fit


@cache
def _feed_boards() -> dict[str, tuple]:
    """(timetable, live, stop, now) of each real feed; BART with its real trip updates and alert."""
    from feeds.live import build_live
    from feeds.loader import load_timetable
    from feeds.realtime import RealtimeRules, parse_feed
    from feeds.source import GtfsSource
    from feeds.times import parse_instant

    out = {}
    bart = load_timetable(GtfsSource(shared_feed("bart", "bart-rt.zip")))
    at = parse_instant("2019-08-07T17:45:21Z")
    snaps = [
        parse_feed(shared_feed("bart", name).read_bytes(), name, at)
        for name in ("bart-trip-updates.pb", "bart-alerts.pb")
    ]
    out["bart"] = (bart, build_live(bart, snaps, at, RealtimeRules()), "MONT", at)
    out["caltrain"] = (load_timetable(GtfsSource(shared_feed("caltrain", "ct.zip"))), None, "palo_alto",
                       parse_instant("2023-11-08T01:05:34Z"))
    out["hart"] = (load_timetable(GtfsSource(shared_feed("hart", "hart-2021.zip"))), None, "6968",
                   parse_instant("2021-01-15T13:00:00Z"))
    out["wmata"] = (load_timetable(GtfsSource(shared_feed("wmata", "wmata.zip"))), None, "STN_D03_F03",
                    parse_instant("2026-05-15T12:00:00Z"))
    return out


def _feed_board(feed: str, spec: LayoutSpec, language: str = "", labels: tuple[tuple[str, str], ...] = LABELS) -> Board:
    from displays.core.boards import compose_board

    tt, live, stop, at = _feed_boards()[feed]
    return compose_board(tt, live, stop, spec, DisplaySettings(route_labels=labels, language=language), at,
                         realtime_configured=live is not None)


def _overlap(a: list[int], b: list[int]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _inside(box: list[int], x: int, y: int, w: int, h: int) -> bool:
    return x <= box[0] and y <= box[1] and box[0] + box[2] <= x + w and box[1] + box[3] <= y + h


CELL_OF = {
    "badge": "line",
    "destination": "destination",
    "time": "time",
    "platform": "platform",
    "status": "destination",
}


def check_drawn(board: Board, spec: LayoutSpec, labels: tuple[tuple[str, str], ...] = LABELS) -> list[dict]:
    """Every rule the issue sets for what a display draws (`labels`: the route_labels the board was made with);
    returns the list for further checks."""
    items = drawn(board, spec)
    used = board_layout(spec, board.hidden_columns, board.line_width)
    geo = geometry(used)
    for item in items:
        assert item["role"] in ROLES, item
        assert item["text"], item
        assert _inside(item["box"], 0, 0, spec.width, spec.height), (
            f"{item} leaves the {spec.width}x{spec.height} screen"
        )
        if "row" in item:
            row_box = geo.rows[item["row"]]
            assert _inside(item["box"], 0, row_box.y, spec.width, row_box.h), f"{item} leaves row {item['row']}"
            note = item["text"] == board.rows[item["row"]].note  # a delay too wide for its column: a note
            kind = CELL_OF.get(item["role"]) or ("delay" if geo.column("delay") and item["role"] == "delay" and not note
                                                 else "destination")
            column = geo.column(kind)
            if column is not None and board.rows[item["row"]].status != "message":
                _, x, w = column
                assert _inside(item["box"], x, row_box.y, w, row_box.h), f"{item} leaves its {kind} cell ({x}, {w})"
    for a, b in combinations(items, 2):
        if "page" in a and "page" in b and a["page"] != b["page"] or {a["role"], b["role"]} == {"ticker", "alert"}:
            continue  # not on screen together (a ticker scrolls where pulled frames show the alert pages)
        assert not _overlap(a["box"], b["box"]), f"{a} overlaps {b}"
    for row_index, row in enumerate(board.rows):
        mine = [i for i in items if i.get("row") == row_index]
        for item in mine:
            if item["role"] == "badge" and row.status != "message":
                label = dict(labels).get(row.line_name, row.line_name)  # the whole name, or the label ops set
                assert item["text"] == row.line == label, f"line label cut: {item} ({row.line_name})"
            if item["role"] == "destination" and row.status != "message":
                assert whole_words(row.headsign, item["text"]), f"{item['text']!r} cuts a word of {row.headsign!r}"
    sources = (board.stop_name, board.empty_text, board.empty_detail, board.footer_text, *(r.note for r in board.rows))
    for item in items:
        if item["role"] in ("stop_name", "legend", "status", "clock"):
            assert not item["text"].endswith(ELLIPSIS) or any(whole_words(s, item["text"]) for s in sources if s), item
    for item in items:  # alert and takeover lines are wrapped at spaces, never cut ("…") inside a long word
        if item["role"] in ("alert", "takeover"):
            assert ELLIPSIS not in item["text"], item
    if board.takeover_text:
        shown = {w for i in items if i["role"] == "takeover" for w in i["text"].split()}
        for word in board.takeover_text.split():
            assert word in shown or any(f in shown for f in abbreviations(word)), (
                f"takeover word {word!r} is on no page"
            )
    return items


@pytest.mark.parametrize("kind", STRESS)
@pytest.mark.parametrize("name", builtin_names())
def test_stress_boards_draw_nothing_cut_nothing_overlapping(name: str, kind: str) -> None:
    spec = load_layout(name)
    settings = DisplaySettings(
        route_labels=LABELS,
        language="en" if kind in ("night", "expired") else "",
        clock="12h" if kind == "long" else "",
    )
    check_drawn(_stress(kind, spec, settings), spec)


@pytest.mark.parametrize("language", ("", "es"))  # the feed's own, and Spanish (longer words: "min de retraso")
@pytest.mark.parametrize("feed", ("bart", "caltrain", "hart", "wmata"))
@pytest.mark.parametrize("name", builtin_names())
def test_real_feeds_draw_nothing_cut_nothing_overlapping(name: str, feed: str, language: str) -> None:
    spec = load_layout(name)
    board = _feed_board(feed, spec, language, labels=())  # no ops labels: every badge says the feed's whole label
    assert board.rows
    items = check_drawn(board, spec, labels=())
    if feed == "bart":  # its real alert is drawn, on every page
        assert board.alert_pages and {i.get("page", 0) for i in items if i["role"] == "alert"} == set(
            range(len(board.alert_pages))
        )


def test_a_takeover_pages_and_never_abbreviates_inside_a_word() -> None:
    spec = load_layout("led-192x64")
    board = _stress("takeover", spec, DisplaySettings())
    items = check_drawn(board, spec)
    text = " ".join(i["text"] for i in sorted((i for i in items if i["role"] == "takeover" and "/" not in i["text"]),
                                                 key=lambda i: (i.get("page", 0), i["box"][1])))
    assert "Ersatzhaltestelle: Gonsenheim Rathaus." in text and "Str.nfest" not in text and ELLIPSIS not in text
    assert len({i.get("page") for i in items if i["role"] == "takeover"}) > 1


def test_eight_alerts_are_deduplicated_ordered_by_effect_and_capped_on_small_layouts() -> None:
    led = load_layout("led-192x64")
    board = _stress("alerts8", led, DisplaySettings())
    assert len(board.alert_pages) < len(board.alert_all) // 2 and board.alert_pages[-1].startswith("+")
    assert board.alert_pages[:-1] == board.alert_all[: len(board.alert_pages) - 1]  # the most urgent alert whole
    assert "weitere Hinweise" in board.alert_pages[-1]
    every = " ".join(board.alert_all)
    assert every.count("Linie 52: Umleitung") == 1 and "Linie 52 – Linie 52" not in every  # the header said once
    assert every.index("NO_SERVICE") < every.index("STOP_MOVED") < every.index("DETOUR") < every.index("OTHER_EFFECT")
    lcd = load_layout("lcd-landscape-1920x1080")
    assert not _stress("alerts8", lcd, DisplaySettings()).alert_all  # not capped: every page cycles


# The feed labels no badge of a layout holds, even at its line_max_width in the small type: the checks fail them
# (ops set a shorter label); every other label of the real feeds fits every built-in layout's badges.
CANNOT_FIT = {("led-192x64", "bart"): ["Blue-Wkd/Sat"], ("led-192x64", "caltrain"): ["Bus Bridge"]}


@pytest.mark.parametrize("feed", ("bart", "caltrain", "hart", "wmata"))
@pytest.mark.parametrize("name", builtin_names())
def test_every_line_label_of_the_real_feeds_is_drawn_whole(name: str, feed: str) -> None:
    """Each badge says the route's whole label (BART "Yellow", "Blue-Wkd/Sat", WMATA "SHUTTLE", Caltrain "Bus
    Bridge", "SEV68" in the stress boards), or the label ops set: widened, else smaller; where no badge of the
    layout can hold one the checks fail (`labels_that_do_not_fit`), and with the ops label the board says it."""
    from layouts.labels import labels_that_do_not_fit, route_label

    spec = load_layout(name)
    tt = _feed_boards()[feed][0]
    routes = [(r.route_id, r.short_name, r.long_name) for r in tt.routes]
    wide = labels_that_do_not_fit(spec, routes)
    assert wide == CANNOT_FIT.get((name, feed), [])
    ops = tuple(
        (label, label.split()[0].split("-")[0]) for label in wide
    )  # "Blue-Wkd/Sat" -> "Blue", "Bus Bridge" -> "Bus"
    assert labels_that_do_not_fit(spec, routes, ops) == []
    for labels in ((), ops):
        board = _feed_board(feed, spec, labels=labels)
        badges = [i for i in drawn(board, spec) if i["role"] == "badge"]
        assert len(badges) == len(board.rows)
        for item in badges:
            row = board.rows[item["row"]]
            assert item["text"] == dict(labels).get(row.line_name, row.line_name), item
    feed_labels = {route_label((), *r) for r in routes}
    for label in sorted(feed_labels):  # every route's label, on a board of its own (whole even where the checks fail)
        data = BoardInput(stop_departures((replace(LONG[0], route_short_name=label),), ()), TZ)
        board = build_board(spec, DisplaySettings(), data, NOW)
        if label in wide:  # the label whole all the same; what is left for "Gonsenheim Kapellenstraße ..." is not
            assert [i["text"] for i in drawn(board, spec) if i["role"] == "badge"] == [label]  # (the checks said so)
            continue
        assert [i["text"] for i in check_drawn(board, spec, ()) if i["role"] == "badge"] == [label]


def test_a_label_no_badge_holds_fails_the_checks_and_is_still_drawn_whole() -> None:
    """On the LED no badge holds "Blue-Wkd/Sat" (72 px of its 6 px type; the badge may be 50): check-config and
    `layouts --check --gtfs` fail, and a board made anyway shows it whole, its destination narrower."""
    led = load_layout("led-192x64")
    data = BoardInput(stop_departures(LONG[1:2], ()), TZ)
    raw = build_board(led, DisplaySettings(), data, NOW)
    assert [i["text"] for i in check_drawn(raw, led, ()) if i["role"] == "badge"] == ["Blue-Wkd/Sat"]
    labelled = build_board(led, DisplaySettings(route_labels=LABELS), data, NOW)
    assert [i["text"] for i in drawn(labelled, led) if i["role"] == "badge"] == ["Blue"]
    assert labelled.line_width < raw.line_width


def test_english_boards_in_the_us_use_the_12_hour_clock_and_say_minutes_late() -> None:
    spec = replace(load_layout("lcd-landscape-1920x1080"), language="en")
    board = _stress("long", spec, DisplaySettings(clock="12h"))
    assert board.clock_text == "2:05 PM"
    late = next(r for r in board.rows if r.key.startswith("s2"))
    assert "38 min late" in (late.delay_text, late.note)
    feed_board = _feed_board("bart", load_layout("lcd-landscape-1920x1080"))
    assert feed_board.clock_text.endswith(("AM", "PM"))  # BART: English, America/Los_Angeles


def test_spanish_boards() -> None:
    spec = load_layout("epaper-800x480")
    board = _stress("long", spec, DisplaySettings(language="es"))
    assert any(r.status_text == "cancelado" for r in board.rows)
    items = check_drawn(_stress("night", spec, DisplaySettings(language="es")), spec)
    assert any(i["text"] == "Fin del servicio" for i in items)


def test_smaller_defects_of_the_issue() -> None:
    spec = load_layout("lcd-portrait-1080x1920")
    board = _stress("long", spec, DisplaySettings(route_labels=LABELS))
    items = check_drawn(board, spec)
    warm = [i["text"] for i in items if i["role"] == "destination" and i.get("row") == 1]
    assert warm == ["Warm Springs/", "South Fremont"]  # split where the name has its "/", not "... South | Fremont"
    for row in (i["row"] for i in items if i["role"] == "status" and "row" in i):  # "fällt aus" clear of the platform
        note = next(i for i in items if i.get("row") == row and i["role"] == "status")
        platform = next(i for i in items if i.get("row") == row and i["role"] == "platform")
        assert platform["box"][0] - (note["box"][0] + note["box"][2]) >= spec.row_size // 4
    legend = [i["text"] for i in items if i["role"] == "legend" and "row" not in i]
    assert "Abweichung" in legend  # the yellow bar left of disrupted rows is explained
    expired = _stress("expired", spec, DisplaySettings(language="en"))
    titles = [i["text"] for i in drawn(expired, spec) if i["role"] == "legend"]
    assert "Plat." in titles and not any(t.endswith(ELLIPSIS) for t in titles)  # was "Plat…"


def test_board_json_carries_drawn_as_the_render_worker_made_it() -> None:
    import json

    from displays.core.frames import render
    from layouts.export import board_json

    for name in builtin_names():  # the worker sends `drawn` as JSON text; the service splices it in
        spec = load_layout(name)
        for kind in ("alerts8", "takeover", "night", "expired", "long"):  # paged alerts and takeovers included
            board = _stress(kind, spec, DisplaySettings())
            made = render(board, spec, codec.default_encoding(spec.color_mode), True).drawn
            assert json.loads(made) == drawn(board, spec), (name, kind)  # listed while painting = recorded apart
            assert board_json(board, spec, "d", made) == board_json(board, spec, "d"), name  # the same bytes


@pytest.mark.parametrize("kind", ["alerts8", "takeover", "long"])
def test_an_image_painted_while_listed_is_the_image_drawn_alone(kind: str) -> None:
    from layouts.drawn import painted_and_drawn
    from layouts.image import render_image

    for name in builtin_names():
        spec = load_layout(name)
        board = _stress(kind, spec, DisplaySettings())
        image, _ = painted_and_drawn(board, spec)
        assert image.tobytes() == render_image(board, spec, panel=False).tobytes(), name


def test_read_aloud_buttons_speak_the_boards_language() -> None:
    from layouts.html import embedded_fonts, read_aloud, render_html

    assert read_aloud("en") == [("en", "Read aloud")]
    assert read_aloud("de") == [("de", "Vorlesen"), ("en", "Read aloud")]
    assert read_aloud("es") == [("es", "Escuchar"), ("en", "Read aloud")]
    spec = load_layout("tft-320x240")
    page = render_html(
        _stress("long", spec, DisplaySettings(language="en")), spec, embedded_fonts(), speech_url="/s.wav"
    )
    assert "Read aloud" in page and "Vorlesen" not in page


@pytest.mark.parametrize("name", builtin_names())
def test_ops_message_rows_beside_wide_labels(name: str) -> None:
    from layouts.board import ROW, TICKER

    spec = load_layout(name)
    notices = (Notice("m-2", ROW, "Aufzug zu Steig A außer Betrieb bis Freitag", 5),
               Notice("m-3", TICKER, "Weinmarkt: Linie 54 fährt ab 18 Uhr über die Rheinallee.", 6))
    data = BoardInput(stop_departures(LONG, (ALERT,)), TZ, notices=notices)
    board = build_board(spec, DisplaySettings(route_labels=LABELS), data, NOW)
    check_drawn(board, spec)
    text = notices[0].text
    if board.rows[0].status == "message":  # a row where it fits whole
        assert [i["text"] for i in drawn(board, spec) if i.get("row") == 0 and i["role"] == "alert"] == [text]
    else:  # else in the alert area, paged, never cut
        assert text.split()[-1] in " ".join(board.alert_all or board.alert_pages).split()


@pytest.mark.parametrize("name", builtin_names())
def test_alert_pages_end_where_a_sentence_reads_on(name: str) -> None:
    """A rider's review: the LED paged "Trains are not stopping at Montgomery" | "station." and "... in the" |
    "SFO". Pages end after a sentence or clause, or before a phrase ("at Montgomery station."), never after
    "the", "at", "due", "wegen" (what follows belongs to them), never a word alone where pages can be more even."""
    from layouts.paging import _CLINGING, alert_pages

    spec = load_layout(name)
    for board in (_feed_board("bart", spec, labels=()), _stress("alerts8", spec, DisplaySettings())):
        for page in board.alert_all or board.alert_pages:
            words = page.split()
            last = words[-1]
            assert last not in _CLINGING and (len(last) == 1 or last.casefold() not in _CLINGING), page
        said = " | ".join(p.replace("\n", " ") for p in board.alert_all or board.alert_pages)
        if board.stop_name.startswith("Montgomery"):
            assert "at Montgomery station." in said and "| station." not in said, said
            assert "due to a major medical emergency." in said.replace("major | medical", "major medical"), said
    if name == "led-192x64":  # "Steig A" together, and "außer Betrieb" (Spanish "a" opens no phrase here)
        assert alert_pages(spec, ("Aufzug zu Steig A außer Betrieb bis Freitag",), "de")[0] == (
            "Aufzug zu Steig A", "außer Betrieb bis Freitag")
    if name == "tft-320x240":  # the reason kept together, not "... wegen Bauarbeiten" | "am Höfchen"
        pages = _stress("long", spec, DisplaySettings()).alert_pages
        assert pages[:2] == ("Umleitung der Linie 54", "wegen Bauarbeiten am Höfchen"), pages


def test_a_long_destination_says_where_to_before_its_delay_note() -> None:
    """"San Francisco International Airport" on the TFT beside "9 min late": "SF Airport 9 min late" (or "SF Int'l
    Airport +9" where the note must go short), never "San…" or "SF Int'l…", on every layout."""
    spec = load_layout("tft-320x240")
    board = _feed_board("bart", spec, language="en", labels=())
    sfo = [r for r in board.rows if r.headsign == "San Francisco International Airport"]
    assert sfo and all(r.destination in ("SF Int'l Airport", "SF Airport") for r in sfo)
    assert {r.note for r in sfo if r.status == "delayed"} <= {"9 min late", "+9"}  # the delay said still
    for name in builtin_names():  # every layout: the airport's name whole or abbreviated by whole words
        spec = load_layout(name)
        data = BoardInput(
            stop_departures(tuple(replace(d, headsign="San Francisco International Airport") for d in LONG[:2]), ()), TZ
        )
        for row in build_board(spec, DisplaySettings(language="en", route_labels=LABELS), data, NOW).rows:
            shown = row.destination.replace("\n", " ")
            assert shown in ("San Francisco International Airport", "San Francisco Int'l Airport", "SF Int'l Airport",
                             "SF Airport"), (name, shown)


@pytest.mark.parametrize("language", ("de", "en", "es"))
@pytest.mark.parametrize("name", builtin_names())
def test_added_trips_are_marked(name: str, language: str) -> None:
    """A trip the timetable does not have (GTFS-RT ADDED, as in BART's feed) says so: "Zusatzfahrt" ("Zusatz",
    "extra service", "extra", "servicio adicional", "adicional") beside its destination; one of no known route
    has that word on its badge instead of a made-up line name ("San" for "San Bruno"); Spanish "extra" where
    "adicional" is too wide (the LED)."""
    from layouts.texts import text

    spec = load_layout(name)
    known = dep("x1", "E1", "0099CC", "FFFFFF", "Hechtsheim", 1, status="added")
    unknown = replace(dep("x2", "", "5A5A5A", "FFFFFF", "San Bruno", 2, status="added"), route_short_name="San")
    board = build_board(
        spec, DisplaySettings(language=language), BoardInput(stop_departures((known, unknown), ()), TZ), NOW
    )
    items = check_drawn(board, spec, ())
    words = {text(language, "added"), text(language, "added_short"), text(language, "added_mark")}
    first, second = board.rows
    assert first.line == "E1" and (first.note in words or first.note == "+"), first
    assert any(i["text"] == first.note and i.get("row") == 0 for i in items)
    assert second.line == text(language, "added_short") and not second.note
    assert [i["text"] for i in items if i["role"] == "badge" and i.get("row") == 1] == [second.line]
    if spec.width >= 800 and spec.width > spec.height:  # landscape boards have room for the whole word
        assert first.note == text(language, "added")


def test_the_real_bart_feeds_added_trip_is_marked() -> None:
    from displays.core.boards import compose_board

    tt, live, _, at = _feed_boards()["bart"]
    board = compose_board(tt, live, "24TH", load_layout("tft-320x240"), DisplaySettings(), at, realtime_configured=True)
    added = [r for r in board.rows if r.status == "added"]
    assert added and added[0].line == "extra" and added[0].destination == "San Bruno"


@pytest.mark.parametrize("feed", ("bart", "caltrain", "hart", "wmata"))
@pytest.mark.parametrize("name", builtin_names())
def test_real_departures_under_stress(name: str, feed: str) -> None:
    """The real feeds' departures (their line labels, destinations, delays, BART's added trips) with the stress
    of the issue around them: 8 alerts, an ops row message and a ticker, in English and Spanish; the labels ops set
    where the checks demand one (CANNOT_FIT)."""
    from dataclasses import replace as replaced

    from displays.core.boards import compose_board
    from layouts.board import ROW, TICKER

    spec = load_layout(name)
    tt, live, stop, at = _feed_boards()[feed]
    shared: dict = {}
    compose_board(tt, live, stop, spec, DisplaySettings(), at, realtime_configured=live is not None, shared=shared)
    (result, _), = shared.values()
    labels = tuple((label, label.split()[0].split("-")[0]) for label in CANNOT_FIT.get((name, feed), []))
    notices = (Notice("m-2", ROW, "Aufzug zu Steig A außer Betrieb bis Freitag", 5),
               Notice("m-3", TICKER, "Weinmarkt: Linie 54 fährt ab 18 Uhr über die Rheinallee.", 6))
    for language in ("en", "es"):
        data = BoardInput(replaced(result, alerts=EIGHT), tt.timezone, data_as_of=at - 600, realtime_configured=True,
                          notices=notices)
        board = build_board(spec, DisplaySettings(route_labels=labels, language=language, clock="12h"), data, at)
        assert any(r.status != "message" for r in board.rows)
        check_drawn(board, spec, labels)
