"""Time arithmetic of GTFS: service days, their 'noon minus 12 h' origin, and instants.

Instants inside stopcast are Unix seconds (int); this module converts them from and to the
agency's local calendar. It is the one place where times are parsed and formatted as text.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "service_day_origin",
    "local_date",
    "local_date_text",
    "parse_instant",
    "iso",
    "parse_service_date",
    "format_service_date",
    "gtfs_time",
    "parse_gtfs_time",
    "hhmm",
    "zone",
]


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The time zone called `name` (IANA); KeyError when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise KeyError(name) from exc


@lru_cache(maxsize=4096)
def service_day_origin(day: dt.date, tz: str) -> int:
    """Unix seconds of the origin of service day `day`: local noon minus 12 hours."""
    noon = dt.datetime(day.year, day.month, day.day, 12, tzinfo=zone(tz))
    return int(noon.timestamp()) - 12 * 3600


def local_date(instant: int, tz: str) -> dt.date:
    """The local calendar date of `instant` in `tz`."""
    return dt.datetime.fromtimestamp(instant, zone(tz)).date()


def local_date_text(instant: int, tz: str) -> str:
    """The local calendar date of `instant` in `tz` as GTFS YYYYMMDD."""
    return _quarter_date_text(instant // 900, tz)


@lru_cache(maxsize=4096)
def _quarter_date_text(quarter: int, tz: str) -> str:
    """The date of a quarter hour (every zone's offsets are whole quarter hours, so its date is the same throughout);
    an ADDED trip's calls all ask for it."""
    return local_date(quarter * 900, tz).strftime("%Y%m%d")


def iso(instant: int, tz: str) -> str:
    """`instant` as ISO 8601 with the local UTC offset of `tz`, to the second (says so when out of range)."""
    try:
        return dt.datetime.fromtimestamp(instant, zone(tz)).isoformat()
    except (OverflowError, OSError, ValueError):
        return f"invalid time {instant}"


def in_daily_window(minute: int, start: int, end: int) -> bool:
    """Whether a time of day (minutes after midnight) lies in [start, end); a window may run past midnight."""
    return start <= minute < end if start <= end else (minute >= start or minute < end)


def hhmm(instant: int, tz: str) -> str:
    """`instant` as the local wall clock HH:MM ('--:--' when out of range)."""
    return _hhmm(int(instant) // 60, tz)


@lru_cache(maxsize=8192)
def _hhmm(minute: int, tz: str) -> str:
    """HH:MM of a minute (every zone's offsets are whole minutes); boards of thousands of displays ask for
    the same few hundred minutes again and again."""
    try:
        return dt.datetime.fromtimestamp(minute * 60, zone(tz)).strftime("%H:%M")
    except (OverflowError, OSError, ValueError):
        return "--:--"


LATEST = 7_258_118_400  # 2200-01-01: no board is asked about later times


def plausible_instant(instant: int, now: int, span: int = 366 * 86400) -> bool:
    """Whether a Unix time from a feed lies within `span` seconds of `now` (hostile values do not)."""
    return abs(instant - now) <= span


def parse_instant(text: str) -> int:
    """Unix seconds from ISO 8601 with a UTC offset (or 'Z') or from plain Unix seconds.

    ValueError names what is wrong.
    """
    text = text.strip()
    if text.lstrip("-").isdigit() and len(text) < 30:
        instant = int(text)
    else:
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"'{text[:40]}' is neither ISO 8601 nor Unix seconds") from None
        if parsed.tzinfo is None:
            raise ValueError(f"'{text}' has no UTC offset (write e.g. 2024-03-10T08:00:00-07:00)")
        try:
            instant = int(parsed.timestamp())
        except (OverflowError, ValueError):
            instant = -1
    if not 0 <= instant < LATEST:
        raise ValueError(f"'{text[:40]}' is outside 1970 to 2200")
    return instant


@lru_cache(maxsize=4096)
def parse_service_date(text: str) -> dt.date:
    """A GTFS date YYYYMMDD; ValueError when it is not one."""
    if len(text) != 8 or not text.isdigit():
        raise ValueError(f"'{text[:40]}' is not a date YYYYMMDD")
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError as exc:
        raise ValueError(f"'{text}' is not a date YYYYMMDD ({exc})") from None


@lru_cache(maxsize=4096)
def format_service_date(day: dt.date) -> str:
    """A date as GTFS YYYYMMDD."""
    return day.strftime("%Y%m%d")


def parse_gtfs_time(text: str) -> int:
    """GTFS H:MM:SS or HH:MM:SS (hours may pass 24) as seconds; ValueError when malformed."""
    parts = text.strip().split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or len(parts[1]) != 2 or len(parts[2]) != 2:
        raise ValueError(f"'{text}' is not a time HH:MM:SS")
    hours, minutes, seconds = (int(p) for p in parts)
    if minutes > 59 or seconds > 59:
        raise ValueError(f"'{text}' is not a time HH:MM:SS")
    return hours * 3600 + minutes * 60 + seconds


def gtfs_time(seconds: int) -> str:
    """Seconds after the service day's origin as GTFS HH:MM:SS (hours may pass 24)."""
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
