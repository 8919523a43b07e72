"""The service: feeds in, boards rendered, frames published over MQTT and served over HTTP.

The imperative shell around the pure core. Its edges are passed in (displays/core/ports.py): the
realtime sources, the pillar link and the renderer; displays/shell/wiring.py builds the production ones
when none are given. `refresh(now)` is the one path from inputs to published frames:
compose (pure) -> render (the renderer) -> accept (the protocol) -> send (the link).
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiohttp

from displays.config.instances import frame_key
from displays.config.model import ConfigError, DisplayConfig, ServiceConfig, encoding_of, layout_of
from displays.config.parse import parse_config, read_config_text
from displays.core.boards import compose_board
from displays.core.frames import Rendered, RenderJob, frame_of, ticker_publishes
from displays.core.instances import (
    MAX_EPOCH,
    Identity,
    Member,
    Membership,
    announcement,
    display_set,
    parse_member,
)
from displays.core.notices import Editorial, Scope, scope_of
from displays.core.pillar_limits import RejectionLog
from displays.core.ports import FeedSource, PillarLink, Renderer
from displays.core.sharding import owner
from displays.shell.audit import Audit
from displays.shell.clock import Clock
from displays.shell.gtfs_fetch import fetch_gtfs
from displays.shell.metrics import Metrics
from displays.shell.predicting import forecasts
from displays.shell.rendering import InlineRenderer
from displays.shell.shared_state import SNAPSHOT_FILE, SharedStore, Sharing
from displays.shell.speaking import Speaker
from displays.shell.state import StateError, default_instance_name, next_epoch
from displays.shell.store import STORE_FILE, SqliteStore, StateStore, StoreError, load_editorial
from displays.shell.voice import EspeakSynthesizer, Synthesizer
from feeds.cache import open_timetable
from feeds.errors import FeedError
from feeds.guard import scheduled_trips
from feeds.live import Findings, LiveState, build_live
from feeds.realtime import RealtimeRules
from feeds.timetable import Timetable
from firmware_bridge.messages import packet_room, parse_status
from firmware_bridge.protocol import AudioRequest, Bridge, Frame, PillarStatus, Publish, Rejected
from firmware_bridge.topics import display_topic, instance_topic, service_status_topic
from layouts.board import Board, DisplaySettings
from layouts.export import board_json
from layouts.spec import LayoutSpec

log = logging.getLogger("stopcast.service")


@dataclass
class DisplayRuntime:
    """What the service holds for one display between ticks."""

    config: DisplayConfig
    spec: LayoutSpec
    encoding: str
    board: Board | None = None
    frame: Frame | None = None
    rendered_at: int | None = None
    ticker_hash: int | None = None  # the text hash of the ticker last published (None: publish it again)
    error: str | None = None  # why composing or rendering its board last failed (None: it worked)
    error_at: int | None = None
    forecast: list[tuple[int, Board]] = field(default_factory=list)  # the boards of the published forecast
    forecast_hashes: dict[int, int] = field(default_factory=dict)  # start -> content hash of its steps
    forecast_seen: list[tuple[int, Board]] = field(default_factory=list)  # the boards predicted last (published or
    # not: a prediction whose frames equal the published ones is not rendered again while it stays the same)
    forecast_inputs: tuple = ()  # the inputs they were predicted from
    forecast_at: int = 0  # when they were predicted


_Entry = tuple[DisplayRuntime, Board, int, int]  # a display's new board and where its rendering is (batch, index)


class Service:
    """One stopcast instance (or one shard of several)."""

    def __init__(
        self,
        config: ServiceConfig,
        clock: Clock,
        *,
        config_path: Path | None = None,
        cache_dir: Path | None = None,  # the timetable cache; None: none
        shard: tuple[int, int] = (1, 1),
        instance: str = "",
        sources: dict[str, FeedSource] | None = None,
        link: PillarLink | None = None,
        renderer: Renderer | None = None,
        synthesizer: Synthesizer | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.config_path = config_path
        self.cache_dir = cache_dir
        self.shard = shard
        self.instance = instance or default_instance_name()
        self.membership = Membership(self.instance, self.identity(config))
        self.settled = asyncio.Event()  # the live instances are known (set by the first service status seen)
        self.timetable: Timetable | None = None
        self.timetable_error: str | None = None
        self.timetable_loaded_at: int | None = None
        self.sources: dict[str, FeedSource] = sources if sources is not None else {}
        self._findings: tuple[tuple, list[dict[str, Findings]]] = ((), [])  # (inputs, [first, latest] merge's findings)
        self._own_sources = sources is None  # made from the config in prepare()
        self.link = link
        self.renderer: Renderer = renderer or InlineRenderer()
        self.displays: dict[str, DisplayRuntime] = {}
        self.started_at = int(clock.now())
        try:
            epoch = next_epoch(config.state_dir() if config_path is not None else None, self.started_at)
        except StateError as exc:
            log.warning("%s; frames carry the start time as their epoch", exc)
            epoch = self.started_at
        self.bridge = Bridge(config.mqtt.prefix, config.mqtt.max_packet, config.mqtt.frame_ttl, epoch=epoch)
        self.metrics = Metrics()
        self.last_reload_error: str | None = None
        self.reloading: asyncio.Future | None = None  # a SIGHUP's reload being committed to the shared state
        self.wake = asyncio.Event()
        self.planned_wake = float("inf")  # when the ticker steps next: an earlier deadline from a pillar wakes it
        self.rejections = RejectionLog()
        self.stopping = asyncio.Event()
        self.pending: list[Publish] = []  # publishes to send with the next tick (e.g. cleared displays)
        self.broker_address: tuple[str, int] | None = None  # where an embedded broker listens
        self.sharing = (Sharing(config.state_dir() / SNAPSHOT_FILE) if config.state.url and config_path is not None
                        else None)
        self.audit = Audit(config.state_dir() / "audit.jsonl" if config_path is not None and self.sharing is None else None)
        if self.sharing is not None and config_path is not None:
            self.sharing.text = read_config_text(config_path)
            self.audit.sink = self.sharing.record
        self.store_error: str | None = None
        self.store_write_error: str | None = None  # the last change the state store refused (disk full ...)
        self.store: StateStore = SharedStore() if self.sharing is not None else self._open_store(config_path is not None)
        self.editorial = Editorial()
        self._scopes: dict[tuple[str, tuple[str, ...]], Scope] = {}
        self._scopes_of: int = 0  # id() of the timetable the scopes were computed for
        self.board_listeners: list[Callable[[str], None]] = []  # told each display id whose board changed
        self.speaker = Speaker(self, synthesizer or EspeakSynthesizer())
        self.http_url = ""
        self.http_ready = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._gtfs_path: Path | None = None
        self.random = random.Random()
        self._last_inputs: tuple = ()
        self.displays_were_set = False
        self._update_arrived: float | None = None  # perf_counter() of the first feed update not yet rendered
        self.resend = False  # a send failed part-way: republish everything with the next step
        self.apply_config(config)
        try:
            self.editorial = load_editorial(self.store, "UTC", self.started_at)  # stored times carry their offset
        except StoreError as exc:
            self.store_error = str(exc)
            log.error("%s; messages and suppressions start empty", exc)

    def _open_store(self, in_state_folder: bool) -> StateStore:
        """The SQLite state store in the state folder (in memory for a service without a config file, or,
        logged and reported by /healthz, when the state folder cannot hold it)."""
        try:
            return SqliteStore.in_folder(self.config.state_dir() if in_state_folder else None)
        except StoreError as exc:
            self.store_error = str(exc)
        path = self.config.state_dir() / STORE_FILE
        if path.exists():  # a read-only state folder: its messages still show; changes are refused (503)
            try:
                store = SqliteStore.read_only(path, f"cannot be opened for writing ({self.store_error})")
                self.store_error = (f"{self.store_error}: its messages and suppressions were read and show, but "
                                    "changes are refused (503) until the state folder is writable")
                log.error("%s", self.store_error)
                return store
            except StoreError as exc:
                self.store_error = str(exc)
        log.error("%s; messages and suppressions are kept in memory only until this is fixed", self.store_error)
        self.store_error = f"{self.store_error} (ops messages and suppressions are not kept across a restart)"
        return SqliteStore(":memory:")

    def timezone(self) -> str:
        """The agency's timezone (the loaded timetable's; UTC before one loads)."""
        return self.timetable.timezone if self.timetable is not None else "UTC"

    def scope(self, display: DisplayConfig) -> Scope:
        """What a display covers for ops messages: its stops, stations, platforms and routes (cached per timetable)."""
        if self._scopes_of != id(self.timetable):
            self._scopes, self._scopes_of = {}, id(self.timetable)
        key = (display.id, display.stops)
        found = self._scopes.get(key)
        if found is None:
            found = self._scopes[key] = scope_of(display.id, display.stops, self.timetable)
        return found

    def set_editorial(self, editorial: Editorial) -> None:
        """Swap in changed messages and suppressions: every board is composed again at once."""
        self.editorial = editorial
        self.wake.set()

    @property
    def broker_connected(self) -> bool:
        """Whether the pillar link is connected."""
        return bool(self.link and self.link.connected)

    @property
    def broker_error(self) -> str:
        """Why the pillar link is not connected ('' while it is)."""
        return self.link.error if self.link is not None else "no pillar link"

    # --- configuration -------------------------------------------------------------------------

    def owns(self, display_id: str) -> bool:
        """Whether this instance renders and publishes that display: by its static shard (--shard K/N), else
        by rendezvous hashing over the live instances (docs/deploy.md)."""
        if self.shard[1] > 1:
            return owner(display_id, self.shard[1]) == self.shard[0]
        return self.membership.owns(display_id)

    def apply_config(self, config: ServiceConfig) -> list[Publish]:
        """Swap in a validated config; keeps the boards of displays whose settings did not change."""
        identity_changed = self.identity(config) != self.membership.identity
        if identity_changed:  # another display set: every announcement is judged again before ownership is
            self.membership.set_identity(self.identity(config))
        runtimes: dict[str, DisplayRuntime] = {}
        specs = {r.spec: r.spec for r in self.displays.values()}  # one object per distinct layout (boards are
        # rendered once per layout and board: displays showing the same share it)
        for display in config.displays:
            if not self.owns(display.id):
                continue
            spec = layout_of(config, display)
            spec = specs.setdefault(spec, spec)
            old = self.displays.get(display.id)
            if old is not None and old.config == display and old.spec == spec:
                runtimes[display.id] = old
            else:
                runtimes[display.id] = DisplayRuntime(display, spec, encoding_of(display, spec))
        configured = [d.id for d in config.displays]
        gone = [d for d in self.displays if d not in runtimes]
        publishes = [p for d in gone if d not in configured  # left the config: its retained messages are cleared
                     for p in [*self.bridge.remove(d), *self.speaker.cleared(d),
                               Publish(display_topic(config.mqtt.prefix, d, "ticker"), b"", True)]]
        for display_id in gone:
            if display_id in configured:
                self.bridge.release(display_id)  # another instance owns it now: its retained frame stays
        acquired = [d for d in runtimes if d not in self.displays]
        if identity_changed and self.displays_were_set:
            publishes.append(self.announcement())  # the others learn the new display set
        self.bridge.set_keys({d.id: frame_key(config.mqtt.frame_secret, d.id) for d in config.displays if d.signed})
        self.bridge.expect(configured)  # every pillar's status is read, also of displays other instances own
        self.config = config
        self.displays = runtimes
        if acquired and self.displays_were_set:
            publishes += self.raise_epoch()
        self.displays_were_set = True
        self.wake.set()
        return publishes

    def raise_epoch(self) -> list[Publish]:
        """Taking displays over: an epoch above every one seen, so that pillars ignore the old owner's late
        frames; announced at once. It never leaves the header's 32 bits (implausible epochs are never seen:
        displays/core/instances.py)."""
        epoch = min(MAX_EPOCH, max(int(self.clock.now()), self.membership.highest_epoch + 1, self.bridge.epoch + 1))
        self.bridge.set_epoch(epoch)
        self.membership.highest_epoch = max(self.membership.highest_epoch, epoch)
        return [self.announcement()]

    @staticmethod
    def identity(config: ServiceConfig) -> Identity:
        """What makes this instance's deployment: its name, its display set and its shared secret."""
        return Identity(config.service.deployment, display_set(d.id for d in config.displays),
                        config.service.secret.encode())

    def announcement(self, online: bool = True) -> Publish:
        """This instance's retained announcement, a heartbeat valid for three heartbeats (offline: its Last Will,
        and always once it is stopping: a stopping instance never says it is online again)."""
        http = self.http_url.replace("//0.0.0.0:", f"//{socket.gethostname()}:").replace("//[::]:", f"//{socket.gethostname()}:")
        online = online and not self.stopping.is_set()
        identity = self.membership.identity
        member = Member(self.instance, online, self.bridge.epoch, self.started_at, http, int(self.clock.now()),
                        self.config.service.ttl, identity.deployment, identity.displays)
        return announcement(self.config.mqtt.prefix, member, identity.secret)

    def subscriptions(self) -> list[str]:
        """What the service subscribes to: the pillars' status and ack, the instances, the service status
        (subscribed last: its first message says the instances' retained announcements have arrived)."""
        prefix = self.config.mqtt.prefix
        return [*self.bridge.subscriptions(), instance_topic(prefix, "+"), service_status_topic(prefix)]

    def change_config(self, config: ServiceConfig) -> None:
        """Apply a config changed at run time (admin API); cleared displays go out with the next tick."""
        self.pending.extend(self.apply_config(config))
        self.wake.set()

    def check_stops(self, config: ServiceConfig, source: str = "") -> None:
        """ConfigError when a display names a stop the loaded timetable does not have, with the stops named or
        spelled like it (`source`: where the config came from, e.g. "request body"; default its file)."""
        from displays.core.stop_search import stop_hint

        if self.timetable is None:
            return
        for display in config.displays:
            for stop in display.stops:
                if stop not in self.timetable.stop_index:
                    raise ConfigError(source or config.source, f"unknown stop id '{stop}' (not in the loaded GTFS "
                                      f"feed){stop_hint(self.timetable, stop)}", display.id, "stops")

    def reload_config(self) -> str | None:
        """Re-read the config file; on any error keep running as before and return why. With shared state the
        file's text becomes the new shared config, for every instance."""
        if self.config_path is None:
            return "the service was not started from a config file"
        try:
            text = read_config_text(self.config_path)
            config = parse_config(text, str(self.config_path))
            self.check_stops(config)
        except ConfigError as exc:
            self.last_reload_error = str(exc)
            log.error("config reload failed, keeping the running config: %s", exc)
            return str(exc)
        self.last_reload_error = None
        if self.sharing is not None:  # the file becomes the shared config: run it once it is committed
            from displays.shell.sharing import reload_shared

            self.reloading = asyncio.ensure_future(reload_shared(self, self.sharing))
            return None
        self.change_config(config)
        log.info("config reloaded: %d displays", len(config.displays))
        return None

    # --- feeds ---------------------------------------------------------------------------------

    def load_timetable(self, path: Path) -> None:
        """Load (or reload) the timetable; a failure keeps the one that was good."""
        try:
            timetable = open_timetable(path, self.cache_dir, self.config.feeds.gtfs_max_bytes)
        except FeedError as exc:
            self.timetable_error = str(exc)
            log.error("timetable %s could not be loaded, keeping the previous one: %s", path, exc)
            return
        self.timetable, self.timetable_error = timetable, None
        self.timetable_loaded_at = int(self.clock.now())
        self.wake.set()

    def rules(self) -> RealtimeRules:
        """Realtime trust rules from the config."""
        feeds = self.config.feeds
        return RealtimeRules(stale_after=feeds.stale_after, trip_stale_after=feeds.trip_stale_after,
                             max_deviation=feeds.max_deviation_minutes * 60, frozen_after=feeds.frozen_after,
                             max_early=feeds.max_early, max_speed_kmh=feeds.max_speed_kmh)

    def scheduled_trips(self, now: int) -> int | None:
        """Trips the loaded timetable runs around `now` (None without one): tells a feed's collapse from the night."""
        return None if self.timetable is None else scheduled_trips(self.timetable, now)

    def live_state(self, now: int) -> LiveState | None:
        """Realtime merged against the timetable at `now` (None without realtime sources)."""
        if self.timetable is None or not self.sources:
            return None
        snapshots = [s.snapshot for s in self.sources.values() if s.snapshot is not None]
        live = build_live(self.timetable, snapshots, now, self.rules())
        inputs, seen = self._findings
        if inputs != self._inputs():
            self._findings = (self._inputs(), [live.findings])
        else:
            self._findings = (inputs, [seen[0], live.findings])
        return live

    def findings(self, source: str) -> Findings:
        """What the merge put right in one source's data now shown. Predictions are computed as boards read them,
        and only the first merge of new data composes every board: trips not believed count as the most seen."""
        seen = [f[source] for f in self._findings[1] if source in f]
        if not seen:
            return Findings()
        latest = seen[-1]
        return replace(latest, early=max(f.early for f in seen))

    # --- the one path: compose -> render -> accept -> send -------------------------------------

    def _inputs(self) -> tuple:
        """What every board depends on besides the clock: the timetable, the realtime snapshots, the config."""
        return (id(self.timetable), id(self.config), id(self.editorial), *(id(s.snapshot) for s in self.sources.values()))

    def _composed(self, now: int, force: bool = False) -> Iterator[tuple[DisplayRuntime, Board]]:
        """The boards that changed at `now`. With the same inputs as last time only the displays whose board
        said it changes by now are composed again (a countdown dropping a minute at its own second)."""
        inputs = self._inputs()
        everything = force or inputs != self._last_inputs
        self._last_inputs = inputs
        due = [r for r in self.displays.values()
               if everything or r.board is None or r.frame is None or r.board.next_change <= now]
        if not due:
            return
        try:
            live = self.live_state(now)
        except Exception as exc:  # noqa: BLE001 - a feed the merge cannot take must not stop the boards
            log.exception("merging realtime failed; boards show the timetable: %s", exc)
            live = None
        editorial = self.editorial.current(now)
        shared: dict = {}  # departures by stops: displays at the same stops share one query
        for runtime in due:
            try:
                board = self.compose(runtime.config, runtime.spec, now, live, editorial, runtime.board, shared)
            except Exception as exc:  # noqa: BLE001 - one display's failure never stops the others
                self.display_failed(runtime, "composing its board", exc, now)
                continue
            if force or board != runtime.board or runtime.frame is None:
                yield runtime, board
            else:
                runtime.board = board  # the same texts: only its next change moves on (else it stays due)
                self.bridge.extend_to(runtime.config.id, board.true_until)  # and its frame stays true longer

    def compose(self, display: DisplayConfig, spec: LayoutSpec, now: int, live: LiveState | None, editorial: Editorial,
                previous: Board | None = None, shared: dict | None = None) -> Board:
        """One display's board at `now` from the loaded timetable, `live` and the ops messages in `editorial`."""
        settings = DisplaySettings(
            name=display.name, language=display.language, walk_minutes=display.walk_minutes,
            horizon_minutes=display.horizon_minutes, routes=display.routes, directions=display.directions,
            exclude_routes=display.exclude_routes, hide_ending_here=display.hide_ending_here, night=display.night,
            clock=display.clock, route_labels=display.route_labels,
            pinned_alerts=spec.alert_style == "ticker" and self.bridge.scrolls(display.id),
        )
        return compose_board(self.timetable, live, display.stops, spec, settings, now, previous,
                             realtime_configured=bool(self.config.feeds.realtime), editorial=editorial,
                             scope=self.scope(display), shared=shared)

    def display_failed(self, runtime: DisplayRuntime, stage: str, exc: BaseException | str, now: int) -> None:
        """Record that one display's board could not be made; it keeps its last good frame.

        Logged once per distinct error (with the traceback the first time), counted, shown to ops."""
        reason = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        message = f"{stage} failed: {reason}"
        self.metrics.display_errors.inc()
        if message != runtime.error:
            log.error("display %s: %s (it keeps its last frame)", runtime.config.id, message,
                      exc_info=exc if isinstance(exc, BaseException) else None)
        runtime.error, runtime.error_at = message, now

    def accept(self, runtime: DisplayRuntime, board: Board, rendered: Rendered | str, now: int) -> list[Publish]:
        """Take a rendered board: remember it, wake its live pages, and the publishes that follow.
        `rendered` is the error's text when rendering failed; the display then keeps its last frame."""
        display = runtime.config
        if self.displays.get(display.id) is not runtime:
            return []  # the display was removed or changed while its board was being rendered
        if isinstance(rendered, str):
            self.display_failed(runtime, "rendering", rendered, now)
            return []
        try:
            frame = frame_of(rendered, board_json(board, runtime.spec, display.id, rendered.drawn or None))
            publishes = self.bridge.show(display.id, frame, now, runtime.spec.full_refresh_every, board.true_until,
                                         night=board.night_until > 0)
            ticker, runtime.ticker_hash = ticker_publishes(self.config.mqtt.prefix, display.id, board, runtime.spec,
                                                           runtime.ticker_hash)
            room = self.bridge.room(display.id, "ticker")  # a ticker too long for the packet limit is cleared: the
            publishes += [t if len(t.payload) <= room else replace(t, payload=b"") for t in ticker]  # frames page it
        except Exception as exc:  # noqa: BLE001 - one display's failure never stops the others
            self.display_failed(runtime, "encoding its frame", exc, now)
            return []
        runtime.board, runtime.frame, runtime.rendered_at = board, frame, now
        runtime.error = runtime.error_at = None
        for listener in self.board_listeners:
            listener(display.id)
        return publishes

    async def refresh(self, now: int, force: bool = False, batch: int = 128) -> None:
        """Boards for every display at `now`: each batch of changed boards goes to the renderer as soon
        as it is composed, and rendered batches are accepted and sent in order while composing goes on.
        (128 boards a batch: each batch's round trip to a render worker waits for this process's helper
        threads to get the GIL while it composes; with 32 the worker sat idle a third of a full redraw.)
        Displays whose boards came out identical in the same layout and encoding (pillars side by side at a
        station) share one rendering."""
        started = time.perf_counter()
        queue: asyncio.Queue[tuple[list[_Entry], list[asyncio.Task]] | None] = asyncio.Queue()
        count = 0
        async with asyncio.TaskGroup() as group:
            group.create_task(self._send_rendered(queue, now), name="send rendered")
            try:
                tasks: list[asyncio.Task] = []
                slots: dict[tuple, tuple[int, int]] = {}  # a render job -> (its batch, its place in it)
                entries: list[_Entry] = []
                jobs: list[RenderJob] = []
                for runtime, board in self._composed(now, force):
                    key = (id(runtime.spec), runtime.encoding, runtime.config.compress, board)
                    slot = slots.get(key)
                    if slot is None:
                        slot = slots[key] = (len(tasks), len(jobs))
                        jobs.append((board, runtime.spec, runtime.encoding, runtime.config.compress))
                    entries.append((runtime, board, *slot))
                    if len(jobs) == batch:
                        tasks.append(group.create_task(self.renderer.render(jobs)))
                        queue.put_nowait((entries, tasks))
                        count, entries, jobs = count + len(entries), [], []
                        await asyncio.sleep(0)  # let finished batches go out while composing continues
                if jobs:
                    tasks.append(group.create_task(self.renderer.render(jobs)))
                if entries:
                    queue.put_nowait((entries, tasks))
                    count += len(entries)
            finally:
                queue.put_nowait(None)
        if count:
            self.metrics.observe_render_batch(count, time.perf_counter() - started)
        await self.send(await forecasts(self, now))
        await self.send(self.bridge.tick(now))
        for display_id, reason in self.bridge.failures.items():  # an extension that could not be encoded
            if (failed := self.displays.get(display_id)) is not None:
                self.display_failed(failed, "extending its frame", reason, now)

    async def _send_rendered(self, queue: asyncio.Queue, now: int) -> None:
        while (item := await queue.get()) is not None:
            entries, tasks = item
            publishes: list[Publish] = []
            for runtime, board, batch, index in entries:
                rendered = (await tasks[batch])[index]
                publishes += self.accept(runtime, board, rendered, now)
            await self.send(publishes)

    async def send(self, publishes: Sequence[Publish]) -> None:
        """Send over the pillar link (if any), counting what the broker acknowledged."""
        if not publishes or self.link is None:
            return
        publishes = self._within_max_packet(publishes)
        started = time.perf_counter()
        sent = await self.link.send(publishes)
        self.metrics.publish_refused.inc(len(sent.refused))
        if sent.messages:
            self.metrics.observe_publish(sent.messages, sent.payload_bytes, time.perf_counter() - started)
        if sent.messages + len(sent.refused) < len(publishes):  # the connection failed meanwhile: not all went out
            self.bridge.unsent(publishes)
            self.resend = True

    def _within_max_packet(self, publishes: Sequence[Publish]) -> Sequence[Publish]:
        """The publishes that fit max_packet (docs/mqtt.md); one that does not is a bug, logged and counted, never
        sent (the broker would drop the connection)."""
        limit = self.config.mqtt.max_packet
        fits = [p for p in publishes if len(p.payload) <= packet_room(limit, p.topic)]
        if len(fits) < len(publishes):
            self.metrics.publish_oversize.inc(len(publishes) - len(fits))
            big = next(p for p in publishes if len(p.payload) > packet_room(limit, p.topic))
            log.error("not published: %d message(s) over max_packet %d, e.g. %d bytes to %s", len(publishes) - len(fits),
                      limit, len(big.payload), big.topic)
        return fits

    def next_wake(self, now: int) -> float:
        """When the boards next change by themselves: the next minute, page flip or validity deadline."""
        candidates = [(now // 60 + 1) * 60]
        candidates += [r.board.next_change for r in self.displays.values() if r.board is not None and r.board.next_change > now]
        for deadline in (self.bridge.next_deadline(), self.membership.next_expiry()):
            if deadline is not None:
                candidates.append(max(deadline, now + 1))
        return min(candidates)

    # --- pillars -------------------------------------------------------------------------------

    def on_message(self, topic: str, payload: bytes) -> list[Publish]:
        """A pillar's message: through the protocol, never trusted, logged when rejected; or another
        instance's announcement, or the service status."""
        prefix = self.config.mqtt.prefix
        if topic == service_status_topic(prefix):
            first = not self.settled.is_set()
            self.settled.set()
            try:
                offline = not parse_status("", payload).online
            except ValueError:
                return []  # a cleared or foreign status: nothing to answer
            if not first and offline and not self.stopping.is_set():  # another instance died (its Will): still online
                # (while stopping, the offline status is our own goodbye coming back: never answered)
                return [self.bridge.service_status(True, int(self.clock.now()), self.status_details())]
            return []
        if topic.startswith(instance_topic(prefix, "")):
            return self.on_member(parse_member(prefix, topic, payload, self.membership.identity.secret))
        events, replies = self.bridge.receive(topic, payload, int(self.clock.now()))
        deadline = self.bridge.next_deadline()
        if deadline is not None and deadline < self.planned_wake:
            self.wake.set()  # an answer deferred to the end of its gap (or a wait for an ack) is due before the
            # ticker's next step: it steps now and plans again
        for event in events:
            if isinstance(event, Rejected):
                self.metrics.rejected.inc()
                self.rejections.note(event.topic, event.reason, self.clock.now())
            elif isinstance(event, PillarStatus):
                log.info("pillar %s is %s", event.display_id, "online" if event.online else "offline")
            elif isinstance(event, AudioRequest):
                self.speaker.request(event)
        return replies

    def on_member(self, member: Member | None) -> list[Publish]:
        """Another instance came or went: take over or give back displays as the live set says."""
        if member is None or member.name == self.instance or self.stopping.is_set():
            return []  # (a stopping instance takes nothing over: its displays' new owners do)
        refused = self.membership.refused.get(member.name)
        changed = self.membership.update(member, int(self.clock.now()))
        reason = self.membership.refused.get(member.name)
        if reason and reason != refused:  # logged once per reason, not with every heartbeat
            log.warning("instance %s %s", member.name, reason)
        # Epochs are kept distinct (two instances taking over in the same second would pick the same one):
        # the one with the larger name moves on, so that every frame tells which instance made it.
        joined = member.name in self.membership.members and member.online
        clash = self.raise_epoch() if joined and member.epoch == self.bridge.epoch and self.instance > member.name else []
        if not changed:
            return clash
        log.info("instance %s is %s; live: %s", member.name, "online" if member.online else "offline",
                 ", ".join(self.membership.live()))
        return clash + (self.apply_config(self.config) if self.shard[1] == 1 else [])

    def hello(self) -> list[Publish]:
        """What the link sends on every (re)connect: the service's status and every retained frame."""
        now = int(self.clock.now())
        self.speaker.again()  # the broker may have lost the retained audio too
        for runtime in self.displays.values():
            runtime.ticker_hash = None  # and the tickers: sent again with each display's next board
        return [self.bridge.service_status(True, now, self.status_details()), *self.bridge.republish_all(now)]

    def goodbye(self, now: int) -> list[Publish]:
        """What a clean stop says: this instance is offline (the others take its displays over at once), and
        the service is offline when no other instance is live."""
        out = [self.announcement(online=False)] if self.shard[1] == 1 else []
        if self.membership.live() == (self.instance,):
            out.append(self.bridge.service_status(False, now))
        return out

    def will(self) -> Publish:
        """The service's Last Will: its status, offline."""
        return self.bridge.service_status(False, int(self.clock.now()), self.status_details())

    def status_details(self) -> dict:
        """What the service's retained status says about itself."""
        return {"displays": len(self.displays), "shard": f"{self.shard[0]}/{self.shard[1]}", "instance": self.instance}

    # --- running -------------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Load the timetable and make the realtime sources from the config (unless given)."""
        from displays.shell.wiring import realtime_sources

        self._session = aiohttp.ClientSession()
        self._gtfs_path = await fetch_gtfs(self.config.resolve(self.config.feeds.gtfs), self._session, self.downloads())
        await asyncio.to_thread(self.load_timetable, self._gtfs_path)
        if self.timetable is None:
            log.error("no timetable: every board says 'no current data' until one loads")
        if self._own_sources:
            self.sources = realtime_sources(self.config, self._session, self.clock, self.random.random,
                                            on_update=self.feed_updated, scheduled=self.scheduled_trips)

    def downloads(self) -> Path:
        """Where a GTFS feed given as a URL is downloaded to (and kept): the state folder's gtfs/."""
        return self.config.state_dir() / "gtfs"

    async def refetch_timetable(self) -> None:
        """Fetch the GTFS feed again (If-None-Match for URLs) and swap in the timetable when it changed."""
        if self._session is None:
            return
        path = await fetch_gtfs(self.config.resolve(self.config.feeds.gtfs), self._session, self.downloads())
        await asyncio.to_thread(self.load_timetable, path)

    async def close(self) -> None:
        """Release the HTTP session, the renderer and the state store."""
        self.store.close()
        if self._session is not None:
            await self._session.close()
        close = getattr(self.renderer, "close", None)
        if close is not None:
            close()

    async def fetch_all(self) -> None:
        """Fetch every realtime source once."""
        await asyncio.gather(*(s.fetch_once() for s in self.sources.values()))

    def feed_updated(self) -> None:
        """A realtime source has new data: render now, and time how long until its frames are sent."""
        if self._update_arrived is None:
            self._update_arrived = time.perf_counter()
        self.wake.set()

    async def step(self) -> float:
        """One turn of the service: pending publishes, then the boards at the clock's now; returns
        the seconds until the next turn is due (the next minute, page flip or validity deadline)."""
        self.wake.clear()  # before the refresh: a feed update arriving during it wakes us again at once
        now = int(self.clock.now())
        pending, self.pending = self.pending, []
        if self.membership.expire(now) and self.shard[1] == 1:  # an instance stopped announcing itself: it is gone
            log.info("an instance's announcement went stale; live: %s", ", ".join(self.membership.live()))
            pending += self.apply_config(self.config)
        if self.resend and self.broker_connected:  # what a failed send lost: every retained frame, and the pillars
            self.resend = False
            pending += self.bridge.republish_all(now)
            self.speaker.again()
        await self.send(pending)
        arrived, self._update_arrived = self._update_arrived, None
        published = self.metrics.sent
        await self.refresh(now)
        if arrived is not None and self.metrics.sent > published:
            self.metrics.update_latency.observe(time.perf_counter() - arrived)
        self.planned_wake = self.next_wake(now)
        return max(0.05, self.planned_wake - self.clock.now())

    async def run(self, extra_tasks: list | None = None) -> None:
        """Serve until stop() (or a cancellation): sources, ticker, pillar link, extra tasks."""
        from displays.shell.running import run

        await run(self, extra_tasks or [])

    async def run_once(self) -> int:
        """Render every display once and publish it all in one connection; the exit status."""
        from displays.shell.running import run_once

        return await run_once(self)

    def stop(self) -> None:
        """Ask run() to finish."""
        self.stopping.set()

