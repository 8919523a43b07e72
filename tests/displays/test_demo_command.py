"""`stopcast demo` (the README's run command) starts everything and says where to look."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def test_demo_serves_the_dashboard_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "displays.cli", "demo", "--port", "0", "--cache-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        deadline = time.monotonic() + 90
        lines = []
        while time.monotonic() < deadline and url is None:
            line = proc.stdout.readline() if proc.stdout else ""
            if not line and proc.poll() is not None:
                break
            lines.append(line)
            found = re.search(r"dashboard\s+(http://127\.0\.0\.1:\d+)/", line)
            if found:
                url = found.group(1)
        assert url, "".join(lines)
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as response:
            health = json.load(response)
        assert health["timetable"]["loaded"] and health["broker"]["connected"] and health["displays"] == 5
        with urllib.request.urlopen(f"{url}/", timeout=10) as response:
            page = response.read().decode()
        assert "hbf-stele" in page and "gonsenheim-led" in page
        with urllib.request.urlopen(f"{url}/displays/hbf-stele/frame.png", timeout=10) as response:
            assert response.headers["Content-Type"] == "image/png"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            pytest.fail("stopcast demo did not stop on SIGINT")
