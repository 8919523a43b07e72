"""Benches run in the project's own virtual environment (.venv, made by the README's commands), whichever
`python3` starts them: `python3 bench/bench_service.py` re-executes itself with .venv/bin/python."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


def ensure() -> None:
    """Re-execute this script with the project's venv Python unless it already runs there."""
    if Path(sys.prefix).resolve() == VENV_PYTHON.parents[1].resolve():
        return
    if not VENV_PYTHON.exists():
        raise SystemExit(f"{VENV_PYTHON} is missing: run `make test` (README.md) once to create the project's venv")
    os.execv(VENV_PYTHON, [str(VENV_PYTHON), *sys.argv])
