"""Opus encoding for spoken answers at the edge: pieces of audio encoded on worker threads, earliest deadline
first. A piece's deadline is when the pillar will need it (the request's arrival, plus a second, plus where
the piece starts in the announcement): under load, the first piece of every waiting answer is encoded before
the later pieces of answers already playing, so that every pillar starts to speak soon and none stalls."""

from __future__ import annotations

import asyncio
import itertools

import numpy as np

from displays.shell.voice import OPUS_RATE, SpeechError, opus_of

FIRST_SOUND = 1.0  # seconds after the request by which the first piece should be out (the contract says 1.5)


class EncoderPool:
    """`workers` threads encoding Ogg Opus pieces in deadline order (libsndfile releases the GIL)."""

    def __init__(self, workers: int = 2) -> None:
        self.workers = workers
        self.jobs: asyncio.PriorityQueue[tuple[float, int, np.ndarray, asyncio.Future[bytes]]] = asyncio.PriorityQueue()
        self.running = False
        self.backlog = 0.0  # seconds of audio waiting to be encoded
        self._order = itertools.count()

    async def encode(self, samples: np.ndarray, deadline: float) -> bytes:
        """The Ogg Opus stream of `samples`, encoded when its turn comes by `deadline` (loop time); at once in
        a thread when the pool is not running (one-shot use, tests)."""
        if not self.running:
            return await asyncio.to_thread(opus_of, samples)
        done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.jobs.put_nowait((deadline, next(self._order), samples, done))
        self.backlog += len(samples) / OPUS_RATE
        return await done

    async def run(self) -> None:
        """Encode until cancelled."""
        self.running = True
        try:
            async with asyncio.TaskGroup() as group:
                for i in range(self.workers):
                    group.create_task(self._work(), name=f"opus-{i}")
        finally:
            self.running = False
            while not self.jobs.empty():  # nobody will encode these any more
                self.jobs.get_nowait()[3].cancel()

    async def _work(self) -> None:
        while True:
            _, _, samples, done = await self.jobs.get()
            self.backlog = max(0.0, self.backlog - len(samples) / OPUS_RATE)
            if done.done():  # its answer was given up
                continue
            try:
                body = await asyncio.to_thread(opus_of, samples)
            except SpeechError as exc:
                if not done.done():
                    done.set_exception(exc)
                continue
            if not done.done():
                done.set_result(body)
