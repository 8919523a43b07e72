"""The state folder in trouble (issue 26 item 16): mounted read-only at start (the stored messages still show,
changes are refused), on a full disk (503, and /healthz says so), and config changes written durably
(fsync of the file before its rename and of the folder after it, before the change is answered). The
folders are real mounts (a read-only bind mount, a small tmpfs) and the fsyncs are seen by strace on a real
`serve` process; skipped, saying why, where that is not possible."""

from __future__ import annotations

import datetime as dt
import errno
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from brokerkit import free_port, stop_process
from servicekit import write_config
from statekit import TOKEN, Serve

from displays.config.parse import load_config
from displays.core.ports import MemoryLink
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from displays.web.http import make_app
from feeds.times import parse_instant

AT = parse_instant("2026-11-25T08:00:05+01:00")
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TAKEOVER = {"text": {"de": "Station geschlossen"}, "kind": "takeover", "priority": 9, "targets": {"all": True}}


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here (needs root with CAP_SYS_ADMIN): {done.stderr.strip()[:120]}")


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """`folder` bind-mounted read-only onto itself (for root too)."""
    _mount("--bind", str(folder), str(folder))
    try:
        _mount("-o", "remount,ro,bind", str(folder))
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


@contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


async def serve(config: Path, tmp_path: Path) -> tuple[Service, TestClient]:
    service = Service(
        load_config(config), FixedClock(AT), config_path=config, cache_dir=tmp_path / "cache", link=MemoryLink()
    )
    await service.prepare()
    await service.refresh(AT)
    client = TestClient(TestServer(make_app(service), host="127.0.0.1"))
    await client.start_server()
    return service, client


async def close(service: Service, client: TestClient) -> None:
    await client.close()
    await service.close()


async def problems(client: TestClient) -> list[str]:
    return (await (await client.get("/healthz")).json())["problems"]


async def test_a_read_only_state_folder_still_shows_the_stored_messages(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1),
                          http={"admin_token": TOKEN}, state={"dir": "state"})
    service, client = await serve(config, tmp_path)
    answer = await client.post("/api/messages", json=TAKEOVER, headers=AUTH)
    assert answer.status == 201
    message_id = (await answer.json())["id"]
    await close(service, client)
    with read_only(tmp_path / "cfg" / "state"):
        service, client = await serve(config, tmp_path)
        try:
            assert [m.message_id for m in service.editorial.messages] == [message_id]  # the takeover is not lost
            board = await (await client.get("/displays/uni-tft/board.json")).json()
            assert board["takeover_text"] == "Station geschlossen"
            assert any("changes are refused (503)" in p for p in await problems(client))
            refused = await client.post("/api/messages", json={**TAKEOVER, "kind": "ticker"}, headers=AUTH)
            assert refused.status == 503  # not kept: not acknowledged
            assert (await client.delete(f"/api/messages/{message_id}", headers=AUTH)).status == 503
        finally:
            await close(service, client)


def fill(folder: Path) -> Path:
    """A file taking every free byte of the file system `folder` is on."""
    filler = folder / "filler"
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


async def test_a_full_disk_refuses_messages_with_503_and_healthz_says_so(tmp_path: Path) -> None:
    state = tmp_path / "cfg" / "state"
    with tmpfs(state, "2m"):
        config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1),
                              http={"admin_token": TOKEN}, state={"dir": "state"})
        service, client = await serve(config, tmp_path)
        try:
            assert (await client.post("/api/messages", json=TAKEOVER, headers=AUTH)).status == 201
            filler = fill(state)
            statuses = []
            for i in range(200):  # SQLite's free pages take a few before the disk is really full
                body = {**TAKEOVER, "kind": "ticker", "text": {"de": f"Meldung {i} " + "x" * 450}}
                statuses.append((await client.post("/api/messages", json=body, headers=AUTH)).status)
                if statuses[-1] != 201:
                    break
            assert statuses[-1] == 503, statuses
            health = await (await client.get("/healthz")).json()
            assert health["status"] == "degraded" and any("state store" in p for p in health["problems"])
            filler.unlink()
            assert (await client.post("/api/messages", json=TAKEOVER, headers=AUTH)).status == 201
            assert not any("state store" in p for p in await problems(client))
        finally:
            await close(service, client)


def stop_traced(process: subprocess.Popen) -> None:
    """SIGTERM to the process strace runs (strace itself would detach and leave it running), then strace."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    for pid in children.read_text().split() if children.exists() else []:
        subprocess.run(["kill", "-TERM", pid], check=False)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        stop_process(process)


def test_config_changes_are_fsynced_before_they_are_answered(tmp_path: Path) -> None:
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed (Debian: apt-get install strace)")
    port = free_port()
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1),
                          http={"listen": f"127.0.0.1:{port}", "admin_token": TOKEN}, state={"dir": "state"})
    trace = tmp_path / "strace.txt"
    process = subprocess.Popen([strace, "-f", "-y", "-qq", "-s", "40", "-o", str(trace), "-e",
                                "trace=fsync,fdatasync,rename,renameat,renameat2,sendto,write",
                                sys.executable, "-m", "displays.cli", "serve", "--config", str(config), "--cache-dir",
                                str(tmp_path / "cache"), "--workers", "0"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        serve = Serve("a", config, port, process)
        serve.wait_ready()
        status, _ = serve.request("POST", "/api/displays", {"id": "durable", "stops": ["UNI"], "layout": "tft-320x240"})
        assert status == 201
    finally:
        stop_traced(process)
    lines = trace.read_text().splitlines()
    name = re.escape(config.name)
    renamed = next(
        i for i, line in enumerate(lines) if re.search(rf"rename\w*\(.*\.{name}(?:\.\d+)?\.tmp.*{name}", line)
    )
    answered = next(i for i, line in enumerate(lines) if "HTTP/1.1 201" in line)
    tmp_synced = [i for i, line in enumerate(lines) if re.search(rf"fsync\(\d+<[^>]*\.{name}(?:\.\d+)?\.tmp>", line)]
    folder_synced = [
        i for i, line in enumerate(lines) if re.search(rf"fsync\(\d+<{re.escape(str(config.parent))}>", line)
    ]
    assert any(i < renamed for i in tmp_synced), "the new text is fsynced before the rename"
    assert any(renamed < i < answered for i in folder_synced), (
        "the folder is fsynced after the rename, before the answer"
    )
