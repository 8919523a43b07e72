"""The service's node: feeds in, boards rendered, frames published over MQTT and served over HTTP.

The imperative shell around the engine (displays/core/engine.py), which decides everything without I/O.
The node owns the I/O: the clock it reads `now` from, the realtime sources, the pillar link, the renderer,
the state store, the speech and the metrics; displays/shell/wiring.py builds the production ones when
none are given. `refresh(now)` is the one path from inputs to published frames:
compose (the engine) -> render (the renderer) -> accept (the engine) -> send (the link); its second half
(accept and send) is displays/shell/publishing.py, and the engine's state is read through
displays/shell/engine_view.py, the service's base classes.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

from displays.config.model import ConfigError, ServiceConfig
from displays.config.parse import parse_config, read_config_text
from displays.core.composing import rules_of
from displays.core.engine import Changes, DisplayRuntime, Engine, identity_of
from displays.core.instances import Identity, Member, parse_member
from displays.core.notices import Editorial
from displays.core.pillar_limits import RejectionLog
from displays.core.ports import FeedSource, PillarLink, Renderer
from displays.shell import running, wiring
from displays.shell.clock import Clock
from displays.shell.metrics import Metrics
from displays.shell.predicting import forecasts
from displays.shell.publishing import Entry, Publishing
from displays.shell.rendering import InlineRenderer
from displays.shell.sharing import reload_shared
from displays.shell.speaking import Speaker
from displays.shell.state import default_instance_name
from displays.shell.store import StoreError, load_editorial
from displays.shell.voice import EspeakSynthesizer, Synthesizer
from feeds.cache import open_timetable
from feeds.errors import FeedError
from feeds.guard import scheduled_trips
from feeds.live import LiveState
from feeds.realtime import RealtimeRules
from firmware_bridge.messages import parse_status
from firmware_bridge.protocol import AudioRequest, PillarStatus, Publish, Rejected
from firmware_bridge.topics import instance_topic, service_status_topic

__all__ = ["DisplayRuntime", "Service"]

log = logging.getLogger("stopcast.service")


class Service(Publishing):
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
            # stored times carry their offset
            self.engine.editorial = load_editorial(self.store, "UTC", self.started_at)
        except StoreError as exc:
            self.store_error = str(exc)
            log.error("%s; messages and suppressions start empty", exc)

    # --- what the engine holds (read through EngineView, displays/shell/engine_view.py) ----------

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

    def change_config(self, config: ServiceConfig) -> None:
        """Apply a config changed at run time (admin API); cleared displays go out with the next tick."""
        self.pending.extend(self.apply_config(config))
        self.wake.set()

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

    def live_state(self, now: int) -> LiveState | None:
        """Realtime merged against the timetable at `now` (None without realtime sources)."""
        return self.engine.live_state(now, self.snapshots())

    # --- the one path: compose -> render -> accept -> send -------------------------------------

    def inputs(self) -> tuple:
        """What every board depends on besides the clock: the timetable, the realtime snapshots, the config."""
        return self.engine.inputs(self.snapshots())

    async def refresh(self, now: int, force: bool = False, batch: int = 128) -> None:
        """Boards for every display at `now`: each batch of changed boards goes to the renderer as soon
        as it is composed, and rendered batches are accepted and sent in order while composing goes on.
        (128 boards a batch: each batch's round trip to a render worker waits for this process's helper
        threads to get the GIL while it composes; with 32 the worker sat idle a third of a full redraw.)
        Displays whose boards came out identical in the same layout and encoding (pillars side by side at a
        station) share one rendering."""
        started = time.perf_counter()
        queue: asyncio.Queue[tuple[list[Entry], list[asyncio.Task]] | None] = asyncio.Queue()
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
