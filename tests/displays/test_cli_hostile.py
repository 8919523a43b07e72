"""Hostile command lines: a clear one-line error and a non-zero status, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from feedkit import write_feed

from displays.cli.cli import main


@pytest.mark.parametrize(("args", "message"), [
    (["--at", "99999999999999999999"], "argument --at: '99999999999999999999' is outside 1970 to 2200"),
    (["--at", "-99999999999999"], "argument --at: '-99999999999999' is outside 1970 to 2200"),
    (["--at", "9999-12-31T23:59:59+14:00"], "is outside 1970 to 2200"),
    (["--horizon", "999999999999"], "argument --horizon: 999999999999 is more than a week (10080 minutes)"),
])
def test_out_of_range_arguments_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
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
    from displays.cli.cli import _build_parser
    from displays.cli.cli_service import cache_of
    from feeds.cache import default_cache_dir

    parser = _build_parser()
    for command in (["serve", "--config", "x.toml"], ["check-config", "x.toml"]):
        assert cache_of(parser.parse_args(command)) == default_cache_dir()
        assert cache_of(parser.parse_args([*command, "--no-cache"])) is None
        assert cache_of(parser.parse_args([*command, "--cache-dir", str(tmp_path)])) == tmp_path


def test_check_config_reports_every_error_with_suggestions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_feed(tmp_path / "feed")
    config = tmp_path / "stopcast.toml"
    config.write_text(
        '[feeds]\ngtfs = "feed"\nstale_afterr = 300\n[mqtt]\nkeepalive = "30"\n[htp]\nlisten = "x"\n'
        '[[displays]]\nid = "a"\nstops = ["UNI", "UNO"]\nlayout = "epaper-800x48"\n'
        '[[displays]]\nid = "b"\nstops = ["GON"]\nlayout = "tft-320x240"\nrows = 99\nlangauge = "en"\n')
    assert main(["check-config", str(config), "--no-cache"]) == 1
    errors = [line.removeprefix(f"stopcast: error: {config}: ") for line in capsys.readouterr().err.splitlines()
              if line.startswith("stopcast: error:")]
    assert errors == [
        "field 'htp': unknown table (did you mean 'http'?)",
        "field 'feeds.stale_afterr': unknown field (did you mean 'stale_after'?)",
        "field 'mqtt.keepalive': must be a whole number, got '30'",
        "display 'a': field 'layout': epaper-800x48: no built-in layout of that name (did you mean 'epaper-800x480'? "
        "built-in: epaper-800x480, epaper-bwr-800x480, lcd-landscape-1920x1080, lcd-portrait-1080x1920, led-192x64, "
        "tft-320x240)",
        "display 'b': field 'langauge': unknown field (did you mean 'language'?)",
        "display 'b': field 'rows': must be between 0 and 40, got 99",
        "display 'a': field 'stops': unknown stop id 'UNO' (not in the GTFS feed) (did you mean UNI?)",
    ]


def test_mqtt_qos_is_0_or_1() -> None:
    from displays.config.model import ConfigError
    from displays.config.parse import parse_config

    base = '[feeds]\ngtfs = "feed.zip"\n[mqtt]\nurl = "mqtt://n1:1883"\nversion = 3\n'
    assert parse_config(base + "qos = 0\n", "t.toml").mqtt.qos == 0
    assert parse_config(base, "t.toml").mqtt.qos == 1
    with pytest.raises(ConfigError, match=r"field 'mqtt.qos': must be one of 0, 1, got 2"):
        parse_config(base + "qos = 2\n", "t.toml")


def test_check_config_is_not_ok_when_a_local_realtime_file_does_not_exist(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    write_feed(tmp_path / "feed")
    config = tmp_path / "stopcast.toml"
    config.write_text(
        '[feeds]\ngtfs = "feed"\nrealtime = [{ url = "rt/trips.pb" }, { url = "https://rt.example/x.pb" }]\n'
        '[[displays]]\nid = "a"\nstops = ["UNI"]\nlayout = "tft-320x240"\n'
    )
    assert main(["check-config", str(config), "--no-cache"]) == 1
    err = capsys.readouterr().err
    assert f"field 'feeds.realtime[0].url': the local realtime file '{tmp_path / 'rt/trips.pb'}' does not exist" in err
    assert "realtime[1]" not in err  # a URL is not checked for existence here
    (tmp_path / "rt").mkdir()
    (tmp_path / "rt/trips.pb").write_bytes(b"")
    assert main(["check-config", str(config), "--no-cache"]) == 0
