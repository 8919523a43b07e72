"""A progress line on stderr while a timetable index is built: only on a terminal, and only once the build
has taken more than a second (a cached or small feed says nothing)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

AFTER = 1.0  # seconds before the line appears
WIDTH = 20  # characters of the bar


class TerminalProgress:
    """A `Progress` (feeds.loader) that draws `label: stage [####      ] 3/8` over itself."""

    def __init__(self, label: str, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self.stream, self.clock = label, stream or sys.stderr, clock
        self.started = clock()
        self.shown = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        """Show the stage (after AFTER seconds, on a terminal); end the line when the build is done."""
        if not self.stream.isatty():
            return
        if not stage:
            if self.shown:
                self.stream.write(f"\r{self.label}: built in {self.clock() - self.started:.1f} s{' ' * WIDTH * 2}\n")
                self.stream.flush()
            return
        if not self.shown and self.clock() - self.started < AFTER:
            return
        filled = WIDTH * (done - 1) // max(1, total)
        self.stream.write(f"\r{self.label}: [{'#' * filled}{' ' * (WIDTH - filled)}] {done}/{total} {stage}\033[K")
        self.stream.flush()
        self.shown = True
