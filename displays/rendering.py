"""Renderers: boards to frames in this process, or on worker processes (the other cores)."""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from .frames import Rendered, RenderJob, render_batch

__all__ = ["InlineRenderer", "PoolRenderer"]


class InlineRenderer:
    """Renders in the calling process (tests, `--workers 0`, one-shot commands)."""

    async def render(self, jobs: list[RenderJob]) -> list[Rendered | str]:
        """Each job's frame (or its error's text)."""
        return render_batch(jobs)

    def close(self) -> None:
        """Nothing to release."""


class PoolRenderer:
    """Renders on `workers` spawned processes; batches run in parallel with composing and publishing."""

    def __init__(self, workers: int) -> None:
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))

    async def render(self, jobs: list[RenderJob]) -> list[Rendered | str]:
        """Each job's frame (or its error's text), computed on a worker."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, render_batch, jobs)

    def close(self) -> None:
        """Stop the workers without waiting for queued batches."""
        self.pool.shutdown(wait=False, cancel_futures=True)
