"""The service's commands: serve, check-config, mqtt-acl, pillar-sim, and render --config."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from displays.core.sharding import parse_shard
from feeds.errors import FeedError
from firmware_bridge.topics import is_instance
from layouts.validation import ConfigError

if TYPE_CHECKING:
    from displays.config.model import ServiceConfig
    from displays.shell.service import Service
    from firmware_bridge import client as mqtt

# The service's libraries (aiohttp, aiomqtt, the renderers) are imported by the commands that use
# them, so that the light commands start fast.


class CommandError(Exception):
    """A problem with what the user asked for; printed without a traceback."""


def _service(args: argparse.Namespace, shard: tuple[int, int] = (1, 1), workers: int = 0) -> Service:
    from displays.config.parse import load_config
    from displays.shell.rendering import InlineRenderer, PoolRenderer
    from displays.shell.service import Service
    from displays.shell.wiring import clock_at

    config = load_config(args.config)
    clock = clock_at(args.at)
    renderer = PoolRenderer(workers) if workers else InlineRenderer()
    return Service(config, clock, config_path=Path(args.config), cache_dir=cache_of(args), shard=shard,
                   renderer=renderer, instance=getattr(args, "instance", "") or "")


def cache_of(args: argparse.Namespace) -> Path | None:
    """The timetable cache a command uses: --cache-dir, else the user's cache folder; None with --no-cache."""
    from feeds.cache import default_cache_dir

    return None if getattr(args, "no_cache", False) else (args.cache_dir or default_cache_dir())


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the service (or, with --once, render and publish every display once)."""
    import asyncio

    from firmware_bridge import client as mqtt

    logging.getLogger().setLevel(logging.INFO)
    try:
        shard = parse_shard(args.shard)
    except ValueError as exc:
        raise CommandError(f"--shard {exc}") from None
    if args.instance and not is_instance(args.instance):
        raise CommandError("--instance must be 1 to 128 of A-Z a-z 0-9 _ . : - and nothing else, "
                           f"got {args.instance!r}")
    service = _service(args, shard, workers=0 if args.once else args.workers)
    embedded = service.config.mqtt.url == "embedded"
    if embedded and (args.once or shard[1] > 1):
        raise CommandError(f"{args.config}: [mqtt] url = \"embedded\" runs a broker inside this process, which "
                           f"{'--once' if args.once else '--shard'} cannot use (nothing else would reach it); "
                           "give the mqtt:// URL of a broker")
    if args.once:
        try:
            return asyncio.run(service.run_once())
        except mqtt.BridgeError as exc:
            raise CommandError(str(exc)) from None

    from displays.shell.http_server import ListenError

    try:
        asyncio.run(_serve_forever(service, embedded))
    except* ListenError as group:
        raise CommandError(str(group.exceptions[0])) from None
    return 0


async def _serve_forever(service: Service, embedded: bool) -> None:
    """The long-running service with its HTTP side, until SIGTERM or SIGINT (SIGUSR1 dumps the tasks, SIGHUP
    reloads the config); with `embedded`, inside a broker of its own."""
    import asyncio
    import signal

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, service.stop)
    from displays.shell.running import dump_tasks

    loop.add_signal_handler(signal.SIGUSR1, dump_tasks)
    loop.add_signal_handler(signal.SIGHUP, service.reload_config)
    from displays.web.http import serve_http  # the HTTP side is only needed by the long-running service

    if not embedded:
        await service.run(extra_tasks=[serve_http(service)])
        return
    from displays.shell.embedded import embedded_broker  # [mqtt] url = "embedded": the broker runs in this process

    async with embedded_broker() as port:
        service.broker_address = ("127.0.0.1", port)
        logging.getLogger("stopcast.service").warning(
            "[mqtt] url = \"embedded\": pillars connect to mqtt://127.0.0.1:%d (this process's own broker, on "
            "loopback, without passwords: for trying stopcast out; production uses Mosquitto)", port)
        await service.run(extra_tasks=[serve_http(service)])


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate a config and the stops it names against its GTFS feed: every error in one run."""
    import asyncio

    from displays.config.check import label_errors, named_stops, stop_errors
    from displays.config.parse import all_errors, read_config_text
    from displays.core.validity import timetable_problems
    from displays.shell.service import Service
    from displays.shell.wiring import clock_at

    path = Path(args.file)
    text = read_config_text(path)
    config, errors = all_errors(text, str(path))
    if config is not None:
        service = Service(config, clock_at(), config_path=path, cache_dir=cache_of(args))

        async def load() -> None:
            await service.prepare()
            await service.close()

        asyncio.run(load())
        if service.timetable is None:
            errors.append(ConfigError(str(path), str(service.timetable_error), field_name="feeds.gtfs"))
        else:
            errors += stop_errors(str(path), named_stops(text), service.timetable)
            errors += label_errors(config, service.timetable)
            for warning in timetable_problems(service.timetable, int(service.clock.now())):
                print(f"stopcast: warning: {args.file}: field 'feeds.gtfs': {warning}", file=sys.stderr)
        errors += legibility_errors(config, str(path))
        errors += realtime_file_errors(config, str(path))
    for error in errors:
        print(f"stopcast: error: {error}", file=sys.stderr)
    if errors or config is None:
        print(f"{args.file}: {len(errors)} error{'' if len(errors) == 1 else 's'}", file=sys.stderr)
        return 1
    stops = sum(len(d.stops) for d in config.displays)
    print(f"{args.file}: ok ({len(config.displays)} displays, {stops} stop ids found in the feed, "
          f"{len(config.feeds.realtime)} realtime sources)")
    return 0


def realtime_file_errors(config: ServiceConfig, source: str) -> list[ConfigError]:
    """A realtime source that is a local file (not a URL) which does not exist: nothing would ever be live."""
    errors = []
    for i, rt in enumerate(config.feeds.realtime):
        if "://" in rt.url:
            continue
        path = Path(config.resolve(rt.url))
        if not path.is_file():
            what = "is a folder, not a file" if path.is_dir() else "does not exist"
            errors.append(ConfigError(source, f"the local realtime file {str(path)!r} {what}: boards would stay "
                                      "'timetable only' (check the path, relative to the config file)",
                                      field_name=f"feeds.realtime[{i}].url"))
    return errors


def legibility_errors(config: ServiceConfig, source: str) -> list[ConfigError]:
    """`layouts --check` for every display's layout: an error for a declared panel that fails, a warning on
    stderr for a layout that declares none."""
    from displays.config.model import layout_of
    from layouts.legibility import check_legibility

    errors, warned = [], set()
    for display in config.displays:
        result = check_legibility(layout_of(config, display))
        if not result.reading_distance_m:
            if result.layout not in warned:
                warned.add(result.layout)
                print(f"stopcast: warning: {source}: layout '{result.layout}' declares no panel (panel_width_mm, "
                      "panel_height_mm, reading_distance_m): its legibility is not checked", file=sys.stderr)
        elif not result.ok:
            errors.append(ConfigError(source, f"layout '{result.layout}' is not legible: {'; '.join(result.problems)}",
                                      display.id, "layout"))
    return errors


def cmd_mqtt_acl(args: argparse.Namespace) -> int:
    """Print (or write) a Mosquitto ACL for the configured displays."""
    from displays.config.parse import load_config
    from firmware_bridge.acl import AclError, mosquitto_acl

    config = load_config(args.config)
    service_user = args.service_user or config.mqtt.username or "stopcast"
    try:
        text = mosquitto_acl(config.mqtt.prefix, service_user, [(d.id, d.user) for d in config.displays])
    except AclError as exc:
        raise CommandError(f"mqtt-acl: {exc}; refusing to write an ACL that would break or widen access") from None
    if args.output:
        Path(args.output).write_text(text)
    else:
        print(text, end="")
    return 0


def broker_from_url(url: str, args: argparse.Namespace) -> mqtt.BrokerSettings:
    """Broker settings from mqtt[s]://[user[:password]@]host[:port] plus the TLS and version options."""
    from firmware_bridge import client as mqtt

    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise CommandError(f"--broker '{url}' is not mqtt://host:port or mqtts://host:port")
    return mqtt.BrokerSettings(
        host=parts.hostname,
        port=parts.port or (8883 if parts.scheme == "mqtts" else 1883),
        username=unquote(parts.username or args.username or ""),
        password=unquote(parts.password or args.password or ""),
        client_id=f"pillar-{args.display}",
        tls=parts.scheme == "mqtts",
        ca_file=args.ca_file or "",
        cert_file=args.cert_file or "",
        key_file=args.key_file or "",
        version=args.mqtt_version,
        qos=args.qos,
    )


def cmd_pillar_sim(args: argparse.Namespace) -> int:
    """Be a pillar: show what the service sends, write it as PNG."""
    import asyncio

    from firmware_bridge import client as mqtt
    from firmware_bridge.protocol import PillarSession
    from firmware_bridge.simulator import run_pillar

    logging.getLogger().setLevel(logging.INFO)
    settings = broker_from_url(args.broker, args)
    if args.audio:
        return _press_button(args, settings)
    key = b""
    if args.frame_key_env:
        try:
            key = bytes.fromhex(os.environ.get(args.frame_key_env, ""))
        except ValueError:
            key = b""
        if len(key) != 32:
            raise CommandError(f"--frame-key-env: environment variable {args.frame_key_env!r} must hold the display's "
                               "frame key as 64 hex digits (what `stopcast frame-key` prints)")
    session = PillarSession(args.display, args.prefix, key)
    output = Path(args.output) if args.output else None
    try:
        shown = asyncio.run(run_pillar(settings, session, time.time, once=args.once, timeout=args.timeout,
                                       output=output, details={"fw": "stopcast-pillar-sim", "model": "reference"}))
    except mqtt.BridgeError as exc:
        raise CommandError(str(exc)) from None
    if args.once and not shown:
        print(f"stopcast: no frame for display '{args.display}' within {args.timeout} s", file=sys.stderr)
        return 1
    return 0


def cmd_frame_key(args: argparse.Namespace) -> int:
    """Print a signed display's frame key (hex), to provision on its pillar like its MQTT password."""
    from displays.config.instances import frame_key
    from displays.config.parse import load_config

    config = load_config(args.config)
    display = config.display(args.display)
    if display is None or not display.signed:
        raise CommandError(f"{args.config}: no display '{args.display}' with signed = true")
    print(frame_key(config.mqtt.frame_secret, display.id).hex())
    return 0


def _press_button(args: argparse.Namespace, settings: mqtt.BrokerSettings) -> int:
    """pillar-sim --audio LANG: press the "read aloud" button once; the answer's Ogg goes to --output."""
    import asyncio

    from firmware_bridge import client as mqtt
    from firmware_bridge.simulator import press_button

    if not args.output.lower().endswith(".ogg"):
        raise CommandError("--audio needs --output FILE.ogg")
    try:
        header, chunks, waited = asyncio.run(press_button(settings, args.prefix, args.display, args.audio,
                                                          time.monotonic, args.detail, args.timeout or 10.0))
    except mqtt.BridgeError as exc:
        raise CommandError(str(exc)) from None
    except TimeoutError:
        print(f"stopcast: no audio for display '{args.display}' within {args.timeout or 10.0:g} s", file=sys.stderr)
        return 1
    audio = b"".join(chunks)  # a chained Ogg file: each chunk is one Ogg Opus stream
    Path(args.output).write_bytes(audio)
    print(f"wrote {args.output}: {len(audio)} bytes in {len(chunks)} chunks, {header.duration_ms / 1000:.1f} s, "
          f"volume {header.volume} %, first sound {waited:.2f} s after the request", file=sys.stderr)
    return 0


def render_configured(args: argparse.Namespace) -> tuple[object, object]:
    """The board and image a configured display gets at --at (the service's own code path)."""
    import asyncio
    service = _service(args)
    runtime = service.displays.get(args.display)
    if runtime is None:
        known = ", ".join(sorted(d.id for d in service.config.displays)) or "none"
        raise CommandError(f"{args.config}: no display '{args.display}' (configured: {known})")

    async def once() -> None:
        await service.prepare()
        try:
            await service.fetch_all()
            await service.refresh(int(service.clock.now()), force=True)
        finally:
            await service.close()

    asyncio.run(once())
    return runtime.board, runtime.spec


def add_service_commands(commands: argparse._SubParsersAction, instant: object) -> None:
    """Register serve, check-config, mqtt-acl and pillar-sim."""
    serve = commands.add_parser("serve", help="run the service")
    serve.add_argument("--config", required=True, metavar="FILE")
    serve.add_argument("--at", type=instant, default=None, metavar="WHEN",
                       help="start the clock at WHEN and let it run")
    serve.add_argument("--once", action="store_true", help="render and publish every display once, then exit")
    serve.add_argument("--shard", default="1/1", metavar="K/N",
                       help="own the displays rendezvous hashing gives shard K of N (a static split, no takeover)")
    serve.add_argument("--instance", default="", metavar="NAME",
                       help="this instance's name among several on one config and broker (default: host:pid); "
                            "live instances share the displays and take over from each other")
    serve.add_argument("--cache-dir", type=Path, default=None, help="timetable cache (default: user cache dir)")
    serve.add_argument("--no-cache", action="store_true", help="build the timetable index afresh at every load")
    serve.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1), metavar="N",
                       help="render on N worker processes (default: cores - 1; 0 renders in the service process)")
    check = commands.add_parser("check-config", help="validate a config file against its feed")
    check.add_argument("file", metavar="FILE")
    check.add_argument("--cache-dir", type=Path, default=None)
    check.add_argument("--no-cache", action="store_true")
    acl = commands.add_parser("mqtt-acl", help="write a Mosquitto ACL for the configured pillars")
    acl.add_argument("--config", required=True, metavar="FILE")
    acl.add_argument("--service-user", default="", help="the service's MQTT user (default: mqtt.username or stopcast)")
    acl.add_argument("--output", default="", metavar="FILE")
    key = commands.add_parser("frame-key", help="a signed display's frame key, for its pillar")
    key.add_argument("--config", required=True, metavar="FILE")
    key.add_argument("--display", required=True, metavar="ID")
    sim = commands.add_parser("pillar-sim", help="the reference pillar")
    sim.add_argument("--broker", required=True, metavar="URL", help="mqtt[s]://[user[:password]@]host[:port]")
    sim.add_argument("--display", required=True, metavar="ID")
    sim.add_argument("--once", action="store_true", help="exit after the first verified frame")
    sim.add_argument("--frame-key-env", default="", metavar="VAR",
                     help="environment variable with the display's frame key (hex): only frames signed with it "
                     "are shown")
    sim.add_argument("--timeout", type=float, default=None, metavar="S")
    sim.add_argument("--output", default="", metavar="FILE.png|DIR|FILE.ogg")
    sim.add_argument("--audio", default="", choices=("", "de", "en", "es"), metavar="LANG",
                     help="press the read-aloud button once: ask for audio in LANG, write it to --output FILE.ogg")
    sim.add_argument("--detail", default="short", choices=("short", "full"), help="with --audio: first or second press")
    sim.add_argument("--prefix", default="stopcast/v1")
    sim.add_argument("--username", default="")
    sim.add_argument("--password", default="")
    sim.add_argument("--ca-file", default="")
    sim.add_argument("--cert-file", default="")
    sim.add_argument("--key-file", default="")
    sim.add_argument("--mqtt-version", type=int, choices=(3, 5), default=5)
    sim.add_argument("--qos", type=int, choices=(0, 1), default=1,
                     help="QoS of the pillar's subscriptions and messages (0 for a NATS cluster, docs/deploy.md)")


SERVICE_COMMANDS = {"serve": cmd_serve, "check-config": cmd_check_config, "mqtt-acl": cmd_mqtt_acl,
                    "pillar-sim": cmd_pillar_sim, "frame-key": cmd_frame_key}
ERRORS = (ConfigError, CommandError, FeedError)
