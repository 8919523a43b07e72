"""Errors and warnings of the feeds package, each naming where in which file the problem lies."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Location:
    """Where a problem was found: a file, and optionally its line and column."""

    file: str
    line: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        text = self.file
        if self.line is not None:
            text += f":{self.line}"
        if self.column is not None:
            text += f" column '{self.column}'"
        return text


class FeedError(Exception):
    """A feed that cannot be used; the message names the file, line and column."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        self.message = message
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


@dataclass(frozen=True, slots=True)
class FeedWarning:
    """An inconsistency that was skipped while loading a feed."""

    message: str
    location: Location

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"
