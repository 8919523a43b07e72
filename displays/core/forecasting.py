"""The forecast of a display (docs/mqtt.md, "Forecast"): its boards for the coming minutes, composed from
the timetable and the delays known now, drawn so that a rider can tell them from live data: every
departure carries the hollow (timetable) marker and no "Stand HH:MM" line is shown.

Pure: `forecast_times` and `forecast_board` decide what is predicted; the service composes and renders.
"""

from __future__ import annotations

from dataclasses import replace

from layouts.board import Board

__all__ = ["forecast_board", "forecast_times", "reaches", "same_frames", "same_prediction"]


def forecast_times(true_until: int, now: int, span: int) -> list[int]:
    """When the forecast's steps start: when the current board stops being true, then every minute, up to
    `span` seconds after `now`."""
    first_minute = (true_until // 60 + (1 if true_until % 60 else 0)) * 60
    times = [true_until] if true_until < first_minute else []
    times += list(range(first_minute, now + span, 60))
    return [t for t in times if t < now + span]


def forecast_board(board: Board, alert_page: int = 0) -> Board:
    """A predicted board as a forecast shows it: hollow markers (no departure is confirmed live), no age line,
    and one alert page throughout (`alert_page`, the first step's: paging would cost a delta a step)."""
    rows = tuple(replace(row, live=False) if row.live else row for row in board.rows)
    page = min(alert_page, len(board.alert_pages) - 1) if board.alert_pages else 0
    return replace(board, rows=rows, as_of_text="", alert_page=page)


def reaches(forecast: list[tuple[int, Board]], now: int, keep: int) -> bool:
    """Whether a forecast's last step still covers `keep` seconds past `now` (to its minute)."""
    return bool(forecast) and forecast[-1][0] >= now + keep - 60


def same_prediction(old: list[tuple[int, Board]], new: list[tuple[int, Board]], now: int, keep: int) -> bool:
    """Whether the new forecast predicts what the old one does for every whole minute both cover (the first,
    partial step aside), and the old one still reaches `keep` seconds past `now`: then it stays as it is."""
    if not reaches(old, now, keep):
        return False
    by_start = {start: replace(board, alert_page=0) for start, board in old if start % 60 == 0}
    shared = [(start, replace(board, alert_page=0)) for start, board in new if start % 60 == 0 and start in by_start]
    return bool(shared) and all(by_start[start] == board for start, board in shared)  # (which alert page it keeps
    # depends on when it was made, not on what it predicts)


def same_frames(old: dict[int, int], new: list[tuple[int, int]]) -> bool:
    """Whether the new forecast's frames (start, content hash) are the published ones (`old`: start -> hash) for
    every whole minute both cover, the first, partial step aside: a new prediction that draws no minute
    differently (a delay that moves no countdown shown, a row beyond the board's last) costs nothing."""
    shared = [(start, h) for start, h in new if start % 60 == 0 and start in old]
    return bool(shared) and all(old[start] == h for start, h in shared)
