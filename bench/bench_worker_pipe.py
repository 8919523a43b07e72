"""The service's side of rendering on a worker: ProcessPoolExecutor (until issue 28) against the pipe the event loop
feeds (displays.shell.rendering.PoolRenderer), one worker each.

N boards of bench_service's layout mix (bench_render's test stops, minute after minute; every display with its
own id) go to the worker in batches of 128, all handed over at once as the service hands over a refresh. For each
way: CPU seconds of the service process (time.process_time: pickling, the executor's threads or the event
loop's reading) and wall seconds until the last frame is back. `--busy` adds a composer: a task that burns CPU
in 20 ms slices with a yield between (as the service composes while frames come back); its CPU (its thread's)
is left out of the service's figure, and how many slices it got done shows what the renderer took from it.
Also: pickling a 128-job batch and its results (CPU ms), Rendered with its default dataclass pickling and as
field values, with and without board.json's drawn lists (most of the unpickling).

Run: python bench/bench_worker_pipe.py [--boards 2000] [--busy] [--json]
"""

from __future__ import annotations

import _venv  # the project's venv, whichever python3 started the bench

_venv.ensure()

import argparse
import asyncio
import json
import multiprocessing
import os
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from bench_render import variants  # noqa: E402
from boardkit import NOW  # noqa: E402

from displays.core.frames import Rendered, RenderJob, render_batch  # noqa: E402
from displays.shell.rendering import PoolRenderer, die_with_parent, render_in_worker  # noqa: E402
from firmware_bridge import codec  # noqa: E402
from layouts.board import DisplaySettings, build_board  # noqa: E402
from layouts.spec import load_layout  # noqa: E402

LAYOUTS = ["epaper-800x480"] * 5 + ["epaper-bwr-800x480"] * 2 + ["tft-320x240", "led-192x64", "tft-320x240",
                                                                  "lcd-portrait-1080x1920"]  # bench_service's mix
BATCH = 128  # as the service sends them
STOPS = 8
SLICE = 0.02  # s of CPU per composing step in --busy


def boards(count: int, first_minute: int) -> list[RenderJob]:
    """`count` jobs: display i shows stop i % STOPS on layout i % len(LAYOUTS); minute after minute."""
    specs = [load_layout(name) for name in LAYOUTS]
    inputs = variants(STOPS)
    displays = STOPS * len(LAYOUTS)
    jobs: list[RenderJob] = []
    for i in range(count):
        spec, minute = specs[i % len(LAYOUTS)], first_minute + i // displays
        board = build_board(spec, DisplaySettings(), inputs[i % STOPS], NOW + 60 * minute)
        jobs.append((board, spec, codec.default_encoding(spec.color_mode), True, f"d{i % displays:03d}"))
    return jobs


class ExecutorRenderer:
    """The renderer before issue 28: ProcessPoolExecutor, spawn, one batch a task."""

    def __init__(self) -> None:
        self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=die_with_parent, initargs=(os.getpid(),))

    async def render(self, jobs: list[RenderJob]) -> list[Rendered | str]:
        return await asyncio.get_running_loop().run_in_executor(self.pool, render_in_worker, jobs)

    def close(self) -> None:
        self.pool.shutdown(wait=True)


async def _composer(stop: asyncio.Event, cpu: list[float]) -> None:
    while not stop.is_set():
        t0 = time.thread_time()  # this thread's only: the executor's threads run meanwhile
        end = time.perf_counter() + SLICE
        while time.perf_counter() < end:
            pass
        cpu.append(time.thread_time() - t0)
        await asyncio.sleep(0)


async def measure(renderer: PoolRenderer | ExecutorRenderer, warm: list[RenderJob], jobs: list[RenderJob],
                  busy: bool) -> dict:
    await renderer.render(warm[:1])  # the worker has started
    await asyncio.gather(*(renderer.render(warm[k : k + BATCH]) for k in range(0, len(warm), BATCH)))
    stop, slices = asyncio.Event(), list[float]()
    composer = asyncio.create_task(_composer(stop, slices)) if busy else None
    cpu0, wall0 = time.process_time(), time.perf_counter()
    done = await asyncio.gather(*(renderer.render(jobs[k : k + BATCH]) for k in range(0, len(jobs), BATCH)))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    stop.set()
    if composer is not None:
        await composer
    frames = [r for batch in done for r in batch]
    assert len(frames) == len(jobs) and all(isinstance(r, Rendered) for r in frames), frames[:1]
    return {"wall_s": round(wall, 3), "service_cpu_s": round(cpu - sum(slices), 3),
            "composer_slices": len(slices), "composer_slices_per_s": round(len(slices) / wall, 1)}


def _cpu_ms(work, times: int = 20, rounds: int = 5) -> float:
    """The best of `rounds` means (the machine is shared)."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        for _ in range(times):
            work()
        best = min(best, (time.process_time() - t0) / times)
    return round(best * 1000, 2)


def _pickled(items: list, protocol: int) -> dict:
    data = pickle.dumps(items, protocol)
    return {"kib": len(data) >> 10, "dumps_ms": _cpu_ms(lambda: pickle.dumps(items, protocol)),
            "loads_ms": _cpu_ms(lambda: pickle.loads(data))}


def pickling(jobs: list[RenderJob]) -> dict:
    """CPU ms to pickle and unpickle a batch of jobs and its results (protocol 4: the executor's, 5: the pipe's)."""
    batch = jobs[:BATCH]
    results = render_batch(batch)
    out = {}
    undrawn = [replace(r, drawn=()) for r in results if isinstance(r, Rendered)]  # board.json's drawn left out
    for name, items, protocol in (("jobs_p4", batch, 4), ("jobs_p5", batch, 5), ("results_fields", results, 5),
                                  ("undrawn_fields", undrawn, 5)):
        out[name] = _pickled(items, protocol)
    reduce = Rendered.__reduce__
    del Rendered.__reduce__  # type: ignore[misc]  # the dataclass's own pickling, as before issue 28
    try:
        out["results_dataclass"] = _pickled(results, 5)
        out["undrawn_dataclass"] = _pickled(undrawn, 5)
    finally:
        Rendered.__reduce__ = reduce  # type: ignore[method-assign]
    return out


async def run(count: int, busy: bool) -> dict:
    warm, jobs = boards(2 * BATCH, -30), boards(count, 0)
    out: dict = {"boards": count, "busy": busy, "pickling": pickling(jobs)}
    for name, make in (("executor", ExecutorRenderer), ("pipe", lambda: PoolRenderer(1))):
        renderer = make()
        try:
            out[name] = await measure(renderer, warm, jobs, busy)
        finally:
            renderer.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", type=int, default=2000)
    parser.add_argument("--busy", action="store_true", help="a composer burns CPU in the event loop meanwhile")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args.boards, args.busy))
    if args.json:
        print(json.dumps(result))
        return
    for name, row in result["pickling"].items():
        print(f"128-batch {name:18s} {row['kib']:6d} KiB  dumps {row['dumps_ms']:6.2f} ms"
              f"  loads {row['loads_ms']:6.2f} ms")
    for name in ("executor", "pipe"):
        row = result[name]
        print(f"{name:8s} {args.boards} boards: wall {row['wall_s']:6.2f} s  service CPU {row['service_cpu_s']:6.3f} s"
              + (f"  composer {row['composer_slices_per_s']:5.1f} slices/s" if args.busy else ""))


if __name__ == "__main__":
    main()
