"""Renderers: boards to frames in this process, or on worker processes (the other cores)."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import pickle
import queue
import signal
import socket
import struct
import sys
import threading
import zlib
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from displays.core.frames import Rendered, RenderJob, render_batch
from feeds.tables import release_free_memory

__all__ = ["InlineRenderer", "PoolRenderer"]

log = logging.getLogger("stopcast.render")
_SPAWN = multiprocessing.get_context("spawn")


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
REPLY_BUFFER = 8 << 20  # bytes written to a worker's socket and not yet read (either way; the kernel caps it)
KEPT_REPLY = 32 << 20  # the service reads replies up to this size into one buffer kept per worker


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


def serve(sock: socket.socket, parent: int) -> None:
    """A render worker's life: read a request (a pickled function and its arguments, normally render_in_worker
    and a batch), run it, write back (True, its result) or (False, the error's text), in order; end when the
    service closes its end of the socket or dies. Frames use multiprocessing.Connection's framing. A thread of
    the worker writes the replies, so the next batch is rendered while the service's event loop, busy composing,
    has not yet read the last one."""
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the service, which ends its workers
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, REPLY_BUFFER)  # the kernel caps it (net.core.wmem_max)
    replies: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    with Connection(sock.detach()) as conn:
        threading.Thread(target=_send_replies, args=(conn, replies), name="replies", daemon=True).start()
        while True:
            try:
                request = conn.recv_bytes()
            except (EOFError, OSError):
                return
            replies.put(_answer(request))


def _send_replies(conn: Connection, replies: queue.SimpleQueue[bytes]) -> None:
    try:
        while True:
            conn.send_bytes(replies.get())
    except OSError:  # the service is gone
        return


def _answer(request: bytes) -> bytes:
    try:
        function, args = pickle.loads(request)
        return pickle.dumps((True, function(*args)), pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - the request fails, the worker lives on
        return pickle.dumps((False, f"{type(exc).__name__}: {exc}"), pickle.HIGHEST_PROTOCOL)


def worker_for(key: str, workers: int) -> int:
    """The worker that renders the screen `key` (a display's id), the same on every batch and every start: its
    last raster stays on that worker."""
    return zlib.crc32(key.encode()) % workers


def _frame(payload: bytes) -> bytes:
    """multiprocessing.Connection's length prefix of a message."""
    size = len(payload)
    return struct.pack("!i", size) if size <= 0x7FFFFFFF else struct.pack("!iQ", -1, size)


class WorkerDied(Exception):
    """The render worker a request was sent to ended before it answered."""


class _Replies(asyncio.BufferedProtocol):
    """The service's end of a worker's socket, read by the event loop: each length-prefixed reply is received
    straight into a buffer kept for the next ones (not allocated and zeroed per reply) and handed to the worker,
    which unpickles it before the next is read."""

    def __init__(self, worker: _Worker) -> None:
        self.worker = worker
        self.kept = bytearray()  # as large as the largest reply up to KEPT_REPLY so far
        self._expect(memoryview(bytearray(4)), header=True)

    def _expect(self, view: memoryview, header: bool) -> None:
        self.view, self.filled, self.header = view, 0, header

    def _body(self, size: int) -> memoryview:
        if size > KEPT_REPLY:
            return memoryview(bytearray(size))
        if len(self.kept) < size:
            self.kept = bytearray(size)
        return memoryview(self.kept)[:size]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view[self.filled :]

    def buffer_updated(self, nbytes: int) -> None:
        self.filled += nbytes
        if self.filled < len(self.view):
            return
        if not self.header:
            reply = self.view
            self._expect(memoryview(bytearray(4)), header=True)
            self.worker.replied(reply)
        elif len(self.view) == 4 and (size := struct.unpack("!i", self.view)[0]) == -1:
            self._expect(memoryview(bytearray(8)), header=True)  # a message over 2 GiB: its size follows
        else:
            self._expect(self._body(size if len(self.view) == 4 else struct.unpack("!Q", self.view)[0]), False)

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker.lost()


class _Worker:
    """One render worker process and the service's end of its socket; requests are answered in order."""

    def __init__(self, index: int, on_death: Callable[[_Worker], None]) -> None:
        self.index, self.on_death = index, on_death
        self.pending: deque[asyncio.Future] = deque()
        self.dead = False
        self.sock, theirs = socket.socketpair()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, REPLY_BUFFER)  # batches wait in the kernel, so
        # the worker takes the next without waiting for the event loop to write it
        self.process = _SPAWN.Process(target=serve, args=(theirs, os.getpid()), daemon=True,
                                      name=f"stopcast-render-{index}")
        self.process.start()
        theirs.close()
        self._link: asyncio.Task | None = None
        self.transport: asyncio.Transport | None = None

    async def call(self, payload: bytes) -> tuple[bool, object]:
        """Send a pickled request; its reply (ok, value) when the worker has answered the ones before it."""
        if self._link is None:
            self._link = asyncio.get_running_loop().create_task(self._connect())
        await asyncio.wait((self._link,))  # not `await`: a link cancelled by stop() is not our cancellation
        if self.dead or self.transport is None:
            raise WorkerDied
        future = asyncio.get_running_loop().create_future()
        self.pending.append(future)
        self.transport.writelines((_frame(payload), payload))
        return await future

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self.transport, _ = await loop.connect_accepted_socket(lambda: _Replies(self), self.sock)
        except OSError:
            self.lost()

    def replied(self, reply: memoryview) -> None:
        future = self.pending.popleft()
        if future.done():  # a caller that gave up (cancelled) leaves its reply unread
            return
        try:
            future.set_result(pickle.loads(reply))
        except Exception as exc:  # noqa: BLE001 - a reply this process cannot read fails its request only
            future.set_result((False, f"{type(exc).__name__}: {exc}"))

    def lost(self) -> None:
        """The socket closed: the worker ended (or was stopped); what it had not answered fails."""
        was_dead, self.dead = self.dead, True
        self._fail_pending()
        if not was_dead:
            self.on_death(self)

    def _fail_pending(self) -> None:
        while self.pending:
            future = self.pending.popleft()
            if not future.done():
                future.set_exception(WorkerDied())

    def stop(self) -> None:
        """End the process now (its batches are not waited for: they fail) and reap it."""
        self.dead = True
        self._fail_pending()
        if self.transport is not None:
            self.transport.abort()
        else:
            if self._link is not None:
                self._link.cancel()
            self.sock.close()
        self.process.terminate()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class PoolRenderer:
    """Renders on `workers` spawned processes, each fed through its own socket by the event loop (no threads in
    the service: ProcessPoolExecutor's feeder and manager threads competed with composing for the GIL).
    Batches run in parallel with composing and publishing; several may wait on a worker, answered in order.
    A job goes to the worker its key (its display) hashes to, so a display is always rendered on the same one.

    A worker that dies (killed for its memory, a crash in a native library) is started again by the first to
    find it dead, and every batch that was on it is rendered again there, once. A batch that fails on the new
    worker too comes back as errors (its displays keep their frames and ops see why); the next refresh tries
    those boards again. One renderer serves one event loop."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.restarts = 0  # workers started again after one died
        self.closed = False
        self._turn = 0  # the worker for jobs without a key, in turn
        self.pool = [_Worker(i, self._died) for i in range(workers)]

    def _died(self, worker: _Worker) -> None:
        if self.closed or self.pool[worker.index] is not worker:
            return
        self.restarts += 1
        log.error("a render worker died; starting the render workers again (%d time(s) since start)", self.restarts)
        multiprocessing.active_children()  # reaps the dead one
        self.pool[worker.index] = _Worker(worker.index, self._died)

    def _parts(self, jobs: list[RenderJob]) -> dict[int, list[int]]:
        """The places of the jobs each worker renders."""
        self._turn = anyone = (self._turn + 1) % self.workers
        parts: dict[int, list[int]] = {}
        for place, job in enumerate(jobs):
            key = job[4] if len(job) > 4 else ""  # type: ignore[misc]
            parts.setdefault(worker_for(key, self.workers) if key else anyone, []).append(place)
        return parts

    async def render(self, jobs: list[RenderJob]) -> list[Rendered | str]:
        """Each job's frame (or its error's text), computed on the workers its displays belong to."""
        parts = self._parts(jobs)
        if len(parts) <= 1:
            return await self._render_on(next(iter(parts), 0), jobs) if jobs else []
        done = await asyncio.gather(*(self._render_on(w, [jobs[p] for p in places]) for w, places in parts.items()))
        out: list[Rendered | str] = [""] * len(jobs)
        for places, results in zip(parts.values(), done):
            for place, result in zip(places, results):
                out[place] = result
        return out

    async def _render_on(self, index: int, jobs: list[RenderJob]) -> list[Rendered | str]:
        payload = pickle.dumps((render_in_worker, (jobs,)), pickle.HIGHEST_PROTOCOL)
        for attempt in (1, 2):
            try:
                ok, value = await self.pool[index].call(payload)
            except WorkerDied:
                if attempt == 2 and not self.closed:
                    log.error(
                        "a batch of %d boards failed again on new render workers; they keep their frames", len(jobs)
                    )
                continue
            if not ok:
                return [str(value)] * len(jobs)
            return value  # type: ignore[return-value]  # render_in_worker's list
        if self.closed:
            return ["the render workers were stopped before this board was rendered"] * len(jobs)
        return [
            f"the render worker died rendering this board and again on a new worker ({len(jobs)} boards in its batch)"
        ] * len(jobs)

    async def call_each(self, function: Callable[..., Any], *args: object) -> list[Any]:
        """`function(*args)` on every worker, after the batches before it (benches ask a worker about itself)."""
        payload = pickle.dumps((function, args), pickle.HIGHEST_PROTOCOL)
        replies = await asyncio.gather(*(worker.call(payload) for worker in self.pool))
        if failed := [value for ok, value in replies if not ok]:
            raise RuntimeError(f"on a render worker: {failed[0]}")
        return [value for _, value in replies]

    def close(self) -> None:
        """Stop the workers without waiting for queued batches, and reap them."""
        self.closed = True
        for worker in self.pool:
            worker.stop()
        multiprocessing.active_children()  # reaps workers that had died before
