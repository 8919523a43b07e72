"""Tickers: the service publishes the alerts of LED and TFT layouts as one 1-bit strip, retained, only when
their text changes; the reference pillar scrolls it over the alert area by itself (no traffic per step)."""

from __future__ import annotations

import numpy as np
import pytest
from boardkit import ALERT, NOW, TZ, dep, stop_departures
from speckit import spec

from displays.core.frames import render, ticker_publishes
from firmware_bridge.pillar import PillarSession
from firmware_bridge.simulator import screen
from firmware_bridge.ticker import TickerError, parse_ticker, ticker_payload, ticker_window
from layouts.board import TICKER_SEPARATOR, BoardInput, DisplaySettings, Notice, build_board
from layouts.image import render_image, ticker_area
from layouts.spec import load_layout

LED = load_layout("led-192x64")
DEPS = (dep("t1", "50", "00598C", "FFFFFF", "Finthen", 3),)


def led_board(alerts=(ALERT,), notices=()):  # type: ignore[no-untyped-def]
    data = BoardInput(stop_departures(DEPS, alerts), TZ, data_as_of=NOW, notices=notices)
    return build_board(LED, DisplaySettings(), data, NOW)


@spec("P-49")
def test_the_ticker_carries_every_alert_in_one_line_and_is_republished_only_on_change() -> None:
    notice = Notice("m1", "ticker", "Weinmarkt ab 18 Uhr", 5)
    board = led_board(notices=(notice,))
    assert board.ticker_text.startswith("Weinmarkt ab 18 Uhr" + TICKER_SEPARATOR + "Umleitung der Linie 54")
    assert len(board.alert_pages) > 1  # pulled frames still page through the same texts
    publishes, text_hash = ticker_publishes("stopcast/v1", "gons-led", board, LED, None)
    (message,) = publishes
    assert message.topic == "stopcast/v1/displays/gons-led/ticker" and message.retain
    ticker = parse_ticker(message.payload)
    area = ticker_area(LED)
    assert area is not None and ticker.region == (area.x, area.y, area.w, area.h) and ticker.speed == LED.ticker_speed
    assert ticker.strip.shape[0] == area.h and ticker.strip.shape[1] > 5 * area.w  # a long line of text
    assert 0.05 < ticker.strip.mean() < 0.5 and len(message.payload) < 8_000  # 1 bit a pixel, compressed
    assert ticker_publishes("stopcast/v1", "gons-led", led_board(notices=(notice,)), LED, text_hash) == ([], text_hash)
    cleared, _ = ticker_publishes("stopcast/v1", "gons-led", led_board(alerts=()), LED, text_hash)
    assert [(p.topic, p.payload) for p in cleared] == [("stopcast/v1/displays/gons-led/ticker", b"")]
    epaper = load_layout("epaper-800x480")  # pages, no ticker
    assert ticker_publishes(
        "stopcast/v1",
        "hbf",
        build_board(epaper, DisplaySettings(), BoardInput(stop_departures(), TZ), NOW),
        epaper,
        None,
    ) == ([], 0)


def test_the_reference_pillar_scrolls_the_ticker_over_its_frame() -> None:
    board = led_board()
    rendered = render(board, LED, "mono1", False)
    pillar = PillarSession("gons-led", "stopcast/v1")
    from firmware_bridge.protocol import Bridge

    bridge = Bridge("stopcast/v1", 256 * 1024, 600)
    bridge.expect(["gons-led"])
    from displays.core.frames import frame_of

    frame = frame_of(rendered, b"{}")
    for p in bridge.show("gons-led", frame, NOW, 10):
        if p.topic.endswith("/frame"):
            pillar.receive(p.topic, p.payload, NOW)
    assert pillar.hash == frame.hash
    (message,), _ = ticker_publishes("stopcast/v1", "gons-led", board, LED, None)
    pillar.receive(message.topic, message.payload, NOW)
    x, y, w, h = pillar.ticker.region  # type: ignore[union-attr]
    still = np.asarray(render_image(board, LED))
    first, later = np.asarray(screen(pillar, NOW)), np.asarray(screen(pillar, NOW + 2.0))
    assert np.array_equal(first[:y], still[:y]) and np.array_equal(later[:y], still[:y])  # the departures stay
    assert not first[y : y + h, x : x + w].any()  # the text has not come in yet: it enters from the right
    moved = later[y : y + h, x : x + w]
    assert np.array_equal(moved, ticker_window(pillar.ticker, 2.0)) and moved.any()  # type: ignore[arg-type]
    assert moved[:, : w - 2 * LED.ticker_speed - 1].sum() == 0  # 2 s at 24 px/s: 48 px of text from the right edge
    pillar.receive(message.topic, b"", NOW + 3)
    assert pillar.ticker is None and np.array_equal(np.asarray(screen(pillar, NOW + 3)), still)


@spec("P-48")
def test_a_broken_ticker_is_refused_and_the_old_one_kept() -> None:
    board = led_board()
    (message,), _ = ticker_publishes("stopcast/v1", "gons-led", board, LED, None)
    with pytest.raises(TickerError):
        parse_ticker(message.payload[:40])
    pillar = PillarSession("gons-led", "stopcast/v1")
    pillar.receive(message.topic, message.payload, NOW)
    kept = pillar.ticker
    pillar.receive(message.topic, b"ST\x01" + bytes(40), NOW + 1)
    assert pillar.ticker is kept and pillar.refused == 1
    assert ticker_payload(kept) == message.payload[: len(ticker_payload(kept))]  # type: ignore[arg-type]
