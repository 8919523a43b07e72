"""The architecture's rules, checked by import-linter (contracts in pyproject.toml): the layers
(displays over layouts and firmware_bridge, both over feeds) and a pure core that imports no I/O
and no clock (asyncio, aiohttp, aiomqtt, socket, time, os)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    done = subprocess.run([command, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 3 kept, 0 broken." in done.stdout
