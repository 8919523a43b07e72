"""The second half of the node's one path: rendered boards accepted by the engine and sent over the pillar
link, within the broker's packet limit and counted in the metrics (displays/shell/service.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from displays.core.engine import DisplayRuntime
from displays.core.frames import Rendered
from displays.core.ports import FeedSource, PillarLink, Renderer
from displays.shell.engine_view import EngineView
from displays.shell.metrics import Metrics
from firmware_bridge.messages import packet_room
from firmware_bridge.protocol import Publish
from layouts.board import Board

log = logging.getLogger("stopcast.service")

Entry = tuple[DisplayRuntime, Board, int, int]  # a display's new board and where its rendering is (batch, index)


class Publishing(EngineView):
    """Composed boards to the renderer in batches, rendered ones accepted and sent (the service's base class)."""

    renderer: Renderer
    metrics: Metrics
    link: PillarLink | None
    resend: bool
    board_listeners: list[Callable[[str], None]]
    _failures_counted: int
    sources: dict[str, FeedSource]

    def snapshots(self) -> list:
        """The realtime data each source holds now (None before its first)."""
        return [s.snapshot for s in self.sources.values()]

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

    async def _render_changed(self, group: asyncio.TaskGroup, queue: asyncio.Queue, now: int, force: bool,
                              batch: int) -> int:
        """Compose the changed boards and hand them to the renderer in batches; how many were composed."""
        count = 0
        tasks: list[asyncio.Task] = []
        slots: dict[tuple, tuple[int, int]] = {}  # a render job -> (its batch, its place in it)
        entries: list[Entry] = []
        jobs: list = []
        for runtime, board in self.engine.composed(now, self.snapshots(), force):
            key = (id(runtime.spec), runtime.encoding, runtime.config.compress, board)
            slot = slots.get(key)
            if slot is None:
                slot = slots[key] = (len(tasks), len(jobs))
                jobs.append((board, runtime.spec, runtime.encoding, runtime.config.compress, runtime.config.id))
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
            log.error(
                "not published: %d message(s) over max_packet %d, e.g. %d bytes to %s",
                len(publishes) - len(fits),
                limit,
                len(big.payload),
                big.topic,
            )
        return fits
