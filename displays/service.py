"""The service: feeds in, boards rendered, frames published over MQTT and served over HTTP.

The imperative shell around the pure core: pollers, the clock, the broker session and reloads
live here; `refresh(now)` turns the current inputs into publishes with the pure functions.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import random
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiohttp
import aiomqtt

from feeds.cache import open_timetable
from feeds.errors import FeedError
from feeds.live import LiveState, build_live
from feeds.poller import FeedPoller
from feeds.realtime import RealtimeRules
from feeds.timetable import Timetable
from firmware_bridge import client as mqtt
from firmware_bridge.protocol import Bridge, Frame, PillarStatus, Publish, Rejected
from layouts.board import Board, DisplaySettings
from layouts.export import board_json
from layouts.spec import LayoutSpec

from .boards import compose_board
from .clock import Clock
from .config import ConfigError, DisplayConfig, ServiceConfig, encoding_of, layout_of, load_config
from .frames import Rendered, frame_of, render, render_batch
from .gtfs_fetch import fetch_gtfs
from .metrics import Metrics
from .sharding import owner

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
    subscribers: set[asyncio.Queue[str]] = field(default_factory=set)  # live HTML boards waiting for changes
    device: dict = field(default_factory=dict)  # what a pulling device (TRMNL) last reported
    pulled: dict[str, bytes] = field(default_factory=dict)  # the current frame in pull formats
    pulled_hash: int | None = None
    last_pull: int | None = None  # when a device last fetched this display over HTTP
    error: str | None = None  # why composing or rendering its board last failed (None: it worked)
    error_at: int | None = None


class Service:
    """One stopcast instance (or one shard of several)."""

    def __init__(
        self,
        config: ServiceConfig,
        clock: Clock,
        *,
        config_path: Path | None = None,
        cache_dir: Path | None = None,
        shard: tuple[int, int] = (1, 1),
    ) -> None:
        self.config = config
        self.clock = clock
        self.config_path = config_path
        self.cache_dir = cache_dir
        self.shard = shard
        self.timetable: Timetable | None = None
        self.timetable_error: str | None = None
        self.timetable_loaded_at: int | None = None
        self.pollers: dict[str, FeedPoller] = {}
        self.displays: dict[str, DisplayRuntime] = {}
        self.bridge = Bridge(config.mqtt.prefix, config.mqtt.max_packet, config.mqtt.frame_ttl)
        self.metrics = Metrics()
        self.broker_connected = False
        self.broker_error = ""
        self.last_reload_error: str | None = None
        self.wake = asyncio.Event()
        self.stopping = asyncio.Event()
        self.pending: list[Publish] = []  # publishes to send with the next tick (e.g. cleared displays)
        self.broker_address: tuple[str, int] | None = None  # where an embedded broker listens
        self.http_url = ""
        self.http_ready = asyncio.Event()
        self.started_at = int(clock.now())
        self._client: aiomqtt.Client | None = None
        self._session: aiohttp.ClientSession | None = None
        self._gtfs_path: Path | None = None
        self._random = random.Random()
        self.apply_config(config)

    # --- configuration -------------------------------------------------------------------------

    def owns(self, display_id: str) -> bool:
        """Whether this instance renders and publishes that display."""
        return owner(display_id, self.shard[1]) == self.shard[0]

    def apply_config(self, config: ServiceConfig) -> list[Publish]:
        """Swap in a validated config; keeps the boards of displays whose settings did not change."""
        runtimes: dict[str, DisplayRuntime] = {}
        for display in config.displays:
            if not self.owns(display.id):
                continue
            spec = layout_of(config, display)
            old = self.displays.get(display.id)
            if old is not None and old.config == display and old.spec == spec:
                runtimes[display.id] = old
            else:
                runtimes[display.id] = DisplayRuntime(display, spec, encoding_of(display, spec),
                                                      subscribers=old.subscribers if old else set(),
                                                      device=old.device if old else {},
                                                      last_pull=old.last_pull if old else None)
        removed = [d for d in self.displays if d not in runtimes]
        publishes = [p for d in removed for p in self.bridge.remove(d)]
        self.config = config
        self.displays = runtimes
        self.wake.set()
        return publishes

    def check_stops(self, config: ServiceConfig) -> None:
        """ConfigError when a display names a stop the loaded timetable does not have."""
        if self.timetable is None:
            return
        for display in config.displays:
            for stop in display.stops:
                if stop not in self.timetable.stop_index:
                    raise ConfigError(config.source, f"unknown stop id '{stop}' (not in the loaded GTFS feed)", display.id, "stops")

    def reload_config(self) -> str | None:
        """Re-read the config file; on any error keep running as before and return why."""
        if self.config_path is None:
            return "the service was not started from a config file"
        try:
            config = load_config(self.config_path)
            self.check_stops(config)
        except ConfigError as exc:
            self.last_reload_error = str(exc)
            log.error("config reload failed, keeping the running config: %s", exc)
            return str(exc)
        self.last_reload_error = None
        self.pending.extend(self.apply_config(config))
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
        return RealtimeRules(stale_after=feeds.stale_after, max_deviation=feeds.max_deviation_minutes * 60)

    def live_state(self, now: int) -> LiveState | None:
        """Realtime merged against the timetable at `now` (None without realtime sources)."""
        if self.timetable is None or not self.pollers:
            return None
        snapshots = [p.snapshot for p in self.pollers.values() if p.snapshot is not None]
        return build_live(self.timetable, snapshots, now, self.rules())

    # --- the core step -------------------------------------------------------------------------

    def compose(self, now: int, force: bool = False) -> list[tuple[DisplayRuntime, Board]]:
        """The boards at `now` that differ from what each display shows (all of them with `force`)."""
        return list(self._composed(now, force))

    def _composed(self, now: int, force: bool = False) -> Iterator[tuple[DisplayRuntime, Board]]:
        try:
            live = self.live_state(now)
        except Exception as exc:  # noqa: BLE001 - a feed the merge cannot take must not stop the boards
            log.exception("merging realtime failed; boards show the timetable: %s", exc)
            live = None
        for runtime in list(self.displays.values()):
            display = runtime.config
            settings = DisplaySettings(
                name=display.name, language=display.language, walk_minutes=display.walk_minutes,
                horizon_minutes=display.horizon_minutes, routes=display.routes, directions=display.directions,
            )
            try:
                board = compose_board(self.timetable, live, display.stops, runtime.spec, settings, now, runtime.board,
                                      realtime_configured=bool(self.config.feeds.realtime))
            except Exception as exc:  # noqa: BLE001 - one display's failure never stops the others
                self.display_failed(runtime, "composing its board", exc, now)
                continue
            if force or board != runtime.board or runtime.frame is None:
                yield runtime, board

    def display_failed(self, runtime: DisplayRuntime, stage: str, exc: BaseException | str, now: int) -> None:
        """Record that one display's board could not be made; it keeps its last good frame.

        Logged once per distinct error (with the traceback the first time), counted, shown to ops."""
        reason = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        message = f"{stage} failed: {reason}"
        self.metrics.display_errors += 1
        if message != runtime.error:
            log.error("display %s: %s (it keeps its last frame)", runtime.config.id, message,
                      exc_info=exc if isinstance(exc, BaseException) else None)
        runtime.error, runtime.error_at = message, now

    def accept(self, runtime: DisplayRuntime, board: Board, rendered: Rendered, now: int) -> list[Publish]:
        """Take a rendered board: remember it, wake its live pages, and the publishes that follow."""
        display = runtime.config
        if self.displays.get(display.id) is not runtime:
            return []  # the display was removed or changed while its board was being rendered
        frame = frame_of(rendered, board_json(board, runtime.spec, display.id))
        runtime.board, runtime.frame, runtime.rendered_at = board, frame, now
        runtime.error = runtime.error_at = None
        for queue in runtime.subscribers:
            if not queue.full():
                queue.put_nowait("board")
        return self.bridge.show(display.id, frame, now, runtime.spec.full_refresh_every)

    def refresh(self, now: int, force: bool = False) -> list[Publish]:
        """Boards for every display at `now`, rendered here; the publishes that follow."""
        publishes: list[Publish] = []
        for runtime, board in self.compose(now, force):
            started = time.perf_counter()
            try:
                rendered = render(board, runtime.spec, runtime.encoding, runtime.config.compress)
                publishes += self.accept(runtime, board, rendered, now)
            except Exception as exc:  # noqa: BLE001 - one display's failure never stops the others
                self.display_failed(runtime, "rendering", exc, now)
                continue
            self.metrics.observe_render(time.perf_counter() - started)
        return publishes + self.bridge.tick(now)

    def _accept_rendered(self, runtime: DisplayRuntime, board: Board, rendered: Rendered | str, now: int) -> list[Publish]:
        """accept() for a pool result, which is the error's text when rendering failed there."""
        if isinstance(rendered, str):
            self.display_failed(runtime, "rendering", rendered, now)
            return []
        try:
            return self.accept(runtime, board, rendered, now)
        except Exception as exc:  # noqa: BLE001 - one display's failure never stops the others
            self.display_failed(runtime, "encoding its frame", exc, now)
            return []

    async def refresh_on_pool(self, now: int, pool: Executor, batch: int = 32) -> None:
        """As refresh(), with the rendering on the pool's processes: each batch of changed boards goes
        to the pool as soon as it is composed, and finished batches are published while composing goes on."""
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        queue: asyncio.Queue = asyncio.Queue()
        count = 0

        async def publish_finished() -> None:
            while (item := await queue.get()) is not None:
                chunk, future = item
                rendered = await future
                await self.publish([p for (runtime, board), r in zip(chunk, rendered)
                                    for p in self._accept_rendered(runtime, board, r, now)])

        consumer = asyncio.create_task(publish_finished())
        chunk: list[tuple[DisplayRuntime, Board]] = []
        for item in self._composed(now):
            chunk.append(item)
            if len(chunk) == batch:
                queue.put_nowait((chunk, loop.run_in_executor(pool, render_batch, _jobs(chunk))))
                count += len(chunk)
                chunk = []
                await asyncio.sleep(0)  # let finished batches go out while composing continues
        if chunk:
            queue.put_nowait((chunk, loop.run_in_executor(pool, render_batch, _jobs(chunk))))
            count += len(chunk)
        queue.put_nowait(None)
        await consumer
        if count:
            self.metrics.observe_render_batch(count, time.perf_counter() - started)
        await self.publish(self.bridge.tick(now))

    def next_wake(self, now: int) -> float:
        """When the boards next change by themselves: the next minute, page flip or validity deadline."""
        candidates = [(now // 60 + 1) * 60]
        candidates += [r.board.next_change for r in self.displays.values() if r.board is not None and r.board.next_change > now]
        deadline = self.bridge.next_deadline()
        if deadline is not None:
            candidates.append(max(deadline, now + 1))
        return min(candidates)

    # --- MQTT ----------------------------------------------------------------------------------

    def broker(self) -> mqtt.BrokerSettings:
        """Broker settings from the config."""
        m = self.config.mqtt
        host, port = self.broker_address or (m.host, m.port)
        return mqtt.BrokerSettings(
            host=host, port=port, username=m.username, password=m.password, client_id=m.client_id,
            tls=m.tls, ca_file=m.ca_file, cert_file=m.cert_file, key_file=m.key_file, keepalive=m.keepalive,
            version=m.version,
        )

    async def publish(self, publishes: list[Publish]) -> None:
        """Send publishes if connected; otherwise they are sent again after the reconnect."""
        if not publishes:
            return
        client = self._client
        if client is None:
            return
        started = time.perf_counter()
        refused: list[tuple[str, str]] = []
        try:
            sent = await mqtt.publish_all(client, publishes, self.config.mqtt.version, refused=refused)
        except mqtt.BridgeError as exc:
            log.warning("%s; frames follow after the reconnect", exc)
            return
        self.metrics.publish_refused += len(refused)
        self.metrics.observe_publish(len(publishes) - len(refused), sent, time.perf_counter() - started)

    def on_message(self, topic: str, payload: bytes, now: int) -> list[Publish]:
        """A pillar's message: through the protocol, never trusted, logged when rejected."""
        events, replies = self.bridge.receive(topic, payload, now)
        for event in events:
            if isinstance(event, Rejected):
                self.metrics.rejected += 1
                log.warning("ignored pillar message on %s: %s", event.topic, event.reason)
            elif isinstance(event, PillarStatus):
                log.info("pillar %s is %s", event.display_id, "online" if event.online else "offline")
        return replies

    async def _mqtt_session(self, client: aiomqtt.Client) -> None:
        now = int(self.clock.now())
        await mqtt.subscribe_all(client, self.bridge.subscriptions())
        self._client = client
        await mqtt.publish_all(client, [self.bridge.service_status(True, now, self.status_details())], self.config.mqtt.version)
        await self.publish(self.bridge.republish_all(now))
        async for topic, payload in mqtt.messages(client):
            await self.publish(self.on_message(topic, payload, int(self.clock.now())))

    def _broker_state(self, connected: bool, error: str) -> None:
        self.broker_connected, self.broker_error = connected, error
        if not connected:
            self._client = None
            self.metrics.reconnects += 1

    def status_details(self) -> dict:
        """What the service's retained status says about itself."""
        return {"displays": len(self.displays), "shard": f"{self.shard[0]}/{self.shard[1]}"}

    # --- running -------------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Load the timetable and make the pollers (before the first refresh)."""
        self._session = aiohttp.ClientSession()
        self._gtfs_path = await fetch_gtfs(self.config.resolve(self.config.feeds.gtfs), self._session, self.cache_dir)
        await asyncio.to_thread(self.load_timetable, self._gtfs_path)
        if self.timetable is None:
            log.error("no timetable: every board says 'no current data' until one loads")
        self.pollers = {
            s.url: FeedPoller(replace(s, url=self.config.resolve(s.url)), self._session, self.clock.now,
                              self._random.random, on_update=lambda _snapshot: self.wake.set())
            for s in self.config.feeds.realtime
        }

    async def close(self) -> None:
        """Release the HTTP session."""
        if self._session is not None:
            await self._session.close()

    async def run_once(self) -> int:
        """Render and publish every display once, wait for the broker's PUBACKs; the exit status."""
        await self.prepare()
        try:
            await asyncio.gather(*(p.fetch_once() for p in self.pollers.values()))
            now = int(self.clock.now())
            publishes = self.refresh(now, force=True)
            will = self.bridge.service_status(False, now, self.status_details())
            async with mqtt.connect(self.broker(), will) as client:
                version = self.config.mqtt.version
                await mqtt.publish_all(client, [self.bridge.service_status(True, now, self.status_details())], version)
                await mqtt.publish_all(client, publishes, version)
                await mqtt.publish_all(client, [will], version)
            log.info("published %d displays once", len(self.displays))
            return 0
        finally:
            await self.close()

    async def _ticker(self, pool: Executor | None) -> None:
        while True:
            self.wake.clear()  # before the refresh: a feed update arriving during it wakes us again at once
            now = int(self.clock.now())
            pending, self.pending = self.pending, []
            await self.publish(pending)
            if pool is None:
                await self.publish(self.refresh(now))
            else:
                await self.refresh_on_pool(now, pool)
            delay = max(0.05, self.next_wake(now) - self.clock.now())
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=delay)
            except asyncio.TimeoutError:
                pass

    async def _gtfs_watcher(self) -> None:
        while True:
            await asyncio.sleep(self.config.feeds.gtfs_interval)
            if self._session is None:
                continue
            path = await fetch_gtfs(self.config.resolve(self.config.feeds.gtfs), self._session, self.cache_dir)
            await asyncio.to_thread(self.load_timetable, path)

    async def run(self, extra_tasks: list | None = None, workers: int = 0) -> None:
        """Serve until stop() (or a cancellation): pollers, ticker, broker session, reloads.

        With `workers`, boards are rendered on that many worker processes (the other cores).
        """
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) if workers else None
        try:
            await self._run(extra_tasks, pool)
        finally:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    async def _run(self, extra_tasks: list | None, pool: Executor | None) -> None:
        await self.prepare()
        now = int(self.clock.now())
        will = self.bridge.service_status(False, now, self.status_details())
        try:
            async with asyncio.TaskGroup() as group:
                for url, poller in self.pollers.items():
                    group.create_task(poller.run(), name=f"poll {url}")
                group.create_task(self._ticker(pool), name="ticker")
                group.create_task(self._gtfs_watcher(), name="gtfs")
                group.create_task(mqtt.keep_connected(self.broker(), will, self._mqtt_session, asyncio.sleep,
                                                      self._random.random, self._broker_state), name="mqtt")
                for task in extra_tasks or []:
                    group.create_task(task)
                await self.stopping.wait()
                await self._goodbye()  # while still connected: a clean disconnect does not fire the Will
                raise _Stop
        except* _Stop:
            pass
        finally:
            await self.close()

    async def _goodbye(self) -> None:
        client = self._client
        if client is not None:
            try:
                now = int(self.clock.now())
                await asyncio.wait_for(mqtt.publish_all(client, [self.bridge.service_status(False, now)], self.config.mqtt.version), 2)
            except (mqtt.BridgeError, asyncio.TimeoutError, aiomqtt.MqttError):
                pass

    def stop(self) -> None:
        """Ask run() to finish."""
        self.stopping.set()


def _jobs(chunk: list[tuple[DisplayRuntime, Board]]) -> list[tuple]:
    return [(board, runtime.spec, runtime.encoding, runtime.config.compress) for runtime, board in chunk]


class _Stop(Exception):
    """Ends the service's task group."""
