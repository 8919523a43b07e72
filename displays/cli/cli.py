"""The `stopcast` command line."""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from displays.cli.cli_layouts import cmd_layouts
from displays.cli.cli_service import ERRORS as SERVICE_ERRORS
from displays.cli.cli_service import SERVICE_COMMANDS, add_service_commands, cache_of, render_configured
from feeds.cache import default_cache_dir, open_timetable
from feeds.errors import FeedError
from feeds.export import alert_json, departure_json, realtime_json, stop_json
from feeds.merge import stop_departures
from feeds.source import MAX_MEMBER_BYTES
from feeds.times import hhmm, iso, parse_instant
from layouts.phrases import SPOKEN_LANGUAGES
from layouts.spec import load_layout
from layouts.texts import LANGUAGES
from layouts.validation import ConfigError

if TYPE_CHECKING:
    from feeds.departures import Departure
    from feeds.health import FeedHealth
    from feeds.live import LiveState
    from feeds.timetable import Stop, Timetable
    from layouts.board import Board
    from layouts.spec import LayoutSpec

# Commands import what only they need inside their functions: `stopcast departures` on a cached
# feed must start in a fraction of a second, without the HTTP, MQTT and rendering libraries.


class CliError(Exception):
    """A problem with what the user asked for; printed without a traceback."""


def _instant(text: str) -> int:
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _horizon(text: str) -> int:
    value = _positive(text)
    if value > 7 * 24 * 60:
        raise argparse.ArgumentTypeError(f"{value} is more than a week (10080 minutes)")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be greater than 0")
    return value


def _add_feed_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gtfs", required=True, metavar="FEED", help="GTFS zip or folder")
    parser.add_argument("--cache-dir", type=Path, default=None, help="timetable cache (default: user cache dir)")
    parser.add_argument("--no-cache", action="store_true", help="build the timetable index afresh")
    parser.add_argument("--gtfs-max-bytes", type=_positive, default=MAX_MEMBER_BYTES, metavar="N",
                        help="refuse a feed file that inflates beyond N bytes (default 16 GiB)")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stopcast", description="Live departures for transit stop displays.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    dep = commands.add_parser("departures", help="list the departures at a stop")
    _add_feed_options(dep)
    dep.add_argument("--stop", required=True, metavar="STOP_ID", help="stop, platform or parent station")
    dep.add_argument("--at", type=_instant, default=None, metavar="WHEN", help="ISO 8601 with offset, or Unix seconds")
    dep.add_argument("--horizon", type=_horizon, default=90, metavar="MINUTES", help="1 to 10080 (a week; default 90)")
    dep.add_argument("--limit", type=_positive, default=20, metavar="N")
    dep.add_argument("--format", choices=("table", "json"), default="table")
    dep.add_argument("--realtime", action="append", default=[], metavar="SRC", help="GTFS-RT file or URL (repeatable)")
    dep.add_argument("--language", default=None, help="language for alert texts (default: the agency's)")
    lay = commands.add_parser("layouts", help="list the built-in layouts or print one")
    lay.add_argument("--format", choices=("table", "json"), default="table")
    lay.add_argument("--show", metavar="NAME", help="print a layout as an editable TOML file")
    lay.add_argument("--check", nargs="?", const="", metavar="NAME", default=None,
                     help="check legibility (cap heights and reading distances, contrast) of one layout (a built-in "
                          "name or a .toml file) or of every built-in; exit status 1 when one fails")
    lay.add_argument("--gtfs", metavar="FEED", default=None,
                     help="with --check: also fail a layout whose badges cannot hold one of this feed's line labels")
    _add_render_command(commands)
    _add_speak_command(commands)
    add_service_commands(commands, _instant)
    demo_cmd = commands.add_parser("demo", help="run stopcast on the generated demo network")
    demo_cmd.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080; 0 picks a free one)")
    demo_cmd.add_argument("--at", type=_instant, default=None, metavar="WHEN", help="start the clock at WHEN")
    demo_cmd.add_argument("--cache-dir", type=Path, default=None, help="where the demo's files go")
    return parser


def _add_render_command(commands: argparse._SubParsersAction) -> None:
    ren = commands.add_parser("render", help="render a stop's (or a configured display's) board to PNG or HTML")
    ren.add_argument("--gtfs", metavar="FEED", help="GTFS zip or folder (with --stop and --layout)")
    ren.add_argument("--cache-dir", type=Path, default=None)
    ren.add_argument("--no-cache", action="store_true")
    ren.add_argument("--gtfs-max-bytes", type=_positive, default=MAX_MEMBER_BYTES, metavar="N")
    ren.add_argument("--stop", metavar="STOP_ID")
    ren.add_argument("--layout", metavar="NAME|FILE")
    ren.add_argument("--config", metavar="FILE", help="a service config (with --display)")
    ren.add_argument("--display", metavar="ID")
    ren.add_argument("--at", type=_instant, default=None, metavar="WHEN")
    ren.add_argument("--realtime", action="append", default=[], metavar="SRC")
    ren.add_argument("--language", default=None, choices=LANGUAGES)
    ren.add_argument("--output", required=True, type=Path, metavar="FILE.png|FILE.html")


def _add_speak_command(commands: argparse._SubParsersAction) -> None:
    spk = commands.add_parser(
        "speak", help="read a stop's (or a configured display's) board aloud into a WAV or Ogg file"
    )
    spk.add_argument("--config", metavar="FILE", help="a service config (with --display)")
    spk.add_argument("--display", metavar="ID")
    spk.add_argument("--gtfs", metavar="FEED", help="GTFS zip or folder (with --stop)")
    spk.add_argument("--stop", metavar="STOP_ID")
    spk.add_argument("--layout", metavar="NAME|FILE", help="whose rows are read (default: lcd-landscape-1920x1080)")
    spk.add_argument(
        "--lang", choices=SPOKEN_LANGUAGES, default=None, help="the language spoken (default: the board's)"
    )
    spk.add_argument("--detail", choices=("short", "full"), default="short",
                     help="short: the first press of the button (stop, next four, disruptions, at most 20 s; the "
                          "default); full: the second press (departures and every alert whole)")
    spk.add_argument("--language", default=None, choices=LANGUAGES, help="the board's language (with --gtfs)")
    spk.add_argument("--at", type=_instant, default=None, metavar="WHEN")
    spk.add_argument("--realtime", action="append", default=[], metavar="SRC")
    spk.add_argument("--cache-dir", type=Path, default=None)
    spk.add_argument("--no-cache", action="store_true")
    spk.add_argument("--gtfs-max-bytes", type=_positive, default=MAX_MEMBER_BYTES, metavar="N")
    spk.add_argument("--output", required=True, type=Path, metavar="FILE.wav|FILE.txt")


def load(args: argparse.Namespace) -> Timetable:
    """The timetable named by --gtfs, through the cache unless --no-cache."""
    cache = cache_of(args)
    timetable = open_timetable(args.gtfs, cache, args.gtfs_max_bytes)
    if timetable.warnings:
        print(
            f"stopcast: warning: {args.gtfs}: {len(timetable.warnings)} kind(s) of inconsistency skipped; "
            f"first: {timetable.warnings[0]}",
            file=sys.stderr,
        )
    return timetable


def _check_stop(tt: Timetable, stop_id: str, feed: str) -> None:
    if stop_id not in tt.stop_index:
        close = difflib.get_close_matches(stop_id, tt.stop_index.keys(), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise CliError(f"stop '{stop_id}' is not in {feed} (stops.txt){hint}")


def realtime_state(tt: Timetable, sources: list[str], now: int) -> tuple[LiveState | None, list[FeedHealth]]:
    """Fetch each realtime source once; a failing one is a warning on stderr, never an error."""
    if not sources:
        return None, []
    import asyncio

    from feeds.live import build_live
    from feeds.poller import fetch_all
    from feeds.realtime import RealtimeRules, RealtimeSource

    pollers = asyncio.run(fetch_all([RealtimeSource(s) for s in sources], clock=lambda: now))
    for poller in pollers:
        if poller.health.last_error:
            print(f"stopcast: warning: realtime source {poller.source.url}: {poller.health.last_error}; "
                  "showing the timetable for it", file=sys.stderr)
    snapshots = [p.snapshot for p in pollers if p.snapshot is not None]
    live = build_live(tt, snapshots, now, RealtimeRules())
    for source in live.stale_sources:
        print(f"stopcast: warning: realtime source {source}: data older than {RealtimeRules().stale_after} s "
              "is not shown as live", file=sys.stderr)
    return live, [p.health for p in pollers]


def cmd_departures(args: argparse.Namespace) -> int:
    """Print the departures at one stop."""
    tt = load(args)
    _check_stop(tt, args.stop, args.gtfs)
    at = args.at if args.at is not None else int(time.time())
    live, health = realtime_state(tt, args.realtime, at)
    language = args.language or tt.agency_lang or "en"
    result = stop_departures(tt, live, args.stop, at, args.horizon * 60, args.limit, language)
    if args.format == "json":
        doc = {
            "stop": stop_json(result.stop),
            "at": iso(at, tt.timezone),
            "realtime": realtime_json(result, health, at, tt.timezone),
            "departures": [departure_json(d, tt.timezone) for d in result.departures],
            "alerts": [alert_json(a, tt.timezone) for a in result.alerts],
        }
        json.dump(doc, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    print_table(tt, result.stop, list(result.departures), at, args.horizon)
    for alert in result.alerts:
        print(f"! {alert.header}")
    if not result.live:
        print("timetable only (no current realtime data)" if args.realtime else "timetable only")
    return 0


def print_table(tt: Timetable, stop: Stop, deps: list[Departure], at: int, horizon_min: int) -> None:
    """Departures as a table for people: local time, line, destination, platform, minutes, status."""
    print(f"{stop.name} ({stop.stop_id}) at {hhmm(at, tt.timezone)} {tt.timezone}")
    if not deps:
        print(f"no departures in the next {horizon_min} min")
        return
    rows = [("Time", "Line", "Destination", "Platform", "Min", "Status")]
    for d in deps:
        line = d.route_short_name or d.route_long_name
        minutes = str(max(0, (d.time - at) // 60))
        rows.append((hhmm(d.time, tt.timezone), line, d.headsign, d.platform, minutes, status_words(d)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())


def status_words(d: Departure, language: str = "en") -> str:
    """A departure's status as the table says it ("on time", "12 min late", "cancelled"), never the raw value."""
    from layouts.texts import text

    if d.status == "delayed" and d.delay:
        return text(language, "late", n=round(d.delay / 60))
    key = {"skipped": "skipped", "added": "added", "cancelled": "cancelled"}.get(d.status, d.status)
    try:
        return text(language, key)
    except KeyError:
        return d.status.replace("_", " ")


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the whole product on the generated demo network: broker, realtime, displays, dashboard."""
    import asyncio

    from displays.cli.demo_run import run_demo
    from displays.shell.http_server import ListenError
    from displays.shell.wiring import clock_at

    logging.getLogger().setLevel(logging.INFO)
    clock = clock_at(args.at)
    try:
        asyncio.run(run_demo((args.cache_dir or default_cache_dir()) / "demo", args.port, clock))
    except* ListenError as group:
        raise CliError(str(group.exceptions[0])) from None
    return 0


def write_render(board: Board, spec: LayoutSpec, output: Path) -> None:
    """Write a board as PNG or as a self-contained HTML page, by the output's suffix."""
    from layouts.html import embedded_fonts, render_html
    from layouts.image import encode_png, render_image

    suffix = output.suffix.lower()
    if suffix == ".png":
        data = encode_png(render_image(board, spec))
        output.write_bytes(data)
    elif suffix in (".html", ".htm"):
        output.write_text(render_html(board, spec, embedded_fonts()), encoding="utf-8")
    else:
        raise CliError(f"--output {output}: write .png or .html")


def _board_of(args: argparse.Namespace, command: str, default_layout: str | None = None) -> tuple[Board, LayoutSpec]:
    """The board that render and speak work on: a configured display's (--config, --display), or a stop's
    in a layout (--gtfs, --stop, --layout) at --at with --realtime."""
    if args.config or args.display:
        if not (args.config and args.display):
            raise CliError(f"{command}: --config and --display go together")
        board, spec = render_configured(args)
        return board, spec  # type: ignore[return-value]
    layout = args.layout or default_layout
    if not (args.gtfs and args.stop and layout):
        raise CliError(f"{command}: give --gtfs, --stop and --layout, or --config and --display")
    from displays.core.boards import compose_board
    from layouts.board import DisplaySettings

    spec = load_layout(layout)
    tt = load(args)
    _check_stop(tt, args.stop, args.gtfs)
    at = args.at if args.at is not None else int(time.time())
    live, _ = realtime_state(tt, args.realtime, at)
    settings = DisplaySettings(language=args.language or "")
    return compose_board(tt, live, args.stop, spec, settings, at, realtime_configured=bool(args.realtime)), spec


def cmd_render(args: argparse.Namespace) -> int:
    """Render one stop's board in a layout (or a configured display's board) to PNG or HTML."""
    board, spec = _board_of(args, "render")
    write_render(board, spec, args.output)
    what = f"display {args.display}" if args.display else f"{spec.name}, {spec.width}x{spec.height} {spec.color_mode}"
    print(f"wrote {args.output} ({what})", file=sys.stderr)
    return 0


def cmd_speak(args: argparse.Namespace) -> int:
    """Read one stop's board (or a configured display's) aloud into a WAV file (or its text into .txt)."""
    import asyncio

    from displays.config.parse import load_config
    from displays.shell.speaking import announce
    from displays.shell.voice import EspeakSynthesizer, SpeechError, ogg_opus
    from layouts.speech import spoken_text

    board, spec = _board_of(args, "speak", "lcd-landscape-1920x1080")
    language = args.lang or board.language
    lexicon = dict(dict(load_config(Path(args.config)).speech).get(language, ())) if args.config else {}
    said = spoken_text(board, language, lexicon, args.detail)
    suffix = args.output.suffix.lower()
    if suffix == ".txt":
        args.output.write_text(said + "\n", encoding="utf-8")
    elif suffix in (".wav", ".ogg"):
        try:
            said, wav = asyncio.run(announce(EspeakSynthesizer(), lambda budget: spoken_text(
                board, language, lexicon, args.detail, budget), language, args.detail))
            args.output.write_bytes(ogg_opus(wav) if suffix == ".ogg" else wav)
        except SpeechError as exc:
            raise CliError(str(exc)) from None
    else:
        raise CliError(f"--output {args.output}: write .wav or .ogg (Opus), or .txt for the text")
    print(f"wrote {args.output} ({language}): {said}", file=sys.stderr)
    return 0


COMMANDS = {
    "departures": cmd_departures,
    "demo": cmd_demo,
    "layouts": cmd_layouts,
    "render": cmd_render,
    "speak": cmd_speak,
    **SERVICE_COMMANDS,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the stopcast command line; returns the exit status."""
    args = _build_parser().parse_args(argv)
    # One-shot commands report problems themselves on stderr; the service logs (see serve).
    logging.basicConfig(level=logging.ERROR, format="stopcast: %(levelname)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except (FeedError, CliError, ConfigError, *SERVICE_ERRORS) as exc:
        print(f"stopcast: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a file or folder named on the command line that cannot be read or written
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"stopcast: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
