"""docs/architecture.md's tables of the pillar protocol's states are the code's one transition table, cell for
cell: a test that reads the document, so that neither can change without the other."""

from __future__ import annotations

import enum
from pathlib import Path

from firmware_bridge.states import MACHINES, TRANSITIONS, Action, Screen, ScreenEvent

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
NO_TRANSITION = "–"


def _tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table headed `state \\ event`, as rows of cells (the separator row left out)."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] | None = None
    for line in text.splitlines():
        if not line.startswith("|"):
            current = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if current is None:
            if cells[0] != "state \\ event":
                continue
            current = []
            tables.append(current)
        if not all(set(c) <= {"-", ":"} for c in cells):
            current.append(cells)
    return tables


def _cells(table: list[list[str]], states: type[enum.Enum], events: type[enum.Enum]) -> dict[tuple[str, str], str]:
    """(state, event) -> the cell as written; a row is named by its first word (what follows may explain it)."""
    header, *rows = table
    columns = header[1:]
    assert set(columns) <= {e.name for e in events}, f"unknown events in {columns}"
    out: dict[tuple[str, str], str] = {}
    for row in rows:
        name = row[0].split()[0]
        assert name in states.__members__, f"unknown state {row[0]!r} in the table of {states.__name__}"
        assert len(row) == len(header), f"row {row[0]!r} has {len(row) - 1} cells for {len(columns)} events"
        for event, cell in zip(columns, row[1:]):
            out[(name, event)] = cell
    return out


def _expected(states: type[enum.Enum], events: type[enum.Enum]) -> dict[tuple[str, str], str]:
    """What the code's table says, written as the document writes it."""
    out: dict[tuple[str, str], str] = {}
    used = [e for e in events if any((s, e) in TRANSITIONS for s in states)]
    for state in states:
        for event in used:
            found = TRANSITIONS.get((state, event))
            if found is None:
                out[(state.name, event.name)] = NO_TRANSITION
            else:
                action = "" if found.action is Action.NONE else f", {found.action.value}"
                out[(state.name, event.name)] = found.next.name + action
    return out


def test_the_documented_tables_are_the_code_s_transition_table() -> None:
    tables = _tables(DOC.read_text(encoding="utf-8"))
    assert len(tables) == len(MACHINES), (
        f"{len(tables)} state tables in {DOC.name}, {len(MACHINES)} machines in the code"
    )
    for table, (states, events) in zip(tables, MACHINES):
        written, expected = _cells(table, states, events), _expected(states, events)
        missing = sorted(set(expected) - set(written))
        wrong = {k: (written[k], v) for k, v in expected.items() if k in written and written[k] != v}
        assert not missing and not wrong, (
            f"{DOC.name} disagrees with firmware_bridge/states.py for {states.__name__}: missing {missing}, "
            f"(written, code) {wrong}")


def test_a_changed_cell_is_caught() -> None:
    """The comparison fails on a difference (what the test above relies on)."""
    table = _tables(DOC.read_text(encoding="utf-8"))[2]
    changed = [row[:] for row in table]
    changed[1][1] = "SHOWS, whole"  # NEW + FRAME: the table says NEW, whole
    assert _cells(changed, Screen, ScreenEvent) != _expected(Screen, ScreenEvent)
    assert _cells(table, Screen, ScreenEvent) == _expected(Screen, ScreenEvent)


def test_the_screen_takes_every_event_in_every_state_but_one() -> None:
    for state in Screen:
        for event in ScreenEvent:
            if (state, event) != (Screen.RETAINED, ScreenEvent.SENT):  # never: a pillar that takes the retained
                assert (state, event) in TRANSITIONS, (state, event)  # frame gets courtesy deltas, and stays there
