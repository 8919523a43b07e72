"""The boards that fill the whole screen instead of departures: the night screen (`night_until`) and an ops
takeover. Pure functions of the settings, the input and now."""

from __future__ import annotations

from feeds.departures import CANCELLED, SKIPPED, Departure
from feeds.times import hhmm, in_daily_window

from .model import Board, BoardInput, DisplaySettings
from .paging import takeover_pages
from .spec import LayoutSpec
from .texts import clean, clock_time, text

NIGHT_LEAD = 30  # minutes: a night screen ends this long before the first departure, whatever the window says


def night_until(settings: DisplaySettings, deps: list[Departure], data: BoardInput, now: int) -> int:
    """When the display's night ends (0: it is not night now): the end of its `night` window, or NIGHT_LEAD
    minutes before the first departure it shows, whichever comes first."""
    if settings.night is None:
        return 0
    start, end = settings.night
    clock = hhmm(now, data.timezone)
    minute = int(clock[:2]) * 60 + int(clock[3:5]) if clock[:2].isdigit() else -1
    if minute < 0 or not in_daily_window(minute, start, end):
        return 0
    resume = (now // 60 + (end - minute) % 1440) * 60
    first = first_departure(deps, data)
    if first is not None:
        resume = min(resume, first - NIGHT_LEAD * 60)
    return resume if resume > now else 0


def next_local_minute(now: int, tz: str, minute_of_day: int) -> int:
    """The next instant after `now` at which the local clock shows `minute_of_day`."""
    clock = hhmm(now, tz)
    minute = int(clock[:2]) * 60 + int(clock[3:5]) if clock[:2].isdigit() else 0
    return (now // 60 + ((minute_of_day - minute) % 1440 or 1440)) * 60


def night_board(settings: DisplaySettings, data: BoardInput, now: int, lang: str, resume: int,
                deps: list[Departure]) -> Board:
    """The night screen: the stop's name, "Nachtruhe" and when the board is back (or the first departure);
    no clock and no alerts (nothing of it changes until `resume`)."""
    first = first_departure(deps, data)
    clock = settings.clock or "24h"
    detail = (text(lang, "next_departure", time=clock_time(hhmm(first, data.timezone), clock)) if first is not None
              else text(lang, "night_resumes", time=clock_time(hhmm(resume, data.timezone), clock)))
    return _whole_screen(
        settings, data, now, lang, empty_reason="night", empty_text=text(lang, "night"), empty_detail=detail,
        next_change=resume, true_until=resume, night_until=resume,
    )


def takeover_board(spec: LayoutSpec, settings: DisplaySettings, data: BoardInput, now: int, lang: str,
                   takeover: str) -> Board:
    """The whole screen for an ops takeover: the stop's name and the clock stay, departures and alerts go."""
    minute = (now // 60 + 1) * 60
    truth = min(minute, data.notices_change) if data.notices_change > now else minute  # page flips keep it true
    pages = len(takeover_pages(spec, takeover)[1])
    change = min(truth, (now // spec.page_seconds + 1) * spec.page_seconds) if pages > 1 else truth
    return _whole_screen(
        settings, data, now, lang, clock_text=clock_time(hhmm(now, data.timezone), settings.clock or "24h"),
        takeover_text=takeover, next_change=change, true_until=truth,
        takeover_page=(now // spec.page_seconds) % pages,
    )


def stop_title(settings: DisplaySettings, data: BoardInput) -> str:
    """The name a board shows for its stop: the display's own name, else the stop's."""
    result = data.departures
    return clean(settings.name or (result.stop.name if result else ""))


def first_departure(deps: list[Departure], data: BoardInput) -> int | None:
    """The first departure that runs: of those shown, else the timetable's next one."""
    return next((d.time for d in deps if d.status not in (CANCELLED, SKIPPED)), data.next_departure)


def _whole_screen(settings: DisplaySettings, data: BoardInput, now: int, lang: str, **fields: object) -> Board:
    """A board that fills the screen with one thing: no departures, alerts, footer or legend but `fields`."""
    empty: dict[str, object] = {
        "stop_name": stop_title(settings, data), "clock_text": "", "as_of_text": "", "timetable_only": False,
        "rows": (), "empty_reason": "", "empty_text": "", "empty_detail": "", "alert_pages": (), "alert_page": 0,
        "footer_text": "", "legend": False, "language": lang, "generated_at": now,
    }
    return Board(**{**empty, **fields})  # type: ignore[arg-type]
