"""Layout specs: built-ins load, errors name the file and field, --show round-trips."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from displays.cli.cli import main
from layouts.contrast import contrast, readable_on
from layouts.spec import builtin_names, builtin_text, load_layout, parse_layout
from layouts.validation import ConfigError

REQUIRED_BUILTINS = {
    "lcd-portrait-1080x1920",
    "lcd-landscape-1920x1080",
    "epaper-800x480",
    "epaper-bwr-800x480",
    "led-192x64",
    "tft-320x240",
}
MINIMAL = 'name = "x"\nwidth = 800\nheight = 480\ncolor_mode = "mono"\n'


def test_required_builtins_exist_and_load() -> None:
    assert REQUIRED_BUILTINS <= set(builtin_names())
    for name in builtin_names():
        spec = load_layout(name)
        assert spec.name == name
    assert (load_layout("led-192x64").color_mode, load_layout("tft-320x240").color_mode) == ("mono", "rgb565")
    assert load_layout("epaper-bwr-800x480").color_mode == "bwr"


@pytest.mark.parametrize("name", sorted(REQUIRED_BUILTINS))
def test_every_builtin_text_pair_reaches_wcag_aaa(name: str) -> None:
    for pair, (fg, bg) in load_layout(name).palette.text_pairs().items():
        assert contrast(fg, bg) >= 7.0, f"{name}: {pair} is {contrast(fg, bg):.2f}:1"


def test_route_badge_text_is_made_readable() -> None:
    assert readable_on("#FFD500", "#FFFFFF") == "#000000"  # white on yellow would be 1.5:1
    assert readable_on("#00598C", "#FFFFFF") == "#FFFFFF"
    assert contrast("#E30613", readable_on("#E30613", "#E30613")) >= 4.5


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ("rows = -1\n", "rows", "must be between 1 and 40, got -1"),
        ('rows = "six"\n', "rows", "must be a whole number, got 'six'"),
        ('colour_mode = "rgb"\n', "colour_mode", "unknown field (did you mean 'color_mode'?)"),
        ('language = "fr"\n', "language", "must be one of de, en, es, got 'fr'"),
        ('delay_style = "red"\n', "delay_style", "must be one of plus, strike, got 'red'"),
        (
            '[palette]\ntext = "#FF0000"\n',
            "palette.text",
            "#FF0000 cannot be shown in color_mode mono (#000000, #FFFFFF)",
        ),
        ('[palette]\ntext = "black"\n', "palette.text", "must be a colour #RRGGBB, got 'black'"),
        ('[palette]\nink = "#000000"\n', "palette.ink", "unknown colour name"),
        (
            '[[columns]]\nkind = "destination"\n[[columns]]\nkind = "clock"\n',
            "columns[1].kind",
            "must be one of marker, line, destination, platform, time, delay, got 'clock'",
        ),
        ('[[columns]]\nkind = "destination"\n', "columns", "needs exactly one time column"),
        (
            '[[columns]]\nkind = "time"\nwidth = 900\n[[columns]]\nkind = "destination"\n',
            "columns",
            "fixed widths add up to 900 px, wider than the screen (800 px)",
        ),
        ("header_height = 470\n", "header_height", "header and footer leave no room for departures"),
    ],
)
def test_bad_fields_are_named(extra: str, field: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_layout(MINIMAL + extra, "pillar.toml")
    assert str(caught.value) == f"pillar.toml: field '{field}': {message}"


def test_missing_required_field_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^x.toml: field 'color_mode': is required$"):
        parse_layout('name = "x"\nwidth = 8\nheight = 8\n', "x.toml")
    path = tmp_path / "broken.toml"
    path.write_text("name = \n")
    with pytest.raises(ConfigError, match=r"broken.toml: not valid TOML"):
        load_layout(str(path))


def test_layouts_json_and_show_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["layouts", "--format", "json"]) == 0
    listed = {item["name"]: item for item in json.loads(capsys.readouterr().out)}
    assert (listed["tft-320x240"]["width"], listed["tft-320x240"]["height"], listed["tft-320x240"]["color_mode"]) == (
        320,
        240,
        "rgb565",
    )
    assert main(["layouts", "--show", "epaper-bwr-800x480"]) == 0
    shown = capsys.readouterr().out
    assert shown == builtin_text("epaper-bwr-800x480")
    edited = tmp_path / "mine.toml"
    edited.write_text(shown.replace('language = "de"', 'language = "en"'))
    mine = load_layout(str(edited))
    assert replace(mine, language="de", source="x") == replace(load_layout("epaper-bwr-800x480"), source="x")


def test_cli_reports_layout_errors_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["layouts", "--show", "epaper-9000"]) == 1
    assert "no built-in layout of that name" in capsys.readouterr().err


def test_a_layout_sent_to_a_render_worker_hashes_as_that_process_hashes() -> None:
    """A spec caches its hash (it keys every board's caches); the cache never travels in a pickle, where another
    process, hashing strings with its own seed, would get a hash that disagrees with its equal specs."""
    import pickle

    spec = load_layout("lcd-portrait-1080x1920")
    object.__setattr__(spec, "_hash", 12345)  # as if hashed in another process
    arrived = pickle.loads(pickle.dumps(spec))
    fresh = load_layout("lcd-portrait-1080x1920")
    assert arrived == fresh and hash(arrived) == hash(fresh) != 12345
    assert hash(replace(fresh, rows=3)) != hash(fresh) and {fresh: 1}[arrived] == 1
