"""The service's node: feeds in, boards rendered, frames published over MQTT and served over HTTP.

The imperative shell around the engine (displays/core/engine.py), which decides everything without I/O.
The node owns the I/O: the clock it reads `now` from, the realtime sources, the pillar link, the renderer,
the state store, the speech and the metrics; displays/shell/wiring.py builds the production ones when
none are given. `refresh(now)` is the one path from inputs to published frames:
compose (the engine) -> render (the renderer) -> accept (the engine) -> send (the link).
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import aiohttp

from displays.config.model import ConfigError, DisplayConfig, ServiceConfig
from displays.config.parse import parse_config, read_config_text
from displays.core.composing import rules_of
from displays.core.engine import Changes, DisplayRuntime, Engine, identity_of
from displays.core.frames import Rendered
from displays.core.instances import Identity, Member, Membership, parse_member
from displays.core.notices import Editorial, Scope
from displays.core.pillar_limits import RejectionLog
from displays.core.ports import FeedSource, PillarLink, Renderer
from displays.shell import running, wiring
from displays.shell.clock import Clock
from displays.shell.metrics import Metrics
from displays.shell.predicting import forecasts
from displays.shell.rendering import InlineRenderer
from displays.shell.sharing import reload_shared
from displays.shell.speaking import Speaker
from displays.shell.state import default_instance_name
from displays.shell.store import StoreError, load_editorial
from displays.shell.voice import EspeakSynthesizer, Synthesizer
from feeds.cache import open_timetable
from feeds.errors import FeedError
from feeds.guard import scheduled_trips
from feeds.live import Findings, LiveState
from feeds.realtime import RealtimeRules
from feeds.timetable import Timetable
from firmware_bridge.messages import packet_room, parse_status
from firmware_bridge.protocol import AudioRequest, Bridge, PillarStatus, Publish, Rejected
from firmware_bridge.topics import instance_topic, service_status_topic
from layouts.board import Board
from layouts.spec import LayoutSpec

__all__ = ["DisplayRuntime", "Service"]

log = logging.getLogger("stopcast.service")

_Entry = tuple[DisplayRuntime, Board, int, int]  # a display's new board and where its rendering is (batch, index)


class Service:
    """One stopcast instance (or one shard of several): the engine and the I/O that feeds it."""

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
        self.clock, self.config_path, self.cache_dir = clock, config_path, cache_dir  # cache_dir: the timetable's
        started = int(clock.now())
        self.engine = Engine(config, instance=instance or default_instance_name(), started_at=started,
                             epoch=wiring.start_epoch(config, config_path, started), shard=shard)
        self.settled = asyncio.Event()  # the live instances are known (set by the first service status seen)
        self.timetable_error: str | None = None
        self.timetable_loaded_at: int | None = None
        self.sources: dict[str, FeedSource] = sources if sources is not None else {}
        self._own_sources = sources is None  # made from the config in prepare()
        self.link = link
        self.renderer: Renderer = renderer or InlineRenderer()
        self.metrics = Metrics()
        self._failures_counted = 0  # the engine's failures already counted in the metrics
        self.last_reload_error: str | None = None
        self.reloading: asyncio.Future | None = None  # a SIGHUP's reload being committed to the shared state
        self.wake = asyncio.Event()
        self.planned_wake = float("inf")  # when the ticker steps next: an earlier deadline from a pillar wakes it
        self.rejections = RejectionLog()
        self.stopping = asyncio.Event()
        self.pending: list[Publish] = []  # publishes to send with the next tick (e.g. cleared displays)
        self.broker_address: tuple[str, int] | None = None  # where an embedded broker listens
        adapters = wiring.state_adapters(config, config_path)
        self.sharing, self.audit, self.store = adapters.sharing, adapters.audit, adapters.store
        self.store_error = adapters.store_error
        self.store_write_error: str | None = None  # the last change the state store refused (disk full ...)
        self.board_listeners: list[Callable[[str], None]] = []  # told each display id whose board changed
        self.speaker = Speaker(self, synthesizer or EspeakSynthesizer())
        self.http_url, self.http_ready = "", asyncio.Event()  # where the HTTP server listens, once it does
        self._session: aiohttp.ClientSession | None = None
        self.random = random.Random()
        self._update_arrived: float | None = None  # perf_counter() of the first feed update not yet rendered
        self.resend = False  # a send failed part-way: republish everything with the next step
        self.apply_config(config)
        self._load_editorial()

    def _load_editorial(self) -> None:
        """The messages and suppressions kept in the state store (empty when it cannot be read)."""
        try:
            self.engine.editorial = load_editorial(self.store, "UTC", self.started_at)  # stored times carry their offset
        except StoreError as exc:
            self.store_error = str(exc)
            log.error("%s; messages and suppressions start empty", exc)

    # --- what the engine holds -----------------------------------------------------------------

    @property
    def config(self) -> ServiceConfig:
        return self.engine.config

    @property
    def displays(self) -> dict[str, DisplayRuntime]:
        return self.engine.displays

    @property
    def bridge(self) -> Bridge:
        return self.engine.bridge

    @property
    def membership(self) -> Membership:
        return self.engine.membership

    @property
    def timetable(self) -> Timetable | None:
        return self.engine.timetable

    @property
    def editorial(self) -> Editorial:
        return self.engine.editorial

    @property
    def instance(self) -> str:
        return self.engine.instance

    @property
    def shard(self) -> tuple[int, int]:
        return self.engine.shard

    @property
    def started_at(self) -> int:
        return self.engine.started_at

    @property
    def displays_were_set(self) -> bool:
        return self.engine.displays_were_set

    def timezone(self) -> str:
        """The agency's timezone (the loaded timetable's; UTC before one loads)."""
        return self.timetable.timezone if self.timetable is not None else "UTC"

    def scope(self, display: DisplayConfig) -> Scope:
        """What a display covers for ops messages (displays/core/engine.py)."""
        return self.engine.scope(display)

    def set_editorial(self, editorial: Editorial) -> None:
        """Swap in changed messages and suppressions: every board is composed again at once."""
        self.engine.editorial = editorial
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
        """Whether this instance renders and publishes that display (displays/core/engine.py)."""
        return self.engine.owns(display_id)

    def _changed(self, changes: Changes) -> list[Publish]:
        """The publishes of a change of the registry, with the spoken texts of removed displays cleared; a
        changed registry is rendered at once."""
        if changes.reconfigured:
            self.wake.set()
        return [*changes.publishes, *(p for d in changes.removed for p in self.speaker.cleared(d))]

    def apply_config(self, config: ServiceConfig) -> list[Publish]:
        """Swap in a validated config; keeps the boards of displays whose settings did not change."""
        return self._changed(self.engine.apply_config(config, int(self.clock.now()), self.advertised_http()))

    def raise_epoch(self) -> list[Publish]:
        """Taking displays over: an epoch above every one seen, announced at once."""
        return self.engine.raise_epoch(int(self.clock.now()), self.advertised_http())

    @staticmethod
    def identity(config: ServiceConfig) -> Identity:
        """What makes this instance's deployment: its name, its display set and its shared secret."""
        return identity_of(config)

    def advertised_http(self) -> str:
        """The HTTP address the others may pass requests to (a wildcard address as this host's name)."""
        host = socket.gethostname()
        return self.http_url.replace("//0.0.0.0:", f"//{host}:").replace("//[::]:", f"//{host}:")

    def announcement(self, online: bool = True) -> Publish:
        """This instance's retained announcement (offline: its Last Will, and always once it is stopping)."""
        self.engine.stopping = self.stopping.is_set()
        return self.engine.announcement(int(self.clock.now()), self.advertised_http(), online)

    def subscriptions(self) -> list[str]:
        """What the service subscribes to (displays/core/engine.py)."""
        return self.engine.subscriptions()

    def change_config(self, config: ServiceConfig) -> None:
        """Apply a config changed at run time (admin API); cleared displays go out with the next tick."""
        self.pending.extend(self.apply_config(config))
        self.wake.set()

    def check_stops(self, config: ServiceConfig, source: str = "") -> None:
        """ConfigError when a display names a stop the loaded timetable does not have."""
        self.engine.check_stops(config, source)

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
        self.engine.timetable, self.timetable_error = timetable, None
        self.timetable_loaded_at = int(self.clock.now())
        self.wake.set()

    def rules(self) -> RealtimeRules:
        """Realtime trust rules from the config."""
        return rules_of(self.config.feeds)

    def scheduled_trips(self, now: int) -> int | None:
        """Trips the loaded timetable runs around `now` (None without one): tells a feed's collapse from the night."""
        return None if self.timetable is None else scheduled_trips(self.timetable, now)

    def snapshots(self) -> list:
        """The realtime data each source holds now (None before its first)."""
        return [s.snapshot for s in self.sources.values()]

    def live_state(self, now: int) -> LiveState | None:
        """Realtime merged against the timetable at `now` (None without realtime sources)."""
        return self.engine.live_state(now, self.snapshots())

    def findings(self, source: str) -> Findings:
        """What the merge put right in one source's data now shown (displays/core/engine.py)."""
        return self.engine.findings(source)

    # --- the one path: compose -> render -> accept -> send -------------------------------------

    def inputs(self) -> tuple:
        """What every board depends on besides the clock: the timetable, the realtime snapshots, the config."""
        return self.engine.inputs(self.snapshots())

    def compose(self, display: DisplayConfig, spec: LayoutSpec, now: int, live: LiveState | None, editorial: Editorial,
                previous: Board | None = None, shared: dict | None = None) -> Board:
        """One display's board at `now` (displays/core/composing.py)."""
        return self.engine.compose(display, spec, now, live, editorial, previous, shared)

    def _count_failures(self) -> None:
        if self.engine.failures > self._failures_counted:
            self.metrics.display_errors.inc(self.engine.failures - self._failures_counted)
            self._failures_counted = self.engine.failures

    def display_failed(self, runtime: DisplayRuntime, stage: str, exc: BaseException | str, now: int) -> None:
        """Record that one display's board could not be made; it keeps its last good frame."""
        self.engine.display_failed(runtime, stage, exc, now)
        self._count_failures()

    def accept(self, runtime: DisplayRuntime, board: Board, rendered: Rendered | str, now: int) -> list[Publish]:
        """Take a rendered board: the engine remembers it, its live pages wake, and the publishes that follow."""
        publishes = self.engine.accept(runtime, board, rendered, now)
        self._count_failures()
        if publishes is None:
            return []
        for listener in self.board_listeners:
            listener(runtime.config.id)
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
                count = await self._render_changed(group, queue, now, force, batch)
            finally:
                queue.put_nowait(None)
        if count:
            self.metrics.observe_render_batch(count, time.perf_counter() - started)
        await self.send(await forecasts(self, now))
        await self.send(self.engine.tick(now))
        self._count_failures()

    async def _render_changed(self, group: asyncio.TaskGroup, queue: asyncio.Queue, now: int, force: bool,
                              batch: int) -> int:
        """Compose the changed boards and hand them to the renderer in batches; how many were composed."""
        count = 0
        tasks: list[asyncio.Task] = []
        slots: dict[tuple, tuple[int, int]] = {}  # a render job -> (its batch, its place in it)
        entries: list[_Entry] = []
        jobs: list = []
        for runtime, board in self.engine.composed(now, self.snapshots(), force):
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
        self._count_failures()
        if jobs:
            tasks.append(group.create_task(self.renderer.render(jobs)))
        if entries:
            queue.put_nowait((entries, tasks))
            count += len(entries)
        return count

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
        """When the boards next change by themselves (displays/core/engine.py)."""
        return self.engine.next_wake(now)

    # --- pillars -------------------------------------------------------------------------------

    def on_message(self, topic: str, payload: bytes) -> list[Publish]:
        """A pillar's message: through the protocol, never trusted, logged when rejected; or another
        instance's announcement, or the service status."""
        prefix = self.config.mqtt.prefix
        if topic == service_status_topic(prefix):
            return self._on_service_status(payload)
        if topic.startswith(instance_topic(prefix, "")):
            return self.on_member(parse_member(prefix, topic, payload, self.membership.identity.secret))
        events, replies = self.engine.receive(topic, payload, int(self.clock.now()))
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

    def _on_service_status(self, payload: bytes) -> list[Publish]:
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

    def on_member(self, member: Member | None) -> list[Publish]:
        """Another instance came or went: take over or give back displays as the live set says."""
        self.engine.stopping = self.stopping.is_set()
        return self._changed(self.engine.on_member(member, int(self.clock.now()), self.advertised_http()))

    def hello(self) -> list[Publish]:
        """What the link sends on every (re)connect: the service's status and every retained frame."""
        self.speaker.again()  # the broker may have lost the retained audio too
        return self.engine.hello(int(self.clock.now()))

    def goodbye(self, now: int) -> list[Publish]:
        """What a clean stop says: this instance is offline, and the service when no other instance is live."""
        self.engine.stopping = self.stopping.is_set()
        return self.engine.goodbye(now, self.advertised_http())

    def will(self) -> Publish:
        """The service's Last Will: its status, offline."""
        return self.bridge.service_status(False, int(self.clock.now()), self.status_details())

    def status_details(self) -> dict:
        """What the service's retained status says about itself."""
        return self.engine.status_details()

    # --- running -------------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Load the timetable and make the realtime sources from the config (unless given)."""
        self._session = aiohttp.ClientSession()
        gtfs = await wiring.fetch_timetable(self.config, self._session, self.downloads())
        await asyncio.to_thread(self.load_timetable, gtfs)
        if self.timetable is None:
            log.error("no timetable: every board says 'no current data' until one loads")
        if self._own_sources:
            self.sources = wiring.realtime_sources(self.config, self._session, self.clock, self.random.random,
                                                   on_update=self.feed_updated, scheduled=self.scheduled_trips)

    def downloads(self) -> Path:
        """Where a GTFS feed given as a URL is downloaded to (and kept): the state folder's gtfs/."""
        return self.config.state_dir() / "gtfs"

    async def refetch_timetable(self) -> None:
        """Fetch the GTFS feed again (If-None-Match for URLs) and swap in the timetable when it changed."""
        if self._session is None:
            return
        path = await wiring.fetch_timetable(self.config, self._session, self.downloads())
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
        self.engine.stopping = self.stopping.is_set()
        pending += self._changed(self.engine.expire(now, self.advertised_http()))
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
        await running.run(self, extra_tasks or [])

    async def run_once(self) -> int:
        """Render every display once and publish it all in one connection; the exit status."""
        return await running.run_once(self)

    def stop(self) -> None:
        """Ask run() to finish."""
        self.stopping.set()
        self.engine.stopping = True
