"""The board model: departure texts, trust markers, hysteresis, empty boards, fitting and pages."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

import pytest
from boardkit import ALERT, NOW, TZ, dep, stop_departures

from layouts.board import Board, BoardInput, DisplaySettings, build_board
from layouts.fit import width_of
from layouts.fonts import font
from layouts.geometry import collapsed, geometry
from layouts.spec import builtin_names, load_layout

EPAPER = load_layout("epaper-800x480")


def board(*deps, spec=EPAPER, settings=DisplaySettings(), live=True, alerts=(), previous: Board | None = None,
          now=NOW, data_as_of=None, next_departure=None) -> Board:  # type: ignore[no-untyped-def]
    data = BoardInput(stop_departures(tuple(deps), alerts, live), TZ, next_departure, data_as_of, True)
    return build_board(spec, settings, data, now, previous)


@pytest.mark.parametrize(
    ("minutes", "de", "en"),
    [
        (0.0, "sofort", "now"),
        (0.99, "sofort", "now"),
        (1.0, "1 min", "1 min"),
        (20.9, "20 min", "20 min"),
        (21.0, "14:26", "14:26"),
    ],
)
def test_departure_text_follows_dfi_practice(minutes: float, de: str, en: str) -> None:
    d = dep("t", "50", "00598C", "FFFFFF", "Finthen", minutes)
    assert board(d).rows[0].time_text == de
    assert board(d, settings=DisplaySettings(language="en")).rows[0].time_text == en


def test_countdown_threshold_is_configurable() -> None:
    d = dep("t", "50", "00598C", "FFFFFF", "Finthen", 25)
    assert board(d).rows[0].time_text == "14:30"
    assert board(d, spec=replace(EPAPER, countdown_max=30)).rows[0].time_text == "25 min"


def test_delay_as_plus_or_struck_scheduled_time() -> None:
    d = dep("t", "51", "7A1E99", "FFFFFF", "Lerchenberg", 35, delay=300, status="delayed")
    plus = board(d).rows[0]
    assert (plus.time_text, plus.delay_text, plus.struck_text) == ("14:40", "+5", "")
    struck = board(d, spec=replace(EPAPER, delay_style="strike")).rows[0]
    assert (struck.time_text, struck.delay_text, struck.struck_text) == ("14:40", "", "14:35")


def test_cancelled_and_skipped_rows_say_so_until_their_time() -> None:
    cancelled = dep("c", "68", "FFD500", "000000", "Gonsenheim", 4, status="cancelled", delay=None)
    skipped = dep("s", "54", "B3000F", "FFFFFF", "Kastel", 6, status="skipped", delay=None)
    rows = board(cancelled, skipped).rows
    assert [(r.status_text, r.time_text) for r in rows] == [("fällt aus", "14:09"), ("Halt entfällt", "14:11")]
    assert [r.status_text for r in board(cancelled, settings=DisplaySettings(language="en")).rows] == ["cancelled"]
    assert board(cancelled, now=NOW + 5 * 60).rows == ()


def test_each_row_says_live_or_timetable_and_approx_prefix() -> None:
    live = dep("a", "50", "00598C", "FFFFFF", "Finthen", 5)
    plan = dep("b", "91", "1A1A1A", "FFFFFF", "Hechtsheim", 7, live=False)
    rows = board(live, plan).rows
    assert [r.live for r in rows] == [True, False]
    approx = board(live, plan, spec=replace(EPAPER, approx_prefix=True)).rows
    assert [r.time_text for r in approx] == ["5 min", "ca. 7 min"]


def test_timetable_only_flag_and_as_of() -> None:
    d = dep("b", "91", "1A1A1A", "FFFFFF", "Hechtsheim", 7, live=False)
    stale = board(d, live=False, data_as_of=NOW - 600)
    assert (stale.timetable_only, stale.footer_text, stale.as_of_text) == (
        True,
        "Nur Fahrplandaten – keine Echtzeit",
        "Stand 13:55",
    )
    fresh = board(d, live=True, data_as_of=NOW - 30)
    assert (fresh.timetable_only, fresh.footer_text, fresh.as_of_text, fresh.legend) == (False, "", "", True)
    english = board(d, live=False, data_as_of=NOW - 600, settings=DisplaySettings(language="en"))
    assert english.as_of_text == "as of 13:55"


def test_countdown_does_not_jump_back_up_by_one_minute() -> None:
    first = board(dep("t", "50", "00598C", "FFFFFF", "Finthen", 5.1))
    assert first.rows[0].time_text == "5 min"
    jitter = board(dep("t", "50", "00598C", "FFFFFF", "Finthen", 6.5), previous=first, now=NOW + 15)  # 6.25 min away
    assert jitter.rows[0].time_text == "5 min"
    real_delay = board(dep("t", "50", "00598C", "FFFFFF", "Finthen", 7.5), previous=first, now=NOW + 15)
    assert real_delay.rows[0].time_text == "7 min"
    timetable = board(dep("t", "50", "00598C", "FFFFFF", "Finthen", 6.5, live=False), previous=first, now=NOW + 15)
    assert timetable.rows[0].time_text == "6 min"


def test_platform_change_is_flagged() -> None:
    moved = dep("m", "54", "B3000F", "FFFFFF", "Kastel", 7, platform="D", scheduled_platform="C")
    assert (board(moved).rows[0].platform, board(moved).rows[0].platform_changed) == ("D", True)


@pytest.mark.parametrize(
    ("next_in", "reason", "text", "detail"),
    [
        (None, "no_departures", "Keine Abfahrten", ""),
        (150 * 60, "end_of_service", "Betriebsschluss", "nächste Abfahrt 16:35"),
        (100 * 60, "nothing_in_horizon", "Keine Abfahrten in den nächsten 90 min", "nächste Abfahrt 15:45"),
    ],
)
def test_empty_boards_say_why(next_in: int | None, reason: str, text: str, detail: str) -> None:
    empty = board(next_departure=None if next_in is None else NOW + next_in)
    assert (empty.empty_reason, empty.empty_text, empty.empty_detail) == (reason, text, detail)


def test_no_timetable_is_no_current_data_never_no_departures() -> None:
    outage = build_board(EPAPER, DisplaySettings(), BoardInput(None, TZ), NOW)
    assert (outage.empty_reason, outage.empty_text) == ("no_data", "Keine aktuellen Daten")


@pytest.mark.parametrize("name", builtin_names())
def test_long_destinations_fit_their_column_measured_with_the_real_font(name: str) -> None:
    spec = load_layout(name)
    long = dep(
        "l",
        "51",
        "7A1E99",
        "FFFFFF",
        "Lerchenberg Hindemithstraße / ZDF-Sendezentrum über Universität und Bretzenheim",
        3,
    )
    shown = board(long, spec=spec)
    row = shown.rows[0]
    column = geometry(collapsed(spec, shown.hidden_columns)).column("destination")
    assert column is not None
    first, _, second = row.destination.partition("\n")
    assert width_of(first, font(spec.font_family, spec.row_size)) <= column[2]
    assert first.startswith("Lerchenberg")
    if spec.destination_lines == 2:  # the portrait LCD continues on a smaller second line
        assert second and width_of(second, font(spec.font_family, spec.small_size)) <= column[2]
        assert not first.endswith("…") and (first + " " + second).startswith("Lerchenberg Hindemithstr")
    else:
        assert row.destination.endswith("…") and not second


def test_columns_no_departure_has_a_value_for_collapse() -> None:
    spec = load_layout("lcd-landscape-1920x1080")
    plain = dep("p", "50", "00598C", "FFFFFF", "Finthen Poststraße über Gonsenheim und Lerchenberg", 3, platform="")
    shown = board(plain, spec=spec)
    assert shown.hidden_columns == ("platform", "delay")
    wide = geometry(collapsed(spec, shown.hidden_columns)).column("destination")
    narrow = geometry(spec).column("destination")
    assert wide is not None and narrow is not None and wide[2] >= narrow[2] + 100 + 64  # the platform and delay widths
    late = dep("d", "51", "7A1E99", "FFFFFF", "Weisenau", 5, delay=300, status="delayed")
    assert board(plain, late, spec=spec).hidden_columns == ()  # a platform and a delay: both columns stay


def test_abbreviation_comes_before_the_ellipsis() -> None:
    spec = load_layout("tft-320x240")
    row = board(dep("w", "64", "2E7D32", "FFFFFF", "Kapellenstraße", 3), spec=spec).rows[0]
    assert row.destination in ("Kapellenstraße", "Kapellenstr.")


def test_alerts_are_paged_to_the_alert_area_and_cycle() -> None:
    spec = load_layout("led-192x64")
    pages = board(dep("a", "50", "00598C", "FFFFFF", "Finthen", 3), spec=spec, alerts=(ALERT,)).alert_pages
    assert len(pages) > 3
    small = font(spec.font_family, spec.small_size)
    alert_box = geometry(spec).alerts
    assert alert_box is not None
    for page in pages:
        assert len(page.split("\n")) <= spec.alert_lines
        assert all(width_of(line, small) <= alert_box.w for line in page.split("\n"))
    shown = [
        board(
            dep("a", "50", "00598C", "FFFFFF", "Finthen", 3),
            spec=spec,
            alerts=(ALERT,),
            now=NOW + k * spec.page_seconds,
        ).alert_page
        for k in range(len(pages) + 1)
    ]
    assert sorted(set(shown)) == list(range(len(pages)))


def test_next_change_is_the_next_minute_or_page_flip() -> None:
    quiet = board(dep("a", "50", "00598C", "FFFFFF", "Finthen", 3), now=NOW + 7)
    assert quiet.next_change == NOW + 60
    paged = board(
        dep("a", "50", "00598C", "FFFFFF", "Finthen", 3), alerts=(ALERT,), spec=load_layout("led-192x64"), now=NOW + 7
    )
    assert paged.next_change == ((NOW + 7) // 8 + 1) * 8  # the next 8-second page boundary


def test_next_change_is_when_any_countdown_drops_a_minute() -> None:
    soon = board(
        dep("a", "50", "00598C", "FFFFFF", "Finthen", 1.5),
        dep("b", "68", "FFD500", "000000", "Gonsenheim", 4.75),
        now=NOW,
    )
    assert [r.time_text for r in soon.rows][:1] == ["1 min"] and soon.next_change == NOW + 31
    later = board(
        dep("a", "50", "00598C", "FFFFFF", "Finthen", 1.5),
        dep("b", "68", "FFD500", "000000", "Gonsenheim", 4.75),
        now=soon.next_change,
    )
    assert later.rows[0].time_text == "sofort"  # at its own second, not at the next minute
    gone = board(dep("a", "50", "00598C", "FFFFFF", "Finthen", 0.25), now=NOW)
    assert gone.next_change == NOW + 16  # the row leaves the board then


def test_display_filters_routes_and_walk_time() -> None:
    deps = (dep("a", "50", "00598C", "FFFFFF", "Finthen", 2), dep("b", "68", "FFD500", "000000", "Gonsenheim", 4),
            dep("c", "50", "00598C", "FFFFFF", "Finthen", 9))
    assert [r.key.split("|")[0] for r in board(*deps, settings=DisplaySettings(routes=("50",))).rows] == ["a", "c"]
    assert [r.key.split("|")[0] for r in board(*deps, settings=DisplaySettings(walk_minutes=3)).rows] == ["b", "c"]


def test_equal_inputs_give_equal_boards_and_rows_read_as_sentences() -> None:
    d = dep("t", "51", "7A1E99", "FFFFFF", "Lerchenberg", 3.2, platform="B", delay=240, status="delayed")
    assert board(d) == board(d, now=NOW + 5)
    # the same sentence builder as the pillar's voice (layouts/phrases.py): one wording for screen readers and audio
    assert board(d).rows[0].spoken == "Linie 51 nach Lerchenberg, in 3 Minuten, von Steig B, 4 Minuten später."
    english = board(d, settings=DisplaySettings(language="en")).rows[0].spoken
    assert english == "Line 51 to Lerchenberg, in 3 minutes, from platform B, 4 minutes late."


@pytest.mark.parametrize("name", builtin_names())
def test_the_widest_time_texts_fit_every_builtin_time_column(name: str) -> None:
    spec = load_layout(name)
    column = geometry(spec).column("time")
    assert column is not None
    bold = font(spec.font_family, spec.row_size, bold=True)
    for shown in ("sofort", "now", "88 min" if spec.countdown_max >= 10 else "8 min", "23:59"):
        assert width_of(shown, bold) <= column[2], f"{name}: '{shown}' overflows the time column"


TFT = load_layout("tft-320x240")


def test_a_cancelled_departure_keeps_its_struck_time_and_says_so() -> None:
    row = board(dep("t4", "68", "FFD500", "000000", "Gonsenheim", 12.0, status="cancelled", delay=None)).rows[0]
    assert (row.time_text, row.note, row.status_text) == ("14:17", "fällt aus", "fällt aus")
    from layouts.html import render_fragment

    html = render_fragment(
        board(dep("t4", "68", "FFD500", "000000", "Gonsenheim", 12.0, status="cancelled", delay=None)), EPAPER
    )
    assert "<s>14:17</s>" in html and '<em class="note">fällt aus</em>' in html


def test_a_delay_is_always_said_in_figures_never_by_colour_alone() -> None:
    late = dep("t2", "51", "7A1E99", "FFFFFF", "Lerchenberg", 3.2, delay=240, status="delayed")
    with_column = board(late).rows[0]
    assert (with_column.delay_text, with_column.note) == ("+4", "")  # the e-paper has a delay column
    without = board(late, spec=TFT).rows[0]  # the TFT has none: the delay goes at the end of the destination
    assert without.note == "+4" and without.delay_minutes == 4
    assert (
        width_of(without.destination, font("atkinson", TFT.row_size))
        + width_of("+4", font("atkinson", TFT.small_size, bold=True))
        <= geometry(TFT).column("destination")[2]
    )  # type: ignore[index]


def test_a_platform_change_is_said_in_words_where_there_is_room() -> None:
    moved = dep("t3", "54", "B3000F", "FFFFFF", "Kastel", 7.5, platform="D", scheduled_platform="C")
    assert board(moved).rows[0].note == "Steig D statt C"
    assert board(moved, settings=DisplaySettings(language="en")).rows[0].note == "now platform D"
    long_way = dep(
        "t3", "54", "B3000F", "FFFFFF", "Kastel Brückenkopf über Rheinallee", 7.5, platform="D", scheduled_platform="C"
    )
    tight = board(long_way, spec=TFT).rows[0]
    assert tight.note == "" and tight.platform_changed  # no room: the platform is marked, not worded


def test_english_boards_title_the_platform_column_platform() -> None:
    from layouts.texts import text
    assert text("en", "platform") == "Platform" and text("de", "platform") == "Steig"


def test_line_labels_are_never_cut_the_badge_widens_or_ops_set_a_label() -> None:
    from layouts.drawn import drawn
    for name in ("Yellow", "Orange", "Blue-Sun", "Blue-Wkd/Sat", "Red", "50", "SEV68"):
        shown = board(dep("t", name, "0099CC", "FFFFFF", "Richmond", 5))
        assert (shown.rows[0].line, shown.rows[0].line_name) == (name, name)
        badge = next(d for d in drawn(shown, EPAPER) if d["role"] == "badge")
        assert badge["text"] == name
    tft = load_layout("tft-320x240")
    wide = board(dep("t", "SEV68", "0099CC", "FFFFFF", "Richmond", 5), spec=tft)
    assert wide.rows[0].line == "SEV68" and wide.line_width > 40  # the badge widened (the layout's is 40 px)
    labelled = board(dep("t", "Blue-Wkd/Sat", "0099CC", "FFFFFF", "Richmond", 5), spec=load_layout("led-192x64"),
                     settings=DisplaySettings(route_labels=(("Blue-Wkd/Sat", "Blue"),)))
    assert labelled.rows[0].line == "Blue" and labelled.rows[0].line_name == "Blue-Wkd/Sat"


def test_alert_pages_break_between_sentences() -> None:
    pages = board(dep("t", "50", "00598C", "FFFFFF", "Finthen", 5), alerts=(ALERT,)).alert_pages
    assert len(pages) == 2 and all(p.endswith(".") for p in pages)
    assert pages[1] == "Fahrgäste nach Kastel nutzen bitte auch die Linie 91."


def test_a_long_delay_shows_whole_even_when_it_does_not_fit_the_delay_column() -> None:
    base = load_layout("lcd-landscape-1920x1080")
    narrow = replace(base, columns=tuple(replace(c, width=60) if c.kind == "delay" else c for c in base.columns))
    late = dep("l", "51", "7A1E99", "FFFFFF", "Weisenau", 40, delay=38 * 60, status="delayed")
    row = board(late, spec=narrow).rows[0]
    assert (row.delay_text, row.note, row.delay_minutes) == ("", "+38", 38)  # whole, beside the destination
    assert (board(late, spec=base).rows[0].delay_text, board(late, spec=base).rows[0].note) == (
        "+38",
        "",
    )  # fits the column


def test_a_board_travels_to_a_render_worker_whole() -> None:
    """Boards are pickled field by field to the render workers: every field comes back, also those that
    equality leaves out (when it was made, when it next changes)."""
    import pickle

    spec = load_layout("lcd-portrait-1080x1920")
    board = build_board(
        spec, DisplaySettings(), BoardInput(stop_departures(), TZ, data_as_of=NOW - 20, realtime_configured=True), NOW
    )
    back = pickle.loads(pickle.dumps(board, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == board and type(back.rows[0]) is type(board.rows[0]) and back.rows == board.rows
    assert (back.generated_at, back.next_change) == (board.generated_at, board.next_change) != (0, 0)
    assert all(getattr(back, f.name) == getattr(board, f.name) for f in dataclasses.fields(board))


@pytest.mark.parametrize("width", [360, 420])
def test_a_destination_cut_after_an_abbreviation_or_a_slash_ends_in_a_clean_ellipsis(width: int) -> None:
    # the demo's "Lerchenberg Hindemithstraße / ZDF-Sendezentrum" read "Hindemithstr.…" and "Hindemithstr. /…"
    from layouts.fit import ELLIPSIS, fit

    regular = font("atkinson", 28, bold=False)
    shown = fit("Lerchenberg Hindemithstraße / ZDF-Sendezentrum", regular, width)
    assert shown.endswith(ELLIPSIS) and width_of(shown, regular) <= width
    assert not shown.endswith((".…", "/…", "/ …")), shown
