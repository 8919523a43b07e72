"""Shared state for tests and benches: a database of its own in the PostgreSQL on 127.0.0.1:5432, its
connections cut with pg_terminate_backend or refused for a while, and real `stopcast serve` processes
running on it (with their HTTP port known)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from brokerkit import free_port, stop_process
from servicekit import write_config

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TOKEN = "s3cret"
ROOT = Path(__file__).resolve().parents[1]


class NoDatabase(Exception):
    """There is no PostgreSQL to make a test database in (the message says why)."""


def at_once(*calls) -> list:  # type: ignore[no-untyped-def]
    """Run the calls in threads released together; their results in order."""
    barrier, results = threading.Barrier(len(calls)), [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@contextmanager
def database() -> Iterator[str]:
    """A fresh database (its URL), dropped afterwards; NoDatabase when PostgreSQL cannot be reached."""
    name = f"stopcast_test_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.Error as exc:
        raise NoDatabase(
            f"no PostgreSQL to make a test database in at 127.0.0.1:5432 ({str(exc).strip()[:120]})"
        ) from None
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _name(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def terminate(url: str) -> int:
    """Cut every connection to the database (pg_terminate_backend); how many there were."""
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        rows = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> "
                            "pg_backend_pid()", (_name(url),)).fetchall()
    return len(rows)


def refuse(url: str, refused: bool) -> None:
    """Refuse (or allow again) new connections to the database; refusing also cuts the open ones."""
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {_name(url)} ALLOW_CONNECTIONS {'false' if refused else 'true'}")
    if refused:
        terminate(url)


def shared_config(url: str) -> tuple[int, dict]:
    """The shared config's version and its parsed text, as the database holds it."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT version, text FROM stopcast_config WHERE id = 1").fetchone()
    assert row is not None
    return int(row[0]), tomllib.loads(row[1])


def shared_items(url: str, kind: str = "message") -> set[str]:
    """The ids of the shared messages (or suppressions) the database holds."""
    with psycopg.connect(url, autocommit=True) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM stopcast_items WHERE kind = %s", (kind,)).fetchall()}


@dataclass
class Serve:
    """One `stopcast serve` process and its HTTP address."""

    name: str
    config: Path
    port: int
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, cache: Path, wait: bool = True) -> Serve:
        log = (self.config.parent / f"serve-{self.name}.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "displays.cli", "serve", "--config", str(self.config), "--instance", self.name,
             "--cache-dir", str(cache), "--workers", "0"], stdout=log, stderr=log, cwd=ROOT)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, seconds: float = 60.0) -> None:
        """Until /healthz answers and the shared state has been read or found unreachable."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"serve {self.name} exited with {self.process.returncode}: {self.log()[-2000:]}")
            try:
                doc = self.get("/healthz")
                if not any("has not been read yet" in p for p in doc["problems"]):
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.1)  # readiness poll of a child process, bounded by the deadline
        raise RuntimeError(f"serve {self.name} not ready within {seconds} s: {self.log()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=15)
            self.process = None

    def log(self) -> str:
        path = self.config.parent / f"serve-{self.name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def request(self, method: str, path: str, body: object = None) -> tuple[int, object]:
        """(status, JSON answer or text) of an admin request; status 0 when there was no answer."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, raw = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except OSError as exc:  # no answer at all (refused, reset, timed out): status 0
            return 0, f"{type(exc).__name__}: {exc}"
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def get(self, path: str) -> dict:
        status, doc = self.request("GET", path)
        if not isinstance(doc, (dict, list)):
            raise ValueError(f"{path}: HTTP {status}: {doc!r}")
        return doc  # type: ignore[return-value]


def instances(folder: Path, broker_url: str, url: str, names: tuple[str, ...] = ("a", "b")) -> dict[str, Serve]:
    """Configs for instances sharing `url` (each with its own state folder and HTTP port), not started."""
    out = {}
    for name in names:
        port = free_port()
        config = write_config(folder / name, broker_url, dt.date(2026, 11, 1),
                              http={"listen": f"127.0.0.1:{port}", "admin_token": TOKEN},
                              state={"url": url, "dir": "state"})
        out[name] = Serve(name, config, port)
    return out


def wait_until(condition, seconds: float, what: str) -> float:  # type: ignore[no-untyped-def]
    """Poll `condition` (an HTTP question to other processes) until true; AssertionError after `seconds`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.1)  # the processes work meanwhile; bounded by `seconds`
    return time.monotonic() - started
