"""The progress line while a timetable index is built: every stage in order, shown only on a terminal
and only after a second."""

from __future__ import annotations

import io
from pathlib import Path

from feedkit import write_feed

from feeds.loader import STAGES, load_timetable
from feeds.progress import TerminalProgress
from feeds.source import GtfsSource


class Terminal(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_the_loader_tells_every_stage_in_order(tmp_path: Path) -> None:
    told: list[tuple[str, int, int]] = []
    load_timetable(GtfsSource(write_feed(tmp_path / "f")), lambda *a: told.append(a))
    assert told == [*((stage, i + 1, len(STAGES)) for i, stage in enumerate(STAGES)), ("", len(STAGES), len(STAGES))]


def test_the_line_appears_after_a_second_on_a_terminal_only() -> None:
    now = [0.0]
    screen = Terminal(tty=True)
    progress = TerminalProgress("building the timetable index of hart.zip", screen, lambda: now[0])
    progress("stops.txt", 2, 8)
    assert screen.getvalue() == ""  # a fast build says nothing
    now[0] = 1.5
    progress("stop_times.txt", 6, 8)
    # stop_times.txt is the 6th of 8 stages: five are done, 12 of the 20 characters
    assert screen.getvalue().startswith(
        "\rbuilding the timetable index of hart.zip: [############        ] 6/8 stop_times.txt"
    )
    now[0] = 4.2
    progress("", 8, 8)
    assert screen.getvalue().endswith("built in 4.2 s" + " " * 40 + "\n")
    piped = Terminal(tty=False)
    late = TerminalProgress("x", piped, lambda: now[0] + 10)
    late("stop_times.txt", 6, 8)
    late("", 8, 8)
    assert piped.getvalue() == ""  # a log file or a pipe gets no progress line
