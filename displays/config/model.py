"""The service's config file (TOML): parsed and validated once, into frozen values.

Errors name the file, the display and the field; nothing here raises anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import urlsplit

from displays.config.instances import InstancesConfig
from feeds.realtime import RealtimeSource
from feeds.source import MAX_MEMBER_BYTES
from feeds.times import in_daily_window
from firmware_bridge.codec import default_encoding
from layouts.spec import LayoutSpec, load_layout
from layouts.validation import ConfigError


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
    # mqtt: a pillar on MQTT; http: a device that pulls; browser: a screen showing the live page
    reached_by: str = "mqtt"
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
    # seconds: a trip not yet started predicted earlier than this before schedule shows its timetable
    max_early: int = 600
    max_speed_kmh: int = 300  # an ADDED trip whose consecutive stops imply more is dropped (a wormhole)
    collapse_fraction: float = 0.3  # a full dataset below this fraction of its recent median (as scheduled) is suspect


@dataclass(frozen=True, slots=True)
class StateConfig:
    """Where the service keeps what it must remember between runs."""

    dir: str = ""  # "": $STOPCAST_STATE_DIR, else the user's state folder (see displays/config/parse.py)
    url: str = ""  # postgresql://...: config changes and the audit log shared by every instance


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """The whole config file."""

    feeds: FeedsConfig
    mqtt: MqttConfig = MqttConfig()
    http: HttpConfig = HttpConfig()
    state: StateConfig = StateConfig()
    service: InstancesConfig = InstancesConfig()  # [service]: one deployment's instances (displays/config/instances.py)
    displays: tuple[DisplayConfig, ...] = ()
    layouts: tuple[tuple[str, str], ...] = ()  # (name, file) of custom layouts
    # [speech] lexicon: (language, ((word, said), ...))
    speech: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    source: str = field(default="", compare=False)
    state_home: str = field(default="", compare=False, repr=False)  # the state folder without [state] dir:
    # $STOPCAST_STATE_DIR, else the user's state folder, as found when the file was read (displays/config/parse.py)

    def display(self, display_id: str) -> DisplayConfig | None:
        """The display with that id, if configured."""
        return next((d for d in self.displays if d.id == display_id), None)

    def state_dir(self) -> Path:
        """The state folder: [state] dir (relative to the config file), else the default."""
        return Path(self.resolve(self.state.dir)) if self.state.dir else Path(self.state_home or ".")

    def resolve(self, path: str) -> str:
        """A path from the config, relative to the config file's folder (URLs unchanged)."""
        if "://" in path or not path or Path(path).is_absolute() or not self.source:
            return path
        return str(Path(self.source).parent / path)


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


def _address(url: str, main: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or (8883 if parts.scheme == "mqtts" else 1883)
