"""The board model: what one display shows at one instant (Board, its rows), and what it is built from (the
display's settings, the feeds side's input, ops messages). Built by layouts/board.py."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from operator import attrgetter

from feeds.alerts import ShownAlert
from feeds.merge import StopDepartures

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
