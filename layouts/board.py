"""The board model: what one display shows at one instant, built purely from departures and now."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from operator import attrgetter

from PIL import ImageFont

from feeds.alerts import ShownAlert
from feeds.departures import ADDED, CANCELLED, DELAYED, SKIPPED, Departure
from feeds.merge import StopDepartures
from feeds.times import hhmm, in_daily_window, local_date

from .contrast import readable_on
from .fit import ELLIPSIS, abbreviations, fit, fits_whole, whole_words, width_of
from .fonts import font
from .geometry import board_layout, geometry, widened
from .labels import badge_column_width, badge_font, badge_inset, badge_label, route_label
from .paging import MAX_ALERT_CHARS, alert_pages, alert_texts, takeover_pages
from .phrases import SpokenDeparture, departure_sentence, lexicon_of
from .spec import LayoutSpec
from .texts import clean, clock_time, text

PRECISE_COUNTDOWN = 3  # minutes: countdowns up to this change at their own second, longer ones with the minute
OLD_DATA_AFTER = 90  # seconds: realtime older than this shows "Stand HH:MM" in the header
END_OF_SERVICE_GAP = 2 * 3600  # an empty board with the next departure this far away is a service break
TICKER, ROW, TAKEOVER = "ticker", "row", "takeover"  # the kinds of ops messages
TICKER_SEPARATOR = "   +++   "  # between alerts on a ticker line, as DFI boards do
MESSAGE = "message"  # the status of a row that carries an ops message instead of a departure


@dataclass(frozen=True, slots=True)
class BoardRow:
    """One departure as the rider reads it."""

    key: str  # trip, service day and stop: the same vehicle from board to board
    line: str
    line_color: str  # #RRGGBB
    line_text_color: str
    destination: str  # fitted to the destination column
    platform: str
    platform_changed: bool
    time_text: str
    minutes: int | None  # the countdown shown, None when a clock time is shown
    struck_text: str  # the scheduled time, struck through ("" for none)
    delay_text: str  # "+5" or ""
    status: str
    status_text: str  # "fällt aus", "Halt entfällt", "Zusatzfahrt" or ""
    live: bool
    spoken: str  # the row as a sentence, for screen readers and audio announcements
    headsign: str = ""  # the whole destination, not fitted (what is spoken)
    note: str = ""  # drawn small at the end of the destination cell: "fällt aus", "+5" (without a delay column),
    # "Steig D statt B" (where there is room)
    scheduled_platform: str = ""
    line_name: str = ""  # the line's whole name (the badge may show an abbreviation)
    clock_text: str = ""  # HH:MM of the departure (the scheduled one for a cancelled or skipped call)
    delay_minutes: int | None = None  # the delay shown, in minutes (None: none)

    def __reduce__(self) -> tuple:
        """Pickled as its class and field values (see `_values`)."""
        return BoardRow, _values(self)


@dataclass(frozen=True, slots=True)
class Board:
    """One display's screen content; equal boards render to equal frames."""

    stop_name: str
    clock_text: str
    as_of_text: str
    timetable_only: bool
    rows: tuple[BoardRow, ...]
    empty_reason: str  # "", "no_data", "end_of_service", "nothing_in_horizon", "no_departures", "timetable_expired"
    empty_text: str
    empty_detail: str
    alert_pages: tuple[str, ...]
    alert_page: int
    footer_text: str  # the timetable-only notice, or "" (then the footer shows the marker legend)
    legend: bool  # whether the footer explains the live / timetable markers
    language: str
    takeover_text: str = ""  # an ops takeover: the whole screen says this (rows and alerts stay empty)
    hidden_columns: tuple[str, ...] = ()  # columns no row has a value for: the destination takes their width
    ticker_text: str = ""  # layouts with alert_style "ticker": every alert text in one line, for pillars to scroll
    alerts: tuple[ShownAlert, ...] = field(default=(), compare=False)  # the feed's alerts with every translation
    # (what a voice of another language says; the pages above show them in the board's language)
    notice_texts: tuple[str, ...] = field(default=(), compare=False)  # ops messages shown in the alert area
    night_until: int = 0  # a night screen (empty_reason "night") until then: e-paper keeps it and gets nothing
    # more, LCDs dim or blank (docs/mqtt.md); 0 by day
    generated_at: int = field(default=0, compare=False)
    next_change: int = field(default=0, compare=False)  # when the board changes by itself at the latest
    true_until: int = field(default=0, compare=False)  # the first second at which a countdown, clock time, departure
    # or data age it shows is no longer true (next_change without alert page flips): where its validity ends
    takeover_page: int = 0  # the takeover's page shown now (layouts.paging.takeover_pages)
    line_width: int = 0  # the line column's width on this board (0: the layout's); wide labels widen it
    alert_all: tuple[str, ...] = ()  # every alert page when alert_pages is capped ("+N more"): the live page's

    def __reduce__(self) -> tuple:
        """Pickled as its class and field values (see `_values`)."""
        return Board, _values(self)


def _values(item: Board | BoardRow) -> tuple:
    """A board's or row's field values in order. Thousands of boards a minute travel to the render workers:
    dataclasses pickle a frozen slotted instance through fields() and a setattr per field, which was a third
    of sending and receiving a batch."""
    return _GETTERS[type(item)](item)


_GETTERS = {cls: attrgetter(*(f.name for f in fields(cls))) for cls in (Board, BoardRow)}


@dataclass(frozen=True, slots=True)
class Notice:
    """An ops message as a board carries it, already in the board's language."""

    notice_id: str
    kind: str  # TICKER, ROW or TAKEOVER
    text: str
    priority: int  # 0-9, 9 most urgent


@dataclass(frozen=True, slots=True)
class DisplaySettings:
    """The per-display choices that shape a board (from the display config)."""

    name: str = ""  # overrides the stop's name
    language: str = ""  # overrides the layout's language
    walk_minutes: int = 0  # departures sooner than this are left out
    horizon_minutes: int = 90
    routes: tuple[str, ...] = ()  # route_ids or short names to show; empty: all
    directions: tuple[int, ...] = ()
    exclude_routes: tuple[str, ...] = ()  # route_ids or short names never shown
    hide_ending_here: bool = False  # leave out trips that end at this stop (no one can board them)
    night: tuple[int, int] | None = None  # (from, to) in minutes after local midnight: the night screen
    route_labels: tuple[tuple[str, str], ...] = ()  # (route_id or short name, label ops chose for its badge)
    clock: str = ""  # "12h" or "24h" ("": the feed's custom, see texts.default_clock)
    pinned_alerts: bool = False  # the pillar scrolls the alerts itself (ticker): its frames keep the first page


@dataclass(frozen=True, slots=True)
class BoardInput:
    """What the feeds side knows for one display: departures (None when there is no timetable)."""

    departures: StopDepartures | None
    timezone: str
    next_departure: int | None = None  # the first departure after the horizon, for empty boards
    data_as_of: int | None = None  # when the newest realtime data was written
    realtime_configured: bool = False
    timetable_until: str = ""  # YYYY-MM-DD: the feed's last service day, set when today is past it
    notices: tuple[Notice, ...] = ()  # the ops messages active for this display now
    notices_change: int = 0  # when one of this display's ops messages next starts or ends (0: never)


def build_board(
    spec: LayoutSpec, settings: DisplaySettings, data: BoardInput, now: int, previous: Board | None = None
) -> Board:
    """The board for `now`; `previous` (the last board shown) keeps countdowns from jumping back up."""
    lang = settings.language or spec.language
    tz = data.timezone
    by_urgency = sorted(data.notices, key=lambda n: (-n.priority, n.notice_id))
    takeover = next((clean(n.text, MAX_ALERT_CHARS) for n in by_urgency if n.kind == TAKEOVER), "")
    if takeover:
        return _takeover_board(spec, settings, data, now, lang, takeover)
    tickers = [n for n in by_urgency if n.kind == TICKER and spec.alert_lines]
    row_notices = [n for n in by_urgency if n.kind == ROW or (n.kind == TICKER and not spec.alert_lines)]
    result = data.departures
    wanted = [] if result is None else [d for d in result.departures if _wanted(d, settings, now)]
    widest = badge_column_width(spec, [_badge_text(settings, d, lang) for d in wanted[: spec.rows]])  # at most this
    too_long = [n for n in row_notices if spec.alert_lines and not _fits_a_row(spec, n, widest)]  # never cut: paged
    row_notices = [n for n in row_notices if n not in too_long]
    room = max(1, spec.rows // 2) if row_notices else 0  # departures keep at least half the rows
    tickers += too_long + row_notices[room:]  # what does not fit as a row is shown in the alert area
    shown_notices = row_notices[:room]
    held = {row.key: row.minutes for row in previous.rows} if previous is not None else {}
    deps = wanted[: spec.rows - len(shown_notices)]
    resume = night_until(settings, deps, data, now)
    if resume:
        return _night_board(settings, data, now, lang, resume, deps)
    hidden = _hidden_columns(spec, deps)
    labels = [_badge_text(settings, d, lang) for d in deps]
    line_width = badge_column_width(spec, labels)
    spec = board_layout(spec, hidden, line_width)
    message_rows = tuple(_message_row(spec, n) for n in shown_notices)  # fitted to the destination as widened
    clock = settings.clock or "24h"
    dep_rows = tuple(_row(spec, d, now, lang, tz, held, label, clock) for d, label in zip(deps, labels, strict=True))
    rows = message_rows + dep_rows
    live = result is not None and result.live
    empty_reason, empty_text, empty_detail = "", "", ""
    if result is None:
        empty_reason, empty_text, empty_detail = "no_data", text(lang, "no_data"), text(lang, "no_data_detail")
    elif not deps:
        empty_reason, empty_text, empty_detail = _empty(data, settings, now, lang, tz, clock)
        if message_rows:  # the board shows the messages, and says in a row why no departure follows
            rows += (_message_row(spec, Notice("", ROW, empty_text, 0)),)
    old = data.data_as_of is not None and now - data.data_as_of > OLD_DATA_AFTER
    as_of = _as_of(data.data_as_of, now, lang, tz, clock) if old and data.data_as_of else ""
    timetable_only = result is not None and not live
    texts = alert_texts(tuple(n.text for n in tickers), tuple(result.alerts) if result else ())
    pages, every = alert_pages(spec, texts, lang)
    page = (now // spec.page_seconds) % len(pages) if pages and not settings.pinned_alerts else 0
    ticker = TICKER_SEPARATOR.join(clean(t, MAX_ALERT_CHARS) for t in texts) if spec.alert_style == "ticker" and pages else ""
    footer = text(lang, "timetable_only") if timetable_only else ""
    next_change = _next_change(spec, settings, deps, dep_rows, now, data.notices_change)
    if data.data_as_of is not None and not old and data.data_as_of + OLD_DATA_AFTER + 1 > now:
        next_change = min(next_change, data.data_as_of + OLD_DATA_AFTER + 1)  # "Stand HH:MM" appears then
    if settings.night is not None:  # the night screen starts at its minute
        next_change = min(next_change, _next_local_minute(now, data.timezone, settings.night[0]))
    true_until = next_change
    if len(pages) > 1 and not settings.pinned_alerts:
        next_change = min(next_change, (now // spec.page_seconds + 1) * spec.page_seconds)
    stop_name = clean(settings.name or (result.stop.name if result else ""))
    return Board(
        stop_name=stop_name,
        clock_text=clock_time(hhmm(now, tz), clock),
        as_of_text=as_of,
        timetable_only=timetable_only,
        rows=rows,
        empty_reason=empty_reason,
        empty_text=empty_text,
        empty_detail=empty_detail,
        alert_pages=pages,
        alert_page=page,
        footer_text=footer,
        legend=spec.live_marker and not timetable_only,
        language=lang,
        hidden_columns=hidden,
        ticker_text=ticker,
        alerts=tuple(result.alerts) if result else (),
        notice_texts=tuple(clean(n.text, MAX_ALERT_CHARS) for n in tickers),
        generated_at=now,
        next_change=next_change,
        true_until=true_until,
        line_width=line_width,
        alert_all=every if every != pages else (),
    )


def _hidden_columns(spec: LayoutSpec, deps: list[Departure]) -> tuple[str, ...]:
    """The collapsible columns (platform, delay) that no departure on the board has a value for."""
    kinds = {c.kind for c in spec.columns}
    hidden = []
    if "platform" in kinds and deps and not any(d.platform for d in deps):
        hidden.append("platform")
    if "delay" in kinds and deps and not any(d.status == DELAYED and d.delay for d in deps):
        hidden.append("delay")
    return tuple(hidden)


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
    first = next((d.time for d in deps if d.status not in (CANCELLED, SKIPPED)), data.next_departure)
    if first is not None:
        resume = min(resume, first - NIGHT_LEAD * 60)
    return resume if resume > now else 0


def _next_local_minute(now: int, tz: str, minute_of_day: int) -> int:
    """The next instant after `now` at which the local clock shows `minute_of_day`."""
    clock = hhmm(now, tz)
    minute = int(clock[:2]) * 60 + int(clock[3:5]) if clock[:2].isdigit() else 0
    return (now // 60 + ((minute_of_day - minute) % 1440 or 1440)) * 60


def _night_board(settings: DisplaySettings, data: BoardInput, now: int, lang: str, resume: int,
                 deps: list[Departure]) -> Board:
    """The night screen: the stop's name, "Nachtruhe" and when the board is back (or the first departure);
    no clock and no alerts (nothing of it changes until `resume`)."""
    result = data.departures
    first = next((d.time for d in deps if d.status not in (CANCELLED, SKIPPED)), data.next_departure)
    clock = settings.clock or "24h"
    detail = (text(lang, "next_departure", time=clock_time(hhmm(first, data.timezone), clock)) if first is not None
              else text(lang, "night_resumes", time=clock_time(hhmm(resume, data.timezone), clock)))
    return Board(
        stop_name=clean(settings.name or (result.stop.name if result else "")),
        clock_text="",
        as_of_text="",
        timetable_only=False,
        rows=(),
        empty_reason="night",
        empty_text=text(lang, "night"),
        empty_detail=detail,
        alert_pages=(),
        alert_page=0,
        footer_text="",
        legend=False,
        language=lang,
        generated_at=now,
        next_change=resume,
        true_until=resume,
        night_until=resume,
    )


def _takeover_board(spec: LayoutSpec, settings: DisplaySettings, data: BoardInput, now: int, lang: str,
                    takeover: str) -> Board:
    """The whole screen for an ops takeover: the stop's name and the clock stay, departures and alerts go."""
    result = data.departures
    minute = (now // 60 + 1) * 60
    truth = min(minute, data.notices_change) if data.notices_change > now else minute  # page flips keep it true
    pages = len(takeover_pages(spec, takeover)[1])
    change = min(truth, (now // spec.page_seconds + 1) * spec.page_seconds) if pages > 1 else truth
    return Board(
        stop_name=clean(settings.name or (result.stop.name if result else "")),
        clock_text=clock_time(hhmm(now, data.timezone), settings.clock or "24h"),
        as_of_text="",
        timetable_only=False,
        rows=(),
        empty_reason="",
        empty_text="",
        empty_detail="",
        alert_pages=(),
        alert_page=0,
        footer_text="",
        legend=False,
        language=lang,
        takeover_text=takeover,
        generated_at=now,
        next_change=change,
        true_until=truth,
        takeover_page=(now // spec.page_seconds) % pages,
    )


def _shorter_notes(dep: Departure, lang: str, note: str) -> list[str]:
    """Shorter forms of a row's delay or added-trip note, longest first ("38 min late" -> "+38"; "Zusatzfahrt" ->
    "Zusatz"); none for other notes (a cancellation is said whole, or by the struck time alone)."""
    if dep.status == DELAYED and dep.delay and note == text(lang, "late", n=round(dep.delay / 60)):
        forms = [f"+{round(dep.delay / 60)}"]
    elif dep.status == ADDED and note in (text(lang, "added"), text(lang, "added_short")):
        forms = [text(lang, "added_short"), text(lang, "added_mark")]
    else:
        return []
    return [f for f in dict.fromkeys(forms) if len(f) < len(note)]


def _unknown_route(dep: Departure) -> bool:
    """An added trip of no route the timetable knows: the feed gave no route_id, its name is made up."""
    return dep.status == ADDED and not dep.route_id


def _badge_text(settings: DisplaySettings, dep: Departure, lang: str) -> str:
    """What the row's badge says: the route's label; for an added trip of no known route the word for an extra
    trip ("Zusatz", "extra"), not a first word of its destination that reads like a line ("San" for "San Bruno")."""
    if _unknown_route(dep):
        return text(lang, "added_short")
    return route_label(settings.route_labels, dep.route_id, dep.route_short_name, dep.route_long_name)


def _fits_a_row(spec: LayoutSpec, notice: Notice, line_width: int) -> bool:
    """Whether an ops message fits a row whole (abbreviated by whole words at most) beside the line column as
    wide as the board's labels may make it (`line_width`, 0: the layout's)."""
    geo = geometry(widened(spec, line_width))
    dest_col = geo.column("destination")
    x = dest_col[1] if dest_col else geo.pad
    return fits_whole(clean(notice.text, MAX_ALERT_CHARS), font(spec.font_family, spec.row_size), spec.width - x - geo.pad)


def _message_row(spec: LayoutSpec, notice: Notice) -> BoardRow:
    """An ops message (or the empty board's reason) as a row: an "i" badge and the text across the row."""
    geo = geometry(spec)
    dest_col = geo.column("destination")
    x = dest_col[1] if dest_col else geo.pad
    body = clean(notice.text, MAX_ALERT_CHARS)
    return BoardRow(
        key=f"notice|{notice.notice_id}",
        line="i" if notice.notice_id else "",
        line_color=spec.palette.text,
        line_text_color=spec.palette.background,
        destination=fit(body, font(spec.font_family, spec.row_size, bold=False), spec.width - x - geo.pad),
        platform="",
        platform_changed=False,
        time_text="",
        minutes=None,
        struck_text="",
        delay_text="",
        status=MESSAGE,
        status_text="",
        live=False,
        spoken=body if body.endswith((".", "!", "?")) else f"{body}.",
        headsign=body,
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
    if dep.route_id in settings.exclude_routes or (dep.route_short_name and dep.route_short_name in settings.exclude_routes):
        return False
    if settings.hide_ending_here and dep.ends_here:
        return False
    if settings.directions and dep.direction_id not in settings.directions:
        return False
    if dep.status in (CANCELLED, SKIPPED):
        return dep.scheduled >= now  # stays until its time has passed
    return dep.time >= now + settings.walk_minutes * 60


def _row(spec: LayoutSpec, dep: Departure, now: int, lang: str, tz: str, held: dict[str, int | None], label: str,
         clock: str) -> BoardRow:
    key = f"{dep.trip_id}|{dep.service_date}|{dep.stop_sequence}"
    minutes: int | None = None
    status_text = ""
    struck = ""
    delay_text = ""
    if dep.status in (CANCELLED, SKIPPED):
        time_text = _clock_in_column(spec, hhmm(dep.scheduled, tz), clock)
        status_text = text(lang, "cancelled" if dep.status == CANCELLED else "skipped")
    else:
        time_text, minutes = _time_text(spec, dep, now, lang, tz, held.get(key), clock)
        if not dep.realtime and spec.approx_prefix and minutes != 0:
            time_text = f"{text(lang, 'approx')} {time_text}"
        if dep.status == DELAYED and dep.delay is not None:
            if spec.delay_style == "plus":
                delay_text = text(lang, "late", n=round(dep.delay / 60))
            else:
                struck = _clock_in_column(spec, hhmm(dep.scheduled, tz), clock, "delay")
        if dep.status == ADDED:
            status_text = text(lang, "added")
    line_color = f"#{dep.route_color}"
    line_name = clean(dep.route_short_name or dep.route_long_name) if not _unknown_route(dep) else label
    line = label
    line_col = geometry(spec).column("line")
    if line_col is not None and badge_font(spec, label, line_col[2]) is None:
        # a label wider than the line column can grow while the destination keeps its share of the screen (the
        # checks fail it, long before; no real feed has one): its abbreviation by rule rather than overdrawn
        line = badge_label(label, dep.route_long_name, font(spec.font_family, spec.row_size, bold=True),
                           line_col[2] - badge_inset(spec))
    headsign = clean(dep.headsign)
    dest_col = geometry(spec).column("destination")
    width = dest_col[2] if dest_col else spec.width
    delay_col = geometry(spec).column("delay")
    shown_delay = delay_text or struck
    if delay_col is not None and shown_delay and width_of(shown_delay, font(spec.font_family, spec.small_size)) > delay_col[2]:
        delay_text = struck = ""  # "+38" does not fit the delay column: it goes whole beside the destination
    note = _note(spec, dep, lang, status_text, width, spill=shown_delay if not (delay_text or struck) else "")
    if not _first_word_fits(spec, headsign, destination_room(spec, width, note)):
        # a narrow cell: the note in its short form ("+38", "+"), or none (the struck time and destination say
        # "cancelled"), rather than a destination cut inside its first word
        short = f"+{round(dep.delay / 60)}" if dep.status == DELAYED and dep.delay else "+" if dep.status == ADDED else ""
        note = short if short and _first_word_fits(spec, headsign, destination_room(spec, width, short)) else ""
    destination = _destination(spec, headsign, destination_room(spec, width, note))
    for shorter in _shorter_notes(dep, lang, note):
        # "SF Int'l Airport  +9" rather than "SF Int'l…  9 min late", "Warm Springs/…  +38" rather than "Warm…  38 min
        # late", "Hechtsheim Bürgerhaus  Zusatz" rather than "Hechtsheim…  Zusatzfahrt": a shorter note where the
        # long one leaves no room to say where the trip goes
        if not destination.endswith(ELLIPSIS):
            break
        more = _destination(spec, headsign, destination_room(spec, width, shorter))
        if not more.endswith(ELLIPSIS) or _says_where_to(headsign, more) and not _says_where_to(headsign, destination):
            destination, note = more, shorter
    return BoardRow(
        key=key,
        line=line,
        line_color=line_color,
        line_text_color=readable_on(line_color, f"#{dep.route_text_color}"),
        destination=destination,
        platform=clean(dep.platform),
        platform_changed=dep.platform_changed,
        time_text=time_text,
        minutes=minutes,
        struck_text=struck,
        delay_text=delay_text,
        status=dep.status,
        status_text=status_text,
        live=dep.realtime,
        spoken=departure_sentence(lang, SpokenDeparture(
            "" if _unknown_route(dep) else line_name or line, headsign, dep.status, minutes, hhmm(dep.scheduled if dep.status in (CANCELLED, SKIPPED)
                                                                    else dep.time, tz),
            clean(dep.platform), dep.platform_changed, round(dep.delay / 60) if dep.status == DELAYED and dep.delay
            else None, dep.realtime), lexicon_of(lang)),
        headsign=headsign,
        line_name=line_name,
        note=note,
        scheduled_platform=clean(dep.scheduled_platform),
        clock_text=hhmm(dep.scheduled if dep.status in (CANCELLED, SKIPPED) else dep.time, tz),
        delay_minutes=round(dep.delay / 60) if dep.status == DELAYED and dep.delay else None,
    )


def _clock_in_column(spec: LayoutSpec, hh_mm: str, clock: str, kind: str = "time") -> str:
    """A clock time for a row's column: "8:14 PM" where the column has room, else "8:14p"."""
    if clock != "12h":
        return hh_mm
    col = geometry(spec).column(kind)
    bold = font(spec.font_family, spec.row_size if kind == "time" else spec.small_size, bold=kind == "time")
    long = clock_time(hh_mm, clock)
    return long if col is None or width_of(long, bold) <= col[2] else clock_time(hh_mm, clock, compact=True)


def _destination(spec: LayoutSpec, headsign: str, width: int) -> str:
    """The destination fitted to its cell: on one line, or (layouts with destination_lines = 2) the words that
    fit on the first line and the rest on a smaller second line ("line one\nline two") instead of an ellipsis."""
    regular = font(spec.font_family, spec.row_size, bold=False)
    small = font(spec.font_family, spec.small_size, bold=False)
    if width_of(headsign, regular) <= width or spec.destination_lines < 2:
        fitted = fit(headsign, regular, width)
        if not fitted.endswith(ELLIPSIS) and whole_words(headsign, fitted):
            return fitted
        # a first word too long for the cell, or words left out ("San…", "SF Int'l…"): the smaller type where it
        # says the whole name, or more of it (the renderer sees that it does not fit the rows' type)
        smaller = fit(headsign, small, width)
        if not whole_words(headsign, fitted) or not smaller.endswith(ELLIPSIS) and not _says_where_to(headsign, fitted):
            return smaller
        return smaller if len(fitted.split()) < 2 and len(smaller.split()) > len(fitted.split()) else fitted
    forms = (headsign, *abbreviations(headsign))
    for form in forms:  # the whole name on two lines before an abbreviated one on one line, before "…"
        if width_of(form, regular) <= width:
            return form
        lines = _two_lines(form, regular, small, width)
        if lines:
            return lines
    short = forms[-1]
    words, first = short.split(), ""
    while words and width_of(f"{first} {words[0]}".strip(), regular) <= width:
        first = f"{first} {words.pop(0)}".strip()
    if not first:  # one word longer than the cell: on one line, in the smaller type if it must
        fitted = fit(headsign, regular, width)
        return fitted if whole_words(headsign, fitted) else fit(headsign, small, width)
    rest = fit(" ".join(words), small, width)
    return f"{first}\n{rest}" if whole_words(short, rest) else f"{first}\n{ELLIPSIS}"


_VIA = re.compile(r"\s*/\s*|\s+(?:über|via|vía|por)\s+|\s+[–—]\s+")


def _says_where_to(headsign: str, fitted: str) -> bool:
    """Whether a destination cut with '…' still says where the trip goes: its part before "/", "über", "via"
    ("Lerchenberg Hindemithstr. / ZDF…" does; "SF Int'l…" for "San Francisco International Airport" does not)."""
    main = _VIA.split(headsign, maxsplit=1)[0]
    shown = fitted.removesuffix(ELLIPSIS).rstrip(" /")
    return main != headsign and any(shown.startswith(form) for form in (main, *abbreviations(main)))


def _two_lines(name: str, regular: ImageFont.FreeTypeFont, small: ImageFont.FreeTypeFont, width: int) -> str:
    """`name` whole on two lines ("first\nrest", the rest in the smaller type), or "" when it needs more: split
    where it has a "/" ("Warm Springs/" over "South Fremont"), else after the words that fit the first line."""
    slashes = [i + 1 for i, c in enumerate(name) if c == "/" and 0 < i < len(name) - 1]
    for cut in reversed(slashes):
        first, rest = name[:cut], name[cut:].strip()
        if width_of(first, regular) <= width and width_of(rest, small) <= width:
            return f"{first}\n{rest}"
    words, first = name.split(), ""
    while words and width_of(f"{first} {words[0]}".strip(), regular) <= width:
        first = f"{first} {words.pop(0)}".strip()
    rest = " ".join(words)
    return f"{first}\n{rest}" if first and rest and width_of(rest, small) <= width else ""


def destination_room(spec: LayoutSpec, cell: int, note: str) -> int:
    """The px a destination has in its cell `cell` px wide: left of the note, and a space clear of it ("fällt
    aus" never touches the destination, nor the platform letter after the cell)."""
    if not note:
        return cell
    bold = font(spec.font_family, spec.small_size, bold=True)
    return cell - width_of(note, bold) - 2 * geometry(spec).pad - width_of(" ", bold)


def _first_word_fits(spec: LayoutSpec, headsign: str, width: int) -> bool:
    """Whether the destination's first word (abbreviated, with '…') fits `width` in the small type at least."""
    small = font(spec.font_family, spec.small_size)
    shown = fit(headsign, small, width) if width > 0 else ""
    # nothing left of it fits no word at all: a note wider than the cell would be drawn over the line badge
    return bool(shown.removesuffix(ELLIPSIS).strip() or not headsign.strip()) and whole_words(headsign, shown)


NOTE_SHARE = 0.45  # of the destination cell a platform-change note may take; the destination keeps the rest


def _note(spec: LayoutSpec, dep: Departure, lang: str, status_text: str, width: int, spill: str = "") -> str:
    """What the row says at the end of its destination cell: a cancellation ("fällt aus": the time column
    shows the struck time), the delay when the layout has no delay column or it is too wide for it (`spill`;
    never by colour alone, never cut), and a
    platform change in words where it leaves the destination enough room."""
    parts = []
    if dep.status in (CANCELLED, SKIPPED):
        parts.append(status_text)
    elif spill:  # a delay too wide for the delay column
        parts.append(spill)
    elif dep.status == DELAYED and dep.delay and not any(c.kind == "delay" for c in spec.columns):
        parts.append(text(lang, "late", n=round(dep.delay / 60)))
    elif dep.status == ADDED and not _unknown_route(dep):  # its badge says so already where the route is unknown
        # a trip the timetable does not have: "Zusatzfahrt", or "Zusatz" where that is too wide
        small = font(spec.font_family, spec.small_size, bold=True)
        forms = (status_text, text(lang, "added_short"), text(lang, "added_mark"))
        parts.append(next((w for w in forms if width_of(w, small) <= width * NOTE_SHARE), forms[-1]))
    moved = dep.platform_changed and dep.platform and dep.scheduled_platform and dep.platform != dep.scheduled_platform
    if moved and dep.status not in (CANCELLED, SKIPPED):
        words = text(lang, "platform_instead", now=clean(dep.platform), was=clean(dep.scheduled_platform))
        small = font(spec.font_family, spec.small_size, bold=True)
        if width_of(" · ".join([*parts, words]), small) <= width * NOTE_SHARE:
            parts.append(words)
    return " · ".join(parts)


def _time_text(spec: LayoutSpec, dep: Departure, now: int, lang: str, tz: str, before: int | None,
               clock: str = "24h") -> tuple[str, int | None]:
    """'sofort', 'N min' up to the layout's countdown limit, else the clock time; and the minutes.
    A live countdown that would count back up by one minute (`before`: last board's) keeps its value."""
    seconds = dep.time - now
    if seconds < 60:
        return text(lang, "now"), 0
    if seconds // 60 > spec.countdown_max:
        return _clock_in_column(spec, hhmm(dep.time, tz), clock), None
    minutes = seconds // 60
    if dep.realtime and before is not None and 0 < minutes - before <= 1:
        minutes = before  # a one-minute jitter does not count back up
    return (text(lang, "now") if minutes == 0 else text(lang, "minutes", n=minutes)), minutes


def _as_of(written: int, now: int, lang: str, tz: str, clock: str = "24h") -> str:
    """'Stand 17:05', with the date when the data is not from today."""
    if local_date(written, tz) == local_date(now, tz):
        return text(lang, "as_of", time=clock_time(hhmm(written, tz), clock))
    day = local_date(written, tz)
    shown = day.strftime("%d.%m.%Y") if lang in ("de", "es") else day.isoformat()
    return text(lang, "as_of_date", date=shown, time=clock_time(hhmm(written, tz), clock))


def _empty(data: BoardInput, settings: DisplaySettings, now: int, lang: str, tz: str, clock: str = "24h") -> tuple[str, str, str]:
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
