"""Running a service: the long-running loop (realtime sources, the ticker, the GTFS watcher, the
pillar link, and extra tasks such as the HTTP server) and the one-shot `serve --once`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from displays.core.engine import DisplayRuntime
from displays.core.ports import FeedSource, MemoryLink, PillarLink
from displays.shell.clock import Clock
from displays.shell.shared_state import Sharing
from displays.shell.sharing import Service as SharingNode
from displays.shell.sharing import share
from displays.shell.speaking import Speaker
from displays.shell.wiring import LinkOwner, mqtt_link
from firmware_bridge.client import stop as stop_task
from firmware_bridge.protocol import Publish

log = logging.getLogger("stopcast.service")


class Service(LinkOwner, SharingNode, Protocol):
    """What running needs of the service node (displays/shell/service.py): its tasks, events and turns."""

    clock: Clock
    link: PillarLink | None
    sources: dict[str, FeedSource]
    sharing: Sharing | None
    speaker: Speaker
    settled: asyncio.Event
    wake: asyncio.Event
    stopping: asyncio.Event

    @property
    def displays(self) -> dict[str, DisplayRuntime]: ...

    async def prepare(self) -> None: ...

    async def step(self) -> float: ...

    async def refresh(self, now: int, force: bool = False, batch: int = 128) -> None: ...

    async def refetch_timetable(self) -> None: ...

    async def fetch_all(self) -> None: ...

    async def close(self) -> None: ...

    def subscriptions(self) -> list[str]: ...

    def hello(self) -> list[Publish]: ...

    def on_message(self, topic: str, payload: bytes) -> list[Publish]: ...

    def goodbye(self, now: int) -> list[Publish]: ...

    def status_details(self) -> dict: ...


STEP_RETRY = 5.0  # seconds before the next turn after one failed
SETTLE = 5.0  # seconds to wait for the other instances' announcements before the first render


async def _waited(event: asyncio.Event, what: str) -> None:
    """Wait at most SETTLE seconds for `event`; say so when it did not come."""
    try:
        await asyncio.wait_for(event.wait(), SETTLE)
    except asyncio.TimeoutError:
        log.warning("%s did not answer within %.0f s", what, SETTLE)


async def _ticker(service: Service) -> None:
    if service.sharing is not None:  # the shared config first (a display added elsewhere must not be missed)
        await _waited(service.sharing.ready, "the shared state (rendering the config file's displays)")
    # render nothing before the live instances are known, or two would publish the same displays
    await _waited(service.settled, "the broker (rendering as if this were the only instance)")
    service.settled.set()
    while True:
        try:
            delay = await service.step()
        except Exception:  # noqa: BLE001 - a bug in one turn must not end the service: the next turn tries again
            log.exception("a turn of the service failed; trying again in %.0f s", STEP_RETRY)
            delay = STEP_RETRY
        try:  # not wait_for, which in Python 3.11 can swallow a cancellation that meets its timeout
            async with asyncio.timeout(delay):
                await service.wake.wait()
        except TimeoutError:
            pass


async def _gtfs_watcher(service: Service) -> None:
    while True:
        await asyncio.sleep(service.config.feeds.gtfs_interval)
        await service.refetch_timetable()


async def run(service: Service, extra_tasks: list[Coroutine[Any, Any, Any]]) -> None:
    """Serve until stop() (or a cancellation): sources, ticker, pillar link, extra tasks."""
    await service.prepare()
    if service.link is None:
        service.link = mqtt_link(service)
    try:
        async with asyncio.TaskGroup() as group:
            for url, source in service.sources.items():
                group.create_task(source.run(), name=f"poll {url}")
            group.create_task(_ticker(service), name="ticker")
            group.create_task(_gtfs_watcher(service), name="gtfs")
            group.create_task(service.speaker.run(), name="speech")
            if service.sharing is not None:
                group.create_task(share(service, service.sharing), name="shared state")
            link = group.create_task(service.link.run(service.subscriptions(), service.hello, service.on_message),
                                     name="link")
            for task in extra_tasks or []:
                group.create_task(task)
            await service.stopping.wait()
            now = int(service.clock.now())
            await service.link.close(service.goodbye(now))
            await stop_task(link)  # cancelled until it ends (Python 3.11 can lose one cancellation inside aiomqtt)
            raise _Stop
    except* _Stop:
        pass
    finally:
        await service.close()


async def run_once(service: Service) -> int:
    """Render every display once and publish it all in one connection; the exit status."""
    await service.prepare()
    try:
        await service.fetch_all()
        collected = MemoryLink()
        service.link = collected
        await service.refresh(int(service.clock.now()), force=True)
        now = int(service.clock.now())
        online = service.bridge.service_status(True, now, service.status_details())
        await mqtt_link(service).deliver_once([online, *collected.take(), service.will()])
        log.info("published %d displays once", len(service.displays))
        return 0
    finally:
        await service.close()


class _Stop(Exception):
    """Ends the service's task group."""


def dump_tasks() -> None:
    """Log where every asyncio task of the process waits (SIGUSR1: for a service that seems stuck)."""
    import io

    for task in asyncio.all_tasks():
        out = io.StringIO()
        task.print_stack(limit=12, file=out)
        log.warning("task %s:\n%s", task.get_name(), out.getvalue())
