"""Reading the service's config file (TOML) into its model (displays/config/model.py): every table
parsed and validated once; `all_errors` lists every problem in one run (for `stopcast check-config`: after
each error the offending field is set aside and the rest checked again, so ops fix them all at once), and
`parse_config` raises the first. Errors name the file, the display and the field."""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from displays.config.fields import night, route_labels, speech, speech_lexicon
from displays.config.instances import InstancesConfig
from displays.config.model import (
    DISPLAY_FIELDS,
    REACHED_BY,
    TRMNL_MODES,
    TRMNL_SIZE,
    DisplayConfig,
    FeedsConfig,
    HttpConfig,
    MqttConfig,
    ServiceConfig,
    StateConfig,
    layout_of,
)
from displays.config.operators import parse_operators
from feeds.realtime import RealtimeSource
from firmware_bridge.codec import ENCODINGS, encodings_for
from firmware_bridge.topics import is_name, is_prefix, is_user
from layouts.phrases import SPOKEN_LANGUAGES
from layouts.spec import LANGUAGES
from layouts.validation import ConfigError, Fields, defaults_of

REQUIRED = ("id", "stops", "layout", "gtfs")


MAX_PER_TABLE = 20  # errors reported for one table before moving on


def _retrying(check: Callable[[dict], Any], table: dict, prefix: str, errors: list[ConfigError]) -> Any:
    """check(table); after an error naming one of its own fields, again without that field."""
    table = dict(table)
    for _ in range(MAX_PER_TABLE):
        try:
            return check(table)
        except ConfigError as exc:
            errors.append(exc)
            key = (exc.field or "").removeprefix(prefix).split(".")[0].split("[")[0]
            if key not in table or key in REQUIRED:
                return None  # without it the rest cannot be checked
            del table[key]
    return None


def all_errors(text: str, source: str) -> tuple[ServiceConfig | None, list[ConfigError]]:
    """The config as far as it is valid, and every error found in it."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [ConfigError(source, f"not valid TOML ({exc})")]
    errors: list[ConfigError] = []
    known = {"feeds", "mqtt", "http", "state", "displays", "layouts", "speech", "service"}
    for key in [k for k in raw if k not in known]:
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(sorted(known))
        errors.append(ConfigError(source, f"unknown table ({hint})", field_name=key))
    feeds = raw.get("feeds")
    parsed_feeds = _retrying(lambda t: _feeds(t, source), feeds, "feeds.", errors) if isinstance(feeds, dict) else None
    if not isinstance(feeds, dict):
        errors.append(ConfigError(source, "the [feeds] table is required", field_name="feeds"))
    values: dict[str, Any] = {}
    for name, parser in SECTIONS.items():
        table = raw.get(name, {})
        if not isinstance(table, dict):
            errors.append(ConfigError(source, "must be a table", field_name=name))
            continue
        found = _retrying(lambda t, p=parser: p(t, source), table, f"{name}.", errors)  # type: ignore[misc]
        if found is not None:
            values[name] = found
    home = str(default_state_dir())
    config = ServiceConfig(feeds=parsed_feeds or FeedsConfig(gtfs=""), source=source, state_home=home, **values)
    displays = raw.get("displays", [])
    if not isinstance(displays, list):
        return config, errors + [ConfigError(source, "must be an array of tables [[displays]]", field_name="displays")]
    parsed = _displays(displays, source, config, errors)
    return (replace(config, displays=tuple(parsed)) if parsed_feeds else None), errors


def _displays(tables: list, source: str, config: ServiceConfig, errors: list[ConfigError]) -> list[DisplayConfig]:
    """The valid displays of the [[displays]] tables; the errors of the others appended to `errors`."""
    parsed, seen = [], set()
    for i, item in enumerate(tables):
        if not isinstance(item, dict):
            errors.append(ConfigError(source, "a display must be a table", f"#{i + 1}"))
            continue
        display = _retrying(lambda t, n=i: parse_display(t, source, config, label=f"#{n + 1}"), item, "", errors)  # type: ignore[misc]
        if display is None:
            continue
        if display.id in seen:
            errors.append(ConfigError(source, "duplicate display id", display.id, "id"))
        service_user = config.mqtt.username or "stopcast"  # what `stopcast mqtt-acl` gives the service's rights
        if display.user == service_user:
            errors.append(ConfigError(source, f"the pillar's MQTT user {display.user!r} is the service's own user "
                                      "([mqtt] username): the ACL would let this pillar publish every display's "
                                      "frames; give it a user of its own", display.id, "mqtt_user"))
        if display.signed and not config.mqtt.frame_secret:
            errors.append(ConfigError(source, "signed frames need [mqtt] frame_secret_env (the secret each display's "
                                      "frame key is derived from)", display.id, "signed"))
        seen.add(display.id)
        parsed.append(display)
    return parsed


def load_config(path: str | Path) -> ServiceConfig:
    """Read and validate a config file; ConfigError names what is wrong."""
    return parse_config(read_config_text(path), str(path))


def read_config_text(path: str | Path) -> str:
    """The text of a config file; ConfigError when it cannot be read or is not UTF-8."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), f"cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(str(path), f"line {line}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); "
                          "a config is a TOML file in UTF-8") from None


def parse_config(text: str, source: str) -> ServiceConfig:
    """Validate the TOML text of a config; the first problem as a ConfigError (check-config lists
    them all: displays/config/check.py, which this shares the checks with)."""
    config, errors = all_errors(text, source)
    if errors:
        raise errors[0]
    if config is None:
        raise ConfigError(source, "the [feeds] table is required", field_name="feeds")
    return config


def parse_display(item: Any, source: str, config: ServiceConfig, label: str = "") -> DisplayConfig:
    """One display table (from the file or the admin API), validated against the config's layouts."""
    if not isinstance(item, dict):
        raise ConfigError(source, "a display must be a table", label or None)
    name = item.get("id", label)
    if not is_name(name):
        shown = name if isinstance(name, str) and is_name(name) else label or "?"
        raise ConfigError(source, f"must be 1 to 64 of A-Z a-z 0-9 _ . - and nothing else, got {name!r}", shown, "id")
    v = Fields(source, item, defaults_of(DisplayConfig), display=name)
    v.only(DISPLAY_FIELDS)
    display = DisplayConfig(
        id=name,
        stops=v.strings("stops", required=True),
        layout=v.string("layout", required=True),
        name=v.string("name"),
        language=v.choice("language", ("", *dict.fromkeys((*LANGUAGES, *SPOKEN_LANGUAGES)))),
        rows=v.integer("rows", 0, 40),
        routes=v.strings("routes"),
        exclude_routes=v.strings("exclude_routes"),
        directions=v.integer_list("directions", (0, 1)),
        hide_ending_here=v.boolean("hide_ending_here"),
        night=night(item.get("night"), source, name),
        walk_minutes=v.integer("walk_minutes", 0, 60),
        horizon_minutes=v.integer("horizon_minutes", 1, 24 * 60),
        page_seconds=v.integer("page_seconds", 0, 3600),
        clock=v.choice("clock", ("", "12h", "24h")),
        route_labels=route_labels(item.get("route_labels", {}), source, name),
        encoding=v.choice("encoding", ("", *ENCODINGS)),
        compress=v.boolean("compress"),
        mqtt_user=v.string("mqtt_user"),
        trmnl_id=v.string("trmnl_id"),
        trmnl_refresh=v.integer("trmnl_refresh", 15, 86400),
        dark_after=v.integer("dark_after", 60, 7 * 86400),
        signed=v.boolean("signed"),
        reached_by=v.choice("reached_by", REACHED_BY),
        pull_key=v.string("pull_key"),
        speech=speech(item.get("speech", {}), source, name),
    )
    _check_display(display, source, config)
    return display


def _check_display(display: DisplayConfig, source: str, config: ServiceConfig) -> None:
    """What one field alone cannot tell: the MQTT user's and the layout's form, a stop at least, a layout that
    loads and suits the TRMNL device and the encoding."""
    name = display.id
    if display.mqtt_user and not is_user(display.mqtt_user):
        raise ConfigError(source, "must be 1 to 128 of A-Z a-z 0-9 _ . @ : - and nothing else, "
                          f"got {display.mqtt_user!r}", name, "mqtt_user")
    if not is_name(display.layout) and not display.layout.endswith(".toml"):
        raise ConfigError(source, f"must be a layout name (A-Z a-z 0-9 _ . -) or a .toml file, got {display.layout!r}",
                          name, "layout")
    if not display.stops:
        raise ConfigError(source, "needs at least one stop id", name, "stops")
    try:
        spec = layout_of(config, display)  # the layout must load
    except ConfigError as exc:
        raise ConfigError(source, exc.message, name, "layout") from None
    if display.trmnl_id and ((spec.width, spec.height) != TRMNL_SIZE or spec.color_mode not in TRMNL_MODES):
        raise ConfigError(source, f"a TRMNL device shows 800x480 in black and white; layout '{spec.name}' is "
                          f"{spec.width}x{spec.height} {spec.color_mode} (choose an 800x480 mono, bwr or gray4 layout)",
                          name, "trmnl_id")
    if display.encoding and display.encoding not in encodings_for(spec.color_mode):
        allowed = " or ".join(repr(e) for e in encodings_for(spec.color_mode))
        raise ConfigError(source, f"encoding '{display.encoding}' is not defined for layout '{spec.name}' "
                          f"({spec.color_mode}); choose {allowed}", name, "encoding")


def _url(v: Fields, key: str, schemes: tuple[str, ...], value: str) -> str:
    parts = urlsplit(value)
    if "://" in value and (parts.scheme not in schemes or not parts.netloc):
        raise v.fail(key, f"'{value}' is not a valid {'/'.join(schemes)} URL")
    return value


def _feeds(raw: Any, source: str) -> FeedsConfig:
    if not isinstance(raw, dict):
        raise ConfigError(source, "the [feeds] table is required", field_name="feeds")
    v = Fields(source, raw, defaults_of(FeedsConfig), prefix="feeds.")
    v.only({f.name for f in fields(FeedsConfig)})
    gtfs = _url(v, "gtfs", ("http", "https"), v.string("gtfs", required=True))
    stale_after = v.integer("stale_after", 10, 86400)
    items = raw.get("realtime", [])
    if not isinstance(items, list):
        raise v.fail("realtime", "must be a list of URLs, paths or tables")
    sources = []
    for i, item in enumerate(items):
        key = f"realtime[{i}]"
        if isinstance(item, str):
            sources.append(RealtimeSource(_url(v, key, ("http", "https"), item), stale_after=stale_after))
            continue
        if not isinstance(item, dict):
            raise v.fail(key, f"must be a URL, a path or a table, got {item!r}")
        t = Fields(source, item, {**defaults_of(RealtimeSource), "stale_after": stale_after}, prefix=f"feeds.{key}.")
        t.only({f.name for f in fields(RealtimeSource)})
        headers = item.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(val, str)
                                                    for k, val in headers.items()):
            raise t.fail("headers", "must be a table of strings")
        resolved = {k: os.environ.get(val[4:], "") if val.startswith("env:") else val for k, val in headers.items()}
        sources.append(RealtimeSource(
            _url(t, "url", ("http", "https"), t.string("url", required=True)),
            interval=t.number("interval", 0.2, 3600),
            stale_after=t.integer("stale_after", 10, 86400),
            timeout=t.number("timeout", 0.5, 120),
            total_timeout=t.number("total_timeout", 1, 3600),
            headers=resolved,
            max_bytes=t.integer("max_bytes", 1024, 1 << 30),
            max_backoff=t.number("max_backoff", 1, 86400),
        ))
    return FeedsConfig(
        gtfs=gtfs,
        gtfs_interval=v.integer("gtfs_interval", 60, 7 * 86400),
        gtfs_max_bytes=v.integer("gtfs_max_bytes", 1 << 20, 1 << 40),
        realtime=tuple(sources),
        stale_after=stale_after,
        trip_stale_after=v.integer("trip_stale_after", 10, 86400),
        max_deviation_minutes=v.integer("max_deviation_minutes", 1, 24 * 60),
        frozen_after=v.integer("frozen_after", 60, 7 * 86400),
        max_early=v.integer("max_early", 60, 24 * 3600),
        max_speed_kmh=v.integer("max_speed_kmh", 50, 2000),
        collapse_fraction=v.number("collapse_fraction", 0.01, 0.99),
    )


def _mqtt(raw: Any, source: str) -> MqttConfig:
    if not isinstance(raw, dict):
        raise ConfigError(source, "must be a table", field_name="mqtt")
    v = Fields(source, raw, defaults_of(MqttConfig), prefix="mqtt.")
    v.only({f.name for f in fields(MqttConfig)} - {"frame_secret"} | {"password_env", "frame_secret_env"})
    url = v.string("url")
    if url != "embedded":
        _url(v, "url", ("mqtt", "mqtts"), url)
        if "://" not in url:
            raise v.fail("url", f"'{url}' is not mqtt://host:port, mqtts://host:port or \"embedded\"")
    frame_secret = os.environ.get(v.string("frame_secret_env"), "") if "frame_secret_env" in raw else ""
    if "frame_secret_env" in raw and len(frame_secret) < 16:
        raise v.fail("frame_secret_env", f"environment variable {raw['frame_secret_env']!r} must hold a secret of at "
                                         "least 16 characters (each signed display's frame key is derived from it)")
    password = v.string("password")
    if "password_env" in raw:
        password = os.environ.get(v.string("password_env"), "")
    prefix = v.string("prefix")
    if not is_prefix(prefix):
        raise v.fail("prefix", f"must be segments of A-Z a-z 0-9 _ . - joined by '/', got {prefix!r}")
    username = v.string("username")
    if username and not is_user(username):
        raise v.fail("username", f"must be 1 to 128 of A-Z a-z 0-9 _ . @ : - and nothing else, got {username!r}")
    failover = v.strings("failover")
    for i, other in enumerate(failover):
        if url == "embedded" or urlsplit(other).scheme != urlsplit(url).scheme or not urlsplit(other).hostname:
            raise v.fail("failover", f"entry {i} {other!r}: must be a {urlsplit(url).scheme or 'mqtt'}://host:port URL "
                                     "of another node of the same broker cluster")
    return MqttConfig(
        url=url, prefix=prefix, username=username, password=password, failover=tuple(failover),
        client_id=v.string("client_id"), ca_file=v.string("ca_file"),
        cert_file=v.string("cert_file"), key_file=v.string("key_file"),
        max_packet=v.integer("max_packet", 1024, 256 * 1024 * 1024),
        frame_ttl=v.integer("frame_ttl", 60, 7 * 86400),
        forecast_minutes=v.integer("forecast_minutes", 0, 60),
        keepalive=v.integer("keepalive", 5, 3600),
        version=3 if url == "embedded" else v.choice("version", (3, 5)),
        qos=v.choice("qos", (0, 1)), frame_secret=frame_secret,
    )


def _http(raw: Any, source: str) -> HttpConfig:
    if not isinstance(raw, dict):
        raise ConfigError(source, "must be a table", field_name="http")
    v = Fields(source, raw, defaults_of(HttpConfig), prefix="http.")
    v.only({f.name for f in fields(HttpConfig)} | {"admin_token_env"})
    operators = parse_operators(raw.get("operators", []), source)
    listen = v.string("listen")
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise v.fail("listen", f"must be host:port, got {listen!r}")
    token = v.string("admin_token")
    if "admin_token_env" in raw:
        token = os.environ.get(v.string("admin_token_env"), "")
    public = _url(v, "public_url", ("http", "https"), v.string("public_url"))
    return HttpConfig(listen=listen, admin_token=token, public_url=public.rstrip("/"),
                      header_timeout=v.number("header_timeout", 0.1, 3600), operators=operators)


def _state(raw: Any, source: str) -> StateConfig:
    if not isinstance(raw, dict):
        raise ConfigError(source, "must be a table", field_name="state")
    v = Fields(source, raw, defaults_of(StateConfig), prefix="state.")
    v.only({f.name for f in fields(StateConfig)} | {"url_env"})
    url = v.string("url")
    if "url_env" in raw:
        url = os.environ.get(v.string("url_env"), "")
    if url and urlsplit(url).scheme not in ("postgresql", "postgres"):
        raise v.fail("url", f"must be a postgresql:// URL, got {url.split('@')[-1]!r}")
    return StateConfig(dir=v.string("dir"), url=url)


def _layouts(raw: Any, source: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(p, str) for k, p in raw.items()):
        raise ConfigError(source, "must be a table of layout name = \"file.toml\"", field_name="layouts")
    folder = Path(source).parent.resolve() if source else Path.cwd().resolve()
    for name, path in raw.items():
        if not is_name(name):
            raise ConfigError(source, f"layout name {name!r} must be 1 to 64 of A-Z a-z 0-9 _ . -",
                              field_name="layouts")
        if not (folder / path).resolve().is_relative_to(folder):
            raise ConfigError(source, f"layout file {path!r} lies outside the config's folder",
                              field_name=f"layouts.{name}")
    return tuple(sorted(raw.items()))


def parse_instances(raw: Any, source: str) -> InstancesConfig:
    """The [service] table, validated."""
    if not isinstance(raw, dict):
        raise ConfigError(source, "must be a table", field_name="service")
    v = Fields(source, raw, defaults_of(InstancesConfig), prefix="service.")
    v.only({f.name for f in fields(InstancesConfig)} - {"secret"} | {"secret_env"})
    deployment = v.string("deployment")
    if deployment and not is_name(deployment):
        raise v.fail("deployment", f"must be 1 to 64 of A-Z a-z 0-9 _ . - and nothing else, got {deployment!r}")
    secret = ""
    if "secret_env" in raw:
        name = v.string("secret_env")
        secret = os.environ.get(name, "")
        if len(secret) < 16:
            raise v.fail("secret_env", f"environment variable {name!r} must hold a secret of at least 16 characters "
                                       f"({'it is unset' if not secret else f'it has {len(secret)}'})")
    peers = v.strings("peers")
    for i, peer in enumerate(peers):
        parts = urlsplit(peer)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
            raise v.fail("peers", f"entry {i} {peer!r}: must be an instance's http://host:port")
    return InstancesConfig(deployment=deployment, secret=secret, peers=tuple(p.rstrip("/") for p in peers),
                           heartbeat=v.integer("heartbeat", 1, 300))


def default_state_dir() -> Path:
    """$STOPCAST_STATE_DIR, else ($XDG_STATE_HOME or ~/.local/state)/stopcast."""
    explicit = os.environ.get("STOPCAST_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "stopcast"


SECTIONS: dict[str, Callable[[Any, str], Any]] = {"mqtt": _mqtt, "http": _http, "state": _state, "layouts": _layouts,
                                                  "speech": speech_lexicon, "service": parse_instances}
