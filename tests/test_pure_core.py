"""The functional core never reads the clock: `now` is passed in (see STYLE.md)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ("feeds", "layouts", "firmware_bridge")
CLOCK = re.compile(r"datetime\.now\(|date\.today\(|time\.time\(\)|time\.monotonic\(\)|datetime\.utcnow\(")


def test_core_packages_do_not_read_the_clock() -> None:
    hits = []
    for package in CORE:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if CLOCK.search(line):
                    hits.append(f"{rel}:{number}: {line.strip()}")
    assert hits == []
