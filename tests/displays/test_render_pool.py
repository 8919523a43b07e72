"""Rendering on worker processes gives exactly the frames the service renders itself."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from servicekit import write_config

from displays.config.parse import load_config
from displays.shell.clock import FixedClock
from displays.shell.rendering import PoolRenderer
from displays.shell.service import Service
from feeds.times import parse_instant

AT = parse_instant("2026-11-25T08:00:05+01:00")


def test_pool_frames_equal_in_process_frames(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1)))

    async def both() -> tuple[dict[str, int], dict[str, int], int | None]:
        here = Service(config, FixedClock(AT), cache_dir=tmp_path / "cache")
        there = Service(config, FixedClock(AT), cache_dir=tmp_path / "cache", renderer=PoolRenderer(1))
        await here.prepare()
        await there.prepare()
        await here.refresh(AT)
        await there.refresh(AT)
        await here.close()
        await there.close()
        channel = there.bridge.channels["uni-tft"]
        return ({d: r.frame.hash for d, r in here.displays.items()},  # type: ignore[union-attr]
                {d: r.frame.hash for d, r in there.displays.items()},  # type: ignore[union-attr]
                channel.current.hash if channel.current else None)

    local, pooled, sent = asyncio.run(both())
    assert local == pooled and len(local) == 4
    assert sent == pooled["uni-tft"]  # the pool's frames went through the bridge


class CountingRenderer:
    """Renders in this process and keeps every job it was given."""

    def __init__(self) -> None:
        self.jobs: list = []

    async def render(self, jobs: list) -> list:
        from displays.core.frames import render_batch

        self.jobs += jobs
        return render_batch(jobs)


def test_pillars_showing_the_same_board_share_one_rendering(tmp_path: Path) -> None:
    """Three pillars side by side at a station in one layout: one rendering, three displays each with their own
    frame topic and board JSON; a fourth in another layout and a fifth with its own name are rendered apart."""
    displays = [{"id": f"hbf-{n}", "stops": ["HBF"], "layout": "epaper-800x480"} for n in range(3)]
    displays += [{"id": "hbf-tft", "stops": ["HBF"], "layout": "tft-320x240"},
                 {"id": "hbf-named", "stops": ["HBF"], "layout": "epaper-800x480", "name": "Hauptbahnhof Ost"}]
    config = load_config(write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), displays))
    renderer = CountingRenderer()

    async def run() -> Service:
        service = Service(config, FixedClock(AT), cache_dir=tmp_path / "cache", renderer=renderer)
        await service.prepare()
        await service.refresh(AT)
        await service.close()
        return service

    service = asyncio.run(run())
    assert len(renderer.jobs) == 3
    frames = {d: r.frame for d, r in service.displays.items()}
    assert all(f is not None for f in frames.values())
    assert frames["hbf-0"].hash == frames["hbf-1"].hash == frames["hbf-2"].hash != frames["hbf-named"].hash  # type: ignore[union-attr]
    board = service.bridge.channels["hbf-1"].board_message  # the retained board JSON it publishes
    assert b'"hbf-1"' in board and b'"hbf-0"' not in board
    assert {d for d, c in service.bridge.channels.items() if c.current is not None} == set(
        displays_ids := [d["id"] for d in displays]
    )
    assert len(displays_ids) == 5


class _KillsItsWorker:
    """A job part whose unpickling ends the worker process, as a crash in a native library would."""

    def __reduce__(self) -> tuple:
        import os

        return (os._exit, (3,))


def _one_board_job() -> tuple:
    from boardkit import NOW, TZ, stop_departures

    from layouts.board import BoardInput, DisplaySettings, build_board
    from layouts.spec import load_layout

    spec = load_layout("epaper-800x480")
    board = build_board(
        spec, DisplaySettings(), BoardInput(stop_departures(), TZ, data_as_of=NOW - 20, realtime_configured=True), NOW
    )
    return (board, spec, "mono1", True)


def _kill_workers(renderer: PoolRenderer) -> None:
    """SIGKILL every worker of the pool, as the kernel's OOM killer would, and wait until they are gone."""
    import os
    import signal

    for process in [worker.process for worker in renderer.pool]:
        assert process.pid is not None  # started
        os.kill(process.pid, signal.SIGKILL)
        process.join()


def test_a_render_worker_killed_between_batches_is_replaced() -> None:
    """The kernel kills the render worker (its memory): the next batch is rendered all the same, on a new one."""
    from displays.core.frames import Rendered, render_batch

    job = _one_board_job()

    async def run() -> tuple[list, list, int]:
        renderer = PoolRenderer(1)
        try:
            first = await renderer.render([job])
            _kill_workers(renderer)
            second = await renderer.render([job, job])
            return first, second, renderer.restarts
        finally:
            renderer.close()

    first, second, restarts = asyncio.run(run())
    assert restarts == 1
    assert all(isinstance(r, Rendered) for r in first + second)
    assert second[0] == render_batch([job])[0]  # the same frame as before the worker died


def test_a_batch_that_kills_its_worker_twice_comes_back_as_errors_and_the_next_renders() -> None:
    job = _one_board_job()
    poisoned = (job[0], job[1], _KillsItsWorker(), job[3])

    async def run() -> tuple[list, list, int]:
        renderer = PoolRenderer(1)
        try:
            failed = await renderer.render([poisoned, job])
            after = await renderer.render([job])
            return failed, after, renderer.restarts
        finally:
            renderer.close()

    failed, after, restarts = asyncio.run(run())
    assert restarts == 2  # the batch broke the first pool and the one started for it
    assert all(isinstance(r, str) and "render worker died" in r for r in failed) and len(failed) == 2
    assert not isinstance(after[0], str)


def test_the_service_renders_on_after_its_worker_died_and_metrics_say_so(tmp_path: Path) -> None:
    from displays.web.status import metrics_text

    config = load_config(write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1)))

    async def run() -> tuple[dict, str]:
        service = Service(config, FixedClock(AT), cache_dir=tmp_path / "cache", renderer=PoolRenderer(1))
        await service.prepare()
        await service.refresh(AT)
        _kill_workers(service.renderer)  # type: ignore[arg-type]
        await service.refresh(AT + 60)
        text = metrics_text(service)
        await service.close()
        return {d: (r.rendered_at, r.error) for d, r in service.displays.items()}, text

    displays, text = asyncio.run(run())
    assert displays and all(v == (AT + 60, None) for v in displays.values())  # every board of the new minute
    assert "stopcast_render_worker_restarts_total 1.0\n" in text


class _WorkersPid:
    """A job's encoding that becomes, on the worker that unpickles it, that worker's pid: the job then fails with
    'unknown encoding <pid>', which says where it was rendered."""

    def __reduce__(self) -> tuple:
        import os

        return (os.getpid, ())


def _probe(job: tuple, key: str) -> tuple:
    return (job[0], job[1], _WorkersPid(), job[3], key)


def _pid_of(result: object) -> int:
    assert isinstance(result, str) and "unknown encoding" in result, result
    return int(result.rsplit(" ", 1)[1])


def test_a_displays_boards_are_always_rendered_by_the_same_worker() -> None:
    """Two workers: every batch is shared between them by display, and each display's boards go to the same one
    batch after batch (a worker may keep a display's last raster)."""
    job = _one_board_job()
    keys = [f"display-{n}" for n in range(12)]

    async def run() -> list[dict[str, int]]:
        renderer = PoolRenderer(2)
        try:
            batches = []
            for turn in range(4):
                order = keys[turn:] + keys[:turn]
                results = await renderer.render([_probe(job, key) for key in order])
                batches.append({key: _pid_of(r) for key, r in zip(order, results)})
            return batches
        finally:
            renderer.close()

    batches = asyncio.run(run())
    assert all(len(set(batch.values())) == 2 for batch in batches)  # each batch split across both workers
    assert all(batch == batches[0] for batch in batches)


def test_a_batch_split_across_workers_comes_back_in_order() -> None:
    """Different boards for displays on both workers, interleaved: each result is its own job's frame, in place."""
    from dataclasses import replace

    from displays.core.frames import render_batch

    board, spec, encoding, compress = _one_board_job()
    jobs: list = [(replace(board, clock_text=f"14:{n:02d}"), spec, encoding, compress, f"display-{n}")
                  for n in range(10)]
    jobs += [_probe(jobs[0], f"display-{n}") for n in range(10)]

    async def run() -> list:
        renderer = PoolRenderer(2)
        try:
            return await renderer.render(jobs)
        finally:
            renderer.close()

    results = asyncio.run(run())
    assert len({_pid_of(r) for r in results[10:]}) == 2  # the batch was split
    inline = render_batch(jobs[:10])
    assert results[:10] == inline and len({r.content_hash for r in inline}) == 10  # type: ignore[union-attr]


def test_the_renderer_starts_no_thread_in_the_service() -> None:
    """Batches go to the workers and come back through the event loop: no thread competes with composing for the
    GIL in the service process. Several batches wait on one worker at once and each gets its own frames."""
    import threading
    from dataclasses import replace

    from displays.core.frames import render_batch

    board, spec, encoding, compress = _one_board_job()
    batches: list[list] = [[(replace(board, clock_text=f"1{b}:{n:02d}"), spec, encoding, compress, f"d{n}")
                            for n in range(3)] for b in range(3)]
    before = threading.active_count()

    async def run() -> tuple[int, list]:
        renderer = PoolRenderer(1)
        try:
            results = await asyncio.gather(*(renderer.render(batch) for batch in batches))
            return threading.active_count(), results
        finally:
            renderer.close()

    during, results = asyncio.run(run())
    assert during == before
    assert results == [render_batch(batch) for batch in batches]


def test_closing_the_renderer_leaves_no_worker_running() -> None:
    import os

    job = _one_board_job()

    async def run() -> list[int]:
        renderer = PoolRenderer(2)
        results = await renderer.render([_probe(job, f"display-{n}") for n in range(8)])
        renderer.close()
        return sorted({_pid_of(r) for r in results})

    pids = asyncio.run(run())
    assert pids
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        raise AssertionError(f"render worker {pid} still runs (or was never reaped) after close()")


def test_a_rendered_frame_crosses_from_a_worker_as_its_field_values() -> None:
    """Thousands of frames a minute come back from the workers: each is rebuilt by one call with its field values,
    not created empty and then given a state (a frozen slotted dataclass's default: a setattr per field)."""
    import pickle
    import pickletools

    from displays.core.frames import render_batch

    [rendered] = render_batch([_one_board_job()])
    data = pickle.dumps(rendered, pickle.HIGHEST_PROTOCOL)
    assert pickle.loads(data) == rendered and pickle.loads(data).drawn == rendered.drawn  # type: ignore[union-attr]
    assert "BUILD" not in {op.name for op, _, _ in pickletools.genops(data)}
