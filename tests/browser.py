"""Headless Chromium for tests: dump a page's DOM after its scripts ran, and screenshots."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--hide-scrollbars",
    "--autoplay-policy=no-user-gesture-required",
]


def chromium() -> str:
    """The chromium binary; skips the test with the reason when it is not installed."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("headless chromium is not installed (Debian: apt-get install chromium)")
    return path


def _run(url: str, width: int, height: int, extra: list[str], timeout: float = 60) -> str:
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
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


class Page:
    """A page in headless Chromium, driven over the DevTools protocol (no reloads, real scripts)."""

    def __init__(self, url: str, width: int, height: int) -> None:
        self.url, self.width, self.height = url, width, height
        self._process: subprocess.Popen | None = None
        self._profile: tempfile.TemporaryDirectory | None = None
        self._session = None
        self._ws = None
        self._next_id = 0

    async def __aenter__(self) -> Page:
        import aiohttp

        self._profile = tempfile.TemporaryDirectory(ignore_cleanup_errors=True)  # chromium children may still write
        self._process = subprocess.Popen(
            [chromium(), *FLAGS, f"--user-data-dir={self._profile.name}", f"--window-size={self.width},{self.height}",
             "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        port_file = Path(self._profile.name) / "DevToolsActivePort"
        for _ in range(600):  # up to 30 s for chromium to write its DevTools port
            if port_file.exists() and port_file.read_text().strip():
                break
            if self._process.poll() is not None:
                raise AssertionError(f"chromium exited: {self._process.stderr.read() if self._process.stderr else ''}")
            import asyncio

            await asyncio.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        self._session = aiohttp.ClientSession()
        async with self._session.put(f"http://127.0.0.1:{port}/json/new?{self.url}") as response:
            target = await response.json()
        self._ws = await self._session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=64 << 20)
        return self

    async def _call(self, method: str, **params: object) -> dict:
        self._next_id += 1
        ident = self._next_id
        await self._ws.send_json({"id": ident, "method": method, "params": params})
        while True:
            message = await self._ws.receive_json()
            if message.get("id") == ident:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message["result"]

    async def evaluate(self, expression: str) -> object:
        """The value of a JavaScript expression in the page."""
        result = await self._call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result["result"].get("value")

    async def wait_for(self, expression: str, seconds: float = 20.0) -> object:
        """Evaluate until the expression is truthy (bounded); its value."""
        import asyncio

        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            try:
                value = await self.evaluate(expression)
            except AssertionError as exc:  # the page reloads itself (after a save): ask the new one
                if "navigated or closed" not in str(exc) and "Cannot find context" not in str(exc):
                    raise
                value = None
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"not true within {seconds} s: {expression}")
            await asyncio.sleep(0.1)  # polling the page's state, bounded by the deadline

    async def goto(self, url: str, width: int, height: int) -> None:
        """Show `url` in a window of width x height (one browser, many pages: no new process per page); returns
        when it has loaded."""
        import json

        await self._call(
            "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False
        )
        await self._call("Page.navigate", url=url)
        await self.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'")

    async def screenshot(self, path: Path) -> Path:
        """A PNG of the page as it is now."""
        import base64

        data = await self._call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        if self._profile is not None:
            self._profile.cleanup()
