"""`stopcast render --gtfs ... --stop ... --layout ...` to PNG and HTML, with and without realtime."""

from __future__ import annotations

from pathlib import Path

import pytest
from feedkit import write_feed
from PIL import Image
from rtkit import feed, stu, trip_update

from displays.cli.cli import main

AT = "2024-05-15T07:58:00+02:00"


def test_render_png_for_every_colour_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gtfs = write_feed(tmp_path / "f")
    for layout, size, mode in (("epaper-800x480", (800, 480), "1"), ("epaper-bwr-800x480", (800, 480), "P"),
                               ("tft-320x240", (320, 240), "RGB"), ("led-192x64", (192, 64), "1")):
        out = tmp_path / f"{layout}.png"
        assert (
            main(["render", "--gtfs", str(gtfs), "--stop", "HBF", "--layout", layout, "--at", AT, "--output", str(out)])
            == 0
        )
        image = Image.open(out)
        assert (image.size, image.mode) == (size, mode)
    assert "wrote" in capsys.readouterr().err


def test_render_html_with_realtime_shows_the_delay(tmp_path: Path) -> None:
    gtfs = write_feed(tmp_path / "f")
    pb = tmp_path / "rt.pb"
    pb.write_bytes(feed(trip_update("T1", stu(seq=1, dep_delay=300), start_date="20240515"), timestamp=1715752680 - 10))
    out = tmp_path / "board.html"
    assert main(["render", "--gtfs", str(gtfs), "--stop", "HBF", "--layout", "lcd-portrait-1080x1920", "--at", AT,
                 "--realtime", str(pb), "--output", str(out)]) == 0
    page = out.read_text()
    assert "status-delayed" in page and "+5" in page and "Finthen" in page
    assert "data:font/ttf;base64," in page  # a file has to carry its fonts


def test_render_refuses_what_it_cannot_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gtfs = write_feed(tmp_path / "f")
    assert (
        main(
            [
                "render",
                "--gtfs",
                str(gtfs),
                "--stop",
                "HBF",
                "--layout",
                "epaper-800x480",
                "--output",
                str(tmp_path / "x.gif"),
            ]
        )
        == 1
    )
    assert "write .png or .html" in capsys.readouterr().err
    assert (
        main(
            [
                "render",
                "--gtfs",
                str(gtfs),
                "--stop",
                "HBF",
                "--layout",
                "nope-1x1",
                "--output",
                str(tmp_path / "x.png"),
            ]
        )
        == 1
    )
    assert "no built-in layout of that name" in capsys.readouterr().err
    assert main(["render", "--config", str(tmp_path / "missing.toml"), "--output", str(tmp_path / "x.png")]) == 1
    assert "--config and --display go together" in capsys.readouterr().err
