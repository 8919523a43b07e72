"""Renderers: boards to frames in this process, or on worker processes (the other cores)."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from displays.core.frames import Rendered, RenderJob, render_batch
from feeds.tables import release_free_memory

__all__ = ["InlineRenderer", "PoolRenderer"]

log = logging.getLogger("stopcast.render")


PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when the thread that started it ends


def die_with_parent(parent: int) -> None:
    """In a render worker: end when the service ends, even by SIGKILL (which no handler of the service sees);
    otherwise a killed service leaves its workers, and with them multiprocessing's resource tracker, running.
    Linux: prctl(PR_SET_PDEATHSIG); the service starts its workers from its main thread, which lives as long
    as it does. Elsewhere nothing is done."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError) as exc:
        log.warning("render worker: cannot ask to end with the service (%s)", exc)
        return
    if os.getppid() != parent:  # the service died before the request took effect
        os._exit(1)


TRIM_EVERY = 32  # batches between handing freed heap back (glibc keeps it: 65 MB more per worker otherwise)
_batches = 0  # in a worker process: batches rendered since the last trim


def render_in_worker(jobs: list[RenderJob]) -> list[Rendered | str]:
    """A batch on a render worker; every TRIM_EVERY batches the heap that frames and evicted cache entries freed
    goes back to the system, so a worker levels off near its caches' budgets (docs/deploy.md, "Memory")."""
    global _batches
    out = render_batch(jobs)
    _batches += 1
    if _batches >= TRIM_EVERY:
        _batches = 0
        release_free_memory()
    return out


class InlineRenderer:
    """Renders in the calling process (tests, `--workers 0`, one-shot commands)."""

    async def render(self, jobs: list[RenderJob]) -> list[Rendered | str]:
        """Each job's frame (or its error's text)."""
        return render_batch(jobs)

    def close(self) -> None:
        """Nothing to release."""


class PoolRenderer:
    """Renders on `workers` spawned processes; batches run in parallel with composing and publishing.

    A worker that dies (killed for its memory, a crash in a native library) breaks the whole pool for good:
    the first batch to find it broken starts a new pool, and every batch that was in the old one is rendered
    again there, once. A batch that fails in the new pool too comes back as errors (its displays keep their
    frames and ops see why); the next refresh tries those boards again."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.restarts = 0  # pools started again after a worker died
        self.pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=die_with_parent, initargs=(os.getpid(),))

    async def render(self, jobs: list[RenderJob]) -> list[Rendered | str]:
        """Each job's frame (or its error's text), computed on a worker."""
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            pool = self.pool
            try:
                return await loop.run_in_executor(pool, render_in_worker, jobs)
            except BrokenProcessPool:
                if pool is self.pool:  # the first to find this pool broken replaces it
                    self.restarts += 1
                    log.error(
                        "a render worker died; starting the render workers again (%d time(s) since start)",
                        self.restarts,
                    )
                    pool.shutdown(wait=False, cancel_futures=True)
                    self.pool = self._start()
                if attempt == 2:
                    log.error(
                        "a batch of %d boards failed again on new render workers; they keep their frames", len(jobs)
                    )
        return [
            f"the render worker died rendering this board and again on a new worker ({len(jobs)} boards in its batch)"
        ] * len(jobs)

    def close(self) -> None:
        """Stop the workers without waiting for queued batches."""
        self.pool.shutdown(wait=False, cancel_futures=True)
