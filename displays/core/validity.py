"""Whether the loaded timetable is valid, as ops read it on the dashboard, /healthz and `serve`'s start:
expired, not valid yet, ending within a week. Pure: a timetable and `now` in, texts out."""

from __future__ import annotations

from typing import Any

from displays.core.humane import day_text
from feeds.times import local_date
from feeds.timetable import Timetable

__all__ = ["EXPIRY_WARNING_DAYS", "timetable_problems", "timetable_validity"]

EXPIRY_WARNING_DAYS = 7


def timetable_validity(tt: Timetable | None, now: int) -> dict[str, Any]:
    """Whether the timetable is valid at `now`, and the badge the dashboard shows: green only while valid."""
    if tt is None:
        return {"valid": False, "status_text": "timetable MISSING", "alarm": "bad"}
    period = tt.calendar.period()
    if period is None:
        return {"valid": False, "status_text": "timetable has no service days", "alarm": "bad"}
    first, last = period
    today = local_date(now, tt.timezone)
    if today > last:
        return {"valid": False, "status_text": f"timetable expired on {day_text(last)}", "alarm": "bad"}
    if today < first:
        return {"valid": False, "status_text": f"timetable valid from {day_text(first)}", "alarm": "bad"}
    ending = (last - today).days < EXPIRY_WARNING_DAYS
    return {"valid": True, "status_text": f"timetable loaded, valid until {day_text(last)}",
            "alarm": "warn" if ending else ""}


def timetable_problems(tt: Timetable, now: int) -> list[str]:
    """What is wrong with the timetable's validity at `now`: expired, not yet valid, or ending soon."""
    period = tt.calendar.period()
    if period is None:
        return ["timetable has no service days at all (calendar.txt / calendar_dates.txt)"]
    first, last = period
    today = local_date(now, tt.timezone)
    if today > last:
        return [f"timetable expired on {day_text(last)} (its last service day); boards say 'timetable expired'"]
    if today < first:
        return [f"timetable not valid yet: its first service day is {day_text(first)}"]
    left = (last - today).days
    if left < EXPIRY_WARNING_DAYS:
        return [f"timetable ends in {left} day{'' if left == 1 else 's'} (last service day {day_text(last)}): "
                "publish the next one"]
    return []
