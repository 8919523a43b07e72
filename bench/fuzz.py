"""Long fuzzing runs: the suite's property-based tests of hostile input, with many more examples.

The suite runs each of them briefly (hypothesis profile "suite"); this runs the same tests with the
"long" profile (20,000 examples each, no deadline). A failure prints the smallest falsifying
example; add it to the test as an @example (a regression test) before fixing it.

Run: .venv/bin/python bench/fuzz.py [--examples N] [--only realtime|csv|config|messages] [pytest args...]
"""

from __future__ import annotations

import _venv  # the project's venv, whichever python3 started the bench

_venv.ensure()

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    "realtime": "tests/feeds/test_fuzz_realtime.py",  # GTFS-RT parse + merge + board + render
    "csv": "tests/feeds/test_fuzz_csv.py",  # the GTFS CSV reader on arbitrary bytes
    "config": "tests/displays/test_fuzz_config.py",  # config files and admin-API JSON
    "messages": "tests/firmware_bridge/test_fuzz_messages.py",  # MQTT messages from pillars (and to them)
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20_000, help="examples per test (default 20000)")
    parser.add_argument("--only", choices=sorted(TARGETS), action="append", help="one target (repeatable)")
    args, rest = parser.parse_known_args()
    env = {**os.environ, "STOPCAST_FUZZ": "long", "STOPCAST_FUZZ_EXAMPLES": str(args.examples)}
    files = [TARGETS[t] for t in (args.only or sorted(TARGETS))]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files, *rest]
    print("+", " ".join(command), f"(STOPCAST_FUZZ=long, {args.examples} examples per test)", flush=True)
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
