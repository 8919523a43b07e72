"""The service bench's feed modes (bench/feed_modes.py): pessimistic changes every trip at every update,
realistic drifts every trip a few seconds and changes a tenth of them by a minute or more."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest


def _feed_modes() -> ModuleType:
    """bench/ is scripts, not a package: the module is loaded from its file."""
    path = Path(__file__).resolve().parents[2] / "bench" / "feed_modes.py"
    spec = importlib.util.spec_from_file_location("feed_modes", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


modes = _feed_modes()
TRIPS, UPDATES, STATES = 500, 20, 9


def _changes(before: list[list[int]], after: list[list[int]]) -> list[set[int]]:
    """Per trip, the changes of its stop updates' delays from one state to the next."""
    return [{b - a for a, b in zip(x, y)} for x, y in zip(before, after)]


def test_pessimistic_changes_every_trip_at_every_update() -> None:
    states = modes.delay_states("pessimistic", TRIPS, UPDATES, STATES)
    assert len(states) == STATES
    for before, after in zip(states, states[1:]):
        assert all(change != {0} for change in _changes(before, after))
    assert all(-60 <= d <= 600 for state in states for trip in state for d in trip)


def test_realistic_drifts_every_trip_and_changes_a_tenth_by_a_minute_or_more() -> None:
    states = modes.delay_states("realistic", TRIPS, UPDATES, STATES)
    assert len(states) == STATES
    jumped_ever: set[int] = set()
    for before, after in zip(states, states[1:]):
        changes = _changes(before, after)
        assert all(len(change) == 1 for change in changes)  # a trip's stops move together
        moved = [change.pop() for change in changes]
        jumped = {t for t, m in enumerate(moved) if abs(m) >= 60}
        assert len(jumped) == TRIPS // 10
        assert all(abs(m) <= modes.DRIFT_S for t, m in enumerate(moved) if t not in jumped)
        assert all(abs(moved[t]) <= modes.JUMP_S[1] for t in jumped)
        jumped_ever |= jumped
    assert len(jumped_ever) > 2 * (TRIPS // 10)  # other trips each time, not the same tenth


def test_both_modes_start_from_the_same_feed_and_repeat_with_the_seed() -> None:
    pessimistic = modes.delay_states("pessimistic", TRIPS, UPDATES, 3)
    realistic = modes.delay_states("realistic", TRIPS, UPDATES, 3)
    assert pessimistic[0] == realistic[0]
    assert realistic == modes.delay_states("realistic", TRIPS, UPDATES, 3)
    assert realistic != modes.delay_states("realistic", TRIPS, UPDATES, 3, seed=4)


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown mode"):
        modes.delay_states("optimistic", TRIPS, UPDATES, 2)
