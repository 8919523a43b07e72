"""Times as ops read them on the dashboard: "3 min ago", "since 07:58", "expired on 31 Mar 2024", in the
agency's local time. Pure functions of an instant and `now`; the JSON API keeps ISO 8601 for scripts."""

from __future__ import annotations

import datetime as dt

from feeds.times import zone

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def duration(seconds: int) -> str:
    """A length of time in its largest sensible unit: '12 s', '3 min', '2 h 5 min', '4 days', '7 years'."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        hours, minutes = divmod(seconds // 60, 60)
        return f"{hours} h {minutes} min" if minutes and hours < 10 else f"{hours} h"
    days = seconds // 86400
    if days < 365:
        return f"{days} day{'' if days == 1 else 's'}"
    years = days // 365
    return f"{years} year{'' if years == 1 else 's'}"


def ago(instant: int | None, now: int) -> str:
    """'just now', '12 s ago', '3 min ago', '2 h ago', '4 days ago'; 'never' for None."""
    if instant is None:
        return "never"
    seconds = now - instant
    if seconds < -60:
        return f"in {duration(-seconds)} (clock ahead?)"
    if seconds < 5:
        return "just now"
    return f"{duration(seconds)} ago"


def day_text(day: dt.date) -> str:
    """'31 Mar 2024'."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def local_time(instant: int | None, tz: str, now: int) -> str:
    """An instant in the agency's local time, as short as `now` allows: '07:58' today, 'Tue 1 Dec 07:58'
    within half a year, '31 Mar 2024 07:58' otherwise ('' for None)."""
    if instant is None:
        return ""
    try:
        there, today = (dt.datetime.fromtimestamp(t, zone(tz)) for t in (instant, now))
    except (OverflowError, OSError, ValueError):  # a hostile or broken timestamp: said, never a crash
        return f"invalid time {instant}"
    clock = f"{there.hour:02d}:{there.minute:02d}"
    if there.date() == today.date():
        return clock
    if abs((there.date() - today.date()).days) < 183:
        return f"{DAYS[there.weekday()]} {there.day} {MONTHS[there.month - 1]} {clock}"
    return f"{day_text(there.date())} {clock}"


def now_text(now: int, tz: str) -> str:
    """The dashboard's clock: 'Wed 25 Nov 2026, 08:00:05 CET'."""
    try:
        there = dt.datetime.fromtimestamp(now, zone(tz))
    except (OverflowError, OSError, ValueError):
        return f"invalid time {now}"
    return (f"{DAYS[there.weekday()]} {there.day} {MONTHS[there.month - 1]} {there.year}, "
            f"{there.hour:02d}:{there.minute:02d}:{there.second:02d} {there.tzname() or tz}")
