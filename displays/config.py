"""The service's config file (TOML): parsed and validated once, into frozen values.

Errors name the file, the display and the field; nothing here raises anything else.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from feeds.realtime import RealtimeSource
from feeds.source import MAX_MEMBER_BYTES
from feeds.times import in_daily_window
from firmware_bridge.codec import ENCODINGS, default_encoding, encodings_for
from firmware_bridge.topics import is_name, is_prefix, is_user
from layouts.phrases import SPOKEN_LANGUAGES
from layouts.spec import LANGUAGES, LayoutSpec, load_layout
from layouts.validation import ConfigError, Fields, defaults_of

from .config_service import InstancesConfig
from .operators import parse_operators


@dataclass(frozen=True, slots=True)
class SpeechConfig:
    """A display's spoken departures: the languages published as audio over MQTT and at which volume."""

    languages: tuple[str, ...] = ()  # audio/{lang} published for these (none: speech.wav on request only)
    volume: float = 0.8  # 0 to 1, what the pillar plays at
    night_volume: float = 0.4
    night: str = ""  # "22:00-06:00": when night_volume applies (local time); "": never

    def volume_at(self, minute_of_day: int) -> float:
        """The volume for a local time of day (minutes after midnight)."""
        if not self.night:
            return self.volume
        start, end = (int(t[:2]) * 60 + int(t[3:]) for t in self.night.split("-"))
        return self.night_volume if in_daily_window(minute_of_day, start, end) else self.volume


@dataclass(frozen=True, slots=True)
class DisplayConfig:
    """One pillar: which stops it shows, in which layout, and how it is reached."""

    id: str
    stops: tuple[str, ...]
    layout: str
    name: str = ""
    language: str = ""
    rows: int = 0  # 0: the layout's
    routes: tuple[str, ...] = ()
    exclude_routes: tuple[str, ...] = ()  # route_ids or short names never shown
    directions: tuple[int, ...] = ()
    hide_ending_here: bool = False  # leave out trips that end at these stops
    night: tuple[int, int] | None = None  # night = { from = "01:00", to = "04:30" }, in minutes after local midnight
    walk_minutes: int = 0
    horizon_minutes: int = 90
    page_seconds: int = 0  # 0: the layout's
    clock: str = ""  # "12h" or "24h" ("": by the feed's language and time zone)
    route_labels: tuple[tuple[str, str], ...] = ()  # (route_id or short name, what its badge says)
    encoding: str = ""  # "": the layout's colour mode decides
    compress: bool = True
    mqtt_user: str = ""  # the pillar's MQTT user ("" = the display id)
    trmnl_id: str = ""  # the ID header (MAC) a TRMNL device sends
    trmnl_refresh: int = 60  # the least seconds a TRMNL device sleeps between wakes (battery: 300 or more)
    dark_after: int = 900  # seconds without an MQTT status, an ack or a device pull: the pillar is dark
    signed: bool = False  # its frames carry a MAC under its frame key ([mqtt] frame_secret_env; docs/mqtt.md)
    reached_by: str = "mqtt"  # mqtt: a pillar on MQTT; http: a device that pulls; browser: a screen showing the live page
    pull_key: str = ""  # the key a pulling device sends (X-Stopcast-Device-Key) for its pulls to count; "env:NAME"
    speech: SpeechConfig = SpeechConfig()

    @property
    def user(self) -> str:
        """The MQTT username of this display's pillar."""
        return self.mqtt_user or self.id


DISPLAY_FIELDS = {f.name for f in fields(DisplayConfig)}
REACHED_BY = ("mqtt", "http", "browser")
TRMNL_SIZE = (800, 480)  # what TRMNL's classic firmware draws (a 1-bit BMP of 48,062 bytes)
TRMNL_MODES = ("mono", "bwr", "gray4")  # colour modes whose frames become that BMP


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """How the service reaches its broker."""

    url: str = "mqtt://127.0.0.1:1883"  # mqtt://, mqtts:// (TLS) or "embedded"
    prefix: str = "stopcast/v1"
    username: str = ""
    password: str = ""
    client_id: str = "stopcast-service"
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    max_packet: int = 256 * 1024  # larger frames are chunked
    frame_ttl: int = 600  # seconds a frame stays valid on the pillar (at most: never past its content's minute)
    forecast_minutes: int = 10  # minutes of predicted frames kept on `next` for pillars cut off (0: none)
    keepalive: int = 30
    version: int = 5  # MQTT 5 (message expiry), or 3 for 3.1.1-only brokers; "embedded" speaks 3.1.1
    failover: tuple[str, ...] = ()  # more nodes of a broker cluster, tried in turn when the connection fails
    qos: int = 1  # of the service's publishes and subscriptions; 0 for a NATS cluster (docs/deploy.md)
    frame_secret: str = field(default="", repr=False)  # from frame_secret_env: each signed display's frame key is
    # derived from it (`stopcast frame-key`), provisioned on its pillar like its MQTT password

    @property
    def addresses(self) -> tuple[tuple[str, int], ...]:
        """(host, port) of `url` and then of every failover node."""
        return ((self.host, self.port), *(_address(u, self.url) for u in self.failover))

    @property
    def host(self) -> str:
        """The broker's host name."""
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        """The broker's port (1883, or 8883 with TLS, unless given)."""
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        """Whether the connection uses TLS."""
        return self.url.startswith("mqtts://")


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """The HTTP server: pull endpoints, dashboard, admin API."""

    listen: str = "127.0.0.1:8080"
    admin_token: str = ""
    public_url: str = ""  # how pillars reach us (for TRMNL image URLs); "" = http://{listen}
    header_timeout: float = 30.0  # seconds a client may take to send a request (or idle between requests)
    operators: tuple[tuple[str, str], ...] = ()  # [[http.operators]]: (name, token) of each named admin token

    def admin_tokens(self) -> tuple[tuple[str, str], ...]:
        """(operator name, token) of every admin token: the operators', then the unnamed admin_token as "admin"."""
        return self.operators + ((("admin", self.admin_token),) if self.admin_token else ())

    @property
    def host(self) -> str:
        """The address to bind."""
        return self.listen.rsplit(":", 1)[0] or "127.0.0.1"

    @property
    def port(self) -> int:
        """The port to bind."""
        return int(self.listen.rsplit(":", 1)[1])


@dataclass(frozen=True, slots=True)
class FeedsConfig:
    """Where the timetable and the realtime feeds come from."""

    gtfs: str
    gtfs_interval: int = 3600  # seconds between checks for a new timetable
    gtfs_max_bytes: int = MAX_MEMBER_BYTES  # the largest file of the feed, uncompressed
    realtime: tuple[RealtimeSource, ...] = ()
    stale_after: int = 180
    trip_stale_after: int = 600  # an older TripUpdate.timestamp is not live once its trip is under way
    max_deviation_minutes: int = 180
    frozen_after: int = 600  # seconds: trip updates or vehicles unchanged for longer are stale (whatever the header)
    max_early: int = 600  # seconds: a trip not yet started predicted earlier than this before schedule shows its timetable
    max_speed_kmh: int = 300  # an ADDED trip whose consecutive stops imply more is dropped (a wormhole)
    collapse_fraction: float = 0.3  # a full dataset below this fraction of its recent median (as scheduled) is suspect


@dataclass(frozen=True, slots=True)
class StateConfig:
    """Where the service keeps what it must remember between runs."""

    dir: str = ""  # "": $STOPCAST_STATE_DIR, else the user's state folder (see displays/state.py)
    url: str = ""  # postgresql://...: config changes and the audit log shared by every instance


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """The whole config file."""

    feeds: FeedsConfig
    mqtt: MqttConfig = MqttConfig()
    http: HttpConfig = HttpConfig()
    state: StateConfig = StateConfig()
    service: InstancesConfig = InstancesConfig()  # [service]: one deployment's instances (displays/config_service.py)
    displays: tuple[DisplayConfig, ...] = ()
    layouts: tuple[tuple[str, str], ...] = ()  # (name, file) of custom layouts
    speech: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()  # [speech] lexicon: (language, ((word, said), ...))
    source: str = field(default="", compare=False)

    def display(self, display_id: str) -> DisplayConfig | None:
        """The display with that id, if configured."""
        return next((d for d in self.displays if d.id == display_id), None)

    def state_dir(self) -> Path:
        """The state folder: [state] dir (relative to the config file), else the default."""
        from .state import default_state_dir

        return Path(self.resolve(self.state.dir)) if self.state.dir else default_state_dir()

    def resolve(self, path: str) -> str:
        """A path from the config, relative to the config file's folder (URLs unchanged)."""
        if "://" in path or not path or Path(path).is_absolute() or not self.source:
            return path
        return str(Path(self.source).parent / path)




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
    them all: displays/config_check.py, which this shares the checks with)."""
    from .config_check import all_errors

    config, errors = all_errors(text, source)
    if errors:
        raise errors[0]
    if config is None:
        raise ConfigError(source, "the [feeds] table is required", field_name="feeds")
    return config


def _route_labels(raw: Any, source: str, display: str) -> tuple[tuple[str, str], ...]:
    """route_labels = { "Blue-Wkd/Sat" = "Blue" }: what a route's badge says (by route_id or short name)."""
    if not isinstance(raw, dict):
        raise ConfigError(source, 'must be a table, e.g. route_labels = { "Blue-Wkd/Sat" = "Blue" }', display, "route_labels")
    for route, label in raw.items():
        if not isinstance(label, str) or not 0 < len(label.strip()) <= 16:
            raise ConfigError(source, f"must be a label of 1 to 16 characters, got {label!r}", display,
                              f"route_labels.{route}")
    return tuple(sorted((str(k), v.strip()) for k, v in raw.items()))


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
        night=_night(item.get("night"), source, name),
        walk_minutes=v.integer("walk_minutes", 0, 60),
        horizon_minutes=v.integer("horizon_minutes", 1, 24 * 60),
        page_seconds=v.integer("page_seconds", 0, 3600),
        clock=v.choice("clock", ("", "12h", "24h")),
        route_labels=_route_labels(item.get("route_labels", {}), source, name),
        encoding=v.choice("encoding", ("", *ENCODINGS)),
        compress=v.boolean("compress"),
        mqtt_user=v.string("mqtt_user"),
        trmnl_id=v.string("trmnl_id"),
        trmnl_refresh=v.integer("trmnl_refresh", 15, 86400),
        dark_after=v.integer("dark_after", 60, 7 * 86400),
        signed=v.boolean("signed"),
        reached_by=v.choice("reached_by", REACHED_BY),
        pull_key=v.string("pull_key"),
        speech=_speech(item.get("speech", {}), source, name),
    )
    if display.mqtt_user and not is_user(display.mqtt_user):
        raise ConfigError(source, f"must be 1 to 128 of A-Z a-z 0-9 _ . @ : - and nothing else, got {display.mqtt_user!r}",
                          name, "mqtt_user")
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
    return display


_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _night(raw: Any, source: str, display: str) -> tuple[int, int] | None:
    """night = { from = "01:00", to = "04:30" }: the display's night screen (local time), as minutes."""
    if raw is None:
        return None
    example = 'must be a table like night = { from = "01:00", to = "04:30" }'
    if not isinstance(raw, dict):
        raise ConfigError(source, example, display, "night")
    v = Fields(source, raw, {}, display=display, prefix="night.")
    v.only({"from", "to"})
    times = []
    for key in ("from", "to"):
        value = raw.get(key)
        if not isinstance(value, str) or not _CLOCK.match(value):
            raise v.fail(key, f'must be a local time "HH:MM" (00:00 to 23:59), got {str(value)[:20]!r}')
        times.append(int(value[:2]) * 60 + int(value[3:]))
    if times[0] == times[1]:
        raise v.fail("to", f"must differ from night.from ({raw['from']}): a night of no length or of a whole day")
    return times[0], times[1]


_NIGHT = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")


def _speech(raw: Any, source: str, display: str) -> SpeechConfig:
    if not isinstance(raw, dict):
        raise ConfigError(source, 'must be a table, e.g. speech = { languages = ["de", "en"] }', display, "speech")
    v = Fields(source, raw, defaults_of(SpeechConfig), display=display, prefix="speech.")
    v.only({f.name for f in fields(SpeechConfig)})
    languages = v.strings("languages")
    for language in languages:
        if language not in LANGUAGES:
            raise v.fail("languages", f"must be some of {', '.join(LANGUAGES)}, got {language!r}")
    night = v.string("night")
    if night and not _NIGHT.match(night):
        raise v.fail("night", f'must be "HH:MM-HH:MM" (e.g. "22:00-06:00"), got {night[:20]!r}')
    return SpeechConfig(tuple(dict.fromkeys(languages)), v.number("volume", 0, 1), v.number("night_volume", 0, 1), night)


def _speech_lexicon(raw: Any, source: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """[speech] lexicon = { de = { "Hbf" = "Hauptbahnhof" }, en = {...} }: words and how they are said."""
    if not isinstance(raw, dict) or set(raw) - {"lexicon"}:
        raise ConfigError(source, "must be a table with only 'lexicon'", field_name="speech")
    lexicon = raw.get("lexicon", {})
    if not isinstance(lexicon, dict):
        raise ConfigError(source, "must be a table of languages", field_name="speech.lexicon")
    out = []
    for language, words in lexicon.items():
        if language not in LANGUAGES:
            raise ConfigError(source, f"must be one of {', '.join(LANGUAGES)}", field_name=f"speech.lexicon.{language}")
        if not isinstance(words, dict) or not all(isinstance(k, str) and isinstance(w, str) and k.strip() and len(w) <= 200
                                                  for k, w in words.items()):
            raise ConfigError(source, 'must be a table of "word" = "how it is said" (at most 200 characters)',
                              field_name=f"speech.lexicon.{language}")
        out.append((language, tuple(sorted(words.items()))))
    return tuple(out)


def layout_of(config: ServiceConfig, display: DisplayConfig) -> LayoutSpec:
    """The display's layout with its overrides applied; ConfigError when it cannot be loaded."""
    custom = dict(config.layouts)
    target = custom.get(display.layout, display.layout)
    if display.layout in custom or target.endswith(".toml"):
        target = _confined(config, target, display.id)
    try:
        spec = load_layout(target)
    except ConfigError as exc:
        raise ConfigError(config.source, str(exc), display.id, "layout") from None
    if display.rows:
        spec = replace(spec, rows=display.rows)
    if display.page_seconds:
        spec = replace(spec, page_seconds=display.page_seconds)
    if display.language:
        spec = replace(spec, language=display.language)
    return spec


def _confined(config: ServiceConfig, path: str, display_id: str) -> str:
    """A layout file's path, which must lie inside the config file's folder (no '..', no absolute
    path or link out of it): the admin API and the config may name only files ops put there."""
    folder = Path(config.source).parent.resolve() if config.source else Path.cwd().resolve()
    resolved = (folder / path).resolve()
    if not resolved.is_relative_to(folder):
        raise ConfigError(config.source, f"layout file {path!r} lies outside the config's folder {str(folder)!r}",
                          display_id, "layout")
    return str(resolved)


def encoding_of(display: DisplayConfig, spec: LayoutSpec) -> str:
    """The frame encoding a display's pillar receives."""
    return display.encoding or default_encoding(spec.color_mode)


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
        if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(val, str) for k, val in headers.items()):
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


def _address(url: str, main: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or (8883 if parts.scheme == "mqtts" else 1883)


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
            raise ConfigError(source, f"layout name {name!r} must be 1 to 64 of A-Z a-z 0-9 _ . -", field_name="layouts")
        if not (folder / path).resolve().is_relative_to(folder):
            raise ConfigError(source, f"layout file {path!r} lies outside the config's folder", field_name=f"layouts.{name}")
    return tuple(sorted(raw.items()))
