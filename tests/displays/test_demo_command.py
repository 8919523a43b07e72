"""`stopcast demo` (the README's run command) starts everything and says where to look."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest


def test_demo_serves_the_dashboard_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "displays.cli", "demo", "--port", "0", "--cache-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONFAULTHANDLER": "1"})  # SIGABRT dumps its stacks
    lines: queue.Queue[str] = queue.Queue()

    def drain() -> None:  # read everything it prints: a full pipe would block the demo's logging
        for line in proc.stdout or ():
            lines.put(line)

    threading.Thread(target=drain, daemon=True).start()
    seen: list[str] = []
    try:
        url = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any("pillar screens" in line for line in seen):
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                if proc.poll() is not None:
                    break
                continue
            seen.append(line)
            found = re.search(r"dashboard\s+(http://127\.0\.0\.1:\d+)/", line)
            if found:
                url = found.group(1)  # read on to the banner's last line
        assert url, "".join(seen)
        # The demo starts green: its first dashboard (the banner waits for the pillars) shows every display online
        # or as a browser display, and "0 problems" never stands beside a red row.
        with urllib.request.urlopen(f"{url}/dashboard.json", timeout=10) as response:
            first = json.load(response)
        assert {d["id"]: d["state"] for d in first["displays"]} == {
            "hbf-stele": "browser", "hbf-epaper": "online", "uni-tft": "online", "gonsenheim-led": "online",
            "hoefchen-epaper": "online"}
        with urllib.request.urlopen(f"{url}/", timeout=10) as response:
            page = response.read().decode()
        assert "hbf-stele" in page and "gonsenheim-led" in page
        red_rows = re.findall(r'<tr id="display-[^"]+" class="bad"', page)
        assert ("<h2>0 problems</h2>" in page) == (not red_rows and not first["problems"]), (
            first["problems"],
            red_rows,
        )
        assert "<h2>0 problems</h2>" in page and "timetable loaded, valid until" in page
        health = wait_for_health(url, lambda h: h["broker"]["connected"])
        assert health["timetable"]["loaded"] and health["broker"]["connected"] and health["displays"] == 5
        # The banner's pillar command works as printed (the venv's stopcast, not one on PATH) and shows that
        # display's own frame, with no message of another display ("bad magic").
        command = next(line for line in seen if line.strip().startswith("a pillar")).split("a pillar", 1)[1].strip()
        assert command.startswith(str(Path(sys.executable).parent / "stopcast") + " pillar-sim ")
        hashes = [frame_hash(url, "hbf-stele")]
        ran = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert ran.returncode == 0 and "bad magic" not in ran.stderr, ran.stderr[-2000:]
        shown = re.search(r"pillar hbf-stele shows ([0-9a-f]{8})", ran.stderr)
        hashes.append(frame_hash(url, "hbf-stele"))  # the frame may move on with the minute meanwhile
        assert shown and shown.group(1) in hashes and (tmp_path / "stele.png").exists()
        with urllib.request.urlopen(f"{url}/displays/hbf-stele/frame.png", timeout=10) as response:
            assert response.headers["Content-Type"] == "image/png"
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(timeout=15) == 0
            time.sleep(0.2)  # the drain thread reads the last lines the demo printed before it exited
            while not lines.empty():
                seen.append(lines.get())
            assert "Traceback" not in "".join(seen), "".join(seen[-80:])  # a clean stop prints no traceback
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)  # the demo logs where each of its tasks waits
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
            proc.send_signal(signal.SIGABRT)  # faulthandler prints where every thread is
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            while not lines.empty():
                seen.append(lines.get())
            pytest.fail("stopcast demo did not stop on SIGINT; it printed:\n" + "".join(seen[-400:]))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def frame_hash(url: str, display_id: str) -> str:
    with urllib.request.urlopen(f"{url}/frames.json", timeout=10) as response:
        return json.load(response)["frames"][display_id]["hash"]


def wait_for_health(url: str, ready: Callable[[dict], bool], limit: float = 30) -> dict:
    """/healthz once `ready` holds for it (polled; the deadline bounds a demo that never gets there)."""
    deadline = time.monotonic() + limit
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=10) as response:
                health = json.load(response)
        except urllib.error.HTTPError as exc:  # 503 while starting
            assert exc.code == 503
            health = json.load(exc)
        if (health["status"] != "starting" and ready(health)) or time.monotonic() > deadline:
            return health
        time.sleep(0.2)
