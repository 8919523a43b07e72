"""Fixtures shared by all test packages."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep every test's timetable cache out of the user's cache folder."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("STOPCAST_CACHE_DIR", str(cache))
    return cache
