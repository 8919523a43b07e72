"""Renderers: golden images per built-in layout, true colour modes, escaped HTML."""

from __future__ import annotations

import io
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from boardkit import NOW, TZ, dep, stop_departures
from PIL import Image

from layouts.board import ROW, TAKEOVER, TICKER, Board, BoardInput, DisplaySettings, Notice, build_board
from layouts.html import render_fragment, render_html, served_fonts
from layouts.image import encode_png, render_image
from layouts.spec import LayoutSpec, builtin_names, load_layout

GOLDENS = Path(__file__).parent / "goldens"
UPDATE = os.environ.get("STOPCAST_UPDATE_GOLDENS") == "1"


def full_board(spec: LayoutSpec) -> Board:
    """Umlauts, a delay, a platform change, a cancellation, a timetable row, an alert, a long destination."""
    return build_board(
        spec, DisplaySettings(), BoardInput(stop_departures(), TZ, data_as_of=NOW - 20, realtime_configured=True), NOW
    )


def empty_board(spec: LayoutSpec) -> Board:
    """End of service: nothing until tomorrow morning, timetable only."""
    data = BoardInput(stop_departures((), (), live=False), TZ, next_departure=NOW + 15 * 3600, realtime_configured=True)
    return build_board(spec, DisplaySettings(), data, NOW)


def takeover_board(spec: LayoutSpec) -> Board:
    """Ops take the whole screen over: a stop closed for a police operation."""
    notice = Notice("m-1", TAKEOVER, "Haltestelle gesperrt wegen eines Polizeieinsatzes. Bitte nutzen Sie die "
                                     "Ersatzhaltestelle in der Kaiserstraße.", 9)
    data = BoardInput(stop_departures(), TZ, data_as_of=NOW - 20, realtime_configured=True, notices=(notice,))
    return build_board(spec, DisplaySettings(), data, NOW)


def messages_board(spec: LayoutSpec) -> Board:
    """An ops row message among the departures and an ops ticker before the feed's alert."""
    notices = (Notice("m-2", ROW, "Aufzug zu Steig A außer Betrieb", 5),
               Notice("m-3", TICKER, "Weinmarkt: Linie 54 fährt ab 18 Uhr über die Rheinallee.", 6))
    data = BoardInput(stop_departures(), TZ, data_as_of=NOW - 20, realtime_configured=True, notices=notices)
    return build_board(spec, DisplaySettings(), data, NOW)


CASES = {"full": full_board, "empty": empty_board, "takeover": takeover_board, "messages": messages_board}


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", builtin_names())
def test_golden_images(name: str, case: str) -> None:
    spec = load_layout(name)
    png = encode_png(render_image(CASES[case](spec), spec))
    golden = GOLDENS / f"{name}-{case}.png"
    if UPDATE:
        golden.write_bytes(png)
    assert golden.exists(), f"no golden {golden.name}: run with STOPCAST_UPDATE_GOLDENS=1, then look at it"
    got, want = _pixels(Image.open(io.BytesIO(png))), _pixels(Image.open(golden))
    assert got.shape == want.shape
    differing = np.any(got != want, axis=-1).mean()
    if spec.color_mode in ("mono", "bwr"):  # 1-bit and 3-colour frames are drawn without grey: exactly equal
        assert differing == 0, f"{golden.name}: {differing:.3%} of pixels differ"
        return
    # Anti-aliased edges may move by a shade between FreeType builds; layout changes move far more.
    assert differing < 0.002, f"{golden.name}: {differing:.2%} of pixels differ"


def test_mono_frames_are_true_1_bit_and_bwr_uses_three_inks() -> None:
    mono = render_image(full_board(load_layout("epaper-800x480")), load_layout("epaper-800x480"))
    assert mono.mode == "1"
    led = render_image(full_board(load_layout("led-192x64")), load_layout("led-192x64"))
    assert led.mode == "1" and led.size == (192, 64)
    bwr = render_image(full_board(load_layout("epaper-bwr-800x480")), load_layout("epaper-bwr-800x480"))
    assert bwr.mode == "P" and set(np.unique(np.asarray(bwr))) == {0, 1, 2}


def test_gray4_and_rgb565_frames_hold_only_their_colours() -> None:
    base = load_layout("epaper-800x480")
    gray = replace(base, color_mode="gray4", name="g")
    image = render_image(full_board(gray), gray)
    assert image.mode == "L" and set(np.unique(np.asarray(image))) <= {0, 85, 170, 255}
    tft = load_layout("tft-320x240")
    pixels = np.asarray(render_image(full_board(tft), tft)).astype(np.uint16)
    packed = ((pixels[..., 0] >> 3) << 11) | ((pixels[..., 1] >> 2) << 5) | (pixels[..., 2] >> 3)
    r5, g6, b5 = packed >> 11, (packed >> 5) & 63, packed & 31
    expanded = np.stack([(r5 << 3) | (r5 >> 2), (g6 << 2) | (g6 >> 4), (b5 << 3) | (b5 >> 2)], -1)
    assert np.array_equal(expanded, pixels)  # every pixel is exactly an RGB565 colour


def test_html_escapes_what_the_feed_says() -> None:
    spec = load_layout("lcd-portrait-1080x1920")
    evil = dep("x", "<b>50</b>", "00598C", "FFFFFF", "<script>alert('pwned')</script>", 3)
    board = build_board(spec, DisplaySettings(), BoardInput(stop_departures((evil,), ()), TZ), NOW)
    page = render_html(board, spec, served_fonts())
    assert "<script>alert" not in page and "<b>50</b>" not in page
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in page or "&lt;script&gt;" in page
    assert "&lt;script&gt;" in render_fragment(board, spec)


def test_html_is_self_contained() -> None:
    spec = load_layout("lcd-portrait-1080x1920")
    page = render_html(full_board(spec), spec, served_fonts(), events_url="/displays/hbf/events")
    assert "http://" not in page and "https://" not in page
    assert 'url("/fonts/AtkinsonHyperlegible-Regular.ttf")' in page
    assert '"/displays/hbf/events"' in page


def test_html_shows_a_takeover_and_message_rows() -> None:
    spec = load_layout("lcd-portrait-1080x1920")
    taken = render_fragment(takeover_board(spec), spec)
    assert 'class="takeover" role="alert"' in taken and "Kaiserstraße" in taken and 'class="row' not in taken
    assert "font-size: 122px" in taken  # the size the image renderer picks for this text and panel
    messages = render_fragment(messages_board(spec), spec)
    assert messages.count('class="row message"') == 1 and "Aufzug zu Steig A außer Betrieb" in messages
    assert "Weinmarkt: Linie 54" in messages  # the ticker's page comes first


@pytest.mark.parametrize("name", ["epaper-800x480", "lcd-portrait-1080x1920"])
def test_a_kept_canvas_is_never_drawn_over_by_another_thread(name: str) -> None:
    """Render workers draw into a kept canvas (scratch) and encode it before the next board; an ops preview
    renders on a worker thread meanwhile, and must neither see nor spoil the service's canvas."""
    import threading

    spec = load_layout(name)
    mine, theirs = full_board(spec), empty_board(spec)
    drawn = render_image(mine, spec, scratch=True)
    other: list[Image.Image] = []
    thread = threading.Thread(target=lambda: other.append(render_image(theirs, spec, scratch=True).copy()))
    thread.start()
    thread.join()
    assert np.array_equal(np.asarray(drawn), np.asarray(render_image(mine, spec)))
    assert np.array_equal(np.asarray(other[0]), np.asarray(render_image(theirs, spec)))
    again = render_image(theirs, spec, scratch=True)  # the same thread's next board reuses the canvas
    assert again is drawn and np.array_equal(np.asarray(again), np.asarray(other[0]))


def timetable_board(spec: LayoutSpec) -> Board:
    """No realtime: every row from the timetable, the footer says so."""
    data = BoardInput(stop_departures(live=False), TZ, realtime_configured=True)
    return build_board(spec, DisplaySettings(), data, NOW)


@pytest.mark.parametrize("name", builtin_names())
def test_stamped_text_is_the_same_pixels_as_text_blended_in_place(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Anti-aliased text is copied from stamps blended over its background beforehand; every board must come
    out exactly as when each text is blended onto the canvas (also on a grey panel and with bigger type)."""
    import layouts.image as image

    specs = [load_layout(name)]
    if specs[0].antialias:
        specs += [
            replace(specs[0], name="grey", color_mode="gray4"),
            replace(specs[0], name="big", row_size=specs[0].row_size + 7),
        ]
    boards = [(spec, make(spec)) for spec in specs for make in (*CASES.values(), timetable_board)]
    stamped = [np.asarray(render_image(board, spec)) for spec, board in boards]
    blended_calls = []
    monkeypatch.setattr(image, "_inside", lambda *args: blended_calls.append(args) and False)
    for (spec, board), want in zip(boards, stamped):
        assert np.array_equal(np.asarray(render_image(board, spec)), want), f"{spec.name}: {board.stop_name}"
    assert blended_calls or not specs[0].antialias  # the comparison did draw the other way


def test_a_render_workers_text_caches_stay_within_their_byte_budgets() -> None:
    """A render worker of thousands of stops meets new texts every minute (stop names, times, delays); its
    text masks and stamps are bounded in bytes, whatever the type size, and a board drawn after they were
    emptied by other texts comes out exactly as before (docs/deploy.md, "Memory")."""
    import layouts.image as image
    from layouts.fonts import font

    spec = load_layout("lcd-portrait-1080x1920")
    board = full_board(spec)
    before = np.asarray(render_image(board, spec)).copy()
    big = font("atkinson", 96, True)  # an LCD's takeover type: some 250 KB a mask of this text
    for i in range(260):  # about twice the mask budget
        image._text_mask(big, f"Ersatzhaltestelle {i} Gonsenheim Kapellenstraße", "lm", "L")
        assert image._masks.currsize <= image.MASK_BUDGET
    assert image._masks.currsize > image.MASK_BUDGET // 2  # it was full, not empty
    assert np.array_equal(np.asarray(render_image(board, spec)), before)
    assert image._stamps.currsize <= image.STAMP_BUDGET
