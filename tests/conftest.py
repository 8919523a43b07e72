"""Fixtures shared by all test packages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep every test's timetable cache and state out of the user's folders."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("STOPCAST_CACHE_DIR", str(cache))
    monkeypatch.setenv("STOPCAST_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    return cache


# Hypothesis: a short run in the suite; `bench/fuzz.py` (STOPCAST_FUZZ=long) runs the same tests for long.
settings.register_profile("suite", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=int(os.environ.get("STOPCAST_FUZZ_EXAMPLES", "20000")), deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("STOPCAST_FUZZ", "suite"))
