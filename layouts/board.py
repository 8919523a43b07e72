"""Building a board: what one display shows at one instant, purely from departures, ops messages and now.
The model is in layouts/model.py (its names are importable from here too), the rows in layouts/rows.py, the
night screen and the takeover in layouts/screens.py."""

from __future__ import annotations

from feeds.departures import CANCELLED, DELAYED, SKIPPED, Departure
from feeds.times import hhmm, local_date

from .fit import fits_whole
from .fonts import font
from .geometry import board_layout, geometry, widened
from .labels import badge_column_width
from .model import (
    MESSAGE,
    ROW,
    TAKEOVER,
    TICKER,
    TICKER_SEPARATOR,
    Board,
    BoardInput,
    BoardRow,
    DisplaySettings,
    Notice,
)
from .paging import MAX_ALERT_CHARS, alert_pages, alert_texts
from .rows import badge_text, departure_row, destination_room, message_row
from .screens import NIGHT_LEAD, next_local_minute, night_board, night_until, stop_title, takeover_board
from .spec import LayoutSpec
from .texts import clean, clock_time, text

__all__ = [
    "END_OF_SERVICE_GAP", "MESSAGE", "NIGHT_LEAD", "OLD_DATA_AFTER", "PRECISE_COUNTDOWN", "ROW", "TAKEOVER", "TICKER",
    "TICKER_SEPARATOR", "Board", "BoardInput", "BoardRow", "DisplaySettings", "Notice", "build_board",
    "destination_room", "night_until",
]

PRECISE_COUNTDOWN = 3  # minutes: countdowns up to this change at their own second, longer ones with the minute
OLD_DATA_AFTER = 90  # seconds: realtime older than this shows "Stand HH:MM" in the header
END_OF_SERVICE_GAP = 2 * 3600  # an empty board with the next departure this far away is a service break


def build_board(
    spec: LayoutSpec, settings: DisplaySettings, data: BoardInput, now: int, previous: Board | None = None,
    reuse: frozenset[str] | None = None,
) -> Board:
    """The board for `now`; `previous` (the last board shown) keeps countdowns from jumping back up. `reuse`: the
    trip ids whose departures may differ from those `previous` was built from (the same settings); a row of
    another trip's departure is shifted to `now` rather than made again (what it says is the same). None: none is."""
    lang = settings.language or spec.language
    by_urgency = sorted(data.notices, key=lambda n: (-n.priority, n.notice_id))
    takeover = next((clean(n.text, MAX_ALERT_CHARS) for n in by_urgency if n.kind == TAKEOVER), "")
    if takeover:
        return takeover_board(spec, settings, data, now, lang, takeover)
    result = data.departures
    wanted = [] if result is None else [d for d in result.departures if _wanted(d, settings, now)]
    tickers, shown_notices = _place_notices(spec, settings, by_urgency, wanted, lang)
    deps = wanted[: spec.rows - len(shown_notices)]
    resume = night_until(settings, deps, data, now)
    if resume:
        return night_board(settings, data, now, lang, resume, deps)
    held = {row.key: row.minutes for row in previous.rows} if previous is not None else {}
    before = (previous, reuse) if reuse is not None and previous is not None and not previous.night_until else None
    return _departures_board(spec, settings, data, now, lang, deps, (tickers, shown_notices), held, before)


def _departures_board(spec: LayoutSpec, settings: DisplaySettings, data: BoardInput, now: int, lang: str,
                      deps: list[Departure], notices: tuple[list[Notice], list[Notice]],
                      held: dict[str, int | None], before: tuple[Board, frozenset[str]] | None = None) -> Board:
    """The board of departures `deps` with the ops messages placed (in the alert area, as rows), on the layout
    made for them (columns no row needs hidden, the line column as wide as the labels)."""
    tickers, shown_notices = notices
    result = data.departures
    hidden = _hidden_columns(spec, deps)
    labels = [badge_text(settings, d, lang) for d in deps]
    line_width = badge_column_width(spec, labels)
    spec = board_layout(spec, hidden, line_width)
    clock = settings.clock or "24h"
    rows_before, changed = _reusable(before, hidden, line_width)
    dep_rows = tuple(departure_row(spec, d, now, lang, data.timezone, held, label, clock, None if d.trip_id in changed
                                   else rows_before.get(f"{d.trip_id}|{d.service_date}|{d.stop_sequence}"))
                     for d, label in zip(deps, labels, strict=True))
    rows = tuple(message_row(spec, n) for n in shown_notices) + dep_rows  # fitted to the destination as widened
    empty_reason, empty_text, empty_detail = _empty_texts(data, settings, deps, now, lang, clock)
    if result is not None and not deps and shown_notices:  # the messages, and a row saying why no departure follows
        rows += (message_row(spec, Notice("", ROW, empty_text, 0)),)
    timetable_only = result is not None and not result.live
    texts = alert_texts(tuple(n.text for n in tickers), tuple(result.alerts) if result else ())
    pages, every = alert_pages(spec, texts, lang)
    next_change, true_until = _changes(spec, settings, data, deps, dep_rows, now, len(pages))
    return Board(
        stop_name=stop_title(settings, data),
        clock_text=clock_time(hhmm(now, data.timezone), clock),
        as_of_text=_as_of_text(data, now, lang, clock),
        timetable_only=timetable_only,
        rows=rows,
        empty_reason=empty_reason,
        empty_text=empty_text,
        empty_detail=empty_detail,
        alert_pages=pages,
        alert_page=(now // spec.page_seconds) % len(pages) if pages and not settings.pinned_alerts else 0,
        footer_text=text(lang, "timetable_only") if timetable_only else "",
        legend=spec.live_marker and not timetable_only,
        language=lang,
        hidden_columns=hidden,
        ticker_text=TICKER_SEPARATOR.join(clean(t, MAX_ALERT_CHARS) for t in texts)
        if spec.alert_style == "ticker" and pages else "",
        alerts=tuple(result.alerts) if result else (),
        notice_texts=tuple(clean(n.text, MAX_ALERT_CHARS) for n in tickers),
        generated_at=now,
        next_change=next_change,
        true_until=true_until,
        line_width=line_width,
        alert_all=every if every != pages else (),
    )


def _reusable(before: tuple[Board, frozenset[str]] | None, hidden: tuple[str, ...], line_width: int
              ) -> tuple[dict[str, BoardRow], frozenset[str]]:
    """The rows of the last board by key, to be shifted to now where the layout (as widened and collapsed) is
    the same, and the trip ids whose rows are made again."""
    if before is None or (before[0].hidden_columns, before[0].line_width) != (hidden, line_width):
        return {}, frozenset()
    return {row.key: row for row in before[0].rows}, before[1]


def _place_notices(spec: LayoutSpec, settings: DisplaySettings, by_urgency: list[Notice], wanted: list[Departure],
                   lang: str) -> tuple[list[Notice], list[Notice]]:
    """Where the ops messages go: (those in the alert area, those shown as rows). A message is a row where the
    layout asks for it (or has no alert area) and it fits a row whole; the departures keep at least half the
    rows; what does not fit as a row is shown in the alert area, never cut."""
    tickers = [n for n in by_urgency if n.kind == TICKER and spec.alert_lines]
    row_notices = [n for n in by_urgency if n.kind == ROW or (n.kind == TICKER and not spec.alert_lines)]
    widest = badge_column_width(spec, [badge_text(settings, d, lang) for d in wanted[: spec.rows]])  # at most this
    too_long = [n for n in row_notices if spec.alert_lines and not _fits_a_row(spec, n, widest)]  # never cut: paged
    row_notices = [n for n in row_notices if n not in too_long]
    room = max(1, spec.rows // 2) if row_notices else 0  # departures keep at least half the rows
    tickers += too_long + row_notices[room:]  # what does not fit as a row is shown in the alert area
    return tickers, row_notices[:room]


def _empty_texts(data: BoardInput, settings: DisplaySettings, deps: list[Departure], now: int, lang: str,
                 clock: str) -> tuple[str, str, str]:
    """Why the board shows no departure, what it says and a detail (the next departure): "" x 3 when it shows
    some."""
    if data.departures is None:
        return "no_data", text(lang, "no_data"), text(lang, "no_data_detail")
    if not deps:
        return _empty(data, settings, now, lang, data.timezone, clock)
    return "", "", ""


def _as_of_text(data: BoardInput, now: int, lang: str, clock: str) -> str:
    """"Stand 17:05" in the header when the realtime data is older than OLD_DATA_AFTER, else ""."""
    old = data.data_as_of is not None and now - data.data_as_of > OLD_DATA_AFTER
    return _as_of(data.data_as_of, now, lang, data.timezone, clock) if old and data.data_as_of else ""


def _changes(spec: LayoutSpec, settings: DisplaySettings, data: BoardInput, deps: list[Departure],
             dep_rows: tuple[BoardRow, ...], now: int, n_pages: int) -> tuple[int, int]:
    """(next_change, true_until): when the board changes by itself at the latest, and when something it shows
    stops being true (the same without the alert pages' flips)."""
    next_change = _next_change(spec, settings, deps, dep_rows, now, data.notices_change)
    old = data.data_as_of is not None and now - data.data_as_of > OLD_DATA_AFTER
    if data.data_as_of is not None and not old and data.data_as_of + OLD_DATA_AFTER + 1 > now:
        next_change = min(next_change, data.data_as_of + OLD_DATA_AFTER + 1)  # "Stand HH:MM" appears then
    if settings.night is not None:  # the night screen starts at its minute
        next_change = min(next_change, next_local_minute(now, data.timezone, settings.night[0]))
    true_until = next_change
    if n_pages > 1 and not settings.pinned_alerts:
        next_change = min(next_change, (now // spec.page_seconds + 1) * spec.page_seconds)
    return next_change, true_until


def _hidden_columns(spec: LayoutSpec, deps: list[Departure]) -> tuple[str, ...]:
    """The collapsible columns (platform, delay) that no departure on the board has a value for."""
    kinds = {c.kind for c in spec.columns}
    hidden = []
    if "platform" in kinds and deps and not any(d.platform for d in deps):
        hidden.append("platform")
    if "delay" in kinds and deps and not any(d.status == DELAYED and d.delay for d in deps):
        hidden.append("delay")
    return tuple(hidden)


def _fits_a_row(spec: LayoutSpec, notice: Notice, line_width: int) -> bool:
    """Whether an ops message fits a row whole (abbreviated by whole words at most) beside the line column as
    wide as the board's labels may make it (`line_width`, 0: the layout's)."""
    geo = geometry(widened(spec, line_width))
    dest_col = geo.column("destination")
    x = dest_col[1] if dest_col else geo.pad
    return fits_whole(
        clean(notice.text, MAX_ALERT_CHARS), font(spec.font_family, spec.row_size), spec.width - x - geo.pad
    )


def _next_change(spec: LayoutSpec, settings: DisplaySettings, deps: list[Departure], rows: tuple[BoardRow, ...],
                 now: int, notices_change: int = 0) -> int:
    """The first second at which some text of the board changes by itself: the clock's next minute, a
    countdown of up to PRECISE_COUNTDOWN minutes that drops a minute ("1 min" -> "sofort" at its own
    second; longer countdowns change with the minute), a clock time that turns into a countdown, a
    departure that leaves the board (and so lets the next one in), or an ops message that starts or ends."""
    candidates = [(now // 60 + 1) * 60, notices_change]
    for dep, row in zip(deps, rows, strict=True):
        if dep.status in (CANCELLED, SKIPPED):
            candidates.append(dep.scheduled + 1)
            continue
        candidates.append(dep.time - settings.walk_minutes * 60 + 1)
        left = dep.time - now
        if row.minutes is not None and 60 <= left < 60 * (PRECISE_COUNTDOWN + 1):
            candidates.append(now + left % 60 + 1)
        elif row.minutes is None:
            candidates.append(dep.time - 60 * (spec.countdown_max + 1) + 1)
    return min(c for c in candidates if c > now)  # the next minute always is


def _wanted(dep: Departure, settings: DisplaySettings, now: int) -> bool:
    if settings.routes and dep.route_id not in settings.routes and dep.route_short_name not in settings.routes:
        return False
    if dep.route_id in settings.exclude_routes or (
        dep.route_short_name and dep.route_short_name in settings.exclude_routes
    ):
        return False
    if settings.hide_ending_here and dep.ends_here:
        return False
    if settings.directions and dep.direction_id not in settings.directions:
        return False
    if dep.status in (CANCELLED, SKIPPED):
        return dep.scheduled >= now  # stays until its time has passed
    return dep.time >= now + settings.walk_minutes * 60


def _as_of(written: int, now: int, lang: str, tz: str, clock: str = "24h") -> str:
    """'Stand 17:05', with the date when the data is not from today."""
    if local_date(written, tz) == local_date(now, tz):
        return text(lang, "as_of", time=clock_time(hhmm(written, tz), clock))
    day = local_date(written, tz)
    shown = day.strftime("%d.%m.%Y") if lang in ("de", "es") else day.isoformat()
    return text(lang, "as_of_date", date=shown, time=clock_time(hhmm(written, tz), clock))


def _empty(
    data: BoardInput, settings: DisplaySettings, now: int, lang: str, tz: str, clock: str = "24h"
) -> tuple[str, str, str]:
    if data.timetable_until:
        day = data.timetable_until
        shown = f"{day[8:10]}.{day[5:7]}.{day[:4]}" if lang in ("de", "es") else day
        return "timetable_expired", text(lang, "timetable_expired"), text(lang, "valid_until", date=shown)
    nxt = data.next_departure
    if nxt is None:
        return "no_departures", text(lang, "no_departures"), ""
    detail = text(lang, "next_departure", time=clock_time(hhmm(nxt, tz), clock))
    if nxt - now >= END_OF_SERVICE_GAP:
        return "end_of_service", text(lang, "end_of_service"), detail
    return "nothing_in_horizon", text(lang, "nothing_in_horizon", n=settings.horizon_minutes), detail
