"""The functional core never reads the clock: `now` is passed in (see STYLE.md)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ("feeds", "layouts", "firmware_bridge")
CLOCK = re.compile(r"datetime\.now\(|date\.today\(|time\.time\(\)|time\.monotonic\(\)|datetime\.utcnow\(")
# Modules of the core packages that are I/O shells by design (pollers, network clients).
SHELL_MODULES = {"feeds/poller.py", "firmware_bridge/client.py", "firmware_bridge/simulator.py"}


def test_core_packages_do_not_read_the_clock() -> None:
    hits = []
    for package in CORE:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in SHELL_MODULES:
                continue
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if CLOCK.search(line):
                    hits.append(f"{rel}:{number}: {line.strip()}")
    assert hits == []
