"""The reference pillar's own screen when it has no current frame: the stop's name and the clock from the
retained board, "Keine aktuellen Daten / No current data" large, in the display's own size."""

from __future__ import annotations

import json

import numpy as np
from speckit import spec

from firmware_bridge.pillar import PillarSession
from firmware_bridge.simulator import screen

NOW = 1_795_611_900  # 2026-11-25 13:05 UTC: 14:05 in Mainz


def board_json(stop: str, clock: str, at: int) -> bytes:
    return json.dumps({"stop_name": stop, "clock_text": clock, "generated_at": at, "rows": []}).encode()


def test_the_pillar_learns_the_stop_and_its_time_from_the_retained_board() -> None:
    pillar = PillarSession("hbf", "stopcast/v1")
    assert "stopcast/v1/displays/hbf/board" in pillar.subscriptions()  # while it shows nothing
    assert pillar.receive("stopcast/v1/displays/hbf/board", board_json("Mainz Hauptbahnhof", "14:05", NOW), NOW) == []
    assert (pillar.stop_name, pillar.utc_offset) == ("Mainz Hauptbahnhof", 60)
    pillar.receive("stopcast/v1/displays/hbf/board", board_json("Richmond", "05:05", NOW), NOW)
    assert pillar.utc_offset == -480  # Pacific time
    pillar.receive("stopcast/v1/displays/hbf/board", b"{not json", NOW)
    assert pillar.stop_name == "Richmond"  # an unreadable board changes nothing


@spec("P-18")
def test_the_no_data_screen_is_designed_and_has_the_displays_size() -> None:
    pillar = PillarSession("hbf", "stopcast/v1")
    bare = np.asarray(screen(pillar, NOW))
    assert bare.shape == (480, 800) and bare[:30].mean() > 0.9  # no board yet: no title band
    pillar.receive("stopcast/v1/displays/hbf/board", board_json("Mainz Hauptbahnhof", "14:05", NOW), NOW)
    pillar.size = (192, 64)  # the size of the LED's last frame
    shown = np.asarray(screen(pillar, NOW))
    assert shown.shape == (64, 192)
    band = shown[:16]
    assert (~band).mean() > 0.6  # a black band with the name and the clock in white
    body = shown[20:]
    assert 0.03 < (~body).mean() < 0.5  # large dark text on white below it
