"""A board's rows: a departure as the rider reads it (badge, destination fitted to its cell with its note,
platform, countdown or clock time, delay, the sentence a voice says), and an ops message as a row."""

from __future__ import annotations

import re
from dataclasses import replace

from PIL import ImageFont

from feeds.departures import ADDED, CANCELLED, DELAYED, SKIPPED, Departure
from feeds.times import hhmm

from .contrast import readable_on
from .fit import ELLIPSIS, abbreviations, fit, whole_words, width_of
from .fonts import font
from .geometry import geometry
from .labels import badge_font, badge_inset, badge_label, route_label
from .model import MESSAGE, BoardRow, DisplaySettings, Notice
from .paging import MAX_ALERT_CHARS
from .phrases import SpokenDeparture, departure_sentence, lexicon_of
from .spec import LayoutSpec
from .texts import clean, clock_time, text


def departure_row(spec: LayoutSpec, dep: Departure, now: int, lang: str, tz: str, held: dict[str, int | None],
                  label: str, clock: str, before: BoardRow | None = None) -> BoardRow:
    """The row of `dep` with the badge label `label`; `held` (the last board's countdowns by row key) keeps a
    countdown from jumping back up. `before`: this row as built at an earlier instant from the same departure on
    the same layout (as widened and collapsed): only its time cell and sentence are made again."""
    key = f"{dep.trip_id}|{dep.service_date}|{dep.stop_sequence}"
    if before is not None:
        return _shifted(spec, dep, now, lang, tz, held.get(key), clock, before)
    time_text, minutes, status_text, struck, delay_text = _time_cells(spec, dep, now, lang, tz, held.get(key), clock)
    line_color = f"#{dep.route_color}"
    line_name = clean(dep.route_short_name or dep.route_long_name) if not _unknown_route(dep) else label
    line = _badge_line(spec, dep, label)
    headsign = clean(dep.headsign)
    delay_col = geometry(spec).column("delay")
    shown_delay = delay_text or struck
    small = font(spec.font_family, spec.small_size)
    if delay_col is not None and shown_delay and width_of(shown_delay, small) > delay_col[2]:
        delay_text = struck = ""  # "+38" does not fit the delay column: it goes whole beside the destination
    spill = shown_delay if not (delay_text or struck) else ""
    destination, note = _destination_and_note(spec, dep, lang, headsign, status_text, spill)
    inactive = dep.status in (CANCELLED, SKIPPED)
    clock_text = hhmm(dep.scheduled if inactive else dep.time, tz)
    delay_minutes = round(dep.delay / 60) if dep.status == DELAYED and dep.delay else None
    spoken = SpokenDeparture("" if _unknown_route(dep) else line_name or line, headsign, dep.status, minutes,
                             clock_text, clean(dep.platform), dep.platform_changed, delay_minutes, dep.realtime)
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
        spoken=departure_sentence(lang, spoken, lexicon_of(lang)),
        headsign=headsign,
        line_name=line_name,
        note=note,
        scheduled_platform=clean(dep.scheduled_platform),
        clock_text=clock_text,
        delay_minutes=delay_minutes,
    )


def _shifted(spec: LayoutSpec, dep: Departure, now: int, lang: str, tz: str, held: int | None, clock: str,
             before: BoardRow) -> BoardRow:
    """`before` (the row of the same departure built at an earlier instant) at `now`: what departure_row gives,
    made again only where it depends on now (the countdown or clock time in the time cell, and the sentence)."""
    if dep.status in (CANCELLED, SKIPPED):
        return before  # the struck scheduled time and "fällt aus": nothing depends on now
    time_text, minutes = _time_text(spec, dep, now, lang, tz, held, clock)
    if not dep.realtime and spec.approx_prefix and minutes != 0:
        time_text = f"{text(lang, 'approx')} {time_text}"
    if time_text == before.time_text and minutes == before.minutes:
        return before
    spoken = SpokenDeparture("" if _unknown_route(dep) else before.line_name or before.line, before.headsign,
                             dep.status, minutes, before.clock_text, before.platform, dep.platform_changed,
                             before.delay_minutes, dep.realtime)
    return replace(before, time_text=time_text, minutes=minutes,
                   spoken=departure_sentence(lang, spoken, lexicon_of(lang)))


def _time_cells(spec: LayoutSpec, dep: Departure, now: int, lang: str, tz: str, before: int | None,
                clock: str) -> tuple[str, int | None, str, str, str]:
    """The row's time text and the minutes it counts down (None for a clock time), its status text ("fällt
    aus", "Zusatzfahrt" or ""), the scheduled time struck through and the delay ("+5"), each "" for none."""
    minutes: int | None = None
    status_text = struck = delay_text = ""
    if dep.status in (CANCELLED, SKIPPED):
        time_text = _clock_in_column(spec, hhmm(dep.scheduled, tz), clock)
        status_text = text(lang, "cancelled" if dep.status == CANCELLED else "skipped")
        return time_text, minutes, status_text, struck, delay_text
    time_text, minutes = _time_text(spec, dep, now, lang, tz, before, clock)
    if not dep.realtime and spec.approx_prefix and minutes != 0:
        time_text = f"{text(lang, 'approx')} {time_text}"
    if dep.status == DELAYED and dep.delay is not None:
        if spec.delay_style == "plus":
            delay_text = text(lang, "late", n=round(dep.delay / 60))
        else:
            struck = _clock_in_column(spec, hhmm(dep.scheduled, tz), clock, "delay")
    if dep.status == ADDED:
        status_text = text(lang, "added")
    return time_text, minutes, status_text, struck, delay_text


def _badge_line(spec: LayoutSpec, dep: Departure, label: str) -> str:
    """What the badge shows: the label, or where it is wider than the line column can grow while the destination
    keeps its share of the screen (the checks fail it, long before; no real feed has one) its abbreviation by
    rule rather than overdrawn."""
    line_col = geometry(spec).column("line")
    if line_col is not None and badge_font(spec, label, line_col[2]) is None:
        return badge_label(label, dep.route_long_name, font(spec.font_family, spec.row_size, bold=True),
                           line_col[2] - badge_inset(spec))
    return label


def _destination_and_note(spec: LayoutSpec, dep: Departure, lang: str, headsign: str, status_text: str,
                          spill: str) -> tuple[str, str]:
    """The destination fitted to its cell and the note at the cell's end (`spill`: a delay too wide for the
    delay column), the note shortened where the long one leaves no room to say where the trip goes."""
    dest_col = geometry(spec).column("destination")
    width = dest_col[2] if dest_col else spec.width
    note = _note(spec, dep, lang, status_text, width, spill=spill)
    if not _first_word_fits(spec, headsign, destination_room(spec, width, note)):
        # a narrow cell: the note in its short form ("+38", "+"), or none (the struck time and destination say
        # "cancelled"), rather than a destination cut inside its first word
        added = "+" if dep.status == ADDED else ""
        short = f"+{round(dep.delay / 60)}" if dep.status == DELAYED and dep.delay else added
        note = short if short and _first_word_fits(spec, headsign, destination_room(spec, width, short)) else ""
    destination = _destination(spec, headsign, destination_room(spec, width, note))
    for shorter in _shorter_notes(dep, lang, note):
        # "SF Int'l Airport  +9" rather than "SF Int'l…  9 min late", "Warm Springs/…  +38" rather than "Warm…  38
        # min late", "Hechtsheim Bürgerhaus  Zusatz" rather than "Hechtsheim…  Zusatzfahrt": a shorter note where
        # the long one leaves no room to say where the trip goes
        if not destination.endswith(ELLIPSIS):
            break
        more = _destination(spec, headsign, destination_room(spec, width, shorter))
        says_more = _says_where_to(headsign, more) and not _says_where_to(headsign, destination)
        if not more.endswith(ELLIPSIS) or says_more:
            destination, note = more, shorter
    return destination, note


def message_row(spec: LayoutSpec, notice: Notice) -> BoardRow:
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


def badge_text(settings: DisplaySettings, dep: Departure, lang: str) -> str:
    """What the row's badge says: the route's label; for an added trip of no known route the word for an extra
    trip ("Zusatz", "extra"), not a first word of its destination that reads like a line ("San" for "San Bruno")."""
    if _unknown_route(dep):
        return text(lang, "added_short")
    return route_label(settings.route_labels, dep.route_id, dep.route_short_name, dep.route_long_name)


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
