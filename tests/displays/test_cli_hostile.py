"""Hostile command lines: a clear one-line error and a non-zero status, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from feedkit import write_feed

from displays.cli import main


@pytest.mark.parametrize(("args", "message"), [
    (["--at", "99999999999999999999"], "argument --at: '99999999999999999999' is outside 1970 to 2200"),
    (["--at", "-99999999999999"], "argument --at: '-99999999999999' is outside 1970 to 2200"),
    (["--at", "9999-12-31T23:59:59+14:00"], "is outside 1970 to 2200"),
    (["--horizon", "999999999999"], "argument --horizon: 999999999999 is more than a week (10080 minutes)"),
])
def test_out_of_range_arguments_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    feed = write_feed(tmp_path / "feed")
    with pytest.raises(SystemExit) as exited:
        main(["departures", "--gtfs", str(feed), "--stop", "HBF", *args])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_unwritable_output_and_unreadable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = write_feed(tmp_path / "feed")
    base = ["render", "--gtfs", str(feed), "--stop", "HBF", "--at", "1715752800"]
    assert main([*base, "--layout", "epaper-800x480", "--output", str(tmp_path / "missing" / "b.png")]) == 1
    assert capsys.readouterr().err == f"stopcast: error: {tmp_path / 'missing' / 'b.png'}: No such file or directory\n"
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"name = 1\n\xd0\xff\x00")
    assert main([*base, "--layout", str(binary), "--output", str(tmp_path / "b.png")]) == 1
    assert capsys.readouterr().err.startswith(f"stopcast: error: {binary}: not UTF-8 text (byte 0xd0")
    assert main(["check-config", str(binary)]) == 1
    assert capsys.readouterr().err == (f"stopcast: error: {binary}: line 2: not UTF-8 text (byte 0xd0); "
                                       "a config is a TOML file in UTF-8\n")


def test_serve_and_check_config_use_the_timetable_cache_unless_told(tmp_path: Path) -> None:
    from displays.cli import _build_parser
    from displays.cli_service import cache_of
    from feeds.cache import default_cache_dir

    parser = _build_parser()
    for command in (["serve", "--config", "x.toml"], ["check-config", "x.toml"]):
        assert cache_of(parser.parse_args(command)) == default_cache_dir()
        assert cache_of(parser.parse_args([*command, "--no-cache"])) is None
        assert cache_of(parser.parse_args([*command, "--cache-dir", str(tmp_path)])) == tmp_path
