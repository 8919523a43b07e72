"""Legibility by the standard: cap heights on the declared panel, reading distances (normal and low vision),
luminance contrast; `stopcast layouts --check` and check-config."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from feedkit import write_feed

from displays.cli.cli import main
from layouts.legibility import check_legibility
from layouts.spec import builtin_names, builtin_text, load_layout, parse_layout
from layouts.validation import ConfigError

SMALL_FOR_3M = """name = "tiny-at-3m"
width = 320
height = 240
color_mode = "rgb"
header_size = 12
row_size = 10
small_size = 10
rows = 12
header_height = 16
footer_height = 12
panel_width_mm = 70.08
panel_height_mm = 52.56
reading_distance_m = 3

[[columns]]
kind = "line"
width = 30

[[columns]]
kind = "destination"

[[columns]]
kind = "time"
width = 60
align = "right"
"""


def _undeclared() -> str:
    return "\n".join(line for line in SMALL_FOR_3M.splitlines() if not line.startswith(("panel_", "reading_"))) + "\n"


def test_every_built_in_layout_passes_at_its_declared_reading_distance(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["layouts", "--check", "--format", "json"]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert [d["layout"] for d in docs] == builtin_names()
    for doc in docs:
        assert doc["ok"] is True and doc["problems"] == [], doc["layout"]
        assert doc["reading_distance_m"] > 0 and doc["panel_width_mm"] > 0 and doc["panel_height_mm"] > 0
        roles = {r["role"]: r for r in doc["roles"]}
        assert {"line", "destination", "time"} <= set(roles)
        for role in roles.values():
            assert role["cap_height_mm"] > 0 and role["max_distance_low_vision_m"] == pytest.approx(
                0.3 * role["max_distance_m"], abs=0.011)
            if role["departures"]:
                assert role["max_distance_m"] >= doc["reading_distance_m"]
        assert all(p["contrast_k"] >= p["required"] for p in doc["pairs"])


def test_figures_of_the_7_5_inch_e_paper() -> None:
    result = check_legibility(load_layout("epaper-800x480"))
    destination = next(r for r in result.roles if r.role == "destination")
    # 34 px Atkinson Hyperlegible: a capital H is 23 px tall; 97.92 mm / 480 px = 0.204 mm per pixel.
    assert (destination.cap_height_px, destination.cap_height_mm) == (23, 4.69)
    assert destination.max_distance_m == 0.73  # 4.692 mm x 155
    assert destination.max_distance_low_vision_m == 0.22
    black_on_white = next(p for p in result.pairs if p.pair == "text on background")
    assert (black_on_white.contrast_k, black_on_white.required) == (1.0, 0.8)


def test_10_px_text_declared_for_3_m_fails_naming_the_role_and_the_distance(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    layout = tmp_path / "tiny.toml"
    layout.write_text(SMALL_FOR_3M)
    assert main(["layouts", "--check", str(layout), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["layout"] == "tiny-at-3m" and doc["ok"] is False
    destination = next(r for r in doc["roles"] if r["role"] == "destination")
    assert destination["meets"] is False and destination["max_distance_m"] < 0.3
    problem = next(p for p in doc["problems"] if p.startswith("destination:"))
    assert f"readable up to {destination['max_distance_m']:.2f} m, not 3 m" in problem
    assert "it needs 19.4 mm cap height" in problem  # 3 m / 155
    assert main(["layouts", "--check", str(layout)]) == 1
    assert "tiny-at-3m: FAILS" in capsys.readouterr().out


def test_contrast_is_judged_on_the_colours_the_panel_shows() -> None:
    grey = builtin_text("lcd-landscape-1920x1080").replace('text = "#FFFFFF"', 'text = "#2A3A4E"')
    result = check_legibility(parse_layout(grey, "grey.toml"))
    pair = next(p for p in result.pairs if p.pair == "text on background")
    assert not pair.meets and pair.contrast_k < 0.7 and not result.ok
    assert any(p.startswith("text on background: #2A3A4E on #0B1A2E") for p in result.problems)


def test_a_panel_is_declared_whole_or_not_at_all() -> None:
    with pytest.raises(ConfigError, match="field 'reading_distance_m': declare all of"):
        parse_layout(SMALL_FOR_3M.replace("reading_distance_m = 3\n", ""), "half.toml")
    undeclared = check_legibility(parse_layout(_undeclared(), "u.toml"))
    assert not undeclared.ok and undeclared.problems[0].startswith("no panel declared")


def test_check_config_checks_every_display_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_feed(tmp_path / "feed")
    (tmp_path / "tiny.toml").write_text(SMALL_FOR_3M)
    (tmp_path / "plain.toml").write_text(_undeclared().replace("tiny-at-3m", "plain"))
    config = tmp_path / "stopcast.toml"
    config.write_text('[feeds]\ngtfs = "feed"\n[[displays]]\nid = "far"\nstops = ["UNI"]\nlayout = "tiny.toml"\n'
                      '[[displays]]\nid = "near"\nstops = ["UNI"]\nlayout = "plain.toml"\n'
                      '[[displays]]\nid = "ok"\nstops = ["UNI"]\nlayout = "tft-320x240"\n')
    assert main(["check-config", str(config), "--no-cache"]) == 1
    err = capsys.readouterr().err
    assert f"stopcast: error: {config}: display 'far': field 'layout': layout 'tiny-at-3m' is not legible: line:" in err
    assert "; destination: 1.5 mm cap height (10 px type) is readable up to 0.24 m, not 3 m" in err
    assert "layout 'plain' declares no panel" in err and "display 'near'" not in err and "display 'ok'" not in err


def test_alerts_are_a_role_riders_must_read_a_layout_whose_alerts_fall_short_fails() -> None:
    spec = load_layout("epaper-800x480")
    assert check_legibility(spec).ok  # its 21 px alerts read to 0.47 m, it is read from 0.45 m
    farther = replace(spec, reading_distance_m=0.6, row_size=48, header_size=48)  # rows fine at 0.6 m, alerts not
    result = check_legibility(farther)
    assert not result.ok and any(p.startswith("alert:") for p in result.problems)


def test_the_tft_is_described_as_the_panel_it_declares() -> None:
    spec = load_layout("tft-320x240")
    diagonal_inch = (spec.panel_width_mm ** 2 + spec.panel_height_mm ** 2) ** 0.5 / 25.4
    assert abs(diagonal_inch - 3.5) < 0.1 and "3.5-inch" in spec.description  # as docs/config.md says, not 2.8"


def test_layouts_check_fails_a_layout_whose_badges_cannot_hold_a_feeds_labels(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from feedkit import shared_feed

    bart = shared_feed("bart", "bart-rt.zip")
    assert main(["layouts", "--check", "led-192x64", "--gtfs", str(bart)]) == 1
    assert "'Blue-Wkd/Sat'" in capsys.readouterr().out
    assert main(["layouts", "--check", "lcd-landscape-1920x1080", "--gtfs", str(bart)]) == 0
