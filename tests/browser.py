"""Headless Chromium for tests: dump a page's DOM after its scripts ran, and screenshots."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--hide-scrollbars",
]


def chromium() -> str:
    """The chromium binary; skips the test with the reason when it is not installed."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("headless chromium is not installed (Debian: apt-get install chromium)")
    return path


def _run(url: str, width: int, height: int, extra: list[str], timeout: float = 60) -> str:
    with tempfile.TemporaryDirectory() as profile:
        argv = [chromium(), *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}", *extra, url]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def dump_dom(url: str, width: int, height: int, budget_ms: int = 3000) -> str:
    """The DOM after the page's scripts had `budget_ms` of virtual time."""
    return _run(url, width, height, [f"--virtual-time-budget={budget_ms}", "--dump-dom"])


def screenshot(url: str, path: Path, width: int, height: int) -> Path:
    """A PNG of the page at that window size."""
    _run(url, width, height, ["--virtual-time-budget=2000", f"--screenshot={path}"])
    return path
